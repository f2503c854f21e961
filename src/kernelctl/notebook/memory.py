"""The kernel's peak memory: RSS summed over its process tree, sampled from /proc.

A sample sums the resident memory of the kernel and all its descendants (worker pools,
``!cmd`` children). The kernel's own high-water mark (``VmHWM``) catches a peak between
samples for the kernel itself.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

_PAGE = os.sysconf("SC_PAGE_SIZE")


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return found
    for task in tasks:
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue
    return found


def tree(pid: int) -> list[int]:
    """``pid`` and its descendants that are alive now."""
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        todo += _children(current)
    return pids


def rss(pid: int) -> int:
    """Resident bytes of one process (0 once it is gone)."""
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return 0


def high_water(pid: int) -> int:
    """The process's own peak resident bytes (``VmHWM``), 0 when unknown."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


class PeakSampler:
    """Samples the tree under ``pid`` every ``interval`` seconds in a daemon thread."""

    def __init__(self, pid: int, interval: float = 0.5) -> None:
        self.pid = pid
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="kernelctl-rss", daemon=True)

    def sample(self) -> int:
        total = sum(rss(p) for p in tree(self.pid))
        self.peak = max(self.peak, total, high_water(self.pid))
        return self.peak

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def start(self) -> PeakSampler:
        self.sample()
        self._thread.start()
        return self

    def stop(self) -> int:
        """Stop sampling (taking a last sample while the kernel is still there); return the peak."""
        self.sample()
        self._stop.set()
        self._thread.join()
        return self.peak


def _oom_counters() -> list[Path]:
    """The files counting this process's cgroup's OOM kills: cgroup v2's ``memory.events``,
    or v1's ``memory.oom_control`` in the memory hierarchy."""
    found = []
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return found
    for line in lines:
        hierarchy, controllers, path = line.split(":", 2)
        if hierarchy == "0" and not controllers:
            found.append(Path("/sys/fs/cgroup", path.lstrip("/"), "memory.events"))
        elif "memory" in controllers.split(","):
            found.append(Path("/sys/fs/cgroup/memory", path.lstrip("/"), "memory.oom_control"))
    return found


def oom_kills() -> int | None:
    """How many processes the out-of-memory killer has killed in this process's cgroup (a
    Slurm job's memory limit is enforced there), None when the kernel does not say."""
    for counter in _oom_counters():
        try:
            text = counter.read_text()
        except OSError:
            continue
        for entry in text.splitlines():
            key, _, value = entry.partition(" ")
            if key == "oom_kill":
                return int(value)
    return None


def human(size: int) -> str:
    """``size`` bytes as a short text (``1.4 GiB``)."""
    if size < 1024:
        return f"{size} B"
    value, unit = float(size), "B"
    for unit in ("KiB", "MiB", "GiB"):
        value /= 1024
        if value < 1024:
            break
    return f"{value:.1f} {unit}"
