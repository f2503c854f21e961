"""Slurm kernels' jobs whose Jupyter server is gone (it was killed, or its machine went down
before the job's own watchdog could end it, e.g. while the job was still pending): found by
their job name and their run dir's heartbeat, for ``kernelctl doctor`` to list and cancel."""

from __future__ import annotations

import getpass
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from kernelctl.slurmkernel import channel
from kernelctl.slurmkernel.jobscript import JOB_PREFIX
from kernelctl.slurmkernel.provisioner import SlurmProvisioner, rundir_for

# A server beats every heartbeat_interval; three missed beats and more mean it is gone.
STALE_AFTER = 3 * SlurmProvisioner.heartbeat_interval.default_value


@dataclass(frozen=True)
class Orphan:
    job_id: str
    state: str
    kernel_id: str
    why: str


def _kernel_jobs() -> list[tuple[str, str, str]] | None:
    """(job id, job name, state) of this user's kernel jobs; None without a Slurm to ask."""
    try:
        proc = subprocess.run(["squeue", "-h", "-u", getpass.getuser(), "-o", "%i|%j|%T"], capture_output=True,
                              text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0:
        return None
    rows = [tuple(line.split("|")) for line in proc.stdout.splitlines() if line.count("|") == 2]
    return [row for row in rows if row[1].startswith(JOB_PREFIX)]  # type: ignore[misc]


def server_gone(rundir: Path, now: float | None = None) -> str | None:
    """Why the server of the kernel with run dir ``rundir`` is gone, or None if it beats."""
    try:
        age = (now or time.time()) - (rundir / channel.HEARTBEAT).stat().st_mtime
    except FileNotFoundError:
        return "its server's run dir is gone" if not rundir.exists() else "its server never beat"
    return f"its server's last heartbeat was {age:.0f} s ago" if age > STALE_AFTER else None


def find() -> list[Orphan] | None:
    """This user's kernel jobs whose server is gone; None when Slurm cannot be asked."""
    jobs = _kernel_jobs()
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


def doctor_report(fix: bool) -> tuple[bool, list[str], list[dict[str, str]]]:
    """For ``kernelctl doctor``: (healthy, lines to print, records) on orphan kernel jobs;
    with ``fix`` they are cancelled (and reported as such)."""
    orphans = find()
    if not orphans:
        return True, [], []
    if fix:
        cancel(orphans)
    verb = "cancelled" if fix else "fix: scancel " + " ".join(o.job_id for o in orphans) + "  (or kernelctl doctor --fix)"
    lines = [f"ORPHAN  Slurm job {o.job_id} ({o.state}) of a Slurm kernel: {o.why}" for o in orphans] + [f"        {verb}"]
    return fix, lines, [{"job_id": o.job_id, "state": o.state, "kernel_id": o.kernel_id, "why": o.why,
                         "cancelled": fix} for o in orphans]
