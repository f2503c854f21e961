"""Prove a kernelspec works: start it through jupyter_client and run a cell."""

from __future__ import annotations

import ast
import os
import queue
import signal
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NamedTuple

from kernelctl.backends.base import die_with_parent, spawning
from kernelctl.bytecode import LOADED_CODE, loaded_expression
from kernelctl.errors import KernelctlError
from kernelctl.venv import INSTALLED_EXPRESSION, by_name

if TYPE_CHECKING:
    from jupyter_client.manager import KernelManager


@dataclass(frozen=True)
class Launched:
    """A kernel started from a kernelspec, a client connected to it, and its output so far."""

    manager: KernelManager
    client: Any
    log: IO[str]

    def failure(self, err: BaseException) -> KernelctlError:
        """The error for a kernel that did not start or answer, with its last line of output."""
        self.log.seek(0)
        tail = [line for line in self.log.read().strip().splitlines() if line.strip()][-1:]
        return KernelctlError(f"the new kernel did not start: {tail[0] if tail else err}",
                              "Fix the cause above and run the command again (kernelctl left no kernel behind).")


# Unset for the kernels kernelctl starts, so that they write the bytecode of what they import
# into their env, where every later start finds it (see kernelctl.bytecode).
_NO_BYTECODE_VARIABLES = ("PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")


@contextmanager
def launched(spec_dir: Path) -> Iterator[Launched]:
    """Start the kernel whose spec is in ``spec_dir`` (without waiting for it) and connect a
    client; the kernel is killed when the block ends, however it ends."""
    from jupyter_client.kernelspec import KernelSpecManager  # see kernelctl.background
    from jupyter_client.manager import KernelManager

    ksm = KernelSpecManager(kernel_dirs=[str(spec_dir.parent)], ensure_native_kernel=False)
    env = {k: v for k, v in os.environ.items() if k not in _NO_BYTECODE_VARIABLES}
    # The kernel is killed, so it cannot remove its own temporary files (R's session dir):
    # they go into a directory of ours, removed after it.
    with tempfile.TemporaryDirectory(prefix="kernelctl-verify-", ignore_cleanup_errors=True) as scratch, \
            tempfile.TemporaryFile("w+", prefix="kernelctl-verify-") as log:
        env["TMPDIR"] = scratch
        manager = KernelManager(kernel_name=spec_dir.name, kernel_spec_manager=ksm)
        try:
            try:
                # dies with kernelctl, so that a killed build leaves no kernel running from its env
                with spawning():
                    manager.start_kernel(stdout=log, stderr=log, env=env, preexec_fn=die_with_parent)
            except (RuntimeError, OSError) as err:
                raise Launched(manager, None, log).failure(err) from None
            client = manager.client()
            client.start_channels()
            try:
                yield Launched(manager, client, log)
            finally:
                client.stop_channels()
        finally:
            _kill(manager)


def _kill(manager: KernelManager) -> None:
    """Kill the kernel's process group and wait for its death, then let jupyter_client reap
    it and clean up (its connection file). Its own ``shutdown_kernel(now=True)`` polls for
    the death every 0.1 s: a tenth of a second that every build would wait."""
    process = getattr(manager.provisioner, "process", None)
    if process is not None and process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGKILL)  # jupyter_client starts it in a session of its own
        except OSError:
            process.kill()
        # Wait for the death without reaping: jupyter_client signals the process group once
        # more, and that pid must not be free for another process to take meanwhile.
        try:
            os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOWAIT)
        except ChildProcessError:  # already reaped
            pass
    if manager.has_kernel:
        manager.shutdown_kernel(now=True)


def run_cell(spec_dir: Path, code: str, timeout: float = 60.0) -> tuple[str, str]:
    """Start the kernel whose spec is in ``spec_dir``, run ``code``; return (stdout, stderr).

    Raises :class:`KernelctlError` with the kernel's own error output when it does not start,
    or the cell fails.
    """
    with launched(spec_dir) as kernel:
        try:
            kernel.client.wait_for_ready(timeout=timeout)
            return _execute(kernel.client, code, timeout)
        except (RuntimeError, TimeoutError) as err:
            raise kernel.failure(err) from None


def evaluate(kernel: Launched, code: str, expression: str, timeout: float = 60.0) -> Any:
    """Run the cell ``code`` in ``kernel`` and return the value of ``expression`` (a Python
    literal) evaluated after it.

    The request is sent at once and the answer read from the shell channel, whose messages
    wait for a kernel still starting: no readiness polling, no IOPub subscription to settle.
    """
    msg_id = kernel.client.execute(code, store_history=False, user_expressions={"value": expression})
    deadline = time.monotonic() + timeout
    while True:
        if time.monotonic() > deadline:
            raise kernel.failure(TimeoutError("no reply to the test cell"))
        try:
            reply = kernel.client.get_shell_msg(timeout=0.2)
        except queue.Empty:
            if not kernel.manager.is_alive():
                raise kernel.failure(RuntimeError("the kernel exited")) from None
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


class Verified(NamedTuple):
    """What a verification kernel reports of its env."""

    installed: dict[str, str]
    """``{project name: version}`` of everything installed, sorted by name."""
    loaded: list[str]
    """The ``.py`` files under the env's site-packages the kernel imported, relative to it."""


def verify_prefix(kernel: Launched, prefix: Path, site: Path | None = None, timeout: float = 60.0) -> Verified:
    """Check that ``kernel`` runs a cell inside the env at ``prefix``; return what it reports
    (which saves a second start of the env's Python to ask), with what it imported from
    ``site``, the env's site-packages, when given."""
    code = "import sys\n" + (LOADED_CODE if site is not None else "")
    loaded = loaded_expression(site) if site is not None else "''"
    where, installed, loaded = evaluate(kernel, code, f"(sys.prefix, {INSTALLED_EXPRESSION}, {loaded})", timeout)
    if Path(where) != prefix:
        raise KernelctlError(f"the new kernel runs in {where!r}, not in its env {prefix}",
                             "Something on PATH or PYTHONPATH overrides the env; check the modules you load.")
    return Verified(by_name(installed), loaded.splitlines())
