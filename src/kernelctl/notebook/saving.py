"""Writing the output notebook so that a reader, or a job killed at any instant, always finds
a complete, valid notebook holding everything produced so far."""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kernelctl.errors import KernelctlError
from kernelctl.fsutil import open_own_file, own_dir, write_atomic
from kernelctl.paths import kernelctl_home


def compact(nb: Any) -> str:
    """``nb`` as compact JSON: a valid notebook, encoded by json's C encoder in a millisecond
    or two. nbformat's own layout (indented, multi-line strings split) is several times
    slower to produce, and slower with every cell; saves during a run do not need it."""
    return json.dumps(nb, ensure_ascii=False, sort_keys=True) + "\n"


class Saver:
    """Saves ``nb`` to ``path`` atomically (temp file + rename) when asked, and on its own
    every ``interval`` seconds while :meth:`autosave` runs (during long cells)."""

    def __init__(self, nb: Any, path: Path, interval: float = 30.0) -> None:
        self.nb = nb
        self.path = path
        self.interval = interval
        self._last = time.monotonic()

    def save(self) -> None:
        write_atomic(self.path, compact(self.nb))
        self._last = time.monotonic()

    def save_final(self) -> None:
        """The last save, in nbformat's layout, as JupyterLab writes notebooks."""
        from nbformat.v4 import writes

        write_atomic(self.path, writes(self.nb))

    async def autosave(self) -> None:
        """Save whenever ``interval`` seconds pass without a save; runs until cancelled."""
        while True:
            await asyncio.sleep(max(0.0, self._last + self.interval - time.monotonic()))
            if time.monotonic() - self._last >= self.interval:
                self.save()


@contextmanager
def claimed(path: Path) -> Iterator[None]:
    """Hold the right to write the output ``path`` while inside: a second run into the same
    output fails at once instead of the two overwriting each other's saves.

    The claim is an ``flock`` on a file in ``$KERNELCTL_HOME/run-locks`` named by the output's
    resolved path (nothing is added beside the user's files); the kernel drops it when the
    run ends, however it ends.
    """
    home = kernelctl_home()
    home.mkdir(parents=True, exist_ok=True)
    key = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:32]
    fd = open_own_file(own_dir(home / "run-locks") / f"{key}.lock")
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "another process"
            raise KernelctlError(f"another kernelctl run ({holder}) is writing {path}",
                                 "Wait for it to end, or give this run another output with -o.") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {os.uname().nodename}".encode(), 0)
        yield
    finally:
        os.close(fd)
