"""A persistent cache of what was read from a wheelhouse directory, one file per directory.

Reading a zip is the slow part of checking a wheelhouse (see
:mod:`kernelctl.wheelhouse.wheelmeta`), so what was read is kept in one cache file per
wheelhouse directory:

* the directory listing grouped by normalised project, valid while the directory's mtime
  is unchanged (and was not still moving when it was cached);
* per project, its file names parsed into releases (:func:`kernelctl.wheelhouse.index.releases_of`),
  valid while that project's part of the listing is unchanged, so a warm run parses no
  file name and no version;
* each wheel's metadata, keyed by file name, size and mtime, so a wheel replaced in place
  is read again.

The cache lives in ``$KERNELCTL_CACHE_DIR`` or else ``$XDG_CACHE_HOME/kernelctl`` (default
``~/.cache/kernelctl``), under ``wheelhouse/``. Files are :mod:`marshal` dumps of plain
tuples and dicts: the fastest format the standard library loads. What is only needed for
the projects a run visits (parsed releases, metadata) stays packed until it is asked for,
so loading the cache costs little more than reading it. A cache that cannot be read is
ignored and one that cannot be written is skipped; neither is an error.
"""

from __future__ import annotations

import marshal
import os
import re
import time
import zlib
from collections.abc import Callable
from pathlib import Path

from kernelctl.errors import KernelctlError
from kernelctl.wheelhouse.filenames import normalize, printable
from kernelctl.wheelhouse.wheelmeta import Dependency, WheelMetadata, read_metadata
from kernelctl.wheelhouse.wheelzip import file_kind, open_regular

CACHE_FORMAT = 6
#: A directory modified this recently (seconds) may still be changing: do not trust its listing.
SETTLE_SECONDS = 2.0


_FIELD, _RECORD = "\x1f", "\x1e"


def _pack_deps(deps: tuple[Dependency, ...]) -> str:
    return _RECORD.join(_FIELD.join((d.text, d.project, d.name, ",".join(d.extras), d.specifier, d.marker or ""))
                        for d in deps)


def _unpack_deps(blob: str) -> tuple[Dependency, ...]:
    if not blob:
        return ()
    out = []
    for record in blob.split(_RECORD):
        text, project, name, extras, spec, marker = record.split(_FIELD)
        out.append(Dependency(text, project, name, tuple(extras.split(",")) if extras else (), spec, marker or None))
    return tuple(out)


#: The shape of a wheel file name: five or six non-empty ``-``-separated fields.
_WHEEL_SHAPE = re.compile(r"[^-]+(?:-[^-]+){4,5}\.whl")


def _unusable_entry(entry: os.DirEntry) -> tuple[str, str] | None:
    """``(kind, why)`` when a ``*.whl`` directory entry cannot be a wheel, else None.

    Judged from the listing alone (no file is opened): a name with control characters or
    bytes that are not UTF-8, or not shaped as a wheel name, is ``misnamed``; a FIFO,
    directory, device or dangling symbolic link is ``not-a-file``.
    """
    name = entry.name
    if not name.isprintable():
        return "misnamed", "a file name with control characters (a newline?)"
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return "misnamed", "a file name that is not UTF-8"
    if not _WHEEL_SHAPE.fullmatch(name):
        return "misnamed", "not a wheel file name (NAME-VERSION[-BUILD]-PYTHON-ABI-PLATFORM.whl)"
    try:
        if entry.is_file():
            return None
        mode = entry.stat().st_mode
    except FileNotFoundError:
        return "not-a-file", "a dangling symbolic link"
    except OSError as err:
        return "not-a-file", f"cannot stat it: {err.strerror or err}"
    return "not-a-file", f"not a regular file but a {file_kind(mode)}"


