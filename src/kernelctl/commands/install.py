"""``kernelctl install``: add packages to a kernel's env, from the wheelhouse only."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path

from kernelctl.backends import InstallRequest, get_backend
from kernelctl.commands.args import add_json_flag, add_parser
from kernelctl.commands.common import find_python_kernel, locked
from kernelctl.errors import UsageError
from kernelctl.manifest import Manifest
from kernelctl.output import print_json
from kernelctl.requirements import check_requirements, read_requirement_files
from kernelctl.venv import installed_distributions, python_of


def install(name: str, packages: Sequence[str] = (), *,
            requirement_files: Sequence[str | os.PathLike[str]] = (), verbose: bool = False) -> Manifest:
    """Install requirements into kernel ``name``'s env and record them in its manifest."""
    if not packages and not requirement_files:
        raise UsageError("nothing to install", "Name packages (kernelctl install NAME PKG...) or pass -r FILE.")
    requirements = check_requirements(packages)
    files = read_requirement_files(requirement_files)
    with locked(name):
        kernel = find_python_kernel(name, "install into")
        manifest = kernel.manifest
        get_backend(manifest.options.backend).install(
            InstallRequest(python_of(kernel.prefix), requirements, [Path(d) for d in manifest.wheelhouses],
                           [Path(f.path) for f in files], verbose))
        manifest.requirements += [r for r in requirements if r not in manifest.requirements]
        manifest.requirement_files += [{"path": f.path, "text": f.text} for f in files]
        manifest.installed = installed_distributions(kernel.prefix, name)
        manifest.save()
    return manifest


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_parser(
        subparsers, "install",
        "Install packages into the env of kernel NAME, only from its wheelhouse (--no-index),\n"
        "and record them so 'kernelctl rebuild' and 'export' know about them.",
        "  kernelctl install myenv matplotlib\n  kernelctl install myenv -r extra-requirements.txt",
    )
    parser.add_argument("name", metavar="NAME")
    parser.add_argument("packages", metavar="PKG", nargs="*", default=[])
    parser.add_argument("-r", "--requirement", metavar="FILE", action="append", default=[])
    parser.add_argument("-v", "--verbose", action="store_true", help="show the installer's output")
    add_json_flag(parser)
    parser.set_defaults(run=run, intermixed="packages")


def run(args: argparse.Namespace) -> int:
    manifest = install(args.name, args.packages, requirement_files=args.requirement, verbose=args.verbose)
    if args.json:
        print_json(manifest.to_dict())
    else:
        print(f"Installed into {args.name!r}; restart its kernels to import the new packages.")
    return 0
