"""``kernelctl wheelhouse ...``: the group of wheelhouse commands (one module each)."""

from __future__ import annotations

import argparse
import importlib

from kernelctl.commands.args import add_parser

SUBCOMMANDS = ("fetch", "avail", "check", "audit")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_parser(
        subparsers, "wheelhouse",
        "Work with wheelhouses: directories of wheels that pip installs from with --no-index.",
        "  kernelctl wheelhouse avail numpy\n  kernelctl wheelhouse check -r requirements.txt --python 3.11\n"
        "  kernelctl wheelhouse fetch torch --dest ~/wheels   # where there is internet",
    )
    group = parser.add_subparsers(dest="wheelhouse_command", metavar="SUBCOMMAND",
                                  parser_class=type(parser))
    for name in SUBCOMMANDS:
        importlib.import_module(f"kernelctl.commands.wheelhouse_{name}").register(group)
    parser.set_defaults(run=lambda args: parser.print_help() or 2)
