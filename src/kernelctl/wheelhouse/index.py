"""An index of the wheels in a wheelhouse: several directories in priority order.

The index is built for speed on large wheelhouses (tens of thousands of wheels):

* the directory listings are grouped by normalised project name once (and cached), so
  looking a project up costs the same whatever the wheelhouse size;
* a project's file names are parsed only when the project is asked for;
* a wheel's METADATA is read only when asked for (:meth:`WheelhouseIndex.metadata`), and
  kept in the persistent per-directory cache of :mod:`kernelctl.wheelhouse.metadata_cache`.

Misnamed files and unreadable wheels are collected in :attr:`WheelhouseIndex.problems`
as they are met; they are never fatal.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

from kernelctl.wheelhouse.filenames import InvalidWheelName, WheelName, is_dummy_version, parse
from kernelctl.wheelhouse.metadata_cache import DirCache, WheelMetadata, cache_root

_VERSIONS: dict = {}


def version_of(text: str):
    """A :class:`packaging.version.Version`, parsed once per distinct string."""
    try:
        return _VERSIONS[text]
    except KeyError:
        from packaging.version import Version

        v = _VERSIONS[text] = Version(text)
        return v


class Problem(NamedTuple):
    """A file the index could not use: ``kind`` is ``misnamed`` or ``unreadable``."""

    kind: str
    path: str
    message: str


class Wheel:
    """One wheel file of the index."""

    __slots__ = ("path", "dir_index", "filename", "name", "project", "version_str", "build", "tags", "_version")

    def __init__(self, directory: str, dir_index: int, parsed: WheelName) -> None:
        self.path = os.path.join(directory, parsed.filename)
        self.dir_index = dir_index
        self.filename = parsed.filename
        self.name = parsed.name
        self.project = parsed.project
        self.version_str = parsed.version
        self.build = parsed.build
        self.tags = parsed.tags
        self._version = None

    @property
    def version(self):
        """The :class:`packaging.version.Version` of the file name (local part included)."""
        if self._version is None:
            self._version = version_of(self.version_str)
        return self._version

    @property
    def is_dummy(self) -> bool:
        """Whether this is a site placeholder wheel (``+dummy.computecanada``)."""
        return is_dummy_version(self.version_str)

    def __repr__(self) -> str:
        return f"Wheel({self.path!r})"


class WheelhouseIndex:
    """The wheels of ``dirs`` (first directory has priority), looked up by normalised project."""

    def __init__(self, dirs: Sequence[str | os.PathLike[str]], *, cache: bool = True,
                 cache_dir: Path | None = None) -> None:
        self.dirs = [os.fspath(d) for d in dirs]
        root = (cache_dir or cache_root()) if cache else None
        self._caches = [DirCache(d, root) for d in self.dirs]
        self._groups = [c.groups() for c in self._caches]
        self._wheels: dict[str, list[Wheel]] = {}
        self._problems: dict[str, Problem] = {}

    @classmethod
    def from_wheelhouse(cls, wheelhouse, **kwargs) -> "WheelhouseIndex":
        """An index over a :class:`kernelctl.wheelhouse.discovery.Wheelhouse`."""
        return cls(wheelhouse.dirs, **kwargs)

    @property
    def problems(self) -> list[Problem]:
        """Misnamed and unreadable wheels met so far, in the order met."""
        return list(self._problems.values())

    def projects(self) -> list[str]:
        """Every normalised project name with at least one file, sorted."""
        names: set[str] = set()
        for groups in self._groups:
            names.update(groups)
        return sorted(names)

    def __contains__(self, project: str) -> bool:
        return any(project in g for g in self._groups)

    def wheels(self, project: str) -> list[Wheel]:
        """The validly named wheels of ``project`` (normalised), by directory priority then name."""
        try:
            return self._wheels[project]
        except KeyError:
            pass
        found: list[Wheel] = []
        for index, (groups, dcache) in enumerate(zip(self._groups, self._caches)):
            names = dcache.names
            for filename in groups.get(project, ()):
                parsed = names.get(filename)
                if parsed is None:
                    try:
                        parsed = tuple(parse(filename))
                    except InvalidWheelName as err:
                        parsed = ("error", str(err))
                    names[filename] = parsed
                    dcache.dirty = True
                if len(parsed) == 2:
                    path = os.path.join(self.dirs[index], filename)
                    self._problems.setdefault(path, Problem("misnamed", path, parsed[1]))
                    continue
                found.append(Wheel(self.dirs[index], index, WheelName(*parsed)))
        self._wheels[project] = found
        return found

    def all_wheels(self) -> Iterable[Wheel]:
        """Every validly named wheel, project by project."""
        for project in self.projects():
            yield from self.wheels(project)

    def metadata(self, wheel: Wheel) -> WheelMetadata:
        """The wheel's METADATA (cached); an unreadable wheel is also recorded in :attr:`problems`."""
        meta = self._caches[wheel.dir_index].metadata(wheel.filename, wheel.project)
        if meta.error is not None:
            self._problems.setdefault(wheel.path, Problem("unreadable", wheel.path, meta.error))
        return meta

    def save(self) -> None:
        """Persist what was learned into the per-directory caches."""
        for dcache in self._caches:
            dcache.save()
