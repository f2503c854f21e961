"""``kernelctl rebuild``: recreate a kernel's env from its manifest."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path

from kernelctl import modules
from kernelctl.build import BuildPlan, build
from kernelctl.commands.args import add_json_flag, add_parser, add_quiet_flag, add_verbose_flag, add_wheelhouse_option
from kernelctl.envstore import clean_leftovers
from kernelctl.commands.common import find_kernel, locked
from kernelctl.errors import KernelctlError
from kernelctl.interpreter import find_interpreter
from kernelctl.manifest import Manifest
from kernelctl.output import Progress, print_json
from kernelctl.requirements import COMMAND_LINE, Line, RequirementFile, Requirements, read_recorded
from kernelctl.wheelhouse.discovery import discover


def recorded_requirements(manifest: Manifest) -> Requirements:
    """What ``manifest`` says to install: its vetted lines, or, in a manifest from before they
    were recorded, its requirements and its files' recorded text, vetted now."""
    files = [RequirementFile(f["path"], f["text"]) for f in manifest.requirement_files]
    if manifest.requirement_lines is not None:
        return Requirements([Line(**r) for r in manifest.requirement_lines],
                            [Line(**c) for c in manifest.constraint_lines], files=files)
    recorded = Requirements([Line(r, COMMAND_LINE) for r in manifest.requirements], files=files)
    for f in files:
        try:
            lines = read_recorded(f.path, f.text)
        except KernelctlError as err:
            raise KernelctlError(f"kernel {manifest.name!r}'s recorded requirements: {err.message}",
                                 f"Recreate it with 'kernelctl create {manifest.name} --force -r FILE' "
                                 "from a file without it.") from None
        recorded.requirements += lines.requirements
        recorded.constraints += lines.constraints
    return recorded


def rebuild(name: str, *, python: str | None = None, wheelhouses: Sequence[str | os.PathLike[str]] = (),
            verify: bool = True, progress: Progress | None = None, verbose: bool = False,
            added: Requirements | None = None) -> Manifest:
    """Build a fresh env for ``name`` from its manifest (e.g. after the cluster's Python
    changed) and switch the kernel to it. The old env keeps serving until the new one has
    passed verification; if anything fails, the old one stays in service.

    With ``added`` (``kernelctl install``), the new env gets the old one's exact versions
    and then ``added``, on the same Python: an install that cannot fail half-way.
    """
    with locked(name):
        kernel = find_kernel(name)
        old = kernel.manifest
        recorded = kernel.launch_config().get("module_system")
        system = modules.ModuleSystem.from_config(recorded) if recorded else None
        wanted = recorded_requirements(old)
        # The modules may supply the interpreter (python/3.11), as they did at create time.
        with modules.loaded(old.options.modules, old.options.purge, system) as module_system:
            python_requested = python or old.python_requested
            plan = BuildPlan(
                name=name,
                # Only a Python kernel records an interpreter (Julia and R ones run their language's from modules/PATH).
                interpreter=find_interpreter(old.python_executable if added else python_requested)
                if old.python_executable else None,
                python_requested=python_requested,
                wheelhouses=list(discover(wheelhouses).dirs) if wheelhouses else [Path(d) for d in old.wheelhouses],
                requirements=wanted.requirements,
                constraints=wanted.constraints + (added.constraints if added else []),
                requirement_files=wanted.files + (added.files if added else []),
                keep=dict(old.installed) if added else {},
                added=[r for r in added.requirements if r not in wanted.requirements] if added else [],
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
    add_verbose_flag(parser)
    add_quiet_flag(parser)
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
