"""``kernelctl export``: a kernel's exact packages as a pip requirements file."""

from __future__ import annotations

import argparse

from kernelctl.commands.args import add_parser
from kernelctl.commands.common import find_python_kernel
from kernelctl.manifest import now
from kernelctl.venv import SEEDED, installed_distributions


def export(name: str) -> str:
    """Pinned requirements (``name==version``) of kernel ``name``, usable with ``create -r``."""
    kernel = find_python_kernel(name, "export")
    installed = installed_distributions(kernel.prefix, name)
    header = [f"# kernelctl export of kernel {name!r} (Python {kernel.manifest.python_version}), {now()}",
              "# recreate with: kernelctl create NAME -r THIS_FILE"]
    pins = [f"{project}=={version}" for project, version in installed.items() if project.lower() not in SEEDED]
    return "\n".join(header + pins) + "\n"


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
