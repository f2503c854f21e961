"""Prove a kernelspec works: start it through jupyter_client and run a cell."""

from __future__ import annotations

import queue
import tempfile
import time
from pathlib import Path

from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager

from kernelctl.errors import KernelctlError

PROBE = "import sys; print(sys.prefix)"


def run_cell(spec_dir: Path, code: str, timeout: float = 60.0) -> tuple[str, str]:
    """Start the kernel whose spec is in ``spec_dir``, run ``code``; return (stdout, stderr).

    Raises :class:`KernelctlError` with the kernel's own error output when it does not start,
    or the cell fails.
    """
    ksm = KernelSpecManager(kernel_dirs=[str(spec_dir.parent)], ensure_native_kernel=False)
    with tempfile.TemporaryFile("w+", prefix="kernelctl-verify-") as log:
        km = KernelManager(kernel_name=spec_dir.name, kernel_spec_manager=ksm)
        try:
            km.start_kernel(stdout=log, stderr=log)
            client = km.client()
            client.start_channels()
            try:
                client.wait_for_ready(timeout=timeout)
                return _execute(client, code, timeout)
            finally:
                client.stop_channels()
        except (RuntimeError, TimeoutError, OSError) as err:
            log.seek(0)
            tail = [line for line in log.read().strip().splitlines() if line.strip()][-1:]
            detail = tail[0] if tail else str(err)
            raise KernelctlError(f"the new kernel did not start: {detail}",
                                 "Fix the cause above and run the command again (kernelctl left no kernel behind).") from None
        finally:
            if km.has_kernel:
                km.shutdown_kernel(now=True)


def _execute(client, code: str, timeout: float) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    msg_id = client.execute(code, store_history=False)
    deadline = time.monotonic() + timeout
    out: list[str] = []
    err: list[str] = []
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("no reply to the test cell")
        try:
            msg = client.get_iopub_msg(timeout=remaining)
        except queue.Empty:
            continue
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        kind, content = msg["msg_type"], msg["content"]
        if kind == "stream":
            (out if content["name"] == "stdout" else err).append(content["text"])
        elif kind == "error":
            raise KernelctlError(f"the new kernel failed to run a cell: {content['ename']}: {content['evalue']}",
                                 "Run 'kernelctl doctor' for details.")
        elif kind == "status" and content["execution_state"] == "idle":
            return "".join(out), "".join(err)


def verify_prefix(spec_dir: Path, prefix: Path, timeout: float = 60.0) -> None:
    """Check that the kernel in ``spec_dir`` runs a cell inside the env at ``prefix``."""
    stdout, _ = run_cell(spec_dir, PROBE, timeout)
    if Path(stdout.strip()) != prefix:
        raise KernelctlError(f"the new kernel runs in {stdout.strip()!r}, not in its env {prefix}",
                             "Something on PATH or PYTHONPATH overrides the env; check the modules you load.")
