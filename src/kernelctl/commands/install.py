"""``kernelctl install``: add packages to a kernel's env, from the wheelhouse (an R kernel's:
its local R repositories) only, all or nothing."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence

from kernelctl import languages
from kernelctl.commands.args import add_json_flag, add_parser, add_quiet_flag, add_verbose_flag
from kernelctl.commands.common import find_kernel
from kernelctl.commands.rebuild import rebuild
from kernelctl.errors import UsageError
from kernelctl.manifest import Manifest
from kernelctl.output import Progress, print_json


def install(name: str, packages: Sequence[str] = (), *,
            requirement_files: Sequence[str | os.PathLike[str]] = (), verify: bool = True,
            progress: Progress | None = None, verbose: bool = False) -> Manifest:
    """Install requirements into kernel ``name``'s env and record them in its manifest.

    The install goes into a new generation of the env that starts as an exact copy of the
    one in service (same versions) and replaces it only once complete and verified: a
    failure (a full disk, a kill, Ctrl-C) leaves the env and its manifest as they were.
    """
    if not packages and not requirement_files:
        raise UsageError("nothing to install", "Name packages (kernelctl install NAME PKG...) or pass -r FILE.")
    manifest = find_kernel(name).manifest
    added = languages.get(manifest.options.language).read_packages(name, packages, requirement_files)
    return rebuild(name, verify=verify, progress=progress, verbose=verbose, added=added)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_parser(
        subparsers, "install",
        "Install packages into the env of kernel NAME, only from its wheelhouse (--no-index),\n"
        "and record them so 'kernelctl rebuild' and 'export' know about them. The install goes\n"
        "into a copy of the env that replaces it only when complete: a failure changes nothing.",
        "  kernelctl install myenv matplotlib\n  kernelctl install myenv -r extra-requirements.txt\n"
        "  kernelctl install my-r-kernel ggplot2     an R kernel: from its --r-repo dirs",
    )
    parser.add_argument("name", metavar="NAME")
    parser.add_argument("packages", metavar="PKG", nargs="*", default=[])
    parser.add_argument("-r", "--requirement", metavar="FILE", action="append", default=[],
                        help="install from a requirements file (repeatable; -r/-c inside are followed)")
    parser.add_argument("--no-verify", dest="verify", action="store_false",
                        help="do not start the kernel to check it before switching to the new env")
    add_verbose_flag(parser)
    add_quiet_flag(parser)
    add_json_flag(parser)
    parser.set_defaults(run=run, intermixed="packages")


def run(args: argparse.Namespace) -> int:
    manifest = install(args.name, args.packages, requirement_files=args.requirement, verify=args.verify,
                       progress=Progress(enabled=not args.quiet), verbose=args.verbose)
    if args.json:
        print_json(manifest.to_dict())
    else:
        print(f"Installed into {args.name!r}; restart its kernels to import the new packages.")
    return 0
