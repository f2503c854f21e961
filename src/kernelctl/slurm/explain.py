"""Why a submitted notebook job is where it is: its state, from Slurm when Slurm still
knows the job, else from the report the run wrote, and a sentence saying what happened
and what to do (more time, more memory, fix a cell)."""

from __future__ import annotations

import json
import math
import re
import shlex
import stat
from pathlib import Path
from typing import Any

from kernelctl.fsutil import read_small_text
from kernelctl.notebook.memory import human
from kernelctl.notebook.outcome import Cause
from kernelctl.slurm.options import mem_bytes, time_seconds

# The run's SIGUSR1 comes only from the job script's --signal, sent just before the limit.
TIME_LIMIT_SIGNAL = "SIGUSR1"
_MIB = 1024 * 1024
# What slurmstepd writes into the job's log when it kills the job for its memory: the
# jobacct_gather OverMemoryKill line (with the bytes used and the limit), or the cgroup one.
_OVER_LIMIT = re.compile(r"exceeded memory limit \((\d+) > \d+\)")
_MEMORY_KILL = ("Exceeded job memory limit", "oom-kill event", "out-of-memory handler")
_LOG_TAIL = 64 * 1024
_REPORT_MAX = 64 * 1024 * 1024  # a report lists every cell: generous, but bounded


def read_json(path: Path) -> dict[str, Any] | None:
    """A report file, or None when the run has not written it (yet) or it is unreadable."""
    try:
        data = json.loads(read_small_text(path, _REPORT_MAX))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and _readable(data) else None


def _readable(report: dict[str, Any]) -> bool:
    """Whether the fields :func:`explain` reads have the types the run writes (a damaged
    report is no report, not a traceback in ``kernelctl jobs``)."""
    ending = report.get("exit", {})
    cells = report.get("cells", [])
    return (isinstance(ending, dict) and isinstance(ending.get("code", 0), int)
            and isinstance(ending.get("message", ""), str)
            and all(isinstance(report.get(k, 0), (int, float)) for k in ("seconds", "peak_rss_bytes"))
            and isinstance(cells, list)
            and all(isinstance(c, dict) and isinstance(c.get("number"), int) for c in cells))


def cell_progress(output: Path) -> tuple[int, int, int | None]:
    """From the output notebook the run keeps saving: (cells finished, code cells, the
    number of the cell that is running or was interrupted; None before the notebook exists
    or once every cell finished)."""
    from kernelctl.notebook import state

    try:
        import nbformat

        if not stat.S_ISREG(output.stat().st_mode):  # a FIFO would block the read
            return 0, 0, None
        nb = nbformat.read(output, as_version=4)
    except Exception:  # not written yet, or being replaced right now: nothing to say
        return 0, 0, None
    statuses = [state.status(nb.cells[i]) for i in state.code_cells(nb)]
    done = sum(s in state.FINISHED for s in statuses)
    marked = next((n for n, s in enumerate(statuses, 1) if s in ("running", "interrupted")), None)
    # the run saves when a cell ends, so the one after the finished ones is the one running
    return done, len(statuses), marked or (done + 1 if done < len(statuses) else None)


def memory_kill(log: Path | None) -> int | None:
    """Whether Slurm killed the job for its memory, from the end of its log: the memory
    Slurm measured in bytes (0 when it did not say), or None when it did not kill it."""
    if log is None:
        return None
    try:
        if not stat.S_ISREG(log.stat().st_mode):  # a FIFO would block, a device never end
            return None
        with open(log, "rb") as f:
            f.seek(max(0, f.seek(0, 2) - _LOG_TAIL))
            text = f.read(_LOG_TAIL).decode("utf-8", "replace")
    except OSError:
        return None
    used = [int(n) for n in _OVER_LIMIT.findall(text)]
    if used:
        return max(used)
    return 0 if any(words in text for words in _MEMORY_KILL) else None


def suggest_mem(peak_bytes: int, asked: str | None) -> str:
    """A ``--mem`` with room to spare, in whole gigabytes: half again the measured peak, and
    at least double what was asked (sampling can miss the spike that hit the limit)."""
    need = max(peak_bytes * 1.5, 2 * mem_bytes(asked) if asked else 0)
    return f"{max(1, math.ceil(need / (1024 * _MIB)))}G"


