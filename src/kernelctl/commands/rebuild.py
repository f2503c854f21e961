"""``kernelctl rebuild``: recreate a kernel's env from its manifest."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path

from kernelctl import julia, modules
from kernelctl.build import BuildPlan, build, clean_leftovers
from kernelctl.commands.args import add_json_flag, add_parser, add_wheelhouse_option
from kernelctl.commands.common import find_kernel, locked
from kernelctl.manifest import Manifest
from kernelctl.output import Progress, print_json
from kernelctl.requirements import RequirementFile
from kernelctl.venv import find_interpreter
from kernelctl.wheelhouse.discovery import discover


def rebuild(name: str, *, python: str | None = None, wheelhouses: Sequence[str | os.PathLike[str]] = (),
            verify: bool = True, progress: Progress | None = None, verbose: bool = False) -> Manifest:
    """Build a fresh env for ``name`` from its manifest (e.g. after the cluster's Python
    changed) and switch the kernel to it. The old env keeps serving until the new one has
    passed verification; if anything fails, the old one stays in service."""
    with locked(name):
        kernel = find_kernel(name)
        old = kernel.manifest
        recorded = kernel.launch_config().get("module_system")
        system = modules.ModuleSystem.from_config(recorded) if recorded else None
        # The modules may supply the interpreter (python/3.11), as they did at create time.
        with modules.loaded(old.options.modules, old.options.purge, system) as module_system:
            is_julia = old.options.language == julia.LANGUAGE
            plan = BuildPlan(
                name=name,
                interpreter=None if is_julia else find_interpreter(python or old.python_requested),
                python_requested=python or old.python_requested,
                wheelhouses=list(discover(wheelhouses).dirs) if wheelhouses else [Path(d) for d in old.wheelhouses],
                requirements=list(old.requirements),
                requirement_files=[RequirementFile(**f) for f in old.requirement_files],
                options=old.options,
                module_system=module_system,
                location=kernel.location,
            )
            clean_leftovers(name, kernel.location)
            manifest = build(plan, verify=verify, progress=progress, verbose=verbose)
        manifest.created = old.created
        manifest.save()
        return manifest

def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_parser(subparsers, "rebuild",
                        "Rebuild kernel NAME's env from its manifest: same requirements, options and\n"
                        "wheelhouse, on the current (or given) Python. The old env serves until the new\n"
                        "one passes verification.",
                        "  kernelctl rebuild myenv\n  kernelctl rebuild myenv --python 3.12")
    parser.add_argument("name", metavar="NAME")
    parser.add_argument("--python", metavar="EXE_OR_X.Y", help="build on this interpreter instead")
    add_wheelhouse_option(parser)
    parser.add_argument("--no-verify", dest="verify", action="store_false")
    parser.add_argument("-v", "--verbose", action="store_true")
    parser.add_argument("-q", "--quiet", action="store_true")
    add_json_flag(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    progress = Progress(enabled=not args.quiet)
    manifest = rebuild(args.name, python=args.python, wheelhouses=args.wheelhouse, verify=args.verify,
                       progress=progress, verbose=args.verbose)
    if args.json:
        print_json(manifest.to_dict())
    elif not args.quiet:
        on = f" on Python {manifest.python_version}" if manifest.python_version else ""
        print(f"Kernel {args.name!r} rebuilt{on}; restart its notebooks' kernels.")
    return 0
