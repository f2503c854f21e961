"""Checking the Slurm resource options ``kernelctl submit`` takes, before sbatch sees them.

Each check returns the value as sbatch spells it or raises :class:`UsageError` with the
accepted forms, so a typo costs a second on the login node instead of a rejected job.
"""

from __future__ import annotations

import re

from kernelctl.errors import UsageError

# sbatch --time forms: M, M:S, H:M:S, D-H, D-H:M, D-H:M:S
_TIME_FORMS = tuple(re.compile(form) for form in (
    r"(?P<m>\d+)",
    r"(?P<m>\d+):(?P<s>\d+)",
    r"(?P<h>\d+):(?P<m>\d+):(?P<s>\d+)",
    r"(?P<d>\d+)-(?P<h>\d+)",
    r"(?P<d>\d+)-(?P<h>\d+):(?P<m>\d+)",
    r"(?P<d>\d+)-(?P<h>\d+):(?P<m>\d+):(?P<s>\d+)",
))
_MEM = re.compile(r"\d+[KMGT]?", re.IGNORECASE)
_GPUS = re.compile(r"(?:[A-Za-z0-9_.-]+:)?\d+")
_JOB_ID = re.compile(r"\d+(?:_\d+)?")

_TIME_HINT = "Give --time as Slurm does: MINUTES, HOURS:MINUTES:SECONDS or DAYS-HOURS[:MINUTES], e.g. 90, 2:00:00."


def time_seconds(value: str) -> int:
    """The length of an sbatch ``--time`` value in seconds (``"90"`` is 90 minutes)."""
    for pattern in _TIME_FORMS:
        match = pattern.fullmatch(value.strip())
        if match:
            parts = {k: int(v) for k, v in match.groupdict().items()}
            seconds = (parts.get("d", 0) * 24 + parts.get("h", 0)) * 3600 + parts.get("m", 0) * 60 + parts.get("s", 0)
            if seconds <= 0:
                break
            return seconds
    raise UsageError(f"--time {value!r} is not a Slurm time limit", _TIME_HINT)


def check_mem(value: str) -> str:
    """An sbatch ``--mem`` value: a number of megabytes, or with a K/M/G/T suffix."""
    if not _MEM.fullmatch(value.strip()) or int(re.sub(r"\D", "", value)) == 0:
        raise UsageError(f"--mem {value!r} is not a memory size",
                         "Give --mem as Slurm does, e.g. 4G, 500M or 8000 (megabytes).")
    return value.strip().upper()


def mem_bytes(value: str) -> int:
    """A checked ``--mem`` value in bytes (a bare number is megabytes, as for sbatch)."""
    units = {"K": 1, "M": 1024, "G": 1024**2, "T": 1024**3}
    value = value.upper()
    number, unit = (value[:-1], value[-1]) if value[-1] in units else (value, "M")
    return int(number) * units[unit] * 1024


def check_count(option: str, value: int) -> int:
    """A positive count (``--cpus``)."""
    if value < 1:
        raise UsageError(f"{option} must be at least 1, not {value}", f"Give {option} a positive whole number.")
    return value


def check_gpus(value: str) -> str:
    """An sbatch ``--gpus`` value: a count, or TYPE:COUNT."""
    if not _GPUS.fullmatch(value.strip()) or int(value.rsplit(":", 1)[-1]) == 0:
        raise UsageError(f"--gpus {value!r} is not a GPU request",
                         "Give --gpus as a count or TYPE:COUNT, e.g. 1 or a100:2.")
    return value.strip()


def check_job_id(value: str) -> str:
    """A job id for ``--after`` (``123`` or an array task ``123_4``)."""
    if not _JOB_ID.fullmatch(value.strip()):
        raise UsageError(f"--after {value!r} is not a Slurm job id",
                         "Pass the number 'kernelctl submit' or sbatch printed, e.g. --after 4242.")
    return value.strip()


def check_sbatch_arg(value: str) -> str:
    """One extra sbatch option for an ``#SBATCH`` line (``--qos=high``)."""
    value = value.strip()
    if not value.startswith("-") or "\n" in value:
        raise UsageError(f"--sbatch-arg {value!r} is not an sbatch option",
                         "Give one option per --sbatch-arg, joined with '=': --sbatch-arg=--qos=high")
    name = value.split("=", 1)[0] if value.startswith("--") else value[:2]
    if name in _SET_BY_SUBMIT:
        raise UsageError(f"--sbatch-arg {value!r}: kernelctl submit sets {name} itself",
                         "Use --sweep for several runs (one array task each); the script runs the notebook.")
    return value


# An --array of its own would run one notebook several times into the same output, or
# leave sweep combinations without a task; --wrap would replace the script.
_SET_BY_SUBMIT = frozenset({"--array", "-a", "--wrap"})
