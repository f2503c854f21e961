"""Where a kernel lives: its kernelspec directory, and kernelctl's own files (envs, locks).

A personal kernel lives in the user's Jupyter data dir and ``KERNELCTL_HOME``. A shared
one, for a group or a course, lives under a prefix: the kernelspec in
``PREFIX/share/jupyter/kernels`` and its env in ``PREFIX/share/kernelctl``, so one
directory holds all of it and users see it by adding ``PREFIX/share/jupyter`` to
``JUPYTER_PATH``. ``--system`` is the prefix of Jupyter's system-wide path.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from kernelctl.fsutil import check_own_dir
from kernelctl.paths import kernelctl_home

STAGING = ".kernelctl-staging"


@dataclass(frozen=True)
class Location:
    kernels_dir: Path
    home: Path
    shared: bool = False

    @property
    def root(self) -> Path | None:
        """The prefix a shared kernel lives under (``home`` is ``ROOT/share/kernelctl``)."""
        return self.home.parent.parent if self.shared else None

    def shared_dirs(self) -> list[Path]:
        """Every directory from :attr:`root` down to the spec, env and lock directories."""
        if self.root is None:
            return []
        found: list[Path] = []
        for leaf in (self.kernels_dir, self.store_dir, self.locks_dir):
            for directory in [*reversed(leaf.relative_to(self.root).parents), Path(leaf.relative_to(self.root))]:
                if self.root / directory not in found:
                    found.append(self.root / directory)
        return found

    @property
    def envs_dir(self) -> Path:
        """Where each env is reachable by name: ``envs/NAME``, a link to its generation."""
        return self.home / "envs"

    @property
    def store_dir(self) -> Path:
        """Where env generations really live."""
        return self.envs_dir / ".store"

    @property
    def locks_dir(self) -> Path:
        return self.home / "locks"

    @property
    def staging_dir(self) -> Path:
        """Where kernelspecs are written before they are moved into :attr:`kernels_dir`."""
        return self.kernels_dir / STAGING

    def check_dirs(self) -> None:
        """Refuse (see :func:`~kernelctl.fsutil.check_own_dir`) a location where a directory
        kernelctl writes or deletes in is a symlink, or one of its own is not the user's.

        kernelctl's own directories are the locks, envs, store and staging ones (and, for a
        shared kernel, ``share/kernelctl``); those between a shared prefix and them
        (``share``, ``share/jupyter/kernels``) may belong to anyone but must not be links.
        The roots themselves (``KERNELCTL_HOME``, the Jupyter data dir, the prefix) are the
        user's choice and may be links.
        """
        own = [*([self.home] if self.shared else []), self.locks_dir, self.envs_dir, self.store_dir, self.staging_dir]
        for directory in [*self.shared_dirs()[1:], *own]:  # shared_dirs()[0] is the prefix
            check_own_dir(directory, owned=directory in own)


def user_location() -> Location:
    """The user's own kernels: ``kernels`` in the Jupyter data dir (``KernelSpecManager``'s
    ``user_kernel_dir``, found without importing jupyter_client) and ``KERNELCTL_HOME``."""
    from jupyter_core.paths import jupyter_data_dir

    return Location(Path(jupyter_data_dir()) / "kernels", kernelctl_home())


def prefix_location(prefix: str | Path) -> Location:
    share = Path(prefix).expanduser().absolute() / "share"
    return Location(share / "jupyter" / "kernels", share / "kernelctl", shared=True)


def sys_prefix_location() -> Location:
    """The prefix of the Python running kernelctl, as ``ipykernel install --sys-prefix``."""
    return prefix_location(sys.prefix)


def system_location() -> Location:
    """Jupyter's first system-wide data dir (e.g. /usr/local/share/jupyter)."""
    from jupyter_core.paths import SYSTEM_JUPYTER_PATH

    return prefix_location(Path(SYSTEM_JUPYTER_PATH[0]).parent.parent)


def location_of(resource_dir: Path, metadata: dict) -> Location:
    """The location of an installed kernelctl kernel, from its spec dir and metadata."""
    home = metadata.get("home")
    if home is None:
        return user_location()
    return Location(resource_dir.parent, Path(home), shared=bool(metadata.get("shared")))
