"""``kernelctl remove``: delete a kernel's kernelspec and env, and nothing else."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from kernelctl import kernelspec
from kernelctl.envstore import clean_leftovers, in_service
from kernelctl.commands.args import add_json_flag, add_parser
from kernelctl.commands.common import find_kernelctl_spec, locked
from kernelctl.errors import UsageError
from kernelctl.fsutil import remove_tree
from kernelctl.location import location_of
from kernelctl.output import print_json
from kernelctl.running import kernel_processes


def running(spec: kernelspec.InstalledSpec) -> list[int]:
    """The pids of kernel ``spec`` that are running now (see :mod:`kernelctl.running`)."""
    location = location_of(spec.resource_dir, spec.kernelctl or {})
    paths = [*in_service(spec.name, location), location.envs_dir / spec.name, spec.resource_dir]
    return kernel_processes(spec.name, paths)


def running_warning(name: str, pids: list[int]) -> str:
    return (f"warning: kernel {name!r} is running (pid {', '.join(map(str, pids))}): removing it deletes its env "
            "under it, so save your work there and shut it down; it is not stopped for you")


def remove(name: str) -> dict[str, Any]:
    """Remove kernel ``name``: its kernelspec first (so the launcher never offers a dead
    kernel), then its env generations and ``envs/NAME``. Only kernelctl's own generations of
    ``name`` are deleted, whatever the kernel.json says, and symlinks are never followed.

    A running kernel of ``name`` is not stopped (it keeps what it has imported, but new
    imports fail): its pids are returned as ``running``, for the caller to warn about.
    """
    with locked(name) as spec:
        location = location_of(spec.resource_dir, spec.kernelctl or {})
        envs = in_service(name, location)
        pids = running(spec)
        kernelspec.remove(spec)
        link = location.envs_dir / name
        if link.is_symlink():
            link.unlink()
        for env in envs:
            remove_tree(env)
        clean_leftovers(name, location)
    return {"name": name, "removed": [str(spec.resource_dir), *map(str, sorted(envs))], "running": pids}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_parser(subparsers, "remove",
                        "Remove kernel NAME: its kernelspec and its env. Nothing else is touched.",
                        "  kernelctl remove myenv\n  kernelctl remove myenv --yes     no question asked")
    parser.add_argument("name", metavar="NAME")
    parser.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    add_json_flag(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if not args.yes:
        pids = running(find_kernelctl_spec(args.name))
        if pids:
            print(running_warning(args.name, pids), file=sys.stderr)
        if not sys.stdin.isatty():
            raise UsageError(f"removing {args.name!r} needs confirmation", "Pass --yes to remove it without a question.")
        try:
            answer = input(f"Remove kernel {args.name!r} and its env? [y/N] ").strip().lower()
        except EOFError:
            answer = ""
        if answer not in ("y", "yes"):
            print("Nothing removed.")
            return 1
    result = remove(args.name)
    if args.yes and result["running"]:
        print(running_warning(args.name, result["running"]), file=sys.stderr)
    if args.json:
        print_json(result)
    else:
        print(f"Removed kernel {args.name!r}: " + ", ".join(result["removed"]))
    return 0
