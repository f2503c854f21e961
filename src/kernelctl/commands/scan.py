"""``kernelctl scan``: find notebook and script code that needs the internet.

Runs netguard's static checker (the same one the kernel extension runs before each cell)
over notebooks, Python scripts and directories, so a notebook copied from a tutorial can
be fixed on a login node before it hangs on a compute node.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TypedDict

from kernelctl.commands import COMMANDS
from kernelctl.errors import UsageError
from kernelctl.netguard.checker import Checker
from kernelctl.netguard.notebooks import check_file
from kernelctl.netguard.policy import HostPolicy, split_allow
from kernelctl.netguard.rulebook import Context
from kernelctl.output import print_json

# Directories never worth scanning: tool caches, checkpoints, dependencies.
_SKIP_DIRS = frozenset({"__pycache__", "node_modules", "site-packages"})
# A directory holding one of these is a virtualenv or conda environment.
_ENV_MARKERS = ("pyvenv.cfg", "conda-meta")


class FindingData(TypedDict):
    cell: int | None  # 0-based index into the notebook's cells (markdown included); None for scripts
    line: int  # 1-based within the cell or file
    rule: str
    message: str
    hint: str


class FileReport(TypedDict, total=False):
    path: str
    findings: list[FindingData]
    error: str  # only when the file could not be read or parsed


def iter_files(root: Path) -> Iterator[Path]:
    """``.ipynb`` and ``.py`` files under ``root`` in sorted order, skipping hidden
    directories, ``.ipynb_checkpoints``, caches and virtualenvs."""
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = sorted(
            d for d in subdirs
            if not d.startswith(".") and d not in _SKIP_DIRS
            and not any(os.path.exists(os.path.join(directory, d, m)) for m in _ENV_MARKERS)
        )
        for name in sorted(files):
            if name.endswith((".ipynb", ".py")) and not name.startswith("."):
                yield Path(directory, name)


def scan(paths: Sequence[Path], allow: Sequence[str] = ()) -> list[FileReport]:
    """Check each notebook or script (directories recursively); one report per file.

    ``allow`` adds hosts, ``.domain`` suffixes and CIDRs that count as local, on top of
    ``KERNELCTL_NETGUARD_ALLOW``. Raises UsageError for a path that does not exist or a
    bad allowlist entry; a file that cannot be read or parsed gets an ``error`` instead.
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
                for cell, finding in check_file(file, checker):
                    report["findings"].append({"cell": cell, "line": finding.line, "rule": finding.rule,
                                               "message": finding.message, "hint": finding.hint})
            except (OSError, UnicodeDecodeError, ValueError, RecursionError) as err:
                report["error"] = str(err) or type(err).__name__
            reports.append(report)
    return reports


def format_finding(path: str, finding: FindingData) -> str:
    """One human-readable line; cells are counted from 1 as a reader would."""
    where = f"{path}:cell {finding['cell'] + 1}:" if finding["cell"] is not None else f"{path}:"
    return f"{where}line {finding['line']}: {finding['rule']} {finding['message']} — {finding['hint']}"


def _run(args: argparse.Namespace) -> int:
    allow = [entry for value in args.allow for entry in split_allow(value)]
    reports = scan(args.paths, allow)
    found = sum(len(r["findings"]) for r in reports)
    errors = sum(1 for r in reports if "error" in r)
    if args.json:
        print_json({"files": reports})
    else:
        for report in reports:
            for finding in report["findings"]:
                print(format_finding(report["path"], finding))
            if "error" in report:
                print(f"{report['path']}: error: {report['error']}", file=sys.stderr)
        noun = "file" if len(reports) == 1 else "files"
        print(f"{found} finding(s) in {len(reports)} {noun} scanned"
              + (f", {errors} unreadable" if errors else ""), file=sys.stderr)
    return 1 if found or errors else 0


EPILOG = """\
Each finding is one line: PATH:cell N:line L: RULE message — fix
(PATH:line L: ... for scripts; cells count from 1, markdown cells included).

Suppress a finding with a '# kernelctl: allow-net' comment on its line, or a whole
cell with the cell tag 'kernelctl-allow-net'. Hosts in KERNELCTL_NETGUARD_ALLOW or
--allow (names, .domain suffixes, CIDRs) count as local.

exit status: 0 nothing found, 1 findings or unreadable files, 2 usage error

examples:
  kernelctl scan tutorial.ipynb
  kernelctl scan ~/projects/thesis --json > netguard.json
  kernelctl scan notebooks/ --allow .alliancecan.ca,10.0.0.0/8"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "scan",
        help=COMMANDS["scan"],
        description="Find code in notebooks and Python scripts that needs the internet "
                    "(pip installs, git clone, model and dataset downloads, HTTP requests), "
                    "with the offline way to do each.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH",
                        help="notebook (.ipynb), Python script or directory (searched recursively)")
    parser.add_argument("--json", action="store_true", help="print a JSON report on stdout")
    parser.add_argument("--allow", action="append", default=[], metavar="HOSTS",
                        help="extra local hosts, .domain suffixes or CIDRs (comma-separated; repeatable)")
    parser.set_defaults(run=_run)
