"""``kernelctl remove``: delete a kernel's kernelspec and env, and nothing else."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from kernelctl import kernelspec
from kernelctl.build import clean_leftovers
from kernelctl.commands.common import add_json_flag, add_parser
from kernelctl.errors import KernelctlError, UsageError
from kernelctl.fsutil import is_within, remove_tree
from kernelctl.locking import name_lock
from kernelctl.names import validate_name
from kernelctl.output import print_json
from kernelctl.paths import envs_dir, store_dir
from pathlib import Path


def remove(name: str) -> dict[str, Any]:
    """Remove kernel ``name``: its kernelspec first (so the launcher never offers a dead
    kernel), then its env. Symlinks are removed, never followed, and nothing outside
    kernelctl's env store is deleted."""
    validate_name(name)
    with name_lock(name):
        spec = kernelspec.find_spec(name)
        if spec is None:
            raise KernelctlError(f"no kernel named {name!r}", "Run 'kernelctl list' to see your kernels.")
        if spec.kernelctl is None:
            raise KernelctlError(f"kernel {name!r} ({spec.resource_dir}) was not made by kernelctl; left alone",
                                 f"Remove it with 'jupyter kernelspec remove {name}' if you are sure.")
        prefix = Path(spec.kernelctl["prefix"])
        kernelspec.remove(name)
        removed = [str(spec.resource_dir)]
        if prefix.is_symlink() or is_within(prefix, store_dir()):
            remove_tree(prefix)
            removed.append(str(prefix))
        link = envs_dir() / name
        if link.is_symlink():
            link.unlink()
            removed.append(str(link))
        clean_leftovers(name)
    return {"name": name, "removed": removed}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_parser(subparsers, "remove", "remove a kernel and its env",
                        "Remove kernel NAME: its kernelspec and its env. Nothing else is touched.",
                        "  kernelctl remove myenv\n  kernelctl remove myenv --yes     no question asked")
    parser.add_argument("name", metavar="NAME")
    parser.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    add_json_flag(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if not args.yes:
        if not sys.stdin.isatty():
            raise UsageError(f"removing {args.name!r} needs confirmation", "Pass --yes to remove it without a question.")
        answer = input(f"Remove kernel {args.name!r} and its env? [y/N] ").strip().lower()
        if answer not in ("y", "yes"):
            print("Nothing removed.")
            return 1
    result = remove(args.name)
    if args.json:
        print_json(result)
    else:
        print(f"Removed kernel {args.name!r}: " + ", ".join(result["removed"]))
    return 0
