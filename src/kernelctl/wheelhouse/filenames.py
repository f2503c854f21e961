"""Wheel file names (PEP 427) as the site publishes them.

A wheel file name is ``{name}-{version}[-{build}]-{python}-{abi}-{platform}.whl``. Sites
keep upstream spelling (``netCDF4``, ``backports.functools_lru_cache``), add local versions
(``1.26.4+computecanada``, ``3.1.4+dummy.computecanada``), use ``linux_x86_64`` platform
tags and compressed tag sets (``cp310.cp311-abi3-linux_x86_64``). Parsing is done by
:func:`packaging.utils.parse_wheel_filename`; this module keeps the result as plain,
cacheable strings and adds the site-specific readings (dummy wheels, display columns).
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

_NORMALIZE = re.compile(r"[-_.]+")


class InvalidWheelName(ValueError):
    """A ``.whl`` file whose name is not a valid wheel name."""


class WheelName(NamedTuple):
    """The parts of a wheel file name, as strings.

    ``name`` keeps the file's spelling (``netCDF4``); ``project`` is its PEP 503 form
    (``netcdf4``). ``version`` is the full version string, local part included. ``build`` is
    the build tag as :func:`packaging.utils.parse_wheel_filename` returns it (``()`` or
    ``(int, str)``). ``tags`` is the compressed tag triple (``cp310.cp311-abi3-linux_x86_64``).
    """

    filename: str
    name: str
    project: str
    version: str
    build: tuple
    tags: str


def normalize(name: str) -> str:
    """The PEP 503 normalised form of a project name: lower case, runs of ``-_.`` as ``-``."""
    return _NORMALIZE.sub("-", name).lower()


def project_of(filename: str) -> str:
    """The normalised project of a wheel file name, read from its first field only.

    Cheap enough to group a large directory listing; the full parse is :func:`parse`.
    """
    return normalize(filename.partition("-")[0])


def parse(filename: str) -> WheelName:
    """Parse a wheel file name; raise :class:`InvalidWheelName` when it is not one."""
    from packaging.utils import InvalidWheelFilename, parse_wheel_filename

    try:
        project, version, build, _tags = parse_wheel_filename(filename)
    except InvalidWheelFilename as err:
        raise InvalidWheelName(str(err)) from None
    stem = filename[: -len(".whl")]
    parts = stem.split("-")
    return WheelName(filename, parts[0], str(project), str(version), tuple(build), "-".join(parts[-3:]))


#: ``name-version[-build]`` -> (Version, its normalised text, build tag), for valid ones
_HEADS: dict[str, tuple] = {}
#: compressed tag triples known to be valid
_TAG_SETS: set[str] = set()


def parse_release(filename: str) -> tuple[Any, str, tuple, str]:
    """``(version, normalised version, build tag, compressed tags)`` of a wheel file name.

    ``version`` is a :class:`packaging.version.Version`. Validates as :func:`parse` does,
    raising :class:`InvalidWheelName`, but parses each distinct ``name-version[-build]``
    and each distinct tag triple once: a project's wheels for several Pythons share the
    first, a whole wheelhouse shares a few of the second. This is exact because
    :func:`packaging.utils.parse_wheel_filename` checks the parts of a name independently.
    """
    parts = filename[:-4].split("-") if filename.endswith(".whl") else []
    if len(parts) in (5, 6):
        head, tags = "-".join(parts[:-3]), "-".join(parts[-3:])
        known = _HEADS.get(head)
        if known is None and (parsed := _parsed(f"{head}-py3-none-any.whl")) is not None:
            known = _HEADS[head] = (parsed[1], str(parsed[1]), tuple(parsed[2]))
        if known is not None and (tags in _TAG_SETS or _parsed(f"x-0-{tags}.whl") is not None):
            _TAG_SETS.add(tags)
            return (*known, tags)
    name = parse(filename)  # raises with packaging's reason
    return _parsed(filename)[1], name.version, name.build, name.tags


def _parsed(filename: str) -> tuple | None:
    """:func:`packaging.utils.parse_wheel_filename`'s result, None for an invalid name."""
    from packaging.utils import InvalidWheelFilename, parse_wheel_filename

    try:
        return parse_wheel_filename(filename)
    except InvalidWheelFilename:
        return None


def split_tags(tags: str) -> tuple[list[str], list[str], list[str]]:
    """The python, abi and platform parts of a compressed tag triple, each as a list."""
    python, abi, platform = tags.split("-")
    return python.split("."), abi.split("."), platform.split(".")


def is_dummy_version(version: str) -> bool:
    """Whether a version string names a site placeholder wheel (``+dummy.computecanada``).

    Such wheels exist only to tell users to load a module instead; they install nothing
    useful.
    """
    local = version.partition("+")[2].lower()
    return "dummy" in local and "dummy" in re.split(r"[._-]", local)


def public_and_local(version: str) -> tuple[str, str]:
    """Split a version string into its public part and its local part (``""`` if none)."""
    public, _, local = version.partition("+")
    return public, local


def printable(text: str) -> str:
    """``text`` with control characters and undecodable bytes escaped (``\\n``, ``\\udcff``),
    for a file name shown on one line."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
