"""The ``kernelctl`` command line: a thin layer of argparse over :mod:`kernelctl.commands`."""

from __future__ import annotations

import argparse
import gc
import importlib
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import FrameType

from kernelctl import __version__
from kernelctl.commands import COMMANDS, EARLY
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


class Terminated(BaseException):
    """SIGTERM (a batch system's or a session's end), raised like Ctrl-C's KeyboardInterrupt
    so that every cleanup an interrupted command runs for Ctrl-C runs for it too."""


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not cut the cleanup short
    raise Terminated


@contextmanager
def _sigterm_raises() -> Iterator[None]:
    """While inside, SIGTERM raises :class:`Terminated` in the main thread (signal handlers can
    only be set there; called from another thread, nothing changes)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit status (0 ok, 1 failure, 2 usage error, 130/143 after
    SIGINT/SIGTERM)."""
    for stream in (sys.stdout, sys.stderr):  # a name that is not valid text still prints, escaped
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")
    try:
        with _sigterm_raises():
            return _run(argv)
    except KernelctlError as err:
        print(f"error: {err.message}", file=sys.stderr)
        if err.hint:
            print(err.hint, file=sys.stderr)
        return err.exit_code
    except (RecursionError, MemoryError) as err:  # deeply nested or huge JSON in a damaged file
        print(f"error: a file kernelctl read is too deeply nested or too large to load ({type(err).__name__})",
              file=sys.stderr)
        print(DAMAGED_FILE_HINT, file=sys.stderr)
        return 1
    except UnicodeError as err:  # a file that is not the text it should be
        print(f"error: a file kernelctl read is not valid text ({err})", file=sys.stderr)
        print(DAMAGED_FILE_HINT, file=sys.stderr)
        return 1
    except BrokenPipeError:  # 'kernelctl list | head': the reader has all it wanted
        return 1
    except OSError as err:  # a file or program that vanished or is not ours, mid-command
        print(f"error: {err}", file=sys.stderr)
        print(DAMAGED_HINT, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"kernelctl: interrupted; {CLEANED_UP}", file=sys.stderr)
        return 130
    except Terminated:
        print(f"kernelctl: terminated (SIGTERM); {CLEANED_UP}", file=sys.stderr)
        return 143


def script() -> int:
    """The ``kernelctl`` and ``jupyter-kernelctl`` scripts and ``python -m kernelctl``:
    :func:`main`, then an exit without the interpreter's last garbage collection.

    That collection walks every object the command made or imported (jupyter_client, zmq,
    traitlets after a build: ~40 ms) only to find the cycles in memory the process is about
    to give back. Freezing the collector skips it. ``atexit`` handlers still run and objects
    outside reference cycles are still freed; objects in cycles are not finalized, so no
    command may leave cleanup to a ``__del__`` (each stops its kernels and removes its files
    itself).
    """
    status = main()
    gc.freeze()
    return status


DAMAGED_HINT = "Run 'kernelctl doctor' to see what is broken and how to fix it."
DAMAGED_FILE_HINT = ("A kernel's kernel.json, kernelctl.json or kernelctl-launch.json may be damaged: replace the "
                     "kernel with 'kernelctl create NAME --force ...'.")
CLEANED_UP = "nothing half-done was left in the launcher."


def _run(argv: Sequence[str] | None) -> int:
    """Parse ``argv`` and run the command it names (errors are left to :func:`main`)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    start, stop = EARLY.get(_requested_command(argv) or "", (None, None))
    if start is not None:
        _call(start)
    try:
        return _parse_and_run(argv)
    finally:
        if stop is not None:
            _call(stop)


def _call(function: str) -> None:
    """Call a ``module:function`` of :data:`kernelctl.commands.EARLY`."""
    module, name = function.split(":")
    getattr(importlib.import_module(module), name)()


def _parse_and_run(argv: list[str]) -> int:
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


if __name__ == "__main__":
    sys.exit(script())
