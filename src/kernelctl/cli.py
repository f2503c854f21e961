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
        raise UsageError(message, f"Run '{self.prog} --help' for usage.")


def _requested_command(argv: Sequence[str]) -> str | None:
    """The command named on the command line, if any (its first non-option word)."""
    for word in argv:
        if not word.startswith("-"):
            return word if word in COMMANDS else None
    return None


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser; with ``argv``, only the command it names is imported and fully built
    (the others get a bare entry for ``--help``), so a command pays only for its own imports."""
    parser = _Parser(
        prog="kernelctl",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"kernelctl {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    wanted = _requested_command(argv) if argv is not None else None
    for name, summary in COMMANDS.items():
        if argv is None or name == wanted:
            importlib.import_module(f"kernelctl.commands.{name}").register(subparsers)
        else:
            subparsers.add_parser(name, help=summary)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit status (0 ok, 1 failure, 2 usage error)."""
    try:
        argv = list(sys.argv[1:] if argv is None else argv)
        parser = build_parser(argv)
        args, extra = parser.parse_known_args(argv)
        intermixed = getattr(args, "intermixed", None)
        if extra and intermixed and not any(word.startswith("-") for word in extra):
            # 'create NAME --force numpy': argparse stops collecting PKG... at the first option
            getattr(args, intermixed).extend(extra)
        elif extra:
            command = " ".join(filter(None, ["kernelctl", args.command, getattr(args, "wheelhouse_command", None)]))
            raise UsageError(f"unrecognized arguments: {' '.join(extra)}", f"Run '{command} --help' for usage.")
        if not getattr(args, "run", None):
            parser.print_help(sys.stderr)
            return 2
        return int(args.run(args) or 0)
    except KernelctlError as err:
        print(f"error: {err.message}", file=sys.stderr)
        if err.hint:
            print(err.hint, file=sys.stderr)
        return err.exit_code
    except OSError as err:  # a file or program that vanished or is not ours, mid-command
        print(f"error: {err}", file=sys.stderr)
        print("Run 'kernelctl doctor' to see what is broken and how to fix it.", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("kernelctl: interrupted; nothing half-done was left in the launcher.", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1


if __name__ == "__main__":
    sys.exit(main())
