"""``kernelctl scan``: find notebook and script code that needs the internet.

Runs netguard's static checker (the same one the kernel extension runs before each cell)
over notebooks, Python and R scripts and directories (R notebooks and ``.R`` files with
:mod:`kernelctl.netguard.r_rules`), so a notebook copied from a tutorial can
be fixed on a login node before it hangs on a compute node.

The scan is bounded and total: it opens regular files only (a FIFO would block it, a device
never end), none over ``--max-size``, and reads at most that much; a file it cannot read or
parse is reported and the scan goes on with the others.
"""

from __future__ import annotations

import argparse
import os
import re
import stat
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TypedDict

from kernelctl.commands.args import add_allow_option, add_json_flag, add_parser
from kernelctl.errors import UsageError
from kernelctl.netguard.checker import Checker, Unscannable
from kernelctl.netguard.notebooks import check_file
from kernelctl.netguard.policy import HostPolicy, split_allow
from kernelctl.netguard.rulebook import Context
from kernelctl.output import print_json

# Directories never worth scanning: tool caches, checkpoints, dependencies.
_SKIP_DIRS = frozenset({"__pycache__", "node_modules", "site-packages"})
# A directory holding one of these is a virtualenv or conda environment.
_ENV_MARKERS = ("pyvenv.cfg", "conda-meta")
DEFAULT_MAX_SIZE = 50 * 1024 * 1024
_SIZE_UNITS = {"": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3}
_FILE_KINDS = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
               (stat.S_ISBLK, "a block device"), (stat.S_ISDIR, "a directory"))


class FindingData(TypedDict):
    cell: int | None  # 0-based index into the notebook's cells (markdown included); None for scripts
    line: int  # 1-based within the cell or file
    rule: str
    message: str
    hint: str


class FileReport(TypedDict, total=False):
    path: str
    findings: list[FindingData]
    error: str  # only when the file could not be read or parsed ("unscannable: ..." when it exhausts the parser)
    skipped: str  # only when the file was not opened: why (a FIFO, a device, over --max-size)


class Skipped(Exception):
    """A file that is not to be opened or read, and why (the message)."""


