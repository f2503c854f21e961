"""Slurm kernels' jobs whose Jupyter server is gone (it was killed, or its machine went down
before the job's own watchdog could end it, e.g. while the job was still pending): found by
their job name and their run dir's heartbeat, for ``kernelctl doctor`` to list and cancel."""

from __future__ import annotations

import getpass
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kernelctl.slurmkernel import channel
from kernelctl.slurmkernel.jobscript import JOB_PREFIX
from kernelctl.slurmkernel.provisioner import SlurmProvisioner, rundir_for

# A server beats every heartbeat_interval; three missed beats and more mean it is gone.
STALE_AFTER = 3 * SlurmProvisioner.heartbeat_interval.default_value
# squeue retries a controller that is down for a while; doctor does not wait for it that long.
SQUEUE_TIMEOUT = 10


@dataclass(frozen=True)
class Orphan:
    job_id: str
    state: str
    kernel_id: str
    why: str


class NoAnswer(Exception):
    """Slurm is installed here but could not say which jobs there are."""


def _kernel_jobs() -> list[tuple[str, str, str]] | None:
    """(job id, job name, state) of this user's kernel jobs; None where there is no Slurm
    (no squeue). Raises :class:`NoAnswer` when squeue fails or takes over SQUEUE_TIMEOUT s."""
    try:
        proc = subprocess.run(["squeue", "-h", "-u", getpass.getuser(), "-o", "%i|%j|%T"], capture_output=True,
                              text=True, errors="replace", timeout=SQUEUE_TIMEOUT, stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        return None
    except subprocess.TimeoutExpired:
        raise NoAnswer(f"squeue did not answer within {SQUEUE_TIMEOUT} s") from None
    except OSError as err:
        raise NoAnswer(f"squeue could not run: {err}") from None
    if proc.returncode != 0:
        said = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
        raise NoAnswer(f"squeue failed: {said}")
    rows = [tuple(line.split("|")) for line in proc.stdout.splitlines() if line.count("|") == 2]
    return [row for row in rows if row[1].startswith(JOB_PREFIX)]  # type: ignore[misc]


class JobQuery:
    """:func:`_kernel_jobs`, asked in a thread from the query's making, so that squeue answers
    while the caller does other work (doctor checks the kernels meanwhile)."""

    def __init__(self) -> None:
        self._answered = threading.Event()
        self._jobs: list[tuple[str, str, str]] | None = None
        self._error: NoAnswer | None = None
        try:  # a daemon: Ctrl-C does not wait for squeue
            threading.Thread(target=self._ask, name="kernelctl-squeue", daemon=True).start()
        except RuntimeError:  # no thread to be had (a login node's process limit): ask now
            self._ask()

    def _ask(self) -> None:
        try:
            self._jobs = _kernel_jobs()
        except NoAnswer as err:
            self._error = err
        finally:
            self._answered.set()

    def jobs(self) -> list[tuple[str, str, str]] | None:
        """What :func:`_kernel_jobs` answered (raising its :class:`NoAnswer`)."""
        self._answered.wait()
        if self._error is not None:
            raise self._error
        return self._jobs


def server_gone(rundir: Path, now: float | None = None) -> str | None:
    """Why the server of the kernel with run dir ``rundir`` is gone, or None if it beats."""
    try:
        age = (now or time.time()) - (rundir / channel.HEARTBEAT).stat().st_mtime
    except FileNotFoundError:
        return "its server's run dir is gone" if not rundir.exists() else "its server never beat"
    return f"its server's last heartbeat was {age:.0f} s ago" if age > STALE_AFTER else None


def find(query: JobQuery | None = None) -> list[Orphan] | None:
    """This user's kernel jobs whose server is gone (from ``query``, or a query made now);
    None where there is no Slurm, and :class:`NoAnswer` when it cannot be asked."""
    jobs = (query or JobQuery()).jobs()
    if jobs is None:
        return None
    found = []
    for job_id, name, state in jobs:
        kernel_id = name[len(JOB_PREFIX):]
        why = server_gone(rundir_for(kernel_id))
        if why:
            found.append(Orphan(job_id, state, kernel_id, why))
    return found


def cancel(orphans: list[Orphan]) -> None:
    if orphans:
        subprocess.run(["scancel", *(o.job_id for o in orphans)], capture_output=True, timeout=60)


def doctor_report(fix: bool, query: JobQuery | None = None) -> tuple[list[dict[str, Any]], str | None]:
    """For ``kernelctl doctor``: one record per orphan kernel job (with ``fix`` they are
    cancelled, and ``cancelled`` says so), and why Slurm could not be asked, if it could not.
    Where there is no Slurm (no ``squeue``) there is nothing to report; neither is a failure
    of the kernels."""
    try:
        orphans = find(query)
    except NoAnswer as err:
        return [], f"{err}, so orphan Slurm kernel jobs were not looked for"
    if orphans is None:
        return [], None
    if fix:
        cancel(orphans)
    return [{"job_id": o.job_id, "state": o.state, "kernel_id": o.kernel_id, "why": o.why, "cancelled": fix}
            for o in orphans], None


def describe(records: list[dict[str, Any]]) -> list[str]:
    """doctor's text lines for :func:`doctor_report`'s records."""
    if not records:
        return []
    lines = [f"ORPHAN  Slurm job {r['job_id']} ({r['state']}) of a Slurm kernel: {r['why']}" for r in records]
    if all(r["cancelled"] for r in records):
        return [*lines, "        cancelled"]
    ids = " ".join(r["job_id"] for r in records)
    return [*lines, f"        fix: scancel {ids}  (or kernelctl doctor --fix)"]
