"""Talking to Slurm's commands: ``sbatch`` to queue a script, ``squeue`` and ``sacct`` for
job states. Their failures become one-line :class:`KernelctlError`s that say what to do."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterable, Sequence
from pathlib import Path

from kernelctl.errors import KernelctlError

_TIMEOUT = 60  # seconds; a controller that does not answer in a minute is down
_HINTS = (  # (words in sbatch's error, what to do); the first match wins
    ("account", "Run 'sacctmgr -n show assoc user=$USER format=account' to see your accounts, "
                "and pass one with --account."),
    ("partition", "Run 'sinfo -s' to see the partitions you may use, and pass one with --partition."),
    ("time limit", "Ask for less: 'sinfo -s' shows each partition's TIMELIMIT; pass --time within it "
                   "(or another --partition)."),
    ("memory", "Ask for less --mem, or a partition whose nodes have more ('sinfo -o \"%P %m\"')."),
    ("gres", "Check --gpus against what the partition offers ('sinfo -o \"%P %G\"')."),
    ("unable to contact", "Slurm's controller is not answering; try again in a minute, or ask your site's support."),
)


def slurm_command(name: str) -> str:
    """The path of Slurm's command ``name``, or an error saying this machine has no Slurm."""
    path = shutil.which(name)
    if path is None:
        raise KernelctlError(f"{name} is not on PATH: this machine has no Slurm client",
                             "Run kernelctl submit on the cluster's login node (or 'module load slurm' first); "
                             "--dry-run prints the job script without Slurm.")
    return path


def _slurm_error(stderr: str) -> str:
    """The line of a Slurm command's stderr that says what went wrong."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if "error:" in line]
    # sbatch prints the specific reason first, then "Batch job submission failed: <generic>"
    specific = [line for line in errors if "submission failed" not in line]
    line = (specific or errors or lines or ["no message"])[0]
    return line.split("error:", 1)[-1].replace("Batch job submission failed:", "").strip()


def hint_for(message: str) -> str:
    """What to do about a message from sbatch."""
    lowered = message.lower()
    for words, hint in _HINTS:
        if words in lowered:
            return hint
    return "Check the #SBATCH lines of the job script (kernelctl submit --dry-run prints it)."


def sbatch(script: Path) -> str:
    """Queue ``script``; return the job id sbatch printed."""
    argv = [slurm_command("sbatch"), "--parsable", str(script)]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise KernelctlError("sbatch did not answer within a minute", hint_for("unable to contact")) from None
    if proc.returncode != 0:
        message = _slurm_error(proc.stderr)
        raise KernelctlError(f"Slurm refused the job: {message}", hint_for(message + proc.stderr))
    job_id = proc.stdout.strip().split(";")[0]  # --parsable prints ID or ID;CLUSTER
    if not job_id.isdigit():
        raise KernelctlError(f"sbatch printed no job id ({proc.stdout.strip()!r})", hint_for(""))
    return job_id


def parse_squeue(text: str) -> dict[str, tuple[str, str]]:
    """``squeue -h -r -o '%i|%T|%r'`` lines -> {job id (``123`` or ``123_4``): (state, reason)}."""
    states = {}
    for line in text.splitlines():
        parts = line.strip().split("|")
        if len(parts) == 3:
            states[parts[0]] = (parts[1], parts[2])
    return states


def parse_sacct(text: str) -> dict[str, tuple[str, str]]:
    """``sacct -n -P -X -o JobID,State,Reason`` lines -> {job id: (state, reason)}.

    sacct writes ``CANCELLED by 0`` for a cancelled job; the state is its first word.
    """
    states = {}
    for line in text.splitlines():
        parts = line.strip().split("|")
        if len(parts) == 3 and parts[0]:
            states[parts[0]] = (parts[1].split()[0] if parts[1] else "", parts[2])
    return states


def _query(argv: Sequence[str]) -> str | None:
    """A query's stdout, or None when the command is missing, fails or hangs."""
    if shutil.which(argv[0]) is None:
        return None
    try:
        proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=_TIMEOUT)
    except subprocess.TimeoutExpired:
        return None
    return proc.stdout if proc.returncode == 0 else None


def job_states(job_ids: Iterable[str]) -> dict[str, tuple[str, str]]:
    """The state and reason of each of ``job_ids``' tasks Slurm still knows.

    squeue knows queued and running jobs, and finished ones for the controller's MinJobAge;
    sacct (only where accounting runs) knows the rest. Missing jobs are left out.
    """
    ids = sorted(set(job_ids))
    if not ids:
        return {}
    states = parse_sacct(_query(["sacct", "-n", "-P", "-X", "-o", "JobID,State,Reason", "-j", ",".join(ids)]) or "")
    # squeue is newer than accounting for jobs it still holds; -j would fail on ids it forgot
    states.update(parse_squeue(_query(["squeue", "-h", "-r", "--states=all", "-o", "%i|%T|%r"]) or ""))
    return {job: state for job, state in states.items() if job.split("_")[0] in ids}
