"""``kernelctl wheelhouse check``: can these requirements be installed from the wheelhouse?

The Python API is :func:`check_wheelhouse`; it returns the plain data that ``--json``
prints. Heavy imports (packaging, resolvelib, zipfile) happen only when the command runs.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from kernelctl.commands.args import add_json_flag, add_parser, add_wheelhouse_option

NOTES = """\
Each requirement gets a status: ok, not-found, no-matching-version, incompatible,
dependency-missing (with the chain), conflict, too-deep (the resolver gave up) or dummy
(a placeholder wheel: load the module instead). Unusable wheelhouse entries met (misnamed
files, FIFOs, dangling links, unreadable wheels, wheels whose METADATA disagrees with
their file name) are listed after the table and under "problems" in JSON.
The exit status is 0 when everything is covered on every target, 1 when not, 2 on a
usage error.
"""

EXAMPLES = """\
  kernelctl wheelhouse check numpy 'pandas>=2' --python 3.11 --python 3.12
  kernelctl wheelhouse check -r requirements.txt --json
  pip freeze > frozen.txt; kernelctl wheelhouse check -r frozen.txt --python 3.12
  kernelctl wheelhouse check torch --platform linux_x86_64 --wheelhouse /cvmfs/.../wheelhouse/generic
"""


def check_wheelhouse(
    requirements: Sequence[str] = (),
    files: Sequence[str] = (),
    pythons: Sequence[str] | None = None,
    platforms: Sequence[str] | None = None,
    wheelhouse: Sequence[str] = (),
    use_cache: bool = True,
) -> dict:
    """Whether the wheelhouse covers ``requirements`` (and the requirements files ``files``):
    the coverage report, per target and per requirement.

    Not to be confused with :func:`kernelctl.requirements.check_requirements`, which only
    validates requirement strings.

    ``pythons`` are ``X.Y`` versions (default: the running Python); ``platforms`` are pip
    ``--platform`` tags (default: what pip on this machine accepts); ``wheelhouse`` are
    directories in priority order (default: :func:`kernelctl.wheelhouse.discovery.discover`).
    Returns the report described in :func:`kernelctl.wheelhouse.check.check`.
    """
    from kernelctl.errors import UsageError
    from kernelctl.wheelhouse.check import check
    from kernelctl.wheelhouse.discovery import discover
    from kernelctl.wheelhouse.index import WheelhouseIndex
    from kernelctl.wheelhouse.reqfile import gather
    from kernelctl.wheelhouse.resolver import collector_paused
    from kernelctl.wheelhouse.targets import make_targets

    notes: list[str] = []
    roots = gather(list(requirements), list(files), notes=notes)
    if not roots:
        raise UsageError("no requirements to check", "Name requirements or pass -r FILE.")
    targets = make_targets(list(pythons or []) or None, list(platforms or []) or None)
    with collector_paused():
        index = WheelhouseIndex.from_wheelhouse(discover(list(wheelhouse)), cache=use_cache)
        try:
            report = check(index, roots, targets)
        finally:
            index.save()
    report["notes"] = notes
    return report


def render(report: dict) -> str:
    """The human-readable form of a check report."""
    from kernelctl.output import format_table
    from kernelctl.wheelhouse.index import Problem

    out: list[str] = []
    for target in report["targets"]:
        platform = "" if target["platform"] == "native" else f" on {target['platform']}"
        verdict = "covered" if target["covered"] else "NOT covered"
        out.append(f"Python {target['python']}{platform}: {verdict} "
                   f"({len(target['install'])} packages to install)" if target["covered"]
                   else f"Python {target['python']}{platform}: {verdict}")
        rows = [(r["requirement"], r["status"], r["version"] or "", r["reason"]) for r in target["requirements"]]
        out.append(format_table(("REQUIREMENT", "STATUS", "VERSION", "REASON"), rows))
        for warning in target.get("warnings", []):
            out.append(f"warning: {warning}")
        out.append("")
    for note in report.get("notes", []):
        out.append(f"note: {note}")
    out += [Problem(**problem).line() for problem in report.get("problems", [])]
    return "\n".join(out).rstrip()


def run(args: argparse.Namespace) -> int:
    report = check_wheelhouse(args.requirements, args.files, args.python, args.platform, args.wheelhouse,
                                use_cache=not args.no_cache)
    if args.json:
        from kernelctl.output import print_json

        print_json(report)
    else:
        print(render(report))
    return 0 if report["covered"] else 1


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_parser(
        subparsers, "check",
        "Resolve requirements, with their whole dependency closure, against the wheelhouse for\n"
        "each Python version, offline, as 'pip install --no-index --find-links' would.",
        EXAMPLES, summary="check that requirements (and their dependencies) install from the wheelhouse",
        notes=NOTES,
    )
    parser.add_argument("requirements", nargs="*", metavar="REQ", help="requirements, as pip takes them")
    parser.add_argument("-r", "--requirement", dest="files", action="append", default=[], metavar="FILE",
                        help="a pip requirements file (repeatable; -r includes, pip freeze output work)")
    parser.add_argument("--python", action="append", metavar="X.Y",
                        help="a target Python version (repeatable; default: the running Python)")
    parser.add_argument("--platform", action="append", metavar="TAG",
                        help="accept only this platform tag, plus pure wheels, as pip's --platform "
                             "(e.g. linux_x86_64 to refuse manylinux; default: what pip here accepts)")
    add_wheelhouse_option(parser)
    add_json_flag(parser, "print the report as JSON")
    parser.add_argument("--no-cache", action="store_true", help="read every wheel's metadata again")
    parser.set_defaults(run=run)
