"""Writing the output notebook so that a reader, or a job killed at any instant, always finds
a complete, valid notebook holding everything produced so far."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from kernelctl.fsutil import write_atomic


class Saver:
    """Saves ``nb`` to ``path`` atomically (temp file + rename) when asked, and on its own
    every ``interval`` seconds while :meth:`autosave` runs (during long cells)."""

    def __init__(self, nb: Any, path: Path, interval: float = 30.0) -> None:
        self.nb = nb
        self.path = path
        self.interval = interval
        self.saves = 0
        self._last = time.monotonic()

    def save(self) -> None:
        import nbformat

        write_atomic(self.path, nbformat.writes(self.nb))
        self.saves += 1
        self._last = time.monotonic()

    async def autosave(self) -> None:
        """Save whenever ``interval`` seconds pass without a save; runs until cancelled."""
        while True:
            await asyncio.sleep(max(0.0, self._last + self.interval - time.monotonic()))
            if time.monotonic() - self._last >= self.interval:
                self.save()