class DirCache:
    """The persistent cache of one wheelhouse directory (see the module docstring).

    Its file holds plain strings, bytes and tuples only, packed so that loading it creates
    few objects: the listing as one newline-joined string per project, each visited
    project's parsed releases as one :mod:`marshal` blob, and one flat tuple per wheel
    whose metadata was read.
    """

    def __init__(self, directory: str | os.PathLike[str], root: Path | None) -> None:
        self.directory = os.fspath(directory)
        self.file: Path | None = None
        if root is not None:
            digest = zlib.crc32(os.path.abspath(self.directory).encode())
            base = os.path.basename(self.directory.rstrip("/")) or "root"
            self.file = root / "wheelhouse" / f"{base}-{digest:08x}.marshal"
        self.listing: tuple[int, dict[str, str], tuple] | None = None
        #: ``(file name, kind, why)`` of the ``*.whl`` entries that cannot be wheels
        #: (:func:`_unusable_entry`), known once :meth:`groups` ran
        self.unusable: tuple[tuple[str, str, str], ...] = ()
        #: project -> (its listing blob when parsed, the parsed releases as a marshal blob)
        self.parsed: dict[str, tuple[str, bytes]] = {}
        self.meta: dict[str, tuple] = {}
        self.dirty = False
        self._load()

    def _load(self) -> None:
        if self.file is None:
            return
        try:
            with os.fdopen(open_regular(self.file), "rb") as fh:  # a FIFO in its place does not block
                data = marshal.loads(fh.read())  # marshal.load(fh) reads piecemeal, several times slower
        except (OSError, EOFError, ValueError, TypeError, MemoryError):
            return
        if not isinstance(data, dict) or data.get("format") != CACHE_FORMAT or data.get("dir") != self.directory:
            return
        listing, parsed, meta = data.get("listing"), data.get("parsed"), data.get("meta")
        if (listing is None or (isinstance(listing, tuple) and len(listing) == 3)) and isinstance(parsed, dict) \
                and isinstance(meta, dict):
            self.listing, self.parsed, self.meta = listing, parsed, meta

    def groups(self) -> dict[str, str]:
        """The directory's ``*.whl`` file names by normalised project, newline-joined and sorted."""
        try:
            mtime = os.stat(self.directory).st_mtime_ns
        except OSError:
            return {}
        if self.listing is not None and self.listing[0] == mtime:
            self.unusable = self.listing[2]
            return self.listing[1]
        lists: dict[str, list[str]] = {}
        projects: dict[str, str] = {}  # a file name's first field -> its project (a project has many files)
        unusable: list[tuple[str, str, str]] = []
        try:
            entries = os.scandir(self.directory)
        except OSError as err:
            raise KernelctlError(f"cannot list the wheelhouse directory {printable(self.directory)}: "
                                 f"{err.strerror or err}",
                                 "Check its permissions, or leave it out of --wheelhouse.") from None
        with entries:
            for entry in entries:
                name = entry.name
                if name.endswith(".whl") and not name.startswith("."):
                    problem = _unusable_entry(entry)
                    if problem is not None:
                        unusable.append((name, *problem))
                        continue
                    first = name.partition("-")[0]
                    project = projects.get(first)
                    if project is None:
                        project = projects[first] = normalize(first)
                    lists.setdefault(project, []).append(name)
        groups = {project: "\n".join(sorted(files)) for project, files in lists.items()}
        present = {f for files in lists.values() for f in files}
        for gone in [f for f in self.meta if f not in present]:
            del self.meta[gone]
        for stale in [p for p, (blob, _) in self.parsed.items() if groups.get(p) != blob]:
            del self.parsed[stale]
        settled = time.time() - mtime / 1e9 > SETTLE_SECONDS
        self.unusable = tuple(sorted(unusable))
        self.listing = (mtime, groups, self.unusable) if settled else None
        self.dirty = True
        return groups

    def releases(self, project: str, blob: str, parse: Callable[[str], tuple]) -> tuple:
        """``parse(blob)`` for ``project``, from the cache while its listing ``blob`` is unchanged."""
        cached = self.parsed.get(project)
        if cached is not None and cached[0] == blob:
            return marshal.loads(cached[1])
        parsed = parse(blob)
        self.parsed[project] = (blob, marshal.dumps(parsed))
        self.dirty = True
        return parsed

    def metadata(self, filename: str, project: str) -> WheelMetadata:
        """The metadata of ``filename`` in this directory, from the cache when it is current."""
        path = f"{self.directory}/{filename}"
        try:
            st = os.stat(path)
        except OSError as err:
            return WheelMetadata(f"cannot read the wheel: {err}", "", "", None, (), ())
        cached = self.meta.get(filename)
        if cached is not None and cached[0] == st.st_size and cached[1] == st.st_mtime_ns:
            _, _, error, name, version, rp, extras, deps = cached
            return WheelMetadata(error, name, version, rp, tuple(extras.split(",")) if extras else (),
                                 _unpack_deps(deps))
        meta = read_metadata(path, project)
        self.meta[filename] = (st.st_size, st.st_mtime_ns, meta.error, meta.name, meta.version,
                               meta.requires_python, ",".join(meta.provides_extra), _pack_deps(meta.requires_dist))
        self.dirty = True
        return meta

    def save(self) -> None:
        """Write the cache if anything new was learned; silently skip when it cannot be written."""
        if self.file is None or not self.dirty:
            return
        data = {"format": CACHE_FORMAT, "dir": self.directory, "listing": self.listing,
                "parsed": self.parsed, "meta": self.meta}
        tmp = self.file.with_name(f"{self.file.name}.{os.getpid()}.tmp")
        try:
            self.file.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as fh:
                marshal.dump(data, fh)
            os.replace(tmp, self.file)
            self.dirty = False
        except (OSError, ValueError):
            try:
                tmp.unlink()
            except OSError:
                pass
