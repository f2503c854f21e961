"""``kernelctl export``: a kernel's exact packages as a pip requirements file."""

from __future__ import annotations

import argparse

from kernelctl import languages
from kernelctl.commands.args import add_parser
from kernelctl.commands.common import find_kernel


def export(name: str) -> str:
    """Pinned packages (``name==version``) of kernel ``name``: for a Python kernel, usable with
    ``create -r``; for an R kernel, its library's packages."""
    manifest = find_kernel(name).manifest
    return languages.get(manifest.options.language).export(manifest)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_parser(subparsers, "export",
                        "Print the exact versions installed in kernel NAME, in pip's requirements format.",
                        "  kernelctl export myenv > requirements.txt\n"
                        "  kernelctl create myenv-copy -r requirements.txt")
    parser.add_argument("name", metavar="NAME")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    print(export(args.name), end="")
    return 0
