"""``kernelctl wheelhouse avail``: list the wheels the wheelhouse holds (like ``avail_wheels``).

The Python API is :func:`list_available`; it returns the rows that ``--json`` prints.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from kernelctl.commands.args import add_json_flag, add_parser, add_wheelhouse_option

NOTES = """\
Patterns are names, globs or names with a version specifier; matching ignores case and
treats '-', '_' and '.' alike. Only the newest version is listed unless --all-versions.
Unusable entries (misnamed files, FIFOs, dangling links, unreadable wheels) are listed
on stderr, and under "problems" with --json. The exit status is 1 when a pattern
matches nothing.
"""

EXAMPLES = """\
  kernelctl wheelhouse avail numpy
  kernelctl wheelhouse avail '*cdf*' --python 3.11
  kernelctl wheelhouse avail 'numpy>=1.26' --all-versions --json
  kernelctl wheelhouse avail backports-functools-lru-cache
"""


def list_available(
    patterns: Sequence[str] = (),
    pythons: Sequence[str] | None = None,
    all_versions: bool = False,
    wheelhouse: Sequence[str] = (),
    platforms: Sequence[str] | None = None,
) -> dict:
    """The wheels matching ``patterns``: ``{"wheels": [row...], "not_found": [pattern...]}``.

    Each row is ``{name, version, local, python, abi, platform, file}``. With ``pythons``
    (``X.Y``), only wheels installable on one of them (on ``platforms``, default this
    machine's) are listed.
    """
    from kernelctl.wheelhouse.avail import avail
    from kernelctl.wheelhouse.discovery import discover
    from kernelctl.wheelhouse.index import WheelhouseIndex
    from kernelctl.wheelhouse.targets import make_targets

    targets = make_targets(list(pythons), list(platforms or []) or None) if pythons else []
    index = WheelhouseIndex.from_wheelhouse(discover(list(wheelhouse)))
    try:
        rows, missing = avail(index, patterns, targets, all_versions)
    finally:
        index.save()
    return {"wheels": rows, "not_found": missing,
            "problems": [p._asdict() for p in index.problems]}


def run(args: argparse.Namespace) -> int:
    result = list_available(args.patterns, args.python, args.all_versions, args.wheelhouse, args.platform)
    if args.json:
        from kernelctl.output import print_json

        print_json(result)
        return 1 if result["not_found"] else 0
    import os

    from kernelctl.output import format_table
    from kernelctl.wheelhouse.index import Problem

    rows = [(r["name"], r["version"], r["local"], r["python"], r["abi"], r["platform"],
             os.path.basename(os.path.dirname(r["file"]))) for r in result["wheels"]]
    if rows:
        print(format_table(("NAME", "VERSION", "LOCAL", "PYTHON", "ABI", "PLATFORM", "DIR"), rows))
    for pattern in result["not_found"]:
        print(f"not found: {pattern}", file=sys.stderr)
    for problem in result["problems"]:
        print(Problem(**problem).line(), file=sys.stderr)
    return 1 if result["not_found"] else 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_parser(
        subparsers, "avail",
        "List the wheels of the wheelhouse whose names match PATTERNs (all when none).",
        EXAMPLES, summary="list the wheels in the wheelhouse (like avail_wheels)", notes=NOTES,
    )
    parser.add_argument("patterns", nargs="*", metavar="PATTERN", help="a name, glob, or name with a specifier")
    parser.add_argument("--python", action="append", metavar="X.Y",
                        help="only wheels installable on this Python (repeatable)")
    parser.add_argument("--platform", action="append", metavar="TAG",
                        help="with --python: accept only this platform tag plus pure wheels")
    parser.add_argument("--all-versions", action="store_true", help="list every version, not only the newest")
    add_wheelhouse_option(parser)
    add_json_flag(parser, "print JSON: {wheels: [{name, version, local, python, abi, platform, file}], "
                          "not_found: [PATTERN], problems: [{kind, path, message}]}")
    parser.set_defaults(run=run)