def parse_size(text: str) -> int:
    """Bytes in a size such as ``50M``, ``10MB``, ``512k``, ``1G`` or ``4096`` (powers of 1024)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmg]?)(?:i?b)?\s*", text, re.I)
    if not match:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (use e.g. 50M, 512k, 1G or a number of bytes)")
    return int(float(match.group(1)) * _SIZE_UNITS[match.group(2).lower()])


def _size(count: int) -> str:
    """``count`` bytes written short, in the powers of 1024 that --max-size reads."""
    for unit, factor in (("G", 1024 ** 3), ("M", 1024 ** 2), ("k", 1024)):
        if count >= factor:
            return f"{count / factor:.1f}{unit}"
    return f"{count} bytes"


def _kind(mode: int) -> str | None:
    """What a file that is not regular is, or None for a regular file."""
    for test, kind in _FILE_KINDS:
        if test(mode):
            return kind
    return None if stat.S_ISREG(mode) else "not a regular file"


def _check_opened(info: os.stat_result, max_size: int) -> None:
    kind = _kind(info.st_mode)
    if kind:
        raise Skipped(f"{kind}, not a file to scan")
    if info.st_size > max_size:
        raise Skipped(f"{_size(info.st_size)}, over --max-size {_size(max_size)}")


def read_bounded(path: Path, max_size: int) -> str:
    """The text of regular file ``path`` if it holds at most ``max_size`` bytes; raises Skipped
    otherwise. Never blocks on a FIFO: the type is checked before opening, and the open is
    non-blocking in case the file was swapped since."""
    _check_opened(os.stat(path), max_size)
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    try:
        _check_opened(os.fstat(descriptor), max_size)
        chunks, total = [], 0
        while total <= max_size:
            chunk = os.read(descriptor, min(1 << 20, max_size + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    finally:
        os.close(descriptor)
    if total > max_size:
        raise Skipped(f"grew over --max-size {_size(max_size)} while read")
    return b"".join(chunks).decode("utf-8")


def iter_files(root: Path) -> Iterator[Path]:
    """``.ipynb``, ``.py`` and ``.R`` files under ``root`` in sorted order, skipping hidden
    directories, ``.ipynb_checkpoints``, caches and virtualenvs."""
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = sorted(
            d for d in subdirs
            if not d.startswith(".") and d not in _SKIP_DIRS
            and not any(os.path.exists(os.path.join(directory, d, m)) for m in _ENV_MARKERS)
        )
        for name in sorted(files):
            if name.endswith((".ipynb", ".py", ".R", ".r")) and not name.startswith("."):
                yield Path(directory, name)


def scan(paths: Sequence[Path], allow: Sequence[str] = (), max_size: int = DEFAULT_MAX_SIZE) -> list[FileReport]:
    """Check each notebook or script (directories recursively); one report per file.

    ``allow`` adds hosts, ``.domain`` suffixes and CIDRs that count as local, on top of
    ``KERNELCTL_NETGUARD_ALLOW``. Raises UsageError for a path that does not exist or a
    bad allowlist entry; a file that cannot be read or parsed gets an ``error`` instead, and
    one that is not a regular file or holds more than ``max_size`` bytes a ``skipped``.
    """
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise UsageError(f"no such file or directory: {', '.join(missing)}",
                         "Pass notebooks (.ipynb), Python scripts or directories that exist.")
    entries = split_allow(os.environ.get("KERNELCTL_NETGUARD_ALLOW", "")) + list(allow)
    try:
        policy = HostPolicy(entries)
    except ValueError as err:
        raise UsageError(f"bad --allow entry: {err}",
                         "Use host names, .domain suffixes or CIDR networks, e.g. --allow .alliancecan.ca,10.0.0.0/8")
    checker = Checker(Context(policy=policy))
    reports: list[FileReport] = []
    for path in paths:
        for file in (iter_files(path) if path.is_dir() else [path]):
            report: FileReport = {"path": str(file), "findings": []}
            try:
                for cell, finding in check_file(file, checker, read_bounded(file, max_size)):
                    report["findings"].append({"cell": cell, "line": finding.line, "rule": finding.rule,
                                               "message": finding.message, "hint": finding.hint})
            except Skipped as skip:
                report["skipped"] = str(skip)
            except Unscannable as err:
                report["error"] = f"unscannable: {err}"
            except (RecursionError, MemoryError) as err:  # outside the checker's own guard (a belt)
                report["error"] = f"unscannable: {type(err).__name__}"
            except (OSError, UnicodeDecodeError, ValueError) as err:
                report["error"] = str(err) or type(err).__name__
            if "error" in report or "skipped" in report:
                report["findings"] = []  # a file is checked whole or not at all
            reports.append(report)
    return reports


def format_finding(path: str, finding: FindingData) -> str:
    """One human-readable line; cells are counted from 1 as a reader would."""
    where = f"{path}:cell {finding['cell'] + 1}:" if finding["cell"] is not None else f"{path}:"
    return f"{where}line {finding['line']}: {finding['rule']} {finding['message']} — {finding['hint']}"


def _run(args: argparse.Namespace) -> int:
    reports = scan(args.paths, args.allow, args.max_size)
    found = sum(len(r["findings"]) for r in reports)
    errors = sum(1 for r in reports if "error" in r)
    skipped = sum(1 for r in reports if "skipped" in r)
    if args.json:
        print_json({"files": reports})
    else:
        for report in reports:
            for finding in report["findings"]:
                print(format_finding(report["path"], finding))
            if "error" in report:
                print(f"{report['path']}: error: {report['error']}", file=sys.stderr)
            if "skipped" in report:
                print(f"{report['path']}: skipped: {report['skipped']}", file=sys.stderr)
        scanned = len(reports) - skipped
        noun = "file" if scanned == 1 else "files"
        print(f"{found} finding(s) in {scanned} {noun} scanned"
              + (f", {errors} unreadable" if errors else "") + (f", {skipped} skipped" if skipped else ""),
              file=sys.stderr)
    return 1 if found or errors else 0


NOTES = """\
Each finding is one line: PATH:cell N:line L: RULE message — fix
(PATH:line L: ... for scripts; cells count from 1, markdown cells included).

Suppress a finding with a '# kernelctl: allow-net' comment on its line, or a whole
cell with the cell tag 'kernelctl-allow-net'. Hosts in KERNELCTL_NETGUARD_ALLOW or
--allow (names, .domain suffixes, CIDRs) count as local.

FIFOs, sockets, devices and files over --max-size are skipped with a note (never
opened); a file too deeply nested for Python's parser is reported as unscannable.

exit status: 0 nothing found, 1 findings or unreadable files, 2 usage error
"""

EXAMPLES = """\
  kernelctl scan tutorial.ipynb
  kernelctl scan ~/projects/thesis --json > netguard.json
  kernelctl scan notebooks/ --allow .alliancecan.ca,10.0.0.0/8
  kernelctl scan /shared/course --max-size 10M
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_parser(
        subparsers, "scan",
        "Find code in notebooks and Python or R scripts that needs the internet (pip installs,\n"
        "git clone, model and dataset downloads, HTTP requests; in R install.packages from\n"
        "CRAN, install_github, BiocManager, download.file), with the offline way to do\n"
        "each.",
        EXAMPLES, notes=NOTES,
    )
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH",
                        help="notebook (.ipynb), Python or R script or directory (searched recursively)")
    add_json_flag(parser)
    add_allow_option(parser, "extra local hosts, .domain suffixes or CIDRs", default=[])
    parser.add_argument("--max-size", type=parse_size, default=DEFAULT_MAX_SIZE, metavar="SIZE",
                        help="skip files larger than this (e.g. 10M, 512k, 1G; default 50M)")
    parser.set_defaults(run=_run)
