"""Signals and running kernels: SIGTERM during ``create`` cleans up as Ctrl-C does (and the
installer and verification kernel die with kernelctl), and ``remove`` of a kernel that is
running says so, finds it without starting anything, and still removes only what is ours."""

from __future__ import annotations

import json
import os
import pty
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import start_new_kernel
from kernelhelpers import CLI, kernelctl, kernelctl_json
from test_crash_safety import start_create

from kernelctl.running import command_line, processes_using


def store() -> Path:
    return Path(os.environ["KERNELCTL_HOME"]) / "envs" / ".store"


def outlived(path: Path, grace: float = 10) -> list[str]:
    """The command lines of processes still naming ``path`` once ``grace`` seconds have passed."""
    deadline = time.monotonic() + grace
    while (left := processes_using([path])) and time.monotonic() < deadline:
        time.sleep(0.2)
    return [" ".join(argv) for argv in map(command_line, left) if argv]


def terminate_at(proc: subprocess.Popen[str], marker: str, group: bool) -> str:
    """SIGTERM kernelctl alone (``group``: its whole process group, as scancel does) once
    ``marker`` shows on its stderr; return all of its stderr."""
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if marker in line:
            (os.killpg if group else os.kill)(proc.pid, signal.SIGTERM)
            break
    else:
        raise AssertionError(f"create finished before {marker!r}:\n{''.join(seen)}")
    return "".join(seen) + proc.communicate(timeout=120)[1]


@pytest.mark.parametrize(("marker", "group"), [("[2/4]", False), ("[3/4]", False), ("[4/4]", False), ("[3/4]", True)],
                         ids=["kernelspec", "install", "verify", "install-group"])
def test_sigterm_mid_create_leaves_nothing_and_the_name_usable(real_wheelhouse: Path, marker: str,
                                                               group: bool) -> None:
    proc = start_create("term", real_wheelhouse)
    stderr = terminate_at(proc, marker, group)
    assert proc.returncode == 143, stderr
    assert "kernelctl: terminated" in stderr and "Traceback" not in stderr, stderr
    assert "term" not in KernelSpecManager().find_kernel_specs()
    assert not store().exists() or not any(store().iterdir())
    staging = Path(os.environ["JUPYTER_DATA_DIR"]) / "kernels" / ".kernelctl-staging"
    assert not staging.exists() or not any(staging.iterdir())
    assert outlived(store()) == []  # neither the installer nor the verification kernel outlived it
    kernelctl("create", "term", "--wheelhouse", str(real_wheelhouse), "--no-verify", "-q")
    assert len(list(store().iterdir())) == 1


def test_remove_of_a_running_kernel_warns_and_removes_only_ours(real_wheelhouse: Path) -> None:
    kernelctl("create", "live", "--wheelhouse", str(real_wheelhouse), "--no-verify", "-q")
    env = Path(kernelctl_json("show", "live")["prefix"])
    km, kc = start_new_kernel(kernel_name="live", startup_timeout=60)
    try:
        pid = km.provisioner.pid  # type: ignore[union-attr]
        proc = kernelctl("remove", "live", "--yes", "--json")
        assert f"warning: kernel 'live' is running (pid {pid})" in proc.stderr, proc.stderr
        assert "shut it down" in proc.stderr and "Traceback" not in proc.stderr
        assert json.loads(proc.stdout)["running"] == [pid]
        assert "live" not in KernelSpecManager().find_kernel_specs() and not env.exists()
        assert km.is_alive()  # warned about, not killed
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def ask_on_a_terminal(argv: list[str], answer: bytes) -> tuple[int, str]:
    """Run ``argv`` on a pseudo-terminal, type ``answer`` once it asks; (exit status, all it printed)."""
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(argv[0], argv)
    shown = b""
    try:
        while b"[y/N]" not in shown:
            shown += os.read(fd, 4096)
        os.write(fd, answer)
        while True:
            shown += os.read(fd, 4096)
    except OSError:  # EIO: the child closed the terminal
        pass
    finally:
        os.close(fd)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), shown.decode(errors="replace")


def test_remove_on_a_terminal_warns_before_it_asks(real_wheelhouse: Path) -> None:
    kernelctl("create", "asked", "--wheelhouse", str(real_wheelhouse), "--no-verify", "-q")
    km, kc = start_new_kernel(kernel_name="asked", startup_timeout=60)
    try:
        status, shown = ask_on_a_terminal([*CLI, "remove", "asked"], b"n\n")
        warning = shown.index(f"kernel 'asked' is running (pid {km.provisioner.pid})")  # type: ignore[union-attr]
        assert warning < shown.index("Remove kernel 'asked' and its env? [y/N]"), shown
        assert status == 1 and "Nothing removed." in shown
        assert kernelctl_json("show", "asked")["name"] == "asked" and km.is_alive()
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def test_a_kernel_named_only_in_its_connection_file_is_found(real_wheelhouse: Path, tmp_path: Path) -> None:
    """A kernel started by a wrapper that hides the env's path still has its connection file."""
    kernelctl("create", "wrapped", "--wheelhouse", str(real_wheelhouse), "--no-verify", "-q")
    runtime = Path(os.environ["JUPYTER_RUNTIME_DIR"])
    runtime.mkdir(parents=True, exist_ok=True)
    connection = runtime / "kernel-1234.json"
    connection.write_text(json.dumps({"kernel_name": "wrapped", "transport": "tcp", "ip": "127.0.0.1"}))
    (runtime / "kernel-9999.json").write_text("[" * 100_000)  # a damaged file is passed over
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", "-f", str(connection)])
    try:
        time.sleep(0.2)
        proc = kernelctl("remove", "wrapped", "--yes")
        assert f"is running (pid {holder.pid})" in proc.stderr, proc.stderr
    finally:
        holder.kill()
        holder.wait()
    kernelctl("create", "wrapped", "--wheelhouse", str(real_wheelhouse), "--no-verify", "-q")
    proc = kernelctl("remove", "wrapped", "--yes")
    assert "warning" not in proc.stderr  # the process is gone: nothing to warn about
