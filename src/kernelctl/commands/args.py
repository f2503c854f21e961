"""Argument-parsing pieces shared by the commands (standard library only, so importing
them costs a command nothing)."""

from __future__ import annotations

import argparse

from kernelctl.commands import COMMANDS


def add_parser(subparsers: argparse._SubParsersAction, name: str, description: str,
               examples: str, summary: str | None = None) -> argparse.ArgumentParser:
    """A subcommand parser with a one-line summary (default: the one in :data:`COMMANDS`),
    a description and an examples epilog."""
    return subparsers.add_parser(
        name, help=summary or COMMANDS[name], description=description, epilog="examples:\n" + examples,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON on stdout")


def add_wheelhouse_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--wheelhouse", "-w", metavar="DIR", action="append", default=[],
        help="a directory of wheels (repeatable, first has priority); default: KERNELCTL_WHEELHOUSE, "
             "then pip's find-links configuration",
    )
