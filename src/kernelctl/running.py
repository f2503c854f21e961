"""Finding the processes of a running kernel, without starting or connecting to anything.

A kernel's process names its env's interpreter (or its kernelspec dir, through the launch
wrapper) and its connection file on its command line; Jupyter writes each connection file,
with the kernel's name in it, to its runtime dir. Both are read from ``/proc`` and the
runtime dir only, so a check never starts a process nor talks to a kernel.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

PROC = Path("/proc")
MAX_CONNECTION_FILE = 64 * 1024  # a real one is about 300 bytes


def connection_files(name: str) -> list[Path]:
    """The connection files in Jupyter's runtime dir that say they belong to kernel ``name``."""
    from jupyter_core.paths import jupyter_runtime_dir

    found = []
    for path in Path(jupyter_runtime_dir()).glob("kernel-*.json"):
        try:
            with path.open("rb") as f:
                info = json.loads(f.read(MAX_CONNECTION_FILE))
        except (OSError, ValueError, RecursionError):
            continue
        if isinstance(info, dict) and info.get("kernel_name") == name:
            found.append(path)
    return found


def command_line(pid: int) -> list[str]:
    """Process ``pid``'s argv ([] once it is gone, or when it is not ours to read)."""
    try:
        raw = (PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return []
    return [os.fsdecode(word) for word in raw.split(b"\0") if word]


def processes_using(paths: Iterable[Path]) -> list[int]:
    """Pids (other than ours) whose command line names one of ``paths`` or a file below one."""
    wanted = [str(path) for path in paths]
    found = []
    for pid_dir in PROC.iterdir() if PROC.is_dir() else ():
        if not pid_dir.name.isdigit() or int(pid_dir.name) == os.getpid():
            continue
        words = command_line(int(pid_dir.name))
        if any(word == path or word.startswith(path + "/") for word in words for path in wanted):
            found.append(int(pid_dir.name))
    return sorted(found)


def kernel_processes(name: str, paths: Iterable[Path]) -> list[int]:
    """The processes running kernel ``name``: those that name one of ``paths`` (its env
    generations, ``envs/NAME``, its spec dir) or one of its connection files."""
    return processes_using([*paths, *connection_files(name)])
