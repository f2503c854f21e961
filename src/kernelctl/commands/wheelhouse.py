"""``kernelctl wheelhouse ...``: the group of wheelhouse commands (one module each)."""

from __future__ import annotations

import argparse
import importlib

from kernelctl.commands import COMMANDS

SUBCOMMANDS = ("fetch", "avail", "check", "audit")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "wheelhouse",
        help=COMMANDS["wheelhouse"],
        description="Work with wheelhouses: directories of wheels that pip installs from with --no-index.",
    )
    group = parser.add_subparsers(dest="wheelhouse_command", metavar="SUBCOMMAND",
                                  parser_class=type(parser))
    for name in SUBCOMMANDS:
        importlib.import_module(f"kernelctl.commands.wheelhouse_{name}").register(group)
    parser.set_defaults(run=lambda args: parser.print_help() or 2)
