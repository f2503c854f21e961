"""Argument-parsing pieces shared by the commands, so an option means the same on every
command that has it (standard library only, so importing them costs a command nothing)."""

from __future__ import annotations

import argparse

from kernelctl.commands import COMMANDS


def add_parser(subparsers: argparse._SubParsersAction, name: str, description: str,
               examples: str, summary: str | None = None, notes: str = "") -> argparse.ArgumentParser:
    """The one way a command (or a subcommand of a group) is registered: a parser with a
    one-line summary (default: the one in :data:`COMMANDS`), a description, and an epilog
    of ``notes`` (output format, exit status) followed by the examples."""
    epilog = (f"{notes.rstrip()}\n\n" if notes else "") + "examples:\n" + examples
    return subparsers.add_parser(
        name, help=summary or COMMANDS[name], description=description, epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def add_json_flag(parser: argparse.ArgumentParser, help: str = "print machine-readable JSON on stdout") -> None:
    parser.add_argument("--json", action="store_true", help=help)


def add_quiet_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress messages")


def add_verbose_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-v", "--verbose", action="store_true", help="show the installer's output (on stderr)")


class _AppendEntries(argparse.Action):
    """Append every entry of the value, split at commas and spaces: the option repeats, and
    each use may hold a list, as in KERNELCTL_NETGUARD_ALLOW."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: object,
                 option_string: str | None = None) -> None:
        from kernelctl.netguard.policy import split_allow  # only when the option is used

        setattr(namespace, self.dest, [*(getattr(namespace, self.dest) or []), *split_allow(str(values))])


def add_allow_option(parser: argparse.ArgumentParser, help: str, flag: str = "--allow",
                     default: list[str] | None = None) -> None:
    """A netguard allowlist option: host names, '.domain' suffixes and CIDRs, comma-separated
    and repeatable, the same on every command that takes one."""
    parser.add_argument(flag, metavar="HOSTS", action=_AppendEntries, default=default,
                        help=f"{help} (comma-separated; repeatable)")

def add_wheelhouse_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--wheelhouse", "-w", metavar="DIR", action="append", default=[],
        help="a directory of wheels (repeatable, first has priority); default: KERNELCTL_WHEELHOUSE, "
             "then pip's find-links configuration",
    )
