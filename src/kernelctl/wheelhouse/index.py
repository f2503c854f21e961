"""An index of the wheels in a wheelhouse: several directories in priority order.

The index is built for speed on large wheelhouses (tens of thousands of wheels):

* the directory listings are grouped by normalised project name once (and cached), so
  looking a project up costs the same whatever the wheelhouse size;
* a project's file names are parsed only when the project is asked for, into its
  *releases* (:func:`releases_of`): versions highest first, each with its files. That
  table is kept in the persistent per-directory cache, so a warm run parses no file name
  and no version, and touches only the projects it visits;
* a wheel's METADATA is read only when asked for (:meth:`WheelhouseIndex.metadata`), and
  kept in the persistent per-directory cache of :mod:`kernelctl.wheelhouse.metadata_cache`.

Entries that cannot be used are collected in :attr:`WheelhouseIndex.problems`, never
fatal: those the listing shows (FIFOs, directories, dangling links, names with control
characters or not shaped as wheel names) when the index is made, the others as they are
met (names that do not parse, unreadable wheels, wheels whose METADATA names another
project or version than their file name, which pip discards).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

from kernelctl.paths import cache_root
from kernelctl.wheelhouse.filenames import InvalidWheelName, is_dummy_version, normalize, parse_release, printable
from kernelctl.wheelhouse.metadata_cache import DirCache
from kernelctl.wheelhouse.wheelmeta import WheelMetadata

_VERSIONS: dict = {}

#: One release of a project: ``(version, is_prerelease, files)``. ``version`` is the
#: normalised version string (``str(Version)``); ``files`` are ``(directory index, ((file
#: name, build tag, compressed tag triple), ...))``, by directory priority, file names sorted.
Release = tuple[str, bool, tuple[tuple[int, tuple[tuple[str, tuple, str], ...]], ...]]


def version_of(text: str):
    """A :class:`packaging.version.Version`, parsed once per distinct string."""
    try:
        return _VERSIONS[text]
    except KeyError:
        from packaging.version import Version

        v = _VERSIONS[text] = Version(text)
        return v


def releases_of(filenames: Iterable[str]) -> tuple[tuple, tuple]:
    """One directory's files of one project as ``(releases, misnamed)``, plain data.

    ``releases`` are ``(version, is_prerelease, ((file name, build tag, tags), ...))``,
    highest version first (PEP 440 order, so ``1.0+computecanada`` above ``1.0``), file
    names sorted within a release; files whose versions are equal as PEP 440 versions
    (``1.0`` and ``1.0.0``) are one release, named by the first. ``misnamed`` are
    ``(file name, why)`` for the names :func:`kernelctl.wheelhouse.filenames.parse` rejects.
    """
    by_version: dict = {}
    misnamed = []
    for filename in sorted(filenames):
        try:
            version, text, build, tags = parse_release(filename)
        except InvalidWheelName as err:
            misnamed.append((filename, str(err)))
            continue
        release = by_version.get(version)
        if release is None:
            release = by_version[version] = (text, version.is_prerelease, [])
            _VERSIONS.setdefault(text, version)
        release[2].append((filename, build, tags))
    ordered = sorted(by_version.items(), key=lambda item: item[0], reverse=True)
    return tuple((text, pre, tuple(files)) for _, (text, pre, files) in ordered), tuple(misnamed)


def _parse_blob(blob: str) -> tuple[tuple, tuple]:
    return releases_of(blob.split("\n"))


class Problem(NamedTuple):
    """A file the index could not use: ``kind`` is one of :data:`PROBLEM_KINDS`."""

    kind: str
    path: str
    message: str

    def line(self) -> str:
        """``kind: path: message`` on one line, whatever characters the path holds."""
        return f"{self.kind}: {printable(self.path)}: {self.message}"


#: ``misnamed``: not a valid wheel file name; ``not-a-file``: a FIFO, directory, device or
#: dangling link; ``unreadable``: the archive or its METADATA cannot be read;
#: ``inconsistent``: METADATA names another project or version than the file name.
PROBLEM_KINDS = ("misnamed", "not-a-file", "unreadable", "inconsistent")


class Wheel:
    """One validly named wheel file of the index (see :func:`releases_of`)."""

    __slots__ = ("directory", "dir_index", "filename", "project", "build", "tags")

    def __init__(self, directory: str, dir_index: int, filename: str, project: str, build: tuple,
                 tags: str) -> None:
        self.directory = directory
        self.dir_index = dir_index
        self.filename = filename
        self.project = project
        self.build = build
        self.tags = tags

    @property
    def name(self) -> str:
        """The project name as the file spells it (``netCDF4``)."""
        return self.filename.partition("-")[0]

    @property
    def version_str(self) -> str:
        """The version as the file name writes it, local part included."""
        return self.filename.split("-", 2)[1]

    @property
    def path(self) -> str:
        """The wheel's full path."""
        return f"{self.directory}/{self.filename}"

    @property
    def version(self):
        """The :class:`packaging.version.Version` of the file name (local part included)."""
        return version_of(self.version_str)

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
        self._releases: dict[str, list[Release]] = {}
        self._wheels: dict[str, list[Wheel]] = {}
        self._problems: dict[str, Problem] = {}
        self._meta: dict[tuple[int, str], WheelMetadata] = {}
        for directory, dcache in zip(self.dirs, self._caches):
            for filename, kind, why in dcache.unusable:
                path = f"{directory}/{filename}"
                self._problems[path] = Problem(kind, path, why)

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

    def releases(self, project: str) -> list[Release]:
        """The releases of ``project`` (normalised) over every directory, highest version first.

        A version present in several directories is one release whose files list the
        higher-priority directory first. Its misnamed files are recorded in :attr:`problems`.
        """
        try:
            return self._releases[project]
        except KeyError:
            pass
        found: list[list] = []
        for index, (groups, dcache) in enumerate(zip(self._groups, self._caches)):
            blob = groups.get(project)
            if not blob:
                continue
            releases, misnamed = dcache.releases(project, blob, _parse_blob)
            for filename, why in misnamed:
                path = f"{self.dirs[index]}/{filename}"
                self._problems.setdefault(path, Problem("misnamed", path, why))
            found.append([(text, pre, ((index, files),)) for text, pre, files in releases])
        if len(found) == 1:
            result = found[0]
        else:
            merged: dict = {}
            for releases in found:
                for text, pre, files in releases:
                    version = version_of(text)
                    if version in merged:
                        first = merged[version]
                        merged[version] = (first[0], first[1], first[2] + files)
                    else:
                        merged[version] = (text, pre, files)
            result = [merged[v] for v in sorted(merged, reverse=True)]
        self._releases[project] = result
        return result

    def wheels(self, project: str) -> list[Wheel]:
        """The validly named wheels of ``project`` (normalised), by directory priority, then
        highest version first, then file name."""
        try:
            return self._wheels[project]
        except KeyError:
            pass
        files = sorted(((d, f) for _, _, dirs in self.releases(project) for d, fs in dirs for f in fs),
                       key=lambda df: df[0])
        found = self._wheels[project] = [self.wheel(d, f, project) for d, f in files]
        return found

    def wheel(self, dir_index: int, file: tuple[str, tuple, str], project: str) -> Wheel:
        """The :class:`Wheel` of one file of a :data:`Release`."""
        filename, build, tags = file
        return Wheel(self.dirs[dir_index], dir_index, filename, project, build, tags)

    def metadata(self, wheel: Wheel) -> WheelMetadata:
        """The wheel's METADATA (cached), with ``error`` set when pip could not use it (also
        recorded in :attr:`problems`): unreadable, or naming another project or version."""
        key = (wheel.dir_index, wheel.filename)
        try:
            return self._meta[key]
        except KeyError:
            pass
        meta = self._caches[wheel.dir_index].metadata(wheel.filename, wheel.project)
        kind = "unreadable"
        if meta.error is None:
            mismatch = inconsistency(wheel, meta)
            if mismatch is not None:
                meta, kind = meta._replace(error=mismatch), "inconsistent"
        self._meta[key] = meta
        if meta.error is not None:
            self._problems.setdefault(wheel.path, Problem(kind, wheel.path, meta.error))
        return meta

    def discarded(self, wheel: Wheel) -> bool:
        """Whether pip would discard ``wheel`` and go on (its METADATA disagrees with its file
        name), rather than stop on it (see :meth:`metadata`)."""
        problem = self._problems.get(wheel.path)
        return problem is not None and problem.kind == "inconsistent"

    def save(self) -> None:
        """Persist what was learned into the per-directory caches."""
        for dcache in self._caches:
            dcache.save()


def inconsistency(wheel: Wheel, meta: WheelMetadata) -> str | None:
    """Why pip discards a wheel whose name (its ``.dist-info``'s, see
    :attr:`WheelMetadata.name`) or METADATA ``Version`` differ from its file name's (as
    PEP 503 names and PEP 440 versions), or None when they agree."""
    from packaging.version import InvalidVersion

    if meta.name == wheel.name and meta.version == wheel.version_str:
        return None  # spelled alike: the usual case, decided without parsing
    if normalize(meta.name) != wheel.project:
        return (f"its .dist-info names the project {printable(meta.name)}, the file name says {wheel.name}: "
                "pip discards this wheel (inconsistent name)")
    try:
        same = version_of(meta.version) == wheel.version
    except InvalidVersion:
        same = False
    if not same:
        return (f"METADATA says Version: {printable(meta.version) or '(none)'}, the file name says "
                f"{wheel.version_str}: pip discards this wheel (inconsistent version)")
    return None
