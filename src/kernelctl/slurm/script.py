"""The sbatch job script ``kernelctl submit`` writes: ``#SBATCH`` options, then
``kernelctl run`` of the notebook in its kernel (one combination per array task)."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from kernelctl.errors import UsageError

# Seconds before the time limit at which Slurm sends the run SIGUSR1 to save and stop.
# Slurm may send it up to 60 s earlier than asked, so the grace exceeds that jitter.
SIGNAL_GRACE = 120
# Below this limit an early signal could arrive before the first cell ends; such short
# jobs save on the SIGTERM Slurm sends at the limit itself (KillWait gives them 30 s).
MIN_LIMIT_FOR_SIGNAL = 5 * 60


@dataclass(frozen=True)
class Task:
    """One run of the notebook: where its output goes and the parameters it alone gets."""

    output: Path
    parameters: Sequence[tuple[str, str]] = ()


@dataclass(frozen=True)
class JobScript:
    """Everything the script says; paths are absolute."""

    notebook: Path
    kernel: str
    tasks: Sequence[Task]
    kernelctl: Sequence[str]  # the argv prefix that runs the submitting kernelctl
    run_args: Sequence[str] = ()  # passed to every run: shared -p/-f
    sbatch: Sequence[str] = ()  # options for #SBATCH lines, e.g. "--time=60"
    time_limit: int | None = None  # seconds, when --time was given
    log: Path | None = None  # Slurm's own stdout/stderr file (pattern)
    extra: Sequence[str] = field(default_factory=list)  # --sbatch-arg values, last so they win
    resume: bool = False  # continue the stopped run whose output is the (one) task's output

    @property
    def is_array(self) -> bool:
        return len(self.tasks) > 1


def report_path(output: Path) -> Path:
    """The ``--report`` JSON the job writes beside ``output`` (``x.out.ipynb`` -> ``x.out.report.json``)."""
    return output.with_name(output.name.removesuffix(".ipynb") + ".report.json")


def signal_option(time_limit: int | None) -> str | None:
    """``--signal=B:USR1@<grace>`` (batch shell only: the shell is the run), or None for
    limits too short to signal before the end without cutting into the first cells."""
    if time_limit is not None and time_limit < MIN_LIMIT_FOR_SIGNAL:
        return None
    return f"--signal=B:USR1@{SIGNAL_GRACE}"


def _run_line(job: JobScript) -> str:
    if job.resume:  # the output notebook records the notebook, kernel and parameters
        return shlex.join([*job.kernelctl, "run"]) + ' --resume "$output" --report "${output%.ipynb}.report.json"'
    argv = [*job.kernelctl, "run", str(job.notebook), "--kernel", job.kernel, *job.run_args]
    return shlex.join(argv) + ' --output "$output" --report "${output%.ipynb}.report.json" "$@"'


def _one_line(text: str) -> None:
    """Refuse ``text`` for a comment or ``#SBATCH`` line, where shell quoting does not apply: a
    line break in it would end the line and make the rest of it a command of the script."""
    if any(c in text for c in "\n\r\0"):
        raise UsageError(f"{text!r} has a line break, which cannot go into a job script",
                         "Rename the file or directory, or fix the option, so that it holds no line break.")


def render(job: JobScript) -> str:
    """The script's text."""
    q = shlex.quote
    options = [f"--job-name={q('kernelctl-' + job.notebook.stem)}", f"--chdir={q(str(job.notebook.parent))}"]
    if job.log is not None:
        options.append(f"--output={q(str(job.log))}")
    options += list(job.sbatch)
    signal = signal_option(job.time_limit)
    if signal:
        options.append(signal)
    if job.is_array:
        options.append(f"--array=0-{len(job.tasks) - 1}")
    options += list(job.extra)
    for text in [str(job.notebook), *options]:
        _one_line(text)
    lines = ["#!/bin/bash",
             f"# Written by kernelctl submit: runs {job.notebook.name} in kernel {job.kernel!r} with kernelctl run.",
             "# Submit it again with 'sbatch THIS-FILE' (outputs are overwritten)."]
    lines += [f"#SBATCH {option}" for option in options]
    lines.append("set -eu")
    if job.is_array:
        lines.append('case "$SLURM_ARRAY_TASK_ID" in')
        for index, task in enumerate(job.tasks):
            params = " ".join(f"-p {q(name)} {q(value)}" for name, value in task.parameters)
            lines.append(f"  {index}) output={q(str(task.output))}; set -- {params} ;;")
        lines.append('  *) echo "kernelctl: this job has no array task $SLURM_ARRAY_TASK_ID" >&2; exit 2 ;;')
        lines.append("esac")
    else:
        lines.append(f"output={q(str(job.tasks[0].output))}; set --")
    if signal is None:
        lines.append("# The time limit is too short for an early signal: the run saves on the SIGTERM at the limit.")
    lines.append("# exec: the batch shell becomes the run, so Slurm's signals reach it directly; the kernel's")
    lines.append("# launcher loads its modules and environment on this node as it does in JupyterLab.")
    lines.append("exec " + _run_line(job))
    return "\n".join(lines) + "\n"
