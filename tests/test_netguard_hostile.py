"""Hostile input for netguard and ``kernelctl scan`` (issue 13): installs that bypass the
wheelhouse, numeric host forms, FIFOs and devices, files and cells that exhaust the parser;
and what kernel start-up loads (issue 12).

Kernel cells run in a real kernel inside a network namespace with only loopback (see
``test_netguard_kernel.run_kernel``); the local package index they talk to is an
``http.server`` started by a cell in that namespace.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kernelctl.commands.scan import Skipped, parse_size, read_bounded, scan
from kernelctl.netguard import compile_runtime, install_runtime
from kernelctl.netguard.checker import Checker, Unscannable
from kernelctl.netguard.notebooks import check_source
from kernelctl.netguard.policy import HostPolicy
from kernelctl.netguard.rulebook import Context
from test_netguard_kernel import PREFIX, guard_lines, run_kernel

# What kernelctl kernels set: installs already offline, so only the explicit sources remain.
KERNEL_ENV = {"PIP_NO_INDEX": "1", "UV_OFFLINE": "1", "UV_NO_INDEX": "1", "PIP_FIND_LINKS": "/wh"}

BYPASSES = [
    "%pip install -f http://127.0.0.1:8000/ --trusted-host 127.0.0.1 pkg",
    "!pip install --no-index --find-links http://10.1.2.3/wheels pkg",
    "!pip install --find=http://host/ pkg",  # optparse takes a prefix of a long option
    "!pip install -qfhttp://host/ pkg",  # and a short one at the end of a cluster, value attached
    "!pip install -ihttps://pypi.org/simple pkg",
    "!pip install --index-url=https://pypi.org/simple pkg",
    "!pip install --extra-index-url https://example.org/simple pkg",
    "!pip install --trusted-host=mirror pkg",
    "pip install -f http://host/ pkg",  # automagic: runs as %pip
    "!pip download -d wh -f https://example.org/wheels pkg",
    "!python3 -m pip install -f https://example.org/wheels pkg",
    "!PIP_FIND_LINKS=http://host/ pip install pkg",
    "!env PIP_TRUSTED_HOST=host pip install pkg",
    "!pip config set global.index-url http://host/simple",
    "!uv pip install --offline -f http://127.0.0.1/ pkg",
    "!uv pip install --index-url https://example.org/simple pkg",
    "!uv add --index https://example.org/simple pkg",
    "!uv pip install --allow-insecure-host host pkg",
    "%uv pip install --default-index http://host/simple pkg",
    "%%bash\ncd /tmp\npip install --extra-index-url https://example.org/simple pkg",
    "%%capture\n!pip install -f http://host/ pkg",
    "import subprocess, sys\nsubprocess.check_call([sys.executable, '-m', 'pip', 'install', '-f', 'http://h/', 'p'])",
    "import os\nos.system('pip install --index-url http://localhost:3141/simple pkg')",
]
NOT_BYPASSES = [
    "!pip install -f /project/wheels pkg",
    "!pip install --no-index --find-links file:///project/wheels pkg",
    "!pip install -f $WHEELHOUSE pkg",  # a path or a URL: the runtime check sees it expanded
    "!pip install -r requirements.txt",
    "!pip install -e .",
    "!pip install --index-url=https://pypi.site.ca/simple pkg",  # on the allowlist: the site's mirror
    "!pip install --trusted-host pypi.site.ca pkg",
    "!pip list -v",
]


@pytest.mark.parametrize("cell", BYPASSES)
def test_explicit_sources_are_findings_whatever_the_kernel_env(cell: str) -> None:
    findings = Checker(Context(env=KERNEL_ENV, policy=HostPolicy([".site.ca"]))).check(cell)
    assert [f.rule for f in findings] == ["install-source"], cell
    assert "bypasses the wheelhouse" in findings[0].message
    assert "--no-index --find-links $WHEELHOUSE" in findings[0].hint
    assert check_source(cell)[0].rule == "install-source"  # scan (no kernel env) says the same


@pytest.mark.parametrize("cell", NOT_BYPASSES)
def test_wheelhouse_paths_and_site_mirrors_are_not(cell: str) -> None:
    assert Checker(Context(env=KERNEL_ENV, policy=HostPolicy([".site.ca"]))).check(cell) == [], cell


EXTERNAL = ["16843009", "0x01010101", "0X01010101", "1.1", "1.0x10101", "0x08.0x08.0x08.0x08", "134744072",
            "010.010.010.010", "[::ffff:8.8.8.8]"]
LOOPBACK = ["0x7f.1", "0x7F.0.0.1", "2130706433", "0x7f000001", "0177.0.0.1", "017700000001", "127.1", "127.0.1",
            "10.1", "0xa.0x1.2"]


@pytest.mark.parametrize("host", EXTERNAL)
def test_numeric_host_forms_of_external_addresses_are_flagged(host: str) -> None:
    policy = HostPolicy()
    assert not policy.allowed(host) and policy.url_is_remote(f"http://{host}/x")
    cell = f"import requests\nrequests.get('http://{host}/data.csv')"
    assert [f.rule for f in check_source(cell)] == ["http-request"]
    assert [f.rule for f in check_source(f"!curl -O http://{host}/f")] == ["download-tool"]


@pytest.mark.parametrize("host", LOOPBACK)
def test_numeric_host_forms_of_local_addresses_stay_allowed(host: str) -> None:
    policy = HostPolicy()
    assert policy.allowed(host) and policy.url_is_remote(f"http://{host}/x") is False
    assert check_source(f"import requests\nrequests.get('http://{host}/data.csv')") == []


def test_numeric_forms_match_the_c_library() -> None:
    """Whatever the policy decides for a numeric form, getaddrinfo reads it as that address."""
    import socket

    from kernelctl.netguard.policy import _ip

    for host in [*EXTERNAL[:-1], *LOOPBACK]:
        (family, *_, address), *_ = socket.getaddrinfo(host, 80, socket.AF_INET, 0, 0, socket.AI_NUMERICHOST)
        assert str(_ip(host.lower())) == address[0], host


# -- kernel: the install refused in block mode, warned about in warn mode; numeric hosts at run time

SERVER = ("import http.server, threading\nrequests_seen = []\n"
          "class Handler(http.server.SimpleHTTPRequestHandler):\n"
          "    def log_message(self, *args):\n        requests_seen.append(self.path)\n"
          "server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)\n"
          "port = server.server_address[1]\n"
          "threading.Thread(target=server.serve_forever, daemon=True).start()")
# --dry-run and --target: even a wheel served by mistake would not land in the test venv.
INSTALL = ("before_install = True\n"
           "%pip install --dry-run --target /tmp/kernelctl-never -f http://127.0.0.1:$port/ --trusted-host 127.0.0.1 "
           "kernelctl-hostile-probe")
SEEN = "print(len(requests_seen), 'before_install' in globals())"
# The URL is only known at run time: the shell.system wrapper sees it expanded.
RUNTIME_INSTALL = ("url = 'http://127.0.0.1:%d/' % port\n"
                   "!pip install --dry-run --target /tmp/kernelctl-never -f $url kernelctl-hostile-probe")
SEEN_AGAIN = "print(len(requests_seen))"


def _install_cells(mode: str) -> dict[str, str]:
    cells = {"server": SERVER, "install": INSTALL, "seen": SEEN, "runtime_install": RUNTIME_INSTALL,
             "seen_again": SEEN_AGAIN}
    if mode == "block":
        cells.update({
            "dotless": "import socket\nfor host in [str(16843009), '0x' + '01010101', '1' + '.1']:\n    try:\n"
                       "        socket.getaddrinfo(host, 80)\n    except OSError as e:\n        print(type(e).__name__)",
            "loopback_forms": "for local in ['0x7f' + '.1', str(2130706433), '127' + '.1']:\n"
                              "    socket.getaddrinfo(local, 80)\nprint('loopback ok')",
        })
    return cells


@pytest.fixture(scope="module")
def block_installs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    cells = _install_cells("block")
    return dict(zip(cells, run_kernel(tmp_path_factory.mktemp("hostile-block"), "block", list(cells.values()))))


def test_block_mode_refuses_a_cell_that_installs_from_an_explicit_source(block_installs: dict[str, dict]) -> None:
    install = block_installs["install"]
    assert install["error"]["ename"] == "InputRejected"
    assert "install-source: pip --find-links http://127.0.0.1:$port/ bypasses the wheelhouse" in install["stderr"]
    # Refused before any of it ran: no line of the cell, no request to the index.
    assert block_installs["seen"]["stdout"] == "0 False\n"
    # Known only at run time: refused when the shell command is about to start.
    runtime = block_installs["runtime_install"]
    assert runtime["error"]["ename"] == "NetworkBlockedError"
    assert f"{PREFIX} install-source: pip --find-links http://127.0.0.1:" in runtime["stderr"]
    assert block_installs["seen_again"]["stdout"] == "0\n"


def test_block_mode_blocks_dotless_and_hex_hosts_and_keeps_loopback_forms(block_installs: dict[str, dict]) -> None:
    dotless = block_installs["dotless"]
    assert dotless["stdout"].split() == ["NetworkBlockedError"] * 3
    assert [line.split(":")[0] for line in guard_lines(dotless)] == [
        f"{PREFIX} blocked 16843009", f"{PREFIX} blocked 0x01010101", f"{PREFIX} blocked 1.1"]
    assert block_installs["loopback_forms"]["stdout"] == "loopback ok\n"
    assert block_installs["loopback_forms"]["stderr"] == ""


def test_warn_mode_warns_and_lets_the_install_run(tmp_path: Path) -> None:
    cells = _install_cells("warn")
    results = dict(zip(cells, run_kernel(tmp_path, "warn", list(cells.values()))))
    lines = guard_lines(results["install"])
    assert lines and lines[0].startswith(f"{PREFIX} line 2: install-source: pip --find-links http://127.0.0.1:$port/")
    requests, ran = results["seen"]["stdout"].split()
    assert int(requests) >= 1 and ran == "True"  # pip did ask the local index: the check was not moot
    (line,) = guard_lines(results["runtime_install"])
    assert line.startswith(f"{PREFIX} install-source: pip --find-links http://127.0.0.1:")
    assert int(results["seen_again"]["stdout"]) > int(requests)


# -- kernel: pathological cells never break execution

MINUS = "import urllib.request\nurllib.request.urlopen(" + "-" * 200_000 + "1)"
LAMBDAS = "import urllib.request\nurllib.request.urlopen(" + "lambda: " * 3_000 + "0)"


def test_cells_that_exhaust_the_parser_do_not_break_the_kernel(tmp_path: Path) -> None:
    cells = [MINUS, LAMBDAS, "f = " + "lambda: " * 3_000 + "0", "if False:\n    !wget https://example.org/x",
             "print(1 + 1)"]
    minus, lambdas, plain, finding, works = run_kernel(tmp_path, "warn", cells)
    for result in (minus, lambdas):
        (line,) = guard_lines(result)
        assert line.startswith(f"{PREFIX} cell not checked: too deeply nested for Python's parser (")
        assert result["error"] is not None  # Python cannot compile it either, and IPython says so
    assert guard_lines(plain) == []
    # The checker still works, and its one internal-error diagnostic was not spent.
    assert [line.split(" — ")[0] for line in guard_lines(finding)] == [
        f"{PREFIX} line 2: download-tool: wget downloads from example.org"]
    assert works["stdout"] == "2\n" and works["stderr"] == ""
    assert not any("internal error" in r["stderr"] for r in (minus, lambdas, plain, finding, works))


def test_checker_reports_exhaustion_as_unscannable() -> None:
    for source in (MINUS, LAMBDAS, "import requests\nrequests.get(" + " + ".join(["'a'"] * 3_000) + ")"):
        with pytest.raises(Unscannable):
            Checker().check(source)


# -- scan: bounded and total

def test_parse_size() -> None:
    assert parse_size("10M") == 10 * 1024 ** 2 and parse_size("512k") == 512 * 1024
    assert parse_size("1G") == 1024 ** 3 and parse_size("50MB") == 50 * 1024 ** 2 and parse_size("4096") == 4096
    assert parse_size("1.5k") == 1536 and parse_size("2MiB") == 2 * 1024 ** 2
    for bad in ("", "ten", "10x", "-1", "1T"):
        with pytest.raises(argparse.ArgumentTypeError, match="not a size"):
            parse_size(bad)


@pytest.fixture()
def hostile_tree(tmp_path: Path) -> Path:
    root = tmp_path / "tree"
    root.mkdir()
    (root / "good.py").write_text("import nltk\nnltk.download('punkt')\n")
    (root / "minus.py").write_text(MINUS)
    (root / "lambdas.py").write_text(LAMBDAS)
    (root / "deep.ipynb").write_text("[" * 100_000 + "]" * 100_000)
    (root / "zz_after.py").write_text("import urllib.request\nurllib.request.urlopen('https://example.org/x')\n")
    (root / "big.py").write_text("import nltk\nnltk.download('punkt')\n" + "#" * 400_000)
    os.mkfifo(root / "fifo.py")
    os.symlink("/dev/zero", root / "zero.py")
    os.symlink(root / "fifo.py", root / "fifo-link.ipynb")
    return root


def test_scan_skips_fifos_devices_and_big_files_and_reports_unscannable_ones(
        hostile_tree: Path, kernelctl_cli: list[str]) -> None:
    # A subprocess with a timeout: a scan that opened the FIFO would block forever.
    done = subprocess.run([*kernelctl_cli, "scan", str(hostile_tree), "/dev/zero", "--max-size", "300k", "--json"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    files = {Path(r["path"]).name: r for r in json.loads(done.stdout)["files"]}
    assert files["fifo.py"]["skipped"] == files["fifo-link.ipynb"]["skipped"] == "a FIFO, not a file to scan"
    assert files["zero.py"]["skipped"] == files["zero"]["skipped"] == "a character device, not a file to scan"
    assert files["big.py"]["skipped"].endswith("over --max-size 300.0k") and files["big.py"]["findings"] == []
    for name in ("minus.py", "lambdas.py"):
        assert files[name]["error"].startswith("unscannable: too deeply nested for Python's parser"), files[name]
    assert files["deep.ipynb"]["error"] == "unscannable: JSON nested too deeply to read"
    # The other files' results are kept, also those scanned after the unscannable ones.
    assert [f["rule"] for f in files["good.py"]["findings"]] == ["nltk-download"]
    assert [f["rule"] for f in files["zz_after.py"]["findings"]] == ["http-request"]


def test_scan_notes_each_skip_on_one_line(hostile_tree: Path, kernelctl_cli: list[str]) -> None:
    done = subprocess.run([*kernelctl_cli, "scan", str(hostile_tree / "fifo.py"), str(hostile_tree / "good.py")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert f"{hostile_tree / 'fifo.py'}: skipped: a FIFO, not a file to scan\n" in done.stderr
    assert done.stderr.endswith("1 finding(s) in 1 file scanned, 1 skipped\n")
    assert "Traceback" not in done.stderr


def test_bad_max_size_is_a_usage_error(tmp_path: Path, kernelctl_cli: list[str]) -> None:
    done = subprocess.run([*kernelctl_cli, "scan", str(tmp_path), "--max-size", "lots"], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2 and "not a size: 'lots'" in done.stderr and "Traceback" not in done.stderr


def test_default_size_limit_is_generous(tmp_path: Path) -> None:
    notebook = tmp_path / "outputs.ipynb"  # a notebook with a large embedded output
    cell = {"cell_type": "code", "metadata": {}, "execution_count": 1, "source": "!pip install x",
            "outputs": [{"output_type": "stream", "name": "stdout", "text": "x" * 5_000_000}]}
    notebook.write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [cell]}))
    (report,) = scan([notebook])
    assert [f["rule"] for f in report["findings"]] == ["pip-install"] and "skipped" not in report


def test_read_bounded_never_opens_a_fifo(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.py"
    os.mkfifo(fifo)
    with pytest.raises(Skipped, match="a FIFO"):
        read_bounded(fifo, 1024)  # opening it for reading would block: no writer exists
    exact = tmp_path / "exact.py"
    exact.write_text("x" * 1024)
    assert read_bounded(exact, 1024) == "x" * 1024
    with pytest.raises(Skipped, match="over --max-size"):
        read_bounded(exact, 1023)


# -- start-up: what a kernel loads before its first cell

def run_in_shell(tmp_path: Path, lines: str, imports: str = "sys") -> subprocess.CompletedProcess[str]:
    """Run ``lines`` in a fresh process whose IPython ``shell`` has just loaded the netguard
    runtime (installed into ``tmp_path``) in warn mode."""
    install_runtime(tmp_path)
    probe = (f"import {imports}; sys.path.insert(0, {str(tmp_path)!r})\n"
             "from IPython.core.interactiveshell import InteractiveShell\n"
             "import kernelctl_netguard\n"
             "shell = InteractiveShell.instance()\n"
             "kernelctl_netguard.load_ipython_extension(shell)\n" + lines)
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "KERNELCTL_NETGUARD": "warn"})
    assert done.returncode == 0, done.stderr
    return done


def test_kernel_start_loads_neither_the_checker_nor_the_rules(tmp_path: Path) -> None:
    done = run_in_shell(tmp_path, "loaded = sorted(m for m in sys.modules if m.startswith('kernelctl_netguard'))\n"
                                  "shell.run_cell('if False:\\n    !wget https://example.org/x')\n"
                                  "print(loaded, 'kernelctl_netguard.checker' in sys.modules)\n")
    assert done.stdout.strip() == ("['kernelctl_netguard', 'kernelctl_netguard.extension', "
                                   "'kernelctl_netguard.guard', 'kernelctl_netguard.policy', "
                                   "'kernelctl_netguard.prefilter', 'kernelctl_netguard.transform', "
                                   "'kernelctl_netguard.watched'] True")
    assert "line 2: download-tool" in done.stderr  # the first cell loaded and ran the checker


def test_cells_that_cannot_have_a_finding_do_not_load_the_checker(tmp_path: Path) -> None:
    done = run_in_shell(tmp_path, "shell.run_cell('total = sum(range(3))\\nprint(total)')\n"
                                  "shell.run_cell('# downloads nothing: https://example.org\\nlabel = \"plain\"')\n"
                                  "print('kernelctl_netguard.checker' in sys.modules)\n"
                                  # No watched word in the cell, but a name that stands for a watched call.
                                  "shell.user_ns['fetch'] = urllib.request.urlopen\n"
                                  "shell.run_cell('if False:\\n    fetch(\"https://example.org/data.csv\")')\n"
                                  "print('kernelctl_netguard.checker' in sys.modules)\n",
                        imports="sys, urllib.request")
    printed, checker_after_plain_cells, checker_after_fetch = done.stdout.split()
    assert printed == "3"
    assert checker_after_plain_cells == "False", "a cell with no watched word loaded the checker"
    assert checker_after_fetch == "True"
    assert "line 2: http-request" in done.stderr, done.stderr


def test_the_extension_watches_the_words_the_rule_tables_do() -> None:
    from kernelctl.netguard import call_index, watched

    derived = call_index.WATCHED_TOPS | call_index.WATCHED_NAMES
    listed = ",\n".join(f"    {word!r}" for word in sorted(derived)).replace("'", '"')
    assert watched.WATCHED_WORDS == derived, (
        f"src/kernelctl/netguard/watched.py is out of date; its set should be:\n{{\n{listed},\n}}")


@pytest.mark.parametrize("when", ["on install", "later, in place (as a build does)"])
def test_runtime_is_byte_compiled_by_the_env_python(tmp_path: Path, when: str) -> None:
    env = tmp_path / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True, timeout=120)
    minor = f"{sys.version_info.major}.{sys.version_info.minor}"
    site = env / "lib" / f"python{minor}" / "site-packages"
    if when == "on install":
        target = install_runtime(site)
    else:
        target = install_runtime(site, compile=False)
        assert not (target / "__pycache__").exists()
        compile_runtime(site)
    modules = sorted(p.stem for p in target.glob("*.py"))
    tag = sys.implementation.cache_tag
    assert sorted(p.name.split(".")[0] for p in (target / "__pycache__").glob(f"*.{tag}.pyc")) == modules
    assert all(p.stat().st_mode & 0o777 == 0o644 for p in (target / "__pycache__").iterdir())
    # The compiled files are used as they are, and name the installed path (for tracebacks).
    probe = "import kernelctl_netguard.guard as g; print(g.NetworkBlockedError.__init__.__code__.co_filename)"
    done = subprocess.run([str(env / "bin" / "python"), "-v", "-c", probe], capture_output=True, text=True,
                          check=True, timeout=60, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    assert f"code object from '{target / '__pycache__' / f'guard.{tag}.pyc'}'" in done.stderr
    assert done.stdout.strip() == str(target / "guard.py")


def test_user_namespace_lookup_works_before_any_cell() -> None:
    """The lookup the checker gets is whole even when asked for before the checker is loaded."""
    import types
    import urllib.request

    from kernelctl.netguard.extension import Netguard
    from kernelctl.netguard.rulebook import UNKNOWN

    namespace = {"fetch": urllib.request.urlopen, "zz": types.ModuleType("requests"), "URL": "https://x.org/a"}
    lookup = Netguard(types.SimpleNamespace(user_ns=namespace), "warn", HostPolicy())._lookup
    assert [lookup(name) for name in ("fetch", "zz", "URL", "unbound")] == [
        ("urllib.request.urlopen", UNKNOWN), ("requests", UNKNOWN), (None, "https://x.org/a"), (None, UNKNOWN)]
