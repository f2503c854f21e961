"""Requirements as the user gives them, read as pip reads them: one reader for every command.

Requirements come from the command line and from pip requirements files. A file is read
the way pip reads it (``pip._internal.req.req_file``): lines ending in ``\\`` are joined
first, then ``#`` comments (at the start or after whitespace) are dropped, then ``${VAR}``
is replaced from the environment; ``-r``/``--requirement`` and ``-c``/``--constraint``
name further files, relative to the file that names them; the other options are pip's.

Read *offline* (``create``, ``install``, ``rebuild``), anything that could make the
installer reach past the wheelhouse is refused with the file and line that holds it: a
URL other than ``file:``, an index option (``-i``, ``--index-url``, ``--extra-index-url``),
``-f``/``--find-links`` and ``--trusted-host``, anywhere in the tree of files. The result
is a flat list of vetted requirement strings, each with where it came from, and the
installer gets those, never a file it could read differently.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement

from kernelctl.errors import UsageError

COMMAND_LINE = "command line"

# pip's own patterns (req_file.py): a comment starts a line or follows whitespace.
_COMMENT = re.compile(r"(^|\s+)#.*$")
_ENV_VAR = re.compile(r"\$\{([A-Z0-9_]+)\}")
_URL = re.compile(r"\b([A-Za-z][A-Za-z0-9+.-]*)://")

# Options that point pip somewhere else to download from.
_REMOTE_OPTIONS = {"-i": "--index-url", "--index-url": "--index-url", "--extra-index-url": "--extra-index-url",
                   "-f": "--find-links", "--find-links": "--find-links", "--trusted-host": "--trusted-host"}
_INCLUDES = {"-r": "-r", "--requirement": "-r", "-c": "-c", "--constraint": "-c", "-e": "-e", "--editable": "-e"}
# Options that change neither where from nor what: kernelctl's installs ignore them.
_VALUE_OPTIONS = {"--only-binary", "--no-binary", "--use-feature", "--hash", "--config-settings",
                  "--global-option"}
_FLAGS = {"--no-index", "--pre", "--prefer-binary", "--require-hashes"}
# The only options pip takes on a requirement's own line.
_PER_REQUIREMENT = {"--hash", "--config-settings", "--global-option"}
# Characters that pip or uv would treat specially if a vetted line were written back to a file.
_UNSAFE_IN_FILE = set("#$\\\n\r")


@dataclass(frozen=True)
class Line:
    """One vetted requirement (or constraint) and where it came from (``FILE:LINE`` or the command line)."""

    text: str
    source: str = COMMAND_LINE

    def to_dict(self) -> dict[str, str]:
        return {"text": self.text, "source": self.source}


@dataclass(frozen=True)
class RequirementFile:
    """A ``-r`` file named on the command line, with its text at the time (for the record)."""

    path: str
    text: str


@dataclass
class Requirements:
    """Everything the command line and its requirement files ask for, flattened."""

    requirements: list[Line] = field(default_factory=list)
    constraints: list[Line] = field(default_factory=list)
    editables: list[Line] = field(default_factory=list)
    files: list[RequirementFile] = field(default_factory=list)

    @property
    def texts(self) -> list[str]:
        return [line.text for line in self.requirements]


def read(packages: Sequence[str] = (), files: Sequence[str | os.PathLike[str]] = (), *, offline: bool = True,
         environ: Mapping[str, str] | None = None) -> Requirements:
    """The requirements in ``packages`` and in the files ``files`` (and every file they name).

    ``offline`` refuses whatever names a place to download from (see the module docstring)
    and keeps only requirements an offline installer can take; without it, such options
    are ignored (``wheelhouse check`` and ``fetch`` read users' files as they are).
    """
    result = Requirements()
    for item in packages:
        result.requirements.append(_requirement(item, COMMAND_LINE, offline))
    for path in files:
        text = _read_text(Path(path), COMMAND_LINE)
        result.files.append(RequirementFile(os.path.abspath(path), text))
        _read_into(result, Path(path), text, offline, os.environ if environ is None else environ, ())
    if offline:
        _refuse_editables(result.editables)
    return result


def read_recorded(path: str, text: str, *, environ: Mapping[str, str] | None = None) -> Requirements:
    """The requirements in a file's recorded ``text`` (an old manifest's), read offline as if at ``path``."""
    result = Requirements()
    _read_into(result, Path(path), text, True, os.environ if environ is None else environ, ())
    _refuse_editables(result.editables)
    return result


def logical_lines(text: str) -> list[tuple[int, str]]:
    """``(first line number, line)`` of ``text`` as pip sees them: joined, uncommented, stripped."""
    joined: list[tuple[int, str]] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        if not raw.endswith("\\") or _COMMENT.match(raw):
            if _COMMENT.match(raw):
                raw = " " + raw  # a comment line ends a continuation and is still a comment
            if pending:
                joined.append((start, "".join(pending) + raw))
                pending = []
            else:
                joined.append((number, raw))
        else:
            if not pending:
                start = number
            pending.append(raw.strip("\\"))
    if pending:
        joined.append((start, "".join(pending)))
    lines = []
    for number, line in joined:
        line = _COMMENT.sub("", line).strip()
        if line:
            lines.append((number, line))
    return lines


def _read_text(path: Path, source: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        where = "" if source == COMMAND_LINE else f" (named at {source})"
        raise UsageError(f"cannot read requirements file {path}{where}: {getattr(err, 'strerror', None) or err}",
                         "Check the path given to -r (a nested -r is relative to the file that names it).") from None


def _read_into(result: Requirements, path: Path, text: str, offline: bool, environ: Mapping[str, str],
               stack: tuple[Path, ...]) -> None:
    """Add the lines of the file ``path`` (whose text is ``text``) to ``result``."""
    real = Path(os.path.realpath(path))
    if real in stack:
        chain = " -> ".join(str(p) for p in (*stack, real))
        raise UsageError(f"requirements files include each other in a cycle: {chain}",
                         "Remove one of the -r/-c lines that close the cycle.")
    for number, line in logical_lines(text):
        line = _ENV_VAR.sub(lambda m: environ.get(m.group(1), m.group(0)), line)
        source = f"{os.path.abspath(path)}:{number}"
        if offline:
            _refuse_remote_url(line, source)
        requirement, options = _split_line(line)
        for option, value in _options(options, source):
            if option in _REMOTE_OPTIONS:
                if offline:
                    raise _remote_error(f"{source}: {_REMOTE_OPTIONS[option]} points the installer past the "
                                        "wheelhouse")
            elif requirement and option not in _PER_REQUIREMENT:
                raise UsageError(f"{source}: {option} cannot follow a requirement on its line",
                                 "Put each requirement and each option on its own line, as pip expects.")
            elif option in _INCLUDES:
                _include(result, _INCLUDES[option], value, path, source, offline, environ, (*stack, real))
        if requirement:
            result.requirements.append(_requirement(requirement, source, offline))


def _include(result: Requirements, kind: str, value: str, path: Path, source: str, offline: bool,
             environ: Mapping[str, str], stack: tuple[Path, ...]) -> None:
    """Follow ``-r``/``-c`` (relative to the naming file, as pip does) or note ``-e``."""
    if kind == "-e":
        result.editables.append(Line(value, source))
        return
    if _URL.search(value):  # only reached when not offline: a remote file we do not read
        return
    nested = Path(value) if os.path.isabs(value) else path.parent / value
    if kind == "-r":
        _read_into(result, nested, _read_text(nested, source), offline, environ, stack)
        return
    included = Requirements()
    _read_into(included, nested, _read_text(nested, source), offline, environ, stack)
    result.constraints += [_constraint(line, offline) for line in included.requirements + included.constraints]
    result.editables += included.editables


def _split_line(line: str) -> tuple[str, str]:
    """The requirement and the options of ``line``, split where pip splits them: the first
    space-separated word that starts with ``-``."""
    words = line.split(" ")
    for index, word in enumerate(words):
        if word.startswith("-"):
            return " ".join(words[:index]).strip(), " ".join(words[index:])
    return line, ""


def _options(text: str, source: str) -> list[tuple[str, str]]:
    """``(option, value)`` pairs of an options string (``-rFILE``, ``--opt=v`` and ``--opt v`` alike)."""
    try:
        words = shlex.split(text)
    except ValueError as err:
        raise UsageError(f"{source}: cannot read the options ({err})", "Check the quotes on that line.") from None
    takes_value = {*_REMOTE_OPTIONS, *_INCLUDES, *_VALUE_OPTIONS}
    pairs = []
    while words:
        word = words.pop(0)
        option, eq, value = word.partition("=") if word.startswith("--") else (word[:2], "", word[2:])
        if option in _FLAGS:
            pairs.append((option, ""))
            continue
        if option not in takes_value or not option.startswith("-"):
            raise UsageError(f"{source}: unknown option {word!r}",
                             "Requirements files may hold requirements, -r/-c includes and pip's options.")
        if not (eq or value):
            if not words:
                raise UsageError(f"{source}: {option} needs a value", "Give it one, as pip expects.")
            value = words.pop(0)
        pairs.append((option, value))
    return pairs


def _requirement(text: str, source: str, offline: bool) -> Line:
    """``text`` as an installer argument: a PEP 508 requirement, or a local wheel's absolute path."""
    text = text.strip()
    if offline:
        _refuse_remote_url(text, source)
    if text.endswith(".whl") and os.path.isfile(text):
        return Line(os.path.abspath(text), source)  # relative to the working directory, as pip takes it
    try:
        parsed = Requirement(text)
    except InvalidRequirement as err:
        where = "" if source == COMMAND_LINE else f" ({source})"
        reason = str(err).splitlines()[0]
        raise UsageError(f"invalid requirement {text!r}{where}: {reason}",
                         "Write requirements the way pip does, e.g. 'numpy' or 'pandas>=2,<3'.") from None
    if offline and set(text) & _UNSAFE_IN_FILE:
        raise UsageError(f"requirement {text!r} ({source}) holds '#', '$' or '\\'",
                         "Write it without them; kernelctl will not pass such text to the installer.")
    return Line(str(parsed) if parsed.url is None else text, source)


