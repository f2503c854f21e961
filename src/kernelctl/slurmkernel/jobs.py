"""The Slurm commands a Slurm kernel needs, as coroutines for the provisioner: queue the job
script (on stdin, so no script file is left), read a job's state and pending reason, cancel a
job or signal its batch shell, and wait until the job has left the queue."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Sequence

from kernelctl.errors import KernelctlError
from kernelctl.slurm import queue

# squeue states of a job that still holds (or waits for) its allocation
ACTIVE = frozenset({"PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "SUSPENDED", "REQUEUED", "RESIZING",
                    "SIGNALING", "STAGE_OUT", "REQUEUE_HOLD", "REQUEUE_FED", "RESV_DEL_HOLD"})
_TIMEOUT = 60


async def _run(argv: Sequence[str], stdin: str | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(subprocess.run, list(argv), input=stdin, capture_output=True, text=True,
                                   timeout=_TIMEOUT, env=env)


def job_environment(env: dict[str, str]) -> dict[str, str]:
    """``env`` without the variables of the job the server may itself run in (JupyterLab on
    a cluster is a job): sbatch would read SBATCH_* as options and the kernel's job would
    keep the outer job's SLURM_* values where its own do not replace them."""
    return {k: v for k, v in env.items() if k == "SLURM_CONF" or not k.startswith(("SLURM_", "SBATCH_", "SALLOC_", "SRUN_"))}


async def submit(script: str, env: dict[str, str]) -> str:
    """Queue ``script`` with ``env`` (less any outer job's variables) as the job's environment; the job id."""
    try:
        proc = await _run([queue.slurm_command("sbatch"), "--parsable"], stdin=script, env=job_environment(env))
    except subprocess.TimeoutExpired:
        raise KernelctlError("sbatch did not answer within a minute", queue.hint_for("unable to contact")) from None
    if proc.returncode != 0:
        message = queue._slurm_error(proc.stderr)
        raise KernelctlError(f"Slurm refused the kernel's job: {message}", queue.hint_for(message + proc.stderr))
    job_id = proc.stdout.strip().split(";")[0]
    if not job_id.isdigit():
        raise KernelctlError(f"sbatch printed no job id ({proc.stdout.strip()!r})", queue.hint_for(""))
    return job_id


async def state(job_id: str) -> tuple[str, str] | None:
    """(state, reason) of the job from squeue, ('', '') once squeue no longer lists it, or
    None when Slurm does not answer (treat as unknown, not as gone)."""
    try:
        proc = await _run(["squeue", "-h", "-j", job_id, "--states=all", "-o", "%T|%r"])
    except (subprocess.TimeoutExpired, OSError):
        return None
    if proc.returncode != 0:
        # squeue -j fails with "Invalid job id specified" once the controller forgot the job
        return ("", "") if "Invalid job id" in proc.stderr else None
    line = proc.stdout.strip().splitlines()
    if not line:
        return ("", "")
    found, _, reason = line[0].partition("|")
    return found, reason


async def scancel(job_id: str, *options: str) -> None:
    """``scancel [options] job_id``; a job that already ended is not an error."""
    try:
        await _run(["scancel", *options, job_id])
    except (subprocess.TimeoutExpired, OSError):
        pass


async def cancel_and_wait(job_id: str, timeout: float = 120.0) -> bool:
    """Cancel the job and wait until squeue no longer shows it active; whether it left."""
    await scancel(job_id)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = await state(job_id)
        if found is not None and found[0] not in ACTIVE:
            return True
        await asyncio.sleep(0.3)
    return False
