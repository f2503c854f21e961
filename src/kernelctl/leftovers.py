"""What interrupted commands left behind, and removing it.

A build that is killed (kill -9, a node that goes down) cannot clean up after itself; the
next command on the same name does (:func:`envstore.clean_leftovers`), but a name that is never
used again keeps its debris. This finds it in a location: staging dirs under the kernels
dir, env generations in ``envs/.store`` that nothing uses, dangling ``envs/NAME`` links, and
the temporary files of atomic writes. A generation in service (named by its kernelspec or
by ``envs/NAME``) is never a leftover, and a name another command holds the lock of is
skipped: what it has in flight is not debris.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kernelctl import envstore, kernelspec
from kernelctl.errors import KernelctlError
from kernelctl.fsutil import remove_tree
from kernelctl.location import Location
from kernelctl.locking import name_lock
from kernelctl.inventory import is_valid_name

_TEMP = ".*.tmp"  # fsutil.write_atomic's temporary files


@dataclass(frozen=True)
class Leftover:
    kind: str  # staging, generation, link, temp
    name: str  # the kernel it belongs to
    path: Path
    size: int
    location: Location

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "kernel": self.name, "path": str(self.path), "size": self.size}


def size_of(path: Path) -> int:
    """Bytes under ``path``, links not followed."""
    try:
        if not path.is_dir() or path.is_symlink():
            return path.lstat().st_size
    except OSError:
        return 0
    total = 0
    for directory, dirnames, filenames in os.walk(path):
        for entry in dirnames + filenames:
            try:
                total += os.lstat(os.path.join(directory, entry)).st_size
            except OSError:
                pass
    return total


def is_busy(name: str, location: Location) -> bool:
    """Whether another process holds ``name``'s lock (a command is working on it), found
    without taking the lock or writing anything."""
    try:
        fd = os.open(location.locks_dir / f"{name}.lock", os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def _candidates(location: Location) -> Iterable[tuple[str, str, Path]]:
    """(kind, kernel name, path) of everything that may be a leftover in ``location``."""
    for staged in sorted((location.kernels_dir / kernelspec.STAGING).glob("*/*")):
        yield "staging", staged.name, staged.parent
    store = location.store_dir
    for entry in sorted(store.iterdir()) if store.is_dir() else []:
        name, at, _ = entry.name.partition("@")
        if at:  # anything else there is not a generation kernelctl made: not ours to judge
            yield "generation", name, entry
    for entry in sorted(location.envs_dir.glob(".*.link-*")):  # fsutil.point_symlink's temporary link
        yield "temp", entry.name[1:].partition(".link-")[0], entry
    for link in sorted(location.envs_dir.glob("[!.]*")):
        # A kernel whose env was purged keeps its link: doctor reports that kernel, not debris.
        if link.is_symlink() and not link.exists() and not (location.kernels_dir / link.name).exists():
            yield "link", link.name, link
    for temp in sorted(location.kernels_dir.glob(f"*/{_TEMP}")):
        yield "temp", temp.parent.name, temp


def find(location: Location) -> list[Leftover]:
    """The leftovers in ``location``, with their size."""
    in_service: dict[str, set[Path]] = {}
    found = []
    for kind, name, path in _candidates(location):
        if not is_valid_name(name):
            continue
        if is_busy(name, location):
            continue
        if kind == "generation":
            keep = in_service.setdefault(name, envstore.in_service(name, location))
            if envstore.generation(name, location, path) in keep:  # in service: only its temp files are debris
                found += [Leftover("temp", name, temp, size_of(temp), location) for temp in sorted(path.glob(_TEMP))]
                continue
        found.append(Leftover(kind, name, path, size_of(path), location))
    return found


def remove(leftovers: Iterable[Leftover]) -> list[dict[str, Any]]:
    """Remove ``leftovers``, each name under its lock; one record per leftover (ok or why not)."""
    results = []
    by_name: dict[tuple[str, Location], list[Leftover]] = {}
    for item in leftovers:
        by_name.setdefault((item.name, item.location), []).append(item)
    for (name, location), items in by_name.items():
        try:
            with name_lock(name, location):
                envstore.clean_leftovers(name, location)  # staging, unused generations, a dangling link
                for item in items:
                    if item.kind == "temp":
                        remove_tree(item.path)
            error = None
        except (KernelctlError, OSError) as err:
            error = getattr(err, "message", None) or str(err)
        results += [{**item.to_dict(), "removed": error is None and not os.path.lexists(item.path),
                     **({"error": error} if error else {})} for item in items]
    return results