def _constraint(line: Line, offline: bool) -> Line:
    """A constraint must name a project and may pin its version, nothing else (as pip requires)."""
    try:
        named = Requirement(line.text).url is None
    except InvalidRequirement:
        named = False
    if offline and not named:
        raise UsageError(f"constraint {line.text!r} ({line.source}) is not a project name with a version",
                         "Constrain projects by name, e.g. 'numpy<2'.")
    return line


def _refuse_remote_url(text: str, source: str) -> None:
    for match in _URL.finditer(text):
        if match.group(1).lower() != "file":
            raise _remote_error(f"{text!r} names a URL" if source == COMMAND_LINE
                                else f"{source} names a URL ({text!r})")


def _remote_error(message: str) -> UsageError:
    return UsageError(f"{message}: kernelctl installs only from the wheelhouse",
                      "Download what it names on a login node ('kernelctl wheelhouse fetch ... --dest DIR'), "
                      "then use --wheelhouse DIR and a plain requirement.")


def _refuse_editables(editables: Sequence[Line]) -> None:
    if editables:
        first = editables[0]
        raise UsageError(f"editable requirement {first.text!r} ({first.source}): a wheelhouse holds only wheels",
                         "Build a wheel of it ('pip wheel --no-deps --no-index -w DIR PATH'), then install it "
                         "by name with --wheelhouse DIR.")
