"""Why a run ended: one cause per exit status, and the error the CLI prints for it."""

from __future__ import annotations

import enum
import signal

from kernelctl.errors import KernelctlError


class Cause(enum.Enum):
    """How a run ended; the value is the exit status of ``kernelctl run``."""

    DONE = 0
    CELL_ERROR = 1
    USAGE = 2
    CELL_TIMEOUT = 3
    KERNEL_DIED = 4
    KERNEL_START = 5
    STOPPED = 6

    @property
    def label(self) -> str:
        return self.name.lower().replace("_", "-")


EXIT_STATUS_HELP = """\
exit status:
  0  every cell ran
  1  a cell raised an exception (later cells did not run, unless --allow-errors)
  2  usage error (bad option, unknown kernel, unreadable notebook or parameters)
  3  a cell ran longer than --cell-timeout
  4  the kernel died (killed by the out-of-memory killer, SIGKILL, a crash)
  5  the kernel did not start (its own error output is shown)
  6  stopped by SIGTERM, SIGINT or SIGUSR1 (a time limit): outputs saved"""


class RunFailed(KernelctlError):
    """A run that did not finish; ``exit_code`` is its :class:`Cause`'s value."""

    def __init__(self, cause: Cause, message: str, hint: str | None = None) -> None:
        super().__init__(message, hint)
        self.cause = cause
        self.exit_code = cause.value


def signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def kernel_death(returncode: int | None, oom_killed: bool) -> str:
    """How the kernel process ended, for the message naming the cell it was running."""
    if oom_killed:
        return "was killed by the out-of-memory killer"
    if returncode is None:
        return "died"
    if returncode < 0:
        return f"was killed by {signal_name(-returncode)}"
    return f"exited with status {returncode}"


def memory_hint(peak: str) -> str:
    """What to do after a SIGKILL or an OOM kill: they nearly always mean too little memory."""
    return (f"The kernel's memory peaked at {peak} or more: give the job more memory "
            "(sbatch --mem, or kernelctl submit --mem), or make the cell use less.")


def is_memory_kill(returncode: int | None, oom_killed: bool) -> bool:
    return oom_killed or returncode == -signal.SIGKILL
