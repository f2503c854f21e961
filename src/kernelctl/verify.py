"""Prove a kernelspec works: start it through jupyter_client and run a cell."""

from __future__ import annotations

import ast
import queue
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager

from kernelctl.errors import KernelctlError
from kernelctl.venv import INSTALLED_EXPRESSION, by_name



@contextmanager
def _started(spec_dir: Path) -> Iterator[tuple[KernelManager, Any]]:
    """The kernel whose spec is in ``spec_dir``, started, and a client with its channels open.

    A failure to start (or any error of the caller) becomes a :class:`KernelctlError` with
    the kernel's last line of output; the kernel is shut down in every case.
    """
    ksm = KernelSpecManager(kernel_dirs=[str(spec_dir.parent)], ensure_native_kernel=False)
    with tempfile.TemporaryFile("w+", prefix="kernelctl-verify-") as log:
        km = KernelManager(kernel_name=spec_dir.name, kernel_spec_manager=ksm)
        try:
            km.start_kernel(stdout=log, stderr=log)
            client = km.client()
            client.start_channels()
            try:
                yield km, client
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


def run_cell(spec_dir: Path, code: str, timeout: float = 60.0) -> tuple[str, str]:
    """Start the kernel whose spec is in ``spec_dir``, run ``code``; return (stdout, stderr).

    Raises :class:`KernelctlError` with the kernel's own error output when it does not start,
    or the cell fails.
    """
    with _started(spec_dir) as (_, client):
        client.wait_for_ready(timeout=timeout)
        return _execute(client, code, timeout)


def evaluate(spec_dir: Path, code: str, expression: str, timeout: float = 60.0) -> Any:
    """Start the kernel whose spec is in ``spec_dir``, run the cell ``code`` and return the
    value of ``expression`` (a Python literal) evaluated after it.

    The request is sent at once and the answer read from the shell channel, whose messages
    wait for a kernel still starting: no readiness polling, no IOPub subscription to settle.
    """
    with _started(spec_dir) as (km, client):
        msg_id = client.execute(code, store_history=False, user_expressions={"value": expression})
        deadline = time.monotonic() + timeout
        while True:
            if time.monotonic() > deadline:
                raise TimeoutError("no reply to the test cell")
            try:
                reply = client.get_shell_msg(timeout=0.2)
            except queue.Empty:
                if not km.is_alive():
                    raise RuntimeError("the kernel exited") from None
                continue
            if reply["parent_header"].get("msg_id") == msg_id:
                break
    content = reply["content"]
    result = content.get("user_expressions", {}).get("value", content)
    if content["status"] != "ok" or result.get("status") != "ok":
        raise KernelctlError(f"the new kernel failed to run a cell: {result.get('ename')}: {result.get('evalue')}",
                             "Run 'kernelctl doctor' for details.")
    return ast.literal_eval(result["data"]["text/plain"])


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


def verify_prefix(spec_dir: Path, prefix: Path, timeout: float = 60.0) -> dict[str, str]:
    """Check that the kernel in ``spec_dir`` runs a cell inside the env at ``prefix``; return
    what the kernel sees installed (``{project name: version}``), which saves a second start
    of the env's Python to ask."""
    where, installed = evaluate(spec_dir, "import sys", f"(sys.prefix, {INSTALLED_EXPRESSION})", timeout)
    if Path(where) != prefix:
        raise KernelctlError(f"the new kernel runs in {where!r}, not in its env {prefix}",
                             "Something on PATH or PYTHONPATH overrides the env; check the modules you load.")
    return by_name(installed)
