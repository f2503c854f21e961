"""What resolution needs from a wheel's ``*.dist-info/METADATA``, read from the wheel itself.

The site edits wheel metadata (renamed requirements, NumPy bounds, dropped NVIDIA
packages), so dependencies are read from each wheel's own METADATA and never from an
index. :func:`read_metadata` checks the wheel's layout as pip does (one ``.dist-info``,
named after the project), inflates METADATA with a cap (:data:`METADATA_LIMIT`) and never
raises for a bad wheel: what is wrong comes back, on one line, in ``error``.
"""

from __future__ import annotations

import os
import re
from typing import NamedTuple

from kernelctl.wheelhouse.filenames import normalize, printable
from kernelctl.wheelhouse.wheelzip import TooLarge, Unsupported, open_regular, read_member, read_member_zipfile


class Dependency(NamedTuple):
    """One ``Requires-Dist`` line, pre-parsed: the cached form of a requirement."""

    text: str
    project: str
    name: str
    extras: tuple[str, ...]
    specifier: str
    marker: str | None


class WheelMetadata(NamedTuple):
    """What resolution needs from a wheel's METADATA; ``error`` set when it could not be read."""

    error: str | None
    #: the project as pip names an unpacked wheel: its ``.dist-info`` directory's first
    #: field (pip compares that, not METADATA's ``Name``, with the file name)
    name: str
    version: str
    requires_python: str | None
    provides_extra: tuple[str, ...]
    requires_dist: tuple[Dependency, ...]


def _headers(text: str) -> dict[str, list[str]]:
    """The RFC 822 style headers of a METADATA file (the part before the body)."""
    headers: dict[str, list[str]] = {}
    last: list[str] | None = None
    for line in text.splitlines():
        if not line.strip():
            break
        if line[0] in " \t" and last is not None:
            last[-1] += " " + line.strip()
            continue
        key, sep, value = line.partition(":")
        if not sep:
            continue
        last = headers.setdefault(key.strip().lower(), [])
        last.append(value.strip())
    return headers


_IDENT = r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"
_CLAUSE = r"(?:~=|===|==|!=|<=|>=|<|>)[A-Za-z0-9.*+!_-]+"
#: ``name``, ``name[extra,...]`` and either followed by ``op version,...``: no spaces, no
#: marker, no URL. Every string it matches is a PEP 508 requirement whose parts are these.
_PLAIN = re.compile(rf"({_IDENT})(?:\[({_IDENT}(?:,{_IDENT})*)\])?((?:{_CLAUSE})(?:,{_CLAUSE})*)?")
_SPECIFIERS: dict[str, str] = {}


def _dependency(text: str) -> Dependency:
    """One ``Requires-Dist`` value, as :class:`packaging.requirements.Requirement` reads it.

    Plain values (most of them: no marker, no spaces) skip packaging's tokenizer; their
    specifier is still parsed, and normalised, by :class:`~packaging.specifiers.SpecifierSet`.
    """
    plain = _PLAIN.fullmatch(text)
    if plain is not None:
        name, extras, spec = plain.groups()
        spec = spec or ""
        normalised = _SPECIFIERS.get(spec)
        if normalised is None:
            from packaging.specifiers import InvalidSpecifier, SpecifierSet

            try:
                normalised = _SPECIFIERS[spec] = str(SpecifierSet(spec))
            except InvalidSpecifier:
                normalised = None  # packaging's Requirement says why
        if normalised is not None:
            extras_t = tuple(sorted(normalize(e) for e in set(extras.split(",")))) if extras else ()
            return Dependency(text, normalize(name), name, extras_t, normalised, None)
    from packaging.requirements import Requirement

    req = Requirement(text)
    return Dependency(text, normalize(req.name), req.name, tuple(sorted(normalize(e) for e in req.extras)),
                      str(req.specifier), str(req.marker) if req.marker is not None else None)


class _NotAWheel(ValueError):
    """The archive is not laid out as a wheel (pip's "unsupported wheel")."""


def _find_metadata(names: list[str], project: str) -> str:
    """The ``.dist-info/METADATA`` member, checked as pip checks it: exactly one
    ``.dist-info`` directory, named after the project (:class:`_NotAWheel` otherwise)."""
    dirs = sorted({n.split("/", 1)[0] for n in names if n.split("/", 1)[0].endswith(".dist-info")})
    if not dirs:
        raise _NotAWheel(".dist-info directory not found")
    if len(dirs) > 1:
        raise _NotAWheel(f"multiple .dist-info directories found: {', '.join(dirs)}")
    if not normalize(dirs[0]).startswith(project):
        raise _NotAWheel(f".dist-info directory {dirs[0]!r} does not start with {project!r}")
    member = f"{dirs[0]}/METADATA"
    if member not in names:
        raise _NotAWheel(f"no {member} in the wheel")
    return member


#: The most a METADATA file may inflate to (real ones are kilobytes; a long description
#: embedded rarely passes 1 MiB). A bigger one makes the wheel unusable, not the run slow.
METADATA_LIMIT = 16 * 1024 * 1024


def _unusable(error: str) -> WheelMetadata:
    return WheelMetadata(error, "", "", None, (), ())


def read_metadata(path: str | os.PathLike[str], project: str) -> WheelMetadata:
    """Read ``*.dist-info/METADATA`` from the wheel at ``path``; never raises for a bad wheel.

    ``project`` (normalised) is the project the file name says, which the ``.dist-info``
    directory must start with (as pip checks). Problems (not a regular file, not a zip, not
    laid out as a wheel, a METADATA past
    :data:`METADATA_LIMIT`, an invalid ``Requires-Dist``) come back in ``error``, one line.
    """
    choose_member = ""

    def choose(names: list[str]) -> str:
        nonlocal choose_member
        choose_member = _find_metadata(names, project)
        return choose_member

    try:
        fd = open_regular(path)
        try:
            try:
                raw = read_member(fd, choose, METADATA_LIMIT)
            except Unsupported:
                raw = read_member_zipfile(fd, choose, METADATA_LIMIT)
        finally:
            os.close(fd)
    except TooLarge as err:
        return _unusable(f"METADATA {err}: not read (a decompression bomb?)")
    except _NotAWheel as err:
        return _unusable(f"not a valid wheel: {printable(str(err))}")
    except MemoryError:
        return _unusable("out of memory reading METADATA")
    except (OSError, ValueError) as err:
        return _unusable(f"cannot read the wheel: {' '.join(str(err).split())}")
    dist_info = choose_member.split("/", 1)[0]
    headers = _headers(raw.decode("utf-8", errors="replace"))
    deps = []
    for line in headers.get("requires-dist", []):
        try:
            deps.append(_dependency(line))
        except Exception as err:  # packaging.requirements.InvalidRequirement and friends
            return _unusable(f"invalid Requires-Dist {line!r}: {' '.join(str(err).split())}")
    requires_python = (headers.get("requires-python") or [None])[0] or None
    if requires_python is not None:
        from packaging.specifiers import InvalidSpecifier, SpecifierSet

        try:
            SpecifierSet(requires_python)
        except InvalidSpecifier:
            return _unusable(f"invalid Requires-Python {requires_python!r}")
    return WheelMetadata(
        None,
        dist_info[: -len(".dist-info")].split("-", 1)[0],
        (headers.get("version") or [""])[0],
        requires_python,
        tuple(normalize(e) for e in headers.get("provides-extra", [])),
        tuple(deps),
    )
