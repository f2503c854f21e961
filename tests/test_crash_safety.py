"""An interrupted create leaves no kernel or a complete one, and the name stays usable.

These tests kill ``kernelctl create`` (and everything it started: the process group, as a
real SIGKILL of a login session or an OOM kill would) at each of its steps.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from jupyter_client.kernelspec import KernelSpecManager
from kernelhelpers import CLI, assert_user_error, kernelctl, run_in_kernel

from kernelctl.location import user_location
from kernelctl.locking import name_lock


def start_create(name: str, wheelhouse: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen([*CLI, "create", name, "numpy", "--wheelhouse", str(wheelhouse), *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def interrupt_at(proc: subprocess.Popen[str], markers: tuple[str, ...], sig: int) -> str:
    """Send ``sig`` to the create's process group once ``markers`` have shown, in order, on its stderr."""
    seen = []
    pending = list(markers)
    assert proc.stderr is not None
    for line in proc.stderr:
        seen.append(line)
        if pending[0] in line:
            pending.pop(0)
            if not pending:
                os.killpg(proc.pid, sig)
                break
    else:
        raise AssertionError(f"create finished before {markers!r}:\n{''.join(seen)}")
    rest = proc.communicate(timeout=120)[1]
    return "".join(seen) + rest


def assert_no_kernel_or_a_working_one(name: str) -> bool:
    """Check the invariant; return whether a kernel exists."""
    specs = KernelSpecManager().find_kernel_specs()
    if name not in specs:
        return False
    spec = json.loads((Path(specs[name]) / "kernel.json").read_text())
    assert Path(spec["argv"][0]).exists()
    out, _ = run_in_kernel(name, "import sys, numpy; print(sys.prefix)")
    assert out.strip() == spec["metadata"]["kernelctl"]["prefix"]
    return True


@pytest.mark.parametrize("markers", [("[1/4]",), ("[2/4]",), ("[3/4]",), ("[4/4]",), ("[4/4]", "done in")],
                         ids=["venv", "install", "kernelspec", "verify", "after-verify"])
def test_sigkill_at_any_step(real_wheelhouse: Path, markers: tuple[str, ...]) -> None:
    proc = start_create("crash", real_wheelhouse)
    interrupt_at(proc, markers, signal.SIGKILL)
    existed = assert_no_kernel_or_a_working_one("crash")
    # a later create of the same name works (with --force only if the first one got through)
    kernelctl("create", "crash", "numpy", "--wheelhouse", str(real_wheelhouse), "-q", *(["--force"] if existed else []))
    assert assert_no_kernel_or_a_working_one("crash")
    store = Path(os.environ["KERNELCTL_HOME"]) / "envs" / ".store"
    assert len(list(store.iterdir())) == 1  # the leftovers of the killed run are gone
    staging = Path(os.environ["JUPYTER_DATA_DIR"]) / "kernels" / ".kernelctl-staging"
    assert not staging.exists() or not any(staging.iterdir())


def test_ctrl_c_cleans_up(real_wheelhouse: Path) -> None:
    proc = start_create("intr", real_wheelhouse)
    stderr = interrupt_at(proc, ("[2/4]",), signal.SIGINT)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert "intr" not in KernelSpecManager().find_kernel_specs()
    store = Path(os.environ["KERNELCTL_HOME"]) / "envs" / ".store"
    assert not store.exists() or not any(store.iterdir())
    staging = Path(os.environ["JUPYTER_DATA_DIR"]) / "kernels" / ".kernelctl-staging"
    assert not staging.exists() or not any(staging.iterdir())


def test_concurrent_create_of_one_name_fails_fast(real_wheelhouse: Path) -> None:
    with name_lock("busy", user_location()):
        proc = kernelctl("create", "busy", "--wheelhouse", str(real_wheelhouse), check=False, timeout=30)
    assert_user_error(proc, 1, "another kernelctl command", f"pid {os.getpid()}")
    assert "busy" not in KernelSpecManager().find_kernel_specs()


def test_different_names_proceed_in_parallel(real_wheelhouse: Path) -> None:
    results: dict[str, int] = {}

    def create(name: str) -> None:
        results[name] = kernelctl("create", name, "--wheelhouse", str(real_wheelhouse), "--no-verify", "-q",
                                  check=False).returncode

    threads = [threading.Thread(target=create, args=(n,)) for n in ("par-a", "par-b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {"par-a": 0, "par-b": 0}
    assert {"par-a", "par-b"} <= set(KernelSpecManager().find_kernel_specs())
