"""netguard inside real kernels started through jupyter_client.

Each mode gets one kernel, run by ``netguard_helpers/run_cells.py`` inside a network
namespace that has only loopback (``offline_command``), so every DNS lookup or connection
the cells attempt fails at once and nothing leaves the machine. The kernelspec is the one
kernelctl writes: ``kernel_settings()`` argv and env, with the runtime copied by
``install_runtime()`` into a directory on PYTHONPATH.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import offline_command
from kernelctl.netguard import install_runtime, kernel_settings

HELPER = Path(__file__).parent / "netguard_helpers" / "run_cells.py"
PREFIX = "[kernelctl netguard]"
ALLOW = [".alliancecan.ca", "10.0.0.0/8"]
# Hosts are built at run time so that only the runtime guard, not the static check, sees them.
HOST = 'host = "".join(["example", ".org"])\n'
LISTENER = ("import socket\nsrv = socket.socket()\nsrv.bind(('127.0.0.1', 0))\nsrv.listen()\n"
            "conn = socket.create_connection(srv.getsockname(), timeout=5)\nconn.close()\n"
            "socket.getaddrinfo('localhost', 80)\nprint('loopback ok')")


def run_kernel(tmp: Path, mode: str, cells: list[str], force_extension: bool = False) -> list[dict]:
    """Run ``cells`` in a fresh netguard kernel in an offline namespace; one result per cell."""
    runtime = tmp / "runtime"
    runtime.mkdir()
    install_runtime(runtime)
    argv, env = kernel_settings(mode, [str(tmp / "wheelhouse")], ALLOW)
    if force_extension:  # mode "off" normally omits the extension; check it stays quiet when loaded
        argv, env = ["--ext", "kernelctl_netguard"], {**env, "KERNELCTL_NETGUARD": "off"}
    env["PYTHONPATH"] = str(runtime)
    data = tmp / "jupyter-data"
    spec_dir = data / "kernels" / f"netguard-{mode}"
    spec_dir.mkdir(parents=True)
    (spec_dir / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}", *argv],
        "env": env, "display_name": f"netguard {mode}", "language": "python"}))
    cells_file = tmp / "cells.json"
    cells_file.write_text(json.dumps(cells))
    process_env = {k: v for k, v in os.environ.items()
                   if not k.startswith(("PIP_", "UV_", "KERNELCTL_", "JUPYTER", "HF_", "WANDB_"))}
    process_env.update(HOME=str(tmp), JUPYTER_DATA_DIR=str(data), JUPYTER_RUNTIME_DIR=str(tmp / "runtime-dir"),
                       JUPYTER_CONFIG_DIR=str(tmp / "config"), IPYTHONDIR=str(tmp / "ipython"),
                       JUPYTER_PLATFORM_DIRS="1")
    done = subprocess.run(offline_command([sys.executable, str(HELPER), f"netguard-{mode}", str(cells_file)]),
                          capture_output=True, text=True, env=process_env, timeout=240)
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)
    assert len(results) == len(cells)
    return results


def guard_lines(result: dict) -> list[str]:
    return [line for line in result["stderr"].splitlines() if line.startswith(PREFIX)]


def runtime_lines(result: dict) -> list[str]:
    """The runtime guard's lines (static findings start with "line N:")."""
    return [line for line in guard_lines(result) if not line.startswith(f"{PREFIX} line ")]


WARN_CELLS = {
    "static": "if False:\n    !wget https://example.org/data.tgz",
    "capture": "%%capture captured\nif False:\n    !git clone https://github.com/org/repo",
    "captured_stderr": "print(repr(captured.stderr))",
    "runtime": "import socket\n" + HOST + "try:\n    socket.getaddrinfo(host, 443)\n"
               "except OSError as e:\n    print('failed', type(e).__name__)",
    "runtime_twice": "for _ in range(3):\n    try:\n        socket.create_connection((host, 80), timeout=5)\n"
                     "    except OSError as e:\n        print(type(e).__name__)",
    "loopback": LISTENER,
    "allowlisted": "for name in ['mirror' + '.alliancecan.ca', 'node042']:\n    try:\n"
                   "        socket.getaddrinfo(name, 443)\n    except OSError as e:\n        print(type(e).__name__)",
    "env_covered": "if False:\n    %pip install six",
    "expanded_shell": "tool = 'wget'\n!$tool -q -T 2 https://example.org/f -O /dev/null",
    "import_alias": "import urllib.request as ur",
    "alias_from_user_ns": "if False:\n    ur.urlopen('https://example.org/x')",
    "pragma": "try:\n    socket.getaddrinfo('example.org', 443)  # kernelctl: allow-net\nexcept OSError:\n    pass",
    "still_works": "print(1 + 1)",
}


