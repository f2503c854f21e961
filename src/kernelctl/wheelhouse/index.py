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
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

from kernelctl.wheelhouse.filenames import InvalidWheelName, is_dummy_version, normalize, parse
from kernelctl.wheelhouse.metadata_cache import DirCache, WheelMetadata, cache_root

_VERSIONS: dict = {}
_BUILD = re.compile(r"(\d+)(.*)")


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
    """One wheel file of the index.

    The fields come from the file name, which :func:`kernelctl.wheelhouse.filenames.parse`
    (that is, :func:`packaging.utils.parse_wheel_filename`) has validated.
    """

    __slots__ = ("directory", "dir_index", "filename", "name", "project", "version_str", "build", "tags", "_version")

    def __init__(self, directory: str, dir_index: int, filename: str) -> None:
        parts = filename[:-4].split("-")
        self.directory = directory
        self.dir_index = dir_index
        self.filename = filename
        self.name = parts[0]
        self.project = normalize(parts[0])
        self.version_str = parts[1]
        build: tuple = ()
        if len(parts) == 6:
            match = _BUILD.match(parts[2])
            if match:
                build = (int(match.group(1)), match.group(2))
        self.build = build
        self.tags = "-".join(parts[-3:])
        self._version = None

    @property
    def path(self) -> str:
        """The wheel's full path."""
        return f"{self.directory}/{self.filename}"

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
        self._meta: dict[tuple[int, str], WheelMetadata] = {}

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

    def wheels(self, project: str, accept: Callable[[str], object] | None = None) -> list[Wheel]:
        """The validly named wheels of ``project`` (normalised), by directory priority then name.

        With ``accept``, a test on the file name's compressed tag triple
        (``cp311-cp311-linux_x86_64``), only the accepted files are checked and returned:
        a resolver for one target never looks at the wheels built for other Pythons.
        """
        if accept is None:
            try:
                return self._wheels[project]
            except KeyError:
                pass
        found: list[Wheel] = []
        for index, (groups, dcache) in enumerate(zip(self._groups, self._caches)):
            blob = groups.get(project)
            if not blob:
                continue
            directory = self.dirs[index]
            filenames = blob.split("\n")
            checked = dcache.checked.get(project)
            if checked is None or checked[0] != blob:
                checked = (blob, "", {})
            # checked[1]: the checked file names, newline-joined; None when all of them are.
            validated = None if checked[1] is None else set(checked[1].split("\n"))
            errors = checked[2]
            added = False
            for filename in filenames:
                if accept is not None and not accept("-".join(filename[:-4].rsplit("-", 3)[-3:])):
                    continue
                if validated is not None and filename not in validated:
                    try:
                        parse(filename)
                    except InvalidWheelName as err:
                        errors[filename] = str(err)
                    validated.add(filename)
                    added = True
                if filename in errors:
                    path = f"{directory}/{filename}"
                    self._problems.setdefault(path, Problem("misnamed", path, errors[filename]))
                    continue
                found.append(Wheel(directory, index, filename))
            if added:
                done = "\n".join(f for f in filenames if f in validated)
                dcache.checked[project] = (blob, None if done == blob else done, errors)
                dcache.dirty = True
        if accept is None:
            self._wheels[project] = found
        return found

    def all_wheels(self) -> Iterable[Wheel]:
        """Every validly named wheel, project by project."""
        for project in self.projects():
            yield from self.wheels(project)

    def metadata(self, wheel: Wheel) -> WheelMetadata:
        """The wheel's METADATA (cached); an unreadable wheel is also recorded in :attr:`problems`."""
        key = (wheel.dir_index, wheel.filename)
        try:
            return self._meta[key]
        except KeyError:
            pass
        meta = self._meta[key] = self._caches[wheel.dir_index].metadata(wheel.filename, wheel.project)
        if meta.error is not None:
            self._problems.setdefault(wheel.path, Problem("unreadable", wheel.path, meta.error))
        return meta

    def save(self) -> None:
        """Persist what was learned into the per-directory caches."""
        for dcache in self._caches:
            dcache.save()
