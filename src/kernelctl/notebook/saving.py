"""Writing the output notebook so that a reader, or a job killed at any instant, always finds
a complete, valid notebook holding everything produced so far."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

from kernelctl.fsutil import write_atomic


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
