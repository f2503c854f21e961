"""``kernelctl jobs``: the Slurm jobs kernelctl submitted, their state and why they ended."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from kernelctl.commands.args import add_json_flag, add_parser
from kernelctl.output import format_table, print_json


def list_jobs() -> list[dict[str, Any]]:
    """One entry per job (per task of an array), oldest first: id, state, the reason Slurm
    gives, notebook, output, kernel, the sweep's values, and ``explanation``."""
    from kernelctl.slurm import explain, queue, records

    jobs = records.load_all()
    states = queue.job_states(r.id for r in jobs)
    listed = []
    for record in jobs:
        for index, task_id in enumerate(record.task_ids()):
            output = Path(record.outputs[index])
            report = explain.read_json(Path(record.reports[index]))
            log = record.log_path(index)
            state, reason = states.get(task_id) or (explain.state_from_report(report, record.time, log), "")
            listed.append({
                "id": task_id, "state": state, "reason": reason, "notebook": record.notebook, "output": str(output),
                "kernel": record.kernel, "submitted": record.submitted, "script": record.script,
                "parameters": record.combinations[index] if record.combinations else {},
                "explanation": explain.explain(state, reason, report, output, record.time, record.mem, log),
            })
    return listed


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_parser(
        subparsers, "jobs",
        "List the jobs 'kernelctl submit' queued, with their state from squeue (and\n"
        "sacct where Slurm keeps accounting, else from each run's report), and say why\n"
        "a job ended: out of time (at which cell, and how to resume), out of memory\n"
        "(the measured peak and a --mem to ask for), or the cell that failed.",
        "  kernelctl jobs\n  kernelctl jobs --json",
    )
    add_json_flag(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    jobs = list_jobs()
    if args.json:
        print_json({"jobs": jobs})
        return 0
    if not jobs:
        print("kernelctl has submitted no jobs (from this KERNELCTL_HOME).")
        return 0
    rows = [(j["id"], j["state"], j["kernel"], Path(j["notebook"]).name, j["output"]) for j in jobs]
    lines = format_table(["JOBID", "STATE", "KERNEL", "NOTEBOOK", "OUTPUT"], rows).splitlines()
    print(lines[0])
    for line, job in zip(lines[1:], jobs):
        print(line)
        if job["explanation"]:
            print(f"    {job['explanation']}")
    return 0
