"""Finding the Python an env is built on, and asking it early (kernelctl.interpreter)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kernelctl import interpreter
from kernelctl.errors import UsageError


@pytest.fixture
def processes(monkeypatch: pytest.MonkeyPatch) -> list[subprocess.Popen]:
    """Every probe started, in order."""
    found: list[subprocess.Popen] = []
    start = interpreter._start

    def recording(executable: str) -> subprocess.Popen:
        found.append(start(executable))
        return found[-1]

    monkeypatch.setattr(interpreter, "_start", recording)
    monkeypatch.setattr(interpreter, "_prefetched", None)
    return found


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The executables each probe was started for, in order."""
    calls: list[str] = []
    start = interpreter._start

    def counting(executable: str) -> subprocess.Popen:
        calls.append(executable)
        return start(executable)

    monkeypatch.setattr(interpreter, "_start", counting)
    monkeypatch.setattr(interpreter, "_prefetched", None)
    return calls


def python3_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A ``python3`` first on PATH: a shim that runs this interpreter, as pyenv's does."""
    shim = tmp_path / "bin" / "python3"
    shim.parent.mkdir()
    shim.write_text(f"#!/bin/sh\nexec {sys.executable} \"$@\"\n")
    shim.chmod(shim.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{shim.parent}{os.pathsep}{os.environ['PATH']}")
    return shim


def test_the_prefetched_answer_is_the_one_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               started: list[str]) -> None:
    shim = python3_on_path(tmp_path, monkeypatch)
    interpreter.prefetch()
    interpreter.prefetch()  # once is enough
    found = interpreter.find_interpreter(None)
    assert started == [str(shim)]
    assert found.executable == Path(sys.executable) and found.cache_tag == sys.implementation.cache_tag
    assert found.version == ".".join(map(str, sys.version_info[:3]))
    interpreter.find_interpreter(None)  # a later lookup asks again
    assert started == [str(shim), str(shim)]


@pytest.mark.parametrize("change", ["a variable set since", "another interpreter asked for"])
def test_a_prefetched_answer_for_other_circumstances_is_dropped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                started: list[str], change: str) -> None:
    shim = python3_on_path(tmp_path, monkeypatch)
    interpreter.prefetch()
    prefetched = interpreter._prefetched
    assert prefetched is not None
    if change == "a variable set since":  # as 'module load' does: a shim may now run another Python
        monkeypatch.setenv("PYENV_VERSION", "3.99")
        spec = None
    else:
        spec = sys.executable
    found = interpreter.find_interpreter(spec)
    assert started == [str(shim), str(shim) if spec is None else sys.executable]
    assert found.executable == Path(sys.executable)
    assert prefetched.process.returncode is not None  # stopped and reaped, not left behind


def test_an_interpreter_that_does_not_answer_is_a_usage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              started: list[str]) -> None:
    fake = tmp_path / "python-not"
    fake.write_text("#!/bin/sh\necho not python\n")
    fake.chmod(0o755)
    with pytest.raises(UsageError, match="did not run as a Python interpreter"):
        interpreter.find_interpreter(str(fake))
    monkeypatch.setattr(interpreter, "_TIMEOUT", 0.5)
    # A wrapper that waits on a child holding its output open, as a module's python3 wrapper may.
    pid_file = tmp_path / "child.pid"
    fake.write_text(f"#!/bin/sh\nsleep 30 &\necho $! > {pid_file}\nwait\n")
    began = time.monotonic()
    with pytest.raises(UsageError, match="did not run as a Python interpreter"):
        interpreter.find_interpreter(str(fake))
    assert time.monotonic() - began < 10  # not the 30 s of the child, which held the output open
    child = int(pid_file.read_text())
    with pytest.raises(ProcessLookupError):  # killed with its wrapper (and reaped by init)
        for _ in range(100):
            os.kill(child, 0)
            time.sleep(0.05)


def test_a_create_that_stops_early_leaves_no_probe_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          processes: list[subprocess.Popen]) -> None:
    from kernelctl import cli

    python3_on_path(tmp_path, monkeypatch)
    assert cli.main(["create", "Bad Name!"]) == 2  # a usage error, before any interpreter is needed
    [probe] = processes
    assert probe.returncode is not None and interpreter._prefetched is None


def test_create_starts_the_probe_before_importing_its_command() -> None:
    code = ("import sys\n"
            "from kernelctl import cli, interpreter\n"
            "interpreter.prefetch = lambda: print('prefetch', 'kernelctl.commands.create' in sys.modules)\n"
            "try:\n"
            "    cli.main(['create', '--help'])\n"
            "except SystemExit:\n"
            "    pass\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.startswith("prefetch False\nusage: kernelctl create")
