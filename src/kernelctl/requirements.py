"""Requirements as the user gives them: names with specifiers, wheel paths, -r files."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement

from kernelctl.errors import UsageError


@dataclass(frozen=True)
class RequirementFile:
    """A ``-r`` file, kept verbatim so a rebuild can use it after the original is gone."""

    path: str
    text: str


def check_requirements(requirements: Sequence[str], offline: bool = True) -> list[str]:
    """Return the requirements if each is a PEP 508 requirement or an existing wheel file
    (and, when ``offline``, names no URL)."""
    for item in requirements:
        if item.endswith(".whl") and os.path.isfile(item):
            continue
        if offline and _remote(item):
            raise UsageError(f"{item!r} names a URL: kernelctl installs only from the wheelhouse",
                             "Download it on a login node ('kernelctl wheelhouse fetch ... --dest DIR'), "
                             "then add --wheelhouse DIR.")
        try:
            Requirement(item)
        except InvalidRequirement as err:
            reason = str(err).splitlines()[0]
            raise UsageError(f"invalid requirement {item!r}: {reason}",
                             "Write requirements the way pip does, e.g. 'numpy' or 'pandas>=2,<3'.") from None
    return [os.path.abspath(r) if r.endswith(".whl") and os.path.isfile(r) else r for r in requirements]


def read_requirement_files(paths: Sequence[str | os.PathLike[str]], offline: bool = True) -> list[RequirementFile]:
    """The ``-r`` files' text; when ``offline``, a line that names a URL is an error."""
    files = []
    for path in paths:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            raise UsageError(f"cannot read requirements file {os.fspath(path)!r}: {getattr(err, 'strerror', err)}",
                             "Check the path given to -r.") from None
        for number, line in enumerate(text.splitlines(), 1):
            if offline and _remote(line.split(" #")[0]) and not line.lstrip().startswith("#"):
                raise UsageError(f"{os.fspath(path)}:{number} names a URL: kernelctl installs only from the wheelhouse",
                                 "Download what it names on a login node ('kernelctl wheelhouse fetch ... --dest DIR'), "
                                 "then use --wheelhouse DIR and a plain requirement.")
        files.append(RequirementFile(os.path.abspath(path), text))
    return files


def _remote(text: str) -> bool:
    """Whether ``text`` names a URL other than a local ``file:`` one (pip would fetch it)."""
    return any("://" in word and not word.lower().lstrip("-=").startswith(("file:", "--find-links=file:"))
               for word in text.replace("@", " ").split())
