"""The kernel a notebook runs in: which one, its health, its netguard mode for this run,
and its own stderr (shown live and kept, to explain a kernel that did not start)."""

from __future__ import annotations

import collections
import os
import re
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kernelctl import netguard_config
from kernelctl.commands.common import Kernel, find_kernel
from kernelctl.errors import KernelctlError, UsageError
from kernelctl.manifest import Options
from kernelctl.netguard import RUNTIME_NAME


def resolve(name: str | None, nb: Any, notebook: Path) -> Kernel:
    """``name``, else the kernel the notebook was saved with, as a kernelctl kernel."""
    if name is None:
        name = ((nb.metadata.get("kernelspec") or {}).get("name")) or None
        if name is None:
            raise UsageError(f"{notebook} does not say which kernel it uses",
                             "Pass --kernel NAME ('kernelctl list' shows your kernels).")
    try:
        return find_kernel(name)
    except KernelctlError as err:
        raise UsageError(err.message, "Pass --kernel NAME with one of the kernels 'kernelctl list' shows.") from None


def netguard_settings(kernel: Kernel, mode: str) -> tuple[list[str], dict[str, str]]:
    """The argv to add and the env to set so that the kernel runs in netguard ``mode`` for
    this run only (its kernelspec on disk is not touched)."""
    manifest = kernel.manifest
    if manifest.options.language != "python":
        raise UsageError(f"--netguard needs a Python kernel; {kernel.spec.name!r} is a "
                         f"{manifest.options.language} kernel", "Leave out --netguard.")
    argv, env = netguard_config.validate(Options(netguard=mode, netguard_allow=manifest.options.netguard_allow),
                                         manifest.wheelhouses)
    launch_exec = kernel.launch_config().get("exec") or []
    if RUNTIME_NAME in kernel.spec.spec.get("argv", []) or RUNTIME_NAME in launch_exec:
        argv = []  # the kernel loads the extension already
    return argv, env


def apply_overrides(kernel_spec: Any, argv: list[str], env: Mapping[str, str]) -> None:
    """Change a kernel manager's loaded kernelspec (in memory) before the kernel starts."""
    kernel_spec.argv = [*kernel_spec.argv, *argv]
    kernel_spec.env = {**(kernel_spec.env or {}), **env}


_ROUTINE = re.compile(r"^\[\w+\] WARNING \| ")


class StderrTee:
    """A pipe for the kernel's stderr: what arrives is copied to our stderr at once, and the
    last ``keep`` lines are kept for error messages."""

    def __init__(self, keep: int = 20) -> None:
        self._read, self.fd = os.pipe()
        self.tail: collections.deque[str] = collections.deque(maxlen=keep)
        self._thread = threading.Thread(target=self._pump, name="kernelctl-kernel-stderr", daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        with os.fdopen(self._read, "rb") as pipe:
            for raw in pipe:
                line = raw.decode("utf-8", "replace")
                self.tail.append(line.rstrip("\n"))
                sys.stderr.write(line)
                sys.stderr.flush()

    def started(self) -> None:
        """The kernel holds the write end now; ours must go so the pipe ends with the kernel."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def close(self, timeout: float = 2.0) -> None:
        self.started()
        self._thread.join(timeout)

    def last_lines(self, count: int = 5) -> str:
        """The last ``count`` lines that are not IPython's routine log warnings."""
        lines = [line for line in self.tail if line.strip() and not _ROUTINE.match(line)]
        return "\n".join(lines[-count:])
