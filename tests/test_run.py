"""kernelctl run with real kernels made by kernelctl create, run in a network namespace.

The kernels are made once per module (a healthy one and one whose env lost ipykernel);
every run is the real CLI in a subprocess behind ``unshare -rn`` with only loopback up.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from kernelhelpers import CLI, assert_user_error, kernelctl
from modsupport import clear_module_environment, setup_modules

from conftest import offline_command, require_system

ENV_DIRS = ("HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "KERNELCTL_HOME",
            "JUPYTER_DATA_DIR", "JUPYTER_CONFIG_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR")


@pytest.fixture(scope="module")
def kernels_home(tmp_path_factory: pytest.TempPathFactory, real_wheelhouse: Path) -> dict[str, str]:
    """Dirs holding kernel ``batch`` (healthy) and ``broken`` (its env lost ipykernel)."""
    base = tmp_path_factory.mktemp("run-home")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_", "KERNELCTL_", "JUPYTER"))}
    env.update({key: str(base / key.lower()) for key in ENV_DIRS})
    env.update(PIP_CONFIG_FILE=os.devnull, JUPYTER_PLATFORM_DIRS="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    for name in ("batch", "broken"):
        subprocess.run([*CLI, "create", name, "--wheelhouse", str(real_wheelhouse), "--no-verify", "-q"],
                       env=env, check=True, capture_output=True, timeout=600)
    prefix = json.loads((base / "jupyter_data_dir" / "kernels" / "broken" / "kernel.json").read_text())
    site = next(Path(prefix["metadata"]["kernelctl"]["prefix"]).glob("lib/python*/site-packages"))
    shutil.rmtree(site / "ipykernel")
    (site / "ipykernel_launcher.py").unlink()
    return {key: env[key] for key in ENV_DIRS}


@pytest.fixture()
def home(kernels_home: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for key, value in kernels_home.items():
        monkeypatch.setenv(key, value)
    return kernels_home


def notebook(path: Path, *cells: str | tuple[str, list[str]], kernel: str | None = "batch") -> Path:
    """Write a notebook of code cells (``(source, tags)`` for tagged ones) with a markdown cell first."""
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_markdown_cell("# a batch notebook"))
    for cell in cells:
        source, tags = cell if isinstance(cell, tuple) else (cell, [])
        code = nbformat.v4.new_code_cell(source)
        if tags:
            code.metadata["tags"] = tags
        nb.cells.append(code)
    if kernel:
        nb.metadata["kernelspec"] = {"name": kernel, "display_name": kernel, "language": "python"}
    nbformat.write(nb, path)
    return path


def run(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(offline_command([*CLI, "run", *args]), capture_output=True, text=True, timeout=timeout)


def code_cells(path: Path) -> list[Any]:
    return [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]


def status(cell: Any) -> str | None:
    return (cell.metadata.get("kernelctl") or {}).get("status")


def texts(cell: Any, name: str = "stdout") -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.get("name") == name)


PARAMS = ("alpha = 1\nflag = False\nlabel = 'a'\nratio: float = 0.1\nextra = None\n", ["parameters"])
SHOW = "print(repr(alpha), repr(flag), repr(label), repr(ratio), repr(extra))"


def test_run_parameters_progress_output_and_report(home: dict[str, str], tmp_path: Path) -> None:
    nb = notebook(tmp_path / "analysis.ipynb", PARAMS, SHOW,
                  "import time\nfor i in range(3):\n    print('tick', i, flush=True)\n    time.sleep(0.1)", "x = [0] * 10**7\n6 * 7")
    before = nb.read_bytes()
    params = tmp_path / "params.yaml"
    params.write_text("ratio: 0.25\nlabel: from-file\n")
    proc = run(str(nb), "-p", "alpha", "2", "-p", "flag", "True", "-f", str(params), "-y", "{extra: [1, two]}",
               "-p", "unknown_name", "None", "--report", str(tmp_path / "report.json"))
    assert proc.returncode == 0, proc.stderr
    assert nb.read_bytes() == before  # the input is never modified
    out = tmp_path / "analysis.out.ipynb"
    cells = code_cells(out)
    # the parameters cell keeps its defaults; the injected cell follows it and overrides them
    assert cells[0].metadata["tags"] == ["parameters"] and cells[0].source == PARAMS[0]
    assert cells[1].metadata["tags"] == ["injected-parameters"]
    assert texts(cells[2]) == "2 True 'from-file' 0.25 [1, 'two']\n"
    assert "'unknown_name' is not in the notebook's parameters cell" in proc.stderr
    assert [status(c) for c in cells] == ["completed"] * 5
    # progress on stdout, in order: each cell's start, its stream output, its end
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("[cell 1/5] alpha = 1")
    at = lines.index("tick 0")
    assert lines[at - 1].startswith("[cell 4/5] import time") and lines[at + 2] == "tick 2"
    assert lines[at + 3].startswith("[cell 4/5] completed in ")
    assert "42" in lines and lines[-1].startswith("[kernelctl] done: 5 cells")

    report = json.loads((tmp_path / "report.json").read_text())
    assert report["kernel"]["name"] == "batch" and report["modules"] == []
    assert report["env"]["KERNELCTL_NETGUARD"] == "warn" and report["env"]["PIP_NO_INDEX"] == "1"
    assert report["exit"] == {"code": 0, "cause": "done", "message": ""}
    assert [c["status"] for c in report["cells"]] == ["completed"] * 5
    assert report["cells"][3]["seconds"] >= 0.3
    assert report["parameters"]["alpha"] == 2 and report["parameters"]["unknown_name"] is None
    assert report["peak_rss_bytes"] > 80 * 2**20  # the kernel held a list of 10**7 references


def test_no_parameters_cell_injects_at_top_with_a_warning(home: dict[str, str], tmp_path: Path) -> None:
    import kernelctl

    nb = notebook(tmp_path / "plain.ipynb", "print(n * 2)")
    result = kernelctl.run(nb, output=tmp_path / "o.ipynb", parameters={"n": 21}, echo=False)
    assert result.ok and result.exit_code == 0
    cells = code_cells(tmp_path / "o.ipynb")
    assert cells[0].metadata["tags"] == ["injected-parameters"] and texts(cells[1]) == "42\n"


def test_cell_error_exit_1_names_cell_and_stops(home: dict[str, str], tmp_path: Path) -> None:
    nb = notebook(tmp_path / "err.ipynb", "a = 1", "raise ValueError('bad input')", "print('later')")
    proc = run(str(nb))
    assert_user_error(proc, 1, "cell 2 raised ValueError: bad input")
    assert [status(c) for c in code_cells(tmp_path / "err.out.ipynb")] == ["completed", "failed", "pending"]
    proc = run(str(nb), "--allow-errors")
    assert proc.returncode == 0, proc.stderr
    cells = code_cells(tmp_path / "err.out.ipynb")
    assert [status(c) for c in cells] == ["completed", "error", "completed"] and texts(cells[2]) == "later\n"


def test_cell_timeout_exit_3(home: dict[str, str], tmp_path: Path) -> None:
    nb = notebook(tmp_path / "slow.ipynb", "import time", "time.sleep(60)", "print('never')")
    began = time.monotonic()
    proc = run(str(nb), "--cell-timeout", "1.5", "--start-timeout", "59.5")  # fractions were a TraitError
    assert_user_error(proc, 3, "cell 2 ran longer than --cell-timeout (1.5 s)")
    assert time.monotonic() - began < 50
    assert [status(c) for c in code_cells(tmp_path / "slow.out.ipynb")] == ["completed", "timeout", "pending"]


def test_kernel_killed_exit_4_says_sigkill_and_suggests_memory(home: dict[str, str], tmp_path: Path) -> None:
    nb = notebook(tmp_path / "die.ipynb", "import os", "os.kill(os.getpid(), 9)", "print('never')")
    proc = run(str(nb), "--report", str(tmp_path / "r.json"), "--json")
    assert_user_error(proc, 4, "the kernel was killed by SIGKILL while running cell 2", "more memory")
    assert [status(c) for c in code_cells(tmp_path / "die.out.ipynb")] == ["completed", "died", "pending"]
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["exit"]["cause"] == "kernel-died" and json.loads(proc.stdout) == report
    assert "[cell 2/3]" in proc.stderr  # with --json, progress goes to stderr


@pytest.fixture()
def memory_limited() -> Iterator[list[str]]:
    """A command prefix that runs in a new memory cgroup (v1 or v2) limited to 300 MiB."""
    line = next((l for l in Path("/proc/self/cgroup").read_text().splitlines()
                 if l.split(":")[1] == "memory" or l.startswith("0::")), "::")
    v1 = line.split(":")[1] == "memory"
    parent = Path("/sys/fs/cgroup/memory" if v1 else "/sys/fs/cgroup", line.split(":", 2)[2].lstrip("/"))
    group = parent / f"kernelctl-test-{os.getpid()}"
    try:
        group.mkdir()
        (group / ("memory.limit_in_bytes" if v1 else "memory.max")).write_text(str(300 * 2**20))
    except OSError as err:
        require_system(False, f"needs a memory cgroup it can create ({err})")
    try:
        yield ["sh", "-c", f'echo $$ > {group / "cgroup.procs"} && exec "$@"', "sh"]
    finally:
        group.rmdir()


def test_kernel_killed_by_the_oom_killer_exit_4_says_so(home: dict[str, str], tmp_path: Path,
                                                         memory_limited: list[str]) -> None:
    nb = notebook(tmp_path / "oom.ipynb", "blocks = []",
                  "while True:\n    blocks.append(bytearray(20 * 2**20))", "print('never')")
    proc = subprocess.run([*memory_limited, *offline_command([*CLI, "run", str(nb)])], capture_output=True,
                          text=True, timeout=240)
    assert_user_error(proc, 4, "the kernel was killed by the out-of-memory killer while running cell 2",
                      "give the job more memory")
    assert [status(c) for c in code_cells(tmp_path / "oom.out.ipynb")] == ["completed", "died", "pending"]


def test_broken_kernel_exit_5_shows_the_kernels_stderr(home: dict[str, str], tmp_path: Path) -> None:
    nb = notebook(tmp_path / "b.ipynb", "print(1)", kernel="broken")
    proc = run(str(nb), "--start-timeout", "30")
    assert_user_error(proc, 5, "kernel 'broken' did not start", "No module named ipykernel_launcher")
    assert "ipykernel does not import" in proc.stderr  # the doctor's finding, with its fix
    assert [status(c) for c in code_cells(tmp_path / "b.out.ipynb")] == ["pending"]


def test_kernel_loads_its_modules_and_one_that_vanished_stops_the_start(
        real_wheelhouse: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mods = setup_modules("lmod", tmp_path, monkeypatch)
    kernelctl("create", "modk", "--wheelhouse", str(real_wheelhouse), "--module", "scipy-stack", "--no-verify", "-q")
    clear_module_environment(monkeypatch)  # as in a batch job: the modules come from the kernel
    nb = notebook(tmp_path / "m.ipynb", "import os, kctl_modpkg\nprint(os.environ['KCTL_SCIPY_STACK'])", kernel="modk")
    proc = run(str(nb), "--report", str(tmp_path / "r.json"))
    assert proc.returncode == 0, proc.stderr
    assert texts(code_cells(tmp_path / "m.out.ipynb")[0]) == "2024a\n"
    assert json.loads((tmp_path / "r.json").read_text())["modules"] == ["scipy-stack"]

    mods.modulefile("scipy-stack/2024a").unlink()
    proc = run(str(nb))
    assert_user_error(proc, 5, "kernel 'modk' did not start", "kernelctl-launch: cannot load module scipy-stack")


def test_sigterm_saves_marks_the_cell_and_resume_finishes(home: dict[str, str], tmp_path: Path) -> None:
    nb = notebook(tmp_path / "long.ipynb", ("import os, time\nstate = ['setup']", ["setup"]),
                  "state.append('step'); print('step done')",
                  "print('waiting', flush=True)\nwhile not os.path.exists('go'):\n    time.sleep(0.1)\nprint('went')",
                  "print(state)")
    out = tmp_path / "long.out.ipynb"
    proc = subprocess.Popen(offline_command([*CLI, "run", str(nb), "--autosave", "1"]), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        seen: list[Any] = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # the output is saved mid-cell: the reader finds a valid notebook
            time.sleep(0.3)
            if out.exists():
                seen = code_cells(out)
                if status(seen[2]) == "running" and texts(seen[2]) == "waiting\n":
                    break
        assert [status(c) for c in seen] == ["completed", "completed", "running", "pending"]
        assert texts(seen[1]) == "step done\n"
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 6, stderr
    assert f"Resume with: kernelctl run --resume {out}" in stderr and "stopped by SIGTERM in cell 3" in stderr
    cells = code_cells(out)
    assert [status(c) for c in cells] == ["completed", "completed", "interrupted", "pending"]
    assert cells[2].metadata["kernelctl"]["signal"] == "SIGTERM"
    assert "[kernelctl] interrupted by SIGTERM" in texts(cells[2], "stderr")

    (tmp_path / "go").touch()
    resumed = run("--resume", str(out))
    assert resumed.returncode == 0, resumed.stderr
    assert "[cell 1/4] (setup, again)" in resumed.stdout and "[cell 2/4]" not in resumed.stdout
    cells = code_cells(out)
    assert [status(c) for c in cells] == ["completed"] * 4
    assert texts(cells[2]) == "waiting\nwent\n" and texts(cells[3]) == "['setup']\n"  # the setup cell ran again


def test_netguard_scan_and_block_for_this_run_only(home: dict[str, str], tmp_path: Path) -> None:
    spec = Path(home["JUPYTER_DATA_DIR"], "kernels", "batch", "kernel.json")
    before = spec.read_text()
    nb = notebook(tmp_path / "net.ipynb", "if False:\n    !wget https://example.org/data.tgz",
                  "import socket, time\nt = time.monotonic()\ntry:\n"
                  "    socket.create_connection(('example' + '.org', 80), timeout=30)\n"
                  "except OSError as e:\n    print(type(e).__name__, round(time.monotonic() - t))")
    proc = run(str(nb), "--netguard", "block", "--report", str(tmp_path / "r.json"))
    assert proc.returncode == 0, proc.stderr
    assert "warning: netguard: cell 1 line 2: " in proc.stderr  # printed before the first cell
    assert "NetworkBlockedError 0" in proc.stdout
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["env"]["KERNELCTL_NETGUARD"] == "block" and report["netguard"] == "block"
    assert report["netguard_findings"][0]["cell"] == 1
    assert spec.read_text() == before


def test_usage_errors_exit_2(home: dict[str, str], tmp_path: Path) -> None:
    nb = notebook(tmp_path / "n.ipynb", "print(1)", kernel=None)
    assert_user_error(run(str(nb)), 2, "does not say which kernel", "--kernel")
    assert_user_error(run(str(nb), "-k", "nosuch"), 2, "no kernel named 'nosuch'")
    assert_user_error(run(str(tmp_path / "missing.ipynb"), "-k", "batch"), 2, "no such notebook")
    (tmp_path / "bad.ipynb").write_text("{not json")
    assert_user_error(run(str(tmp_path / "bad.ipynb"), "-k", "batch"), 2, "not a Jupyter notebook")
    assert_user_error(run("--resume", str(nb)), 2, "was not written by 'kernelctl run'")
    assert_user_error(run(str(nb), "-k", "batch", "-o", str(nb)), 2, "is the notebook itself")
    (tmp_path / "p.yaml").write_text("- a list\n")
    assert_user_error(run(str(nb), "-k", "batch", "-f", str(tmp_path / "p.yaml")), 2, "must be a mapping")
    assert not (tmp_path / "n.out.ipynb").exists()
