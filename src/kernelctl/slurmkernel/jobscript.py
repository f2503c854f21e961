"""The sbatch script of a Slurm kernel's job: its options, then the agent, which starts the
kernel's own argv on the node. No secret is in it: the agent reads them from the run dir."""

from __future__ import annotations

import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from kernelctl.slurmkernel import channel

AGENT = Path(__file__).with_name("agent.py")
JOB_PREFIX = "kernelctl-kernel-"


def job_name(kernel_id: str) -> str:
    """Names the job as kernelctl's, so doctor can find it and its run dir."""
    return JOB_PREFIX + kernel_id


def render(kernel_id: str, kernel_name: str, rundir: Path, options: Sequence[str], cwd: str | None,
           python: str = sys.executable) -> str:
    """The job script's text: ``#SBATCH`` lines (the user's options last but for the
    ones kernelctl must set), then ``exec`` of the agent, so Slurm's signals reach it."""
    q = shlex.quote
    lines = ["#!/bin/bash",
             f"# Written by kernelctl's Slurm kernel provisioner for kernel {kernel_name!r}.",
             f"#SBATCH --job-name={job_name(kernel_id)}",
             f"#SBATCH --output={q(str(rundir / channel.JOB_LOG))}",
             "#SBATCH --nodes=1", "#SBATCH --ntasks=1"]
    # An #SBATCH line is not shell-quoted: a line break in the notebook's directory name would
    # end it and run the rest as a command, so such a directory is entered by the shell instead.
    one_line = cwd is not None and not any(c in cwd for c in "\n\r")
    if cwd and one_line:
        lines.append(f"#SBATCH --chdir={q(cwd)}")
    lines += [f"#SBATCH {option}" for option in options if not option.startswith(("--nodes=", "--ntasks="))]
    if cwd and not one_line:
        lines.append(f"cd -- {q(cwd)} || exit 1")
    lines.append(f"exec {q(python)} -I -S {q(str(AGENT))} {q(str(rundir))}")
    return "\n".join(lines) + "\n"
