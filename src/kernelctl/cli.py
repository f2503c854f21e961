"""The ``kernelctl`` command line: a thin layer of argparse over :mod:`kernelctl.commands`."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from kernelctl import __version__
from kernelctl.commands import COMMANDS
from kernelctl.errors import KernelctlError, UsageError

DESCRIPTION = """\
Offline-aware Jupyter kernels for HPC clusters.

kernelctl creates persistent virtualenv kernels that install only from the site's
wheelhouse (pip --no-index), load modules when they start, and warn when notebook
code reaches for the internet."""

EPILOG = """\
examples:
  kernelctl create myenv numpy pandas        a kernel named myenv, from the wheelhouse
  kernelctl create ml -r requirements.txt --module scipy-stack
  kernelctl list
  kernelctl wheelhouse check -r requirements.txt --python 3.11

Run 'kernelctl COMMAND --help' for a command's options."""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are two lines on stderr and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"kernelctl: {message}", f"Run '{self.prog} --help' for usage.")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="kernelctl",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"kernelctl {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMANDS:
        importlib.import_module(f"kernelctl.commands.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit status (0 ok, 1 failure, 2 usage error)."""
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if not getattr(args, "run", None):
            parser.print_help(sys.stderr)
            return 2
        return int(args.run(args) or 0)
    except KernelctlError as err:
        print(f"error: {err.message}" if not err.message.startswith("kernelctl:") else err.message,
              file=sys.stderr)
        if err.hint:
            print(err.hint, file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("kernelctl: interrupted; nothing half-done was left in the launcher.", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1


if __name__ == "__main__":
    sys.exit(main())