@pytest.fixture(scope="module")
def warn(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    results = run_kernel(tmp_path_factory.mktemp("warn"), "warn", list(WARN_CELLS.values()))
    return dict(zip(WARN_CELLS, results))


def test_static_warning_on_cell_stderr(warn: dict[str, dict]) -> None:
    (line,) = guard_lines(warn["static"])
    assert line.startswith(f"{PREFIX} line 2: download-tool: wget downloads from example.org — ")
    assert "login node" in line
    assert warn["static"]["error"] is None


def test_capture_cell_warns_once_and_outside_the_capture(warn: dict[str, dict]) -> None:
    lines = guard_lines(warn["capture"])
    assert len(lines) == 1 and "line 3: git-remote" in lines[0]
    assert warn["captured_stderr"]["stdout"].strip() == "''"


def test_runtime_warning_names_the_host_once_per_cell(warn: dict[str, dict]) -> None:
    (line,) = guard_lines(warn["runtime"])
    assert line.startswith(f"{PREFIX} connecting to example.org: compute nodes have no internet")
    assert warn["runtime"]["stdout"] == "failed gaierror\n"  # warn mode lets the lookup proceed
    # ``host`` is now a string in user_ns, so the static check names it too; the runtime
    # guard still says it only once for three attempts.
    twice = warn["runtime_twice"]
    assert len(runtime_lines(twice)) == 1
    (static,) = [line for line in guard_lines(twice) if line not in runtime_lines(twice)]
    assert "line 3: socket-remote: socket.create_connection() connects to example.org" in static
    assert warn["runtime_twice"]["stdout"].split() == ["gaierror"] * 3


def test_loopback_and_allowlisted_hosts_are_not_flagged(warn: dict[str, dict]) -> None:
    assert warn["loopback"]["stdout"] == "loopback ok\n" and warn["loopback"]["stderr"] == ""
    assert warn["allowlisted"]["stderr"] == ""
    assert warn["allowlisted"]["stdout"].split() == ["gaierror", "gaierror"]


def test_installs_covered_by_kernel_env_are_not_flagged(warn: dict[str, dict]) -> None:
    assert warn["env_covered"]["stderr"] == ""


def test_shell_commands_are_checked_after_expansion(warn: dict[str, dict]) -> None:
    (line,) = guard_lines(warn["expanded_shell"])
    assert line.startswith(f"{PREFIX} download-tool: wget downloads from example.org")


def test_names_from_earlier_cells_resolve_through_user_ns(warn: dict[str, dict]) -> None:
    (line,) = guard_lines(warn["alias_from_user_ns"])
    assert "line 2: http-request: urllib.request.urlopen()" in line


def test_pragma_silences_static_and_runtime(warn: dict[str, dict]) -> None:
    assert warn["pragma"]["stderr"] == "" and warn["pragma"]["error"] is None


def test_kernel_keeps_working(warn: dict[str, dict]) -> None:
    assert warn["still_works"]["stdout"] == "2\n" and warn["still_works"]["stderr"] == ""


BLOCK_CELLS = {
    "setup": "import socket, urllib.request, urllib.error\nimport httpx\n" + HOST,
    "socket": "socket.create_connection((host, 443), timeout=30)",
    "urllib": "try:\n    urllib.request.urlopen('http://' + host + '/x', timeout=30)\n"
              "except urllib.error.URLError as e:\n    print(type(e.reason).__name__, e.reason.errno)",
    "httpx": "try:\n    httpx.get(f'https://{host}/api', timeout=30)\nexcept httpx.ConnectError as e:\n"
             "    print('ConnectError')",
    "allowlisted": "try:\n    socket.getaddrinfo('mirror' + '.alliancecan.ca', 443)\n"
                   "except OSError as e:\n    print(type(e).__name__)",
    "loopback": LISTENER,
    "shell": "tool = 'wget'\n!$tool -q https://example.org/f -O /dev/null",
    "still_works": "print(1 + 1)",
}


@pytest.fixture(scope="module")
def block(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    results = run_kernel(tmp_path_factory.mktemp("block"), "block", list(BLOCK_CELLS.values()))
    return dict(zip(BLOCK_CELLS, results))


def test_block_mode_raises_oserror_fast(block: dict[str, dict]) -> None:
    assert block["setup"]["error"] is None
    result = block["socket"]
    assert result["error"]["ename"] == "NetworkBlockedError"
    assert "example.org" in result["error"]["evalue"]
    assert result["seconds"] < 1.0
    (line,) = runtime_lines(result)
    assert line.startswith(f"{PREFIX} blocked example.org")


def test_libraries_take_their_usual_error_path(block: dict[str, dict]) -> None:
    import errno

    assert block["urllib"]["stdout"] == f"NetworkBlockedError {errno.ENETUNREACH}\n"
    assert block["httpx"]["stdout"] == "ConnectError\n"
    assert block["urllib"]["seconds"] < 1.0 and block["httpx"]["seconds"] < 1.0


def test_block_mode_lets_local_and_allowlisted_traffic_through(block: dict[str, dict]) -> None:
    assert block["allowlisted"]["stdout"] == "gaierror\n" and block["allowlisted"]["stderr"] == ""
    assert block["loopback"]["stdout"] == "loopback ok\n" and block["loopback"]["stderr"] == ""


def test_block_mode_refuses_flagged_shell_commands(block: dict[str, dict]) -> None:
    assert block["shell"]["error"]["ename"] == "NetworkBlockedError"
    assert block["still_works"]["stdout"] == "2\n"


OFF_CELLS = [
    "if False:\n    !wget https://example.org/data.tgz",
    "import socket\ntry:\n    socket.getaddrinfo('example.org', 443)\nexcept OSError as e:\n    print(type(e).__name__)",
]


def test_off_mode_prints_nothing(tmp_path: Path) -> None:
    static, runtime = run_kernel(tmp_path, "off", OFF_CELLS, force_extension=True)
    assert static["stderr"] == "" and runtime["stderr"] == ""
    assert runtime["stdout"] == "gaierror\n"
