"""``kernelctl show``: everything about one kernel."""

from __future__ import annotations

import argparse
from typing import Any

from kernelctl.commands.common import add_json_flag, add_parser, find_kernel
from kernelctl.output import print_json


def show(name: str) -> dict[str, Any]:
    """The kernel's manifest, kernelspec location and kernel.json."""
    kernel = find_kernel(name)
    return {**kernel.manifest.to_dict(), "kernelspec": str(kernel.spec.resource_dir), "kernel_json": kernel.spec.spec}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_parser(subparsers, "show", "show one kernel's details",
                        "Show how kernel NAME was made and what its env holds.",
                        "  kernelctl show myenv\n  kernelctl show myenv --json")
    parser.add_argument("name", metavar="NAME")
    add_json_flag(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    info = show(args.name)
    if args.json:
        print_json(info)
        return 0
    options = info["options"]
    lines = [
        f"name:          {info['name']}",
        f"display name:  {info['kernel_json'].get('display_name')}",
        f"python:        {info['python_version']} ({info['python_executable']})",
        f"env:           {info['prefix']}",
        f"kernelspec:    {info['kernelspec']}",
        f"wheelhouses:   {', '.join(info['wheelhouses'])}",
        f"requirements:  {' '.join(info['requirements']) or '-'}"
        + "".join(f" -r {f['path']}" for f in info["requirement_files"]),
        f"modules:       {', '.join(options['modules']) or '-'}",
        f"netguard:      {options['netguard']}",
        f"created:       {info['created']} (updated {info['updated']})",
        f"packages ({len(info['installed'])}):",
    ]
    lines += [f"  {n}=={v}" for n, v in info["installed"].items()]
    print("\n".join(lines))
    return 0
