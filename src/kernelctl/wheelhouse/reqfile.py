"""Requirements for ``wheelhouse check``, read with :mod:`kernelctl.requirements` (pip's rules).

Index and ``--find-links`` options are ignored here (they do not change what is required),
``pip freeze`` output reads as is, ``+computecanada`` pins included, and its
``name @ file:///...whl`` lines become a pin on the version in the wheel's file name.
Editable requirements (``-e``) do not come from a wheelhouse: they are skipped, with a
note. Constraint files (``-c``) are refused with a :class:`~kernelctl.errors.UsageError`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from kernelctl import requirements as reader
from kernelctl.errors import UsageError


@dataclass(frozen=True)
class RootRequirement:
    """A requirement to check, with where it came from (``file:line`` or ``command line``)."""

    text: str
    source: str
    requirement: object  # packaging.requirements.Requirement

    @property
    def name(self) -> str:
        return self.requirement.name  # type: ignore[attr-defined]


def parse_requirement(text: str, source: str = reader.COMMAND_LINE) -> RootRequirement:
    """One requirement string as a :class:`RootRequirement`; :class:`UsageError` if invalid."""
    from packaging.requirements import InvalidRequirement, Requirement

    text = text.strip()
    try:
        req = Requirement(text)
    except InvalidRequirement as err:
        raise UsageError(f"invalid requirement {text!r} ({source}): {err}",
                         "Write it as pip does, e.g. 'numpy>=1.26' or 'dask[array]; python_version>=\"3.10\"'.") from None
    if req.url:
        req = _from_url(req)
    return RootRequirement(text, source, req)


def _from_url(req):
    """``name @ .../name-1.2-...whl`` becomes ``name==1.2``; other direct references, just ``name``."""
    from packaging.requirements import Requirement

    from kernelctl.wheelhouse.filenames import InvalidWheelName, parse

    filename = req.url.rstrip("/").rsplit("/", 1)[-1].split("#", 1)[0]
    marker = f"; {req.marker}" if req.marker else ""
    extras = f"[{','.join(sorted(req.extras))}]" if req.extras else ""
    if filename.endswith(".whl"):
        try:
            parsed = parse(filename)
        except InvalidWheelName:
            pass
        else:
            return Requirement(f"{req.name}{extras}=={parsed.version}{marker}")
    return Requirement(f"{req.name}{extras}{marker}")


def gather(requirements: list[str] | tuple[str, ...] = (), files: list[str] | tuple[str, ...] = (),
           environ: Mapping[str, str] | None = None, notes: list[str] | None = None) -> list[RootRequirement]:
    """Requirements from the command line, then from each file (and the files it includes), in order.

    Skipped lines (editable requirements) are described in ``notes``.
    """
    read = reader.read(requirements, files, offline=False, environ=environ)
    if read.constraints:
        first = read.constraints[0]
        raise UsageError(f"constraint files are not supported ({first.source})",
                         "Put the constrained versions in the requirements instead.")
    if notes is not None:
        notes += [f"skipped editable requirement {line.text!r} ({line.source})" for line in read.editables]
    return [parse_requirement(line.text, line.source) for line in read.requirements]


def parse_file(path: str | os.PathLike[str], environ: Mapping[str, str] | None = None,
               notes: list[str] | None = None) -> list[RootRequirement]:
    """Every requirement of a pip requirements file, following ``-r`` includes."""
    return gather(files=[os.fspath(path)], environ=environ, notes=notes)
