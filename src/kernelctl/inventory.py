"""Every kernel there is to judge: the kernelspecs Jupyter sees, those it cannot load, and
kernelctl envs whose kernelspec is gone; each with the location its env and lock live in.

``list`` and ``doctor`` both start here, so they always speak of the same kernels.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from kernelctl import envstore, kernelspec
from kernelctl.errors import UsageError
from kernelctl.health import Kernel, Unreadable, Unregistered
from kernelctl.kernelfiles import DamagedFile, kernel_metadata
from kernelctl.launcher import CONFIG_NAME
from kernelctl.location import Location, location_of, prefix_location, user_location
from kernelctl.names import validate_name


@dataclass(frozen=True)
class Found:
    kernel: Kernel
    location: Location

    @property
    def name(self) -> str:
        return self.kernel.name

    @property
    def kernelctl(self) -> bool | None:
        """Whether kernelctl made it (None: a kernelspec too damaged to tell)."""
        if isinstance(self.kernel, Unregistered):
            return True
        if isinstance(self.kernel, Unreadable):
            return True if self.kernel.env or (self.kernel.resource_dir / CONFIG_NAME).is_file() else None
        meta = self.kernel.spec.get("metadata")
        return isinstance(meta, dict) and "kernelctl" in meta


def is_valid_name(name: str) -> bool:
    try:
        validate_name(name)
    except UsageError:
        return False
    return True


def live_env(name: str, location: Location) -> Path | None:
    """The env generation ``envs/NAME`` points to, when it exists."""
    prefix = envstore.linked_generation(name, location)
    return prefix if prefix is not None and prefix.is_dir() else None


def location_of_kernels_dir(kernels_dir: Path) -> Location:
    """The location whose kernelspecs live in ``kernels_dir``: the user's, or a shared prefix's."""
    user = user_location()
    if kernels_dir == user.kernels_dir or kernels_dir.parts[-3:] != ("share", "jupyter", "kernels"):
        return user
    return prefix_location(kernels_dir.parents[2])


def spec_location(spec: kernelspec.InstalledSpec) -> Location:
    """Where ``spec``'s env and lock are: from its metadata, or, when that is damaged or
    absent, from its directory."""
    try:
        meta = kernel_metadata(spec.spec, spec.resource_dir / "kernel.json", "")
    except DamagedFile:
        meta = None
    if meta is None:
        return location_of_kernels_dir(spec.resource_dir.parent)
    return location_of(spec.resource_dir, {"home": meta.home, "shared": meta.shared})


def unregistered(location: Location) -> list[Unregistered]:
    """The envs in ``location`` whose kernelspec is gone from its kernels dir."""
    try:
        names = sorted(e.name for e in os.scandir(location.envs_dir) if e.is_symlink() and not e.name.startswith("."))
    except OSError:
        return []
    found = []
    for name in names:
        prefix = live_env(name, location) if is_valid_name(name) else None
        if prefix is not None and not (location.kernels_dir / name / "kernel.json").exists():
            found.append(Unregistered(name, prefix, location))
    return found


def inventory() -> tuple[list[Found], list[Location]]:
    """Every kernel (kernelspecs Jupyter sees, then those it cannot load, then envs without
    one), and the locations searched: the user's and every shared prefix a kernelspec names."""
    # One load of every kernel.json for both lists (kernelspec.all_specs and unreadable_specs load them each).
    manager = kernelspec.spec_manager()
    loaded = manager.get_all_specs()
    specs = [Found(spec, spec_location(spec)) for spec in
             (kernelspec.InstalledSpec(name, Path(info["resource_dir"]), info["spec"]) for name, info in sorted(loaded.items()))]
    locations = [user_location()]
    for found in specs:
        if found.kernelctl and found.location not in locations:
            locations.append(found.location)
    unloadable = []
    for name, path in sorted(manager.find_kernel_specs().items()):
        if name not in loaded:  # Jupyter found it but could not load it, and leaves it out without a word
            location = location_of_kernels_dir(Path(path).parent)
            unloadable.append(Found(Unreadable(name, Path(path), live_env(name, location)), location))
    homeless = [Found(lost, location) for location in locations for lost in unregistered(location)]
    return specs + unloadable + homeless, locations
