"""The record kernelctl keeps of each job it submitted: ``$KERNELCTL_HOME/jobs/ID.json``,
written atomically, so ``kernelctl jobs`` can list them with their notebooks and outputs."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from kernelctl.errors import UsageError
from kernelctl.fsutil import own_dir, read_small_text, write_json_atomic
from kernelctl.paths import kernelctl_home
from kernelctl.slurm.options import check_mem, time_seconds


@dataclass(frozen=True)
class JobRecord:
    """One submitted job; an array job lists one output (and report) per task, in task order."""

    id: str
    notebook: str
    kernel: str
    submitted: str  # ISO 8601, UTC
    script: str
    outputs: list[str]
    reports: list[str]
    combinations: list[dict[str, str]] = field(default_factory=list)  # per task, for sweeps
    time: str | None = None  # the --time and --mem asked for, to suggest more after a TIMEOUT or OOM
    mem: str | None = None
    log: str | None = None  # Slurm's --output pattern (%j, %A, %a), where Slurm reports a memory kill

    @property
    def is_array(self) -> bool:
        return len(self.outputs) > 1 or bool(self.combinations)

    def task_ids(self) -> list[str]:
        """Slurm's id for each task: ``123`` for a plain job, ``123_0``, ``123_1``... for an array."""
        return [f"{self.id}_{i}" for i in range(len(self.outputs))] if self.is_array else [self.id]

    def log_path(self, index: int) -> Path | None:
        """Slurm's log of task ``index``."""
        if self.log is None:
            return None
        return Path(self.log.replace("%A", self.id).replace("%a", str(index)).replace("%j", self.id))


def jobs_dir() -> Path:
    return kernelctl_home() / "jobs"


def ready() -> Path:
    """The jobs directory, made if missing, or the error that would keep a record out of it:
    checked before a job is queued, so a job is never queued without its record. A symlink
    or a directory not the user's is refused, as for kernelctl's other directories."""
    kernelctl_home().mkdir(parents=True, exist_ok=True)
    return own_dir(jobs_dir())


def save(record: JobRecord) -> Path:
    path = ready() / f"{record.id}.json"
    write_json_atomic(path, asdict(record))
    return path


def parse(text: str) -> JobRecord:
    """The record in ``text``; ValueError or TypeError unless it is one :func:`save` wrote
    (a damaged or hand-edited file must not break ``kernelctl jobs`` for the others)."""
    record = JobRecord(**json.loads(text))
    n = len(record.outputs) if isinstance(record.outputs, list) else 0
    texts = [record.id, record.notebook, record.kernel, record.submitted, record.script, *record.outputs]
    if (not all(isinstance(t, str) for t in texts) or not record.id.isdigit() or n == 0
            or not all(t is None or isinstance(t, str) for t in (record.time, record.mem, record.log))
            or not isinstance(record.reports, list) or len(record.reports) != n
            or not all(isinstance(r, str) for r in record.reports)
            or not isinstance(record.combinations, list) or len(record.combinations) not in (0, n)
            or not all(isinstance(c, dict) for c in record.combinations)):
        raise ValueError("not a job record kernelctl wrote")
    try:  # what explain.py computes more time and memory from
        if record.time is not None:
            time_seconds(record.time)
        if record.mem is not None:
            check_mem(record.mem)
    except UsageError as err:
        raise ValueError(err.message) from None
    return record


def load_all() -> list[JobRecord]:
    """Every readable record, oldest submission first (an unreadable or damaged file, or one
    that is not a regular file, is skipped)."""
    records = []
    for path in sorted(jobs_dir().glob("*.json")):
        try:
            records.append(parse(read_small_text(path)))
        except (OSError, ValueError, TypeError):
            continue
    return sorted(records, key=lambda r: (r.submitted, r.id))
