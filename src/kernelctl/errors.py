"""Errors that reach the user.

Every failure the CLI reports is a :class:`KernelctlError`: a one-line message plus an
optional one-line hint saying what to do next. The CLI prints both on stderr, without a
traceback, and exits with :attr:`KernelctlError.exit_code`.
"""

from __future__ import annotations


class KernelctlError(Exception):
    """A failure the user can act on (exit status 1)."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n{self.hint}"


class UsageError(KernelctlError):
    """The command line itself is wrong (exit status 2)."""

    exit_code = 2
