"""``kernelctl wheelhouse audit``: is every project of the wheelhouse installable, per Python?

The Python API is :func:`audit_wheelhouse`; it returns the report that ``--json`` prints.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from kernelctl.commands.args import add_json_flag, add_parser, add_wheelhouse_option

NOTES = """\
For every project, the newest wheel installable on each Python version is resolved with
its whole dependency closure. Broken wheels, missing dependencies, unreadable and
misnamed files, entries that are not files (FIFOs, dangling links), wheels whose METADATA
disagrees with their file name (pip discards them), files duplicated across directories
and placeholder (dummy) wheels are reported. The exit status is 1 when something is
broken or unusable.
"""

EXAMPLES = """\
  kernelctl wheelhouse audit --python 3.11 --python 3.12 --python 3.13
  kernelctl wheelhouse audit --wheelhouse /srv/wheels --html audit.html
  kernelctl wheelhouse audit --json > audit.json
"""


def audit_wheelhouse(
    pythons: Sequence[str] | None = None,
    wheelhouse: Sequence[str] = (),
    platforms: Sequence[str] | None = None,
) -> dict:
    """Audit the wheelhouse for each ``X.Y`` in ``pythons`` (default: the running Python).

    Returns the report of :func:`kernelctl.wheelhouse.audit.audit`.
    """
    from kernelctl.wheelhouse.audit import audit
    from kernelctl.wheelhouse.discovery import discover
    from kernelctl.wheelhouse.index import WheelhouseIndex
    from kernelctl.wheelhouse.targets import make_targets

    targets = make_targets(list(pythons or []) or None, list(platforms or []) or None)
    index = WheelhouseIndex.from_wheelhouse(discover(list(wheelhouse)))
    try:
        return audit(index, targets)
    finally:
        index.save()


def render(report: dict) -> str:
    """The human-readable form of an audit report."""
    from kernelctl.output import format_table
    from kernelctl.wheelhouse.filenames import printable
    from kernelctl.wheelhouse.index import PROBLEM_KINDS

    out = [f"{report['summary']['projects']} projects, {report['summary']['wheels']} wheels; "
           f"Python {', '.join(report['pythons'])}: {'OK' if report['ok'] else 'problems found'}", ""]
    headers = ("PROJECT", *report["pythons"])
    rows = []
    for row in report["projects"]:
        cells = []
        for p in report["pythons"]:
            c = row["cells"].get(p)
            if not c or c["status"] == "-":
                cells.append("-")
            else:
                cells.append(c["version"] if c["status"] == "ok" else f"{c['version']} {c['status'].upper()}")
        rows.append((row["name"], *cells))
    out.append(format_table(headers, rows))
    if report["broken"]:
        out += ["", "broken:"] + [f"  {b['name']} {b['version']} (Python {b['python']}): {b['reason']}"
                                  for b in report["broken"]]
    if report["missing_dependencies"]:
        out += ["", "missing dependencies:"] + [f"  {m['requirement']}  needed by {', '.join(m['needed_by'])}"
                                                for m in report["missing_dependencies"]]
    for kind in PROBLEM_KINDS:
        if report[kind.replace("-", "_")]:
            out += ["", f"{kind}:"] + [f"  {printable(p['path'])}: {p['message']}"
                                       for p in report[kind.replace("-", "_")]]
    if report["duplicates"]:
        out += ["", "in several directories:"] + [f"  {d['filename']}: {', '.join(d['paths'])}"
                                                  for d in report["duplicates"]]
    if report["dummies"]:
        out += ["", "placeholder (dummy) wheels:"] + [f"  {d['name']} {d['version']}" for d in report["dummies"]]
    return "\n".join(out)


def run(args: argparse.Namespace) -> int:
    report = audit_wheelhouse(args.python, args.wheelhouse, args.platform)
    if args.html:
        from pathlib import Path

        from kernelctl.errors import KernelctlError
        from kernelctl.wheelhouse.audit import render_html

        try:
            Path(args.html).write_text(render_html(report), encoding="utf-8")
        except OSError as err:
            raise KernelctlError(f"cannot write {args.html}: {err.strerror or err}",
                                 "Choose a writable path for --html.") from None
    if args.json:
        from kernelctl.output import print_json

        print_json(report)
    else:
        print(render(report))
    return 0 if report["ok"] else 1


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_parser(
        subparsers, "audit",
        "Resolve the newest wheel of every project with its dependency closure, for each Python\n"
        "version, and report what is broken.",
        EXAMPLES, summary="check that every project of the wheelhouse installs, per Python version",
        notes=NOTES,
    )
    parser.add_argument("--python", action="append", metavar="X.Y",
                        help="a Python version to audit for (repeatable; default: the running Python)")
    parser.add_argument("--platform", action="append", metavar="TAG",
                        help="accept only this platform tag plus pure wheels (default: what pip here accepts)")
    add_wheelhouse_option(parser)
    add_json_flag(parser, "print the report as JSON")
    parser.add_argument("--html", metavar="FILE", help="also write the report as a self-contained HTML page")
    parser.set_defaults(run=run)
