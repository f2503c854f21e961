"""Requirements as users give them: on the command line and in pip requirements files.

The file format is pip's: one requirement per line, ``#`` comments (at the start of a line
or after whitespace), ``\\`` line continuations, ``${VAR}`` environment variables,
``-r``/``--requirement`` includes (relative to the including file), per-line options such
as ``--hash`` (ignored), and global options (``--index-url``, ``--find-links``,
``--no-index``, ...) that do not change what is required (ignored). ``pip freeze`` output
reads as is, ``+computecanada`` pins included, and so do its ``name @ file:///...whl``
lines, which become a pin on the version in the wheel's file name.

Editable requirements (``-e``, as ``pip freeze`` writes for projects under development)
do not come from a wheelhouse: they are skipped, with a note. Constraint files (``-c``)
are refused with a :class:`~kernelctl.errors.UsageError`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from kernelctl.errors import UsageError

_ENV_VAR = re.compile(r"\$\{([A-Z0-9_]+)\}")
_COMMENT = re.compile(r"(^|\s+)#.*$")
_IGNORED_OPTIONS = (
    "-i", "--index-url", "--extra-index-url", "--no-index", "-f", "--find-links", "--pre",
    "--only-binary", "--no-binary", "--prefer-binary", "--trusted-host", "--use-feature",
    "--require-hashes", "--config-settings", "--global-option", "--hash",
)


@dataclass(frozen=True)
class RootRequirement:
    """A requirement to check, with where it came from (``file:line`` or ``command line``)."""

    text: str
    source: str
    requirement: object  # packaging.requirements.Requirement

    @property
    def name(self) -> str:
        return self.requirement.name  # type: ignore[attr-defined]


def parse_requirement(text: str, source: str = "command line") -> RootRequirement:
    """One requirement string as a :class:`RootRequirement`; :class:`UsageError` if invalid."""
    from packaging.requirements import InvalidRequirement, Requirement

    text = text.strip()
    try:
        req = Requirement(text)
    except InvalidRequirement as err:
        raise UsageError(f"invalid requirement {text!r} ({source}): {err}",
                         "Write it as pip does, e.g. 'numpy>=1.26' or 'dask[array]; python_version>=\"3.10\"'.") from None
    if req.url:
        req = _from_url(req, text, source)
    return RootRequirement(text, source, req)


def _from_url(req, text: str, source: str):
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


def _logical_lines(text: str):
    """``(line number, line)`` with continuations joined and comments removed."""
    buffer, start = "", 0
    for number, raw in enumerate(text.splitlines(), 1):
        if not buffer:
            start = number
        line = _COMMENT.sub("", raw) if not raw.lstrip().startswith("#") else ""
        if line.endswith("\\"):
            buffer += line[:-1]
            continue
        buffer += line
        if buffer.strip():
            yield start, buffer.strip()
        buffer = ""
    if buffer.strip():
        yield start, buffer.strip()


def _expand(line: str, environ) -> str:
    return _ENV_VAR.sub(lambda m: environ.get(m.group(1), m.group(0)), line)


def _split_option(line: str) -> tuple[str, str]:
    """``("-r", "other.txt")`` for ``-r other.txt``, ``-rother.txt`` or ``--requirement=other.txt``."""
    if line.startswith("--"):
        head, sep, rest = line.partition("=")
        if not sep:
            head, _, rest = line.partition(" ")
        return head.strip(), rest.strip()
    head, rest = line[:2], line[2:].strip()
    return head, rest


def parse_file(path: str | os.PathLike[str], environ=None, _seen: tuple[Path, ...] = (),
               notes: list[str] | None = None) -> list[RootRequirement]:
    """Every requirement of a pip requirements file, following ``-r`` includes.

    Lines that are skipped (editable requirements) are described in ``notes``.
    """
    environ = os.environ if environ is None else environ
    path = Path(path)
    try:
        real = path.resolve()
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise UsageError(f"cannot read requirements file {path}: {getattr(err, 'strerror', None) or err}",
                         "Check the path given to -r.") from None
    if real in _seen:
        raise UsageError(f"requirements file {path} includes itself", "Remove the circular -r include.")
    found: list[RootRequirement] = []
    for number, line in _logical_lines(text):
        line = _expand(line, environ)
        source = f"{path}:{number}"
        if line.startswith("-"):
            option, value = _split_option(line)
            if option in ("-r", "--requirement"):
                include = Path(value)
                if not include.is_absolute():
                    include = path.parent / include
                found += parse_file(include, environ, _seen + (real,), notes)
            elif option in ("-c", "--constraint"):
                raise UsageError(f"constraint files are not supported ({source})",
                                 "Put the constrained versions in the requirements instead.")
            elif option in ("-e", "--editable"):
                if notes is not None:
                    notes.append(f"skipped editable requirement {value!r} ({source})")
            elif option in _IGNORED_OPTIONS or line.split()[0].split("=")[0] in _IGNORED_OPTIONS:
                continue
            else:
                raise UsageError(f"unknown option {option!r} in {source}",
                                 "Requirements files may hold requirements, -r includes and pip's global options.")
            continue
        requirement = re.split(r"\s+--?[a-z]", " " + line)[0].strip() if " -" in line else line
        found.append(parse_requirement(requirement, source))
    return found


def gather(requirements: list[str] | tuple[str, ...] = (), files: list[str] | tuple[str, ...] = (),
           environ=None, notes: list[str] | None = None) -> list[RootRequirement]:
    """Requirements from the command line, then from each file, in order."""
    found = [parse_requirement(r) for r in requirements]
    for f in files:
        found += parse_file(f, environ, notes=notes)
    return found