def _double(time: str) -> str:
    """Twice the time limit ``time`` (as sbatch reads it), in minutes."""
    return str(math.ceil(2 * time_seconds(time) / 60))


def _interrupted_cell(report: dict[str, Any] | None, output: Path) -> int | None:
    if report:
        cells = [c["number"] for c in report.get("cells", []) if c.get("status") == "interrupted"]
        if cells:
            return cells[0]
    return cell_progress(output)[2]


def ran_out_of_time(report: dict[str, Any] | None, time: str | None) -> bool:
    """Whether the run stopped for the time limit: on the SIGUSR1 only the job script's
    --signal sends, or on a SIGTERM (the limit's, or scancel's) once it had run for at
    least half the limit (a run starts a few seconds after its job)."""
    ending = (report or {}).get("exit") or {}
    if ending.get("code") != Cause.STOPPED.value:
        return False
    message = ending.get("message", "")
    if TIME_LIMIT_SIGNAL in message:
        return True
    return "SIGTERM" in message and time is not None and 2 * float(report.get("seconds") or 0) >= time_seconds(time)


def state_from_report(report: dict[str, Any] | None, time: str | None = None, log: Path | None = None) -> str:
    """A Slurm-like state for a job Slurm has forgotten, from how its run ended (and from
    Slurm's log, for a job killed for its memory before the run could report)."""
    if report is None:
        return "OUT_OF_MEMORY" if memory_kill(log) is not None else "UNKNOWN"
    code = (report.get("exit") or {}).get("code")
    if code == Cause.DONE.value:
        return "COMPLETED"
    if ran_out_of_time(report, time):
        return "TIMEOUT"
    return "CANCELLED" if code == Cause.STOPPED.value else "FAILED"


def explain(state: str, reason: str, report: dict[str, Any] | None, output: Path, time: str | None = None,
            mem: str | None = None, log: Path | None = None) -> str:
    """One sentence on a job in ``state`` (squeue's reason ``reason``), or '' when there is
    nothing to say beyond the state (it completed). ``log`` is Slurm's log of the job."""
    ending = (report or {}).get("exit") or {}
    message = ending.get("message", "")
    peak = int((report or {}).get("peak_rss_bytes") or 0)
    killed = memory_kill(log) if state != "COMPLETED" else None
    if state == "PENDING":
        return f"waiting in the queue ({reason})" if reason and reason != "None" else "waiting in the queue"
    if state in ("RUNNING", "COMPLETING"):
        done, total, current = cell_progress(output)
        return f"at cell {current} of {total} ({done} finished)" if current else "starting the kernel"
    if state in ("TIMEOUT", "DEADLINE") or ran_out_of_time(report, time):
        cell = _interrupted_cell(report, output)
        where = f"at cell {cell}" if cell else "before its first cell finished"
        asked = f" (it had {time})" if time else ""
        more = _double(time) if time else "LONGER"
        return (f"ran out of time {where}{asked}; raise --time or resume: "
                f"kernelctl submit --resume {shlex.quote(str(output))} --time {more}")
    if state == "OUT_OF_MEMORY" or killed is not None or (ending.get("code") == Cause.KERNEL_DIED.value
                                                          and ("out-of-memory" in message or "SIGKILL" in message)):
        if killed:
            measured, peak = f"Slurm measured {human(killed)}", max(peak, killed)
        else:
            measured = f"its kernel's memory peaked at {human(peak)}" if peak else "no peak was measured"
        return f"ran out of memory ({measured}); submit again with --mem {suggest_mem(peak, mem)}"
    if state == "CANCELLED":
        return "cancelled (scancel)" + (f"; outputs so far are in {output}" if output.exists() else "")
    if message and ending.get("code") != Cause.DONE.value:
        return message
    if state == "UNKNOWN":
        return "Slurm no longer lists it and its run left no report (it never started, or was killed at once)"
    return ""
