"""The env store: each build of a kernel gets a fresh env *generation* ``envs/.store/NAME@GEN``.

``envs/NAME`` is a symlink to the generation in service, so an old env keeps serving its
kernel until a new one has passed verification, and whatever an interrupted build leaves
behind is recognisable and cleaned up by the next command on that name. The store knows
nothing of languages: a generation is a directory a language fills.
"""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

from kernelctl import kernelspec
from kernelctl.fsutil import remove_tree
from kernelctl.location import Location


def generation(name: str, location: Location, path: Path | None) -> Path | None:
    """``path``, resolved, if it is one of ``name``'s env generations in ``location``'s store.

    Everything kernelctl deletes passes through here, so a damaged or edited kernel.json, a
    symlinked prefix or another kernel's spec can never make it delete anything else.
    """
    if path is None:
        return None
    try:
        resolved = path.resolve()
        store = location.store_dir.resolve()
    except (OSError, RuntimeError):
        return None
    if resolved.parent == store and resolved.name.startswith(f"{name}@"):
        return resolved
    return None


def new_generation(name: str, location: Location) -> Path:
    """A fresh generation path for ``name`` (not yet made)."""
    return location.store_dir / f"{name}@{time.strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(3)}"


def in_service(name: str, location: Location) -> set[Path]:
    """The generations of ``name`` something still uses: the one its kernelspec in
    ``location`` names and the one ``envs/NAME`` points to (they differ only briefly)."""
    spec = kernelspec.read_spec(location.kernels_dir, name)
    named = Path(spec.kernelctl["prefix"]) if spec is not None and spec.kernelctl else None
    link = location.envs_dir / name
    linked = link if link.is_symlink() else None
    return {g for g in (generation(name, location, named), generation(name, location, linked)) if g}


def linked_generation(name: str, location: Location) -> Path | None:
    """The generation ``envs/NAME`` points to, if it is one."""
    link = location.envs_dir / name
    return generation(name, location, link) if link.is_symlink() else None


def running_from(prefix: Path) -> bool:
    """Whether some process was started from the env at ``prefix``: a kernel started before
    the switch to a newer generation runs from the old one until it is restarted."""
    needle = os.fsencode(prefix) + b"/"
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/cmdline", "rb") as cmdline:
                    if needle in cmdline.read():
                        return True
            except OSError:  # gone meanwhile, or not ours to read
                continue
    return False


def clean_leftovers(name: str, location: Location) -> None:
    """Remove what interrupted commands on ``name`` left behind, and old generations no
    kernel runs from any more (call under the name lock)."""
    keep = in_service(name, location)
    for candidate in location.store_dir.glob(f"{name}@*"):
        if generation(name, location, candidate) not in keep and not running_from(candidate):
            remove_tree(candidate)
    link = location.envs_dir / name
    if link.is_symlink() and not link.exists():
        link.unlink()
    kernelspec.clean_stale_staging(location.kernels_dir, name)
