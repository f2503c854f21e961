"""``kernelctl submit``: hand a notebook to Slurm as a batch job that runs it with
``kernelctl run`` in one of kernelctl's kernels (a job array for a parameter sweep)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from kernelctl.commands.args import add_json_flag, add_parser
from kernelctl.commands.run import default_output, read_notebook
from kernelctl.errors import UsageError
from kernelctl.fsutil import write_atomic
from kernelctl.output import print_json
from kernelctl.slurm import checks, options, queue, records, sweep
from kernelctl.slurm.script import JobScript, Task, render, report_path

# Runs the kernelctl that submitted, so the compute node uses the same installation.
KERNELCTL_ARGV = (sys.executable, "-m", "kernelctl")


def _sbatch_options(time: str | None, cpus: int | None, mem: str | None, gpus: str | None,
                    account: str | None, partition: str | None, after: str | None) -> list[str]:
    """The checked resource options, as ``#SBATCH`` lines spell them."""
    if time:
        options.time_seconds(time)  # refuses a malformed limit
    wanted = [
        ("--time", time),
        ("--cpus-per-task", cpus and options.check_count("--cpus", cpus)),
        ("--mem", mem and options.check_mem(mem)),
        ("--gpus", gpus and options.check_gpus(gpus)),
        ("--account", account),
        ("--partition", partition),
        ("--dependency", after and f"afterok:{options.check_job_id(after)}"),
    ]
    return [f"{flag}={value}" for flag, value in wanted if value]


def _tasks(notebook: Path, output: Path | None, sweeps: Sequence[str]) -> tuple[list[Task], list[dict[str, str]]]:
    if not sweeps:
        if output is not None and sweep.template_fields(str(output)):
            raise UsageError(f"-o {str(output)!r} has {{fields}} but nothing is swept",
                             "Add --sweep NAME=V1,V2 for each field, or give -o a plain path.")
        return [Task((output or default_output(notebook)).absolute())], []
    combos = sweep.combinations(sweeps)
    outputs = sweep.sweep_outputs(output, default_output(notebook), combos)
    return [Task(path.absolute(), tuple(c.items())) for path, c in zip(outputs, combos)], combos


def _script_path(notebook: Path, tasks: Sequence[Task]) -> Path:
    """Kept beside the (first) output: ``X.out.sbatch``, or ``STEM.sweep.sbatch`` for an array."""
    first = tasks[0].output
    if len(tasks) > 1:
        return first.with_name(f"{notebook.stem}.sweep.sbatch")
    return first.with_name(first.name.removesuffix(".ipynb") + ".sbatch")


def _log_path(notebook: Path, tasks: Sequence[Task]) -> Path:
    """Slurm's stdout/stderr file: the run's live progress (%j job id, %A_%a array task)."""
    first = tasks[0].output
    if len(tasks) > 1:
        return first.with_name(f"{notebook.stem}.sweep-%A_%a.log")
    return first.with_name(first.name.removesuffix(".ipynb") + "-%j.log")


def _resumed(notebook: Path | None, resume: Path, parameters: Sequence[Any], sweeps: Sequence[str],
             output: Path | None) -> tuple[Path, Any]:
    """The source notebook of the stopped run whose output is ``resume``, and that output."""
    from kernelctl.notebook import state

    if parameters or sweeps or output is not None:
        raise UsageError("--resume continues one stopped run, with its own parameters and output",
                         "Leave out -p/-f/--sweep/-o, or submit a new run without --resume.")
    out = read_notebook(resume)
    source = state.run_settings(out).get("source")
    if not source:
        raise UsageError(f"{resume} was not written by 'kernelctl run' (or its record of the run is damaged)",
                         "Pass the output notebook of a stopped run.")
    if notebook is not None and notebook.absolute() != Path(source):
        raise UsageError(f"{resume} is the output of {source}, not of {notebook}", "Leave out NOTEBOOK with --resume.")
    if not state.resume_plan(out)[1]:
        raise UsageError(f"every cell of {resume} already finished: there is nothing to resume",
                         "Submit a new run without --resume to run it again.")
    return Path(source), out


def _checked_tasks(notebook: Path | None, kernel: str | None, output: Path | None,
                   parameters: Sequence[tuple[str, str]], parameter_file: Path | None, sweeps: Sequence[str],
                   resume: Path | None, strict: bool) -> tuple[Path, str, list[Task], list[dict[str, str]], list[Any]]:
    """The login-node checks: (the notebook, its kernel, the tasks, the sweep's
    combinations, netguard's findings), or the error that would have failed the job."""
    from kernelctl.commands.scan import scan
    from kernelctl.notebook.params import load_file

    from_file = list(load_file(parameter_file)) if parameter_file is not None else []
    if resume is not None:
        notebook, nb = _resumed(notebook, resume, [*parameters, *from_file], sweeps, output)
        tasks, combos = [Task(resume.absolute())], []
    elif notebook is None:
        raise UsageError("no notebook given", "Pass NOTEBOOK, or --resume OUTPUT to continue a stopped run.")
    else:
        notebook = notebook.absolute()
        nb = read_notebook(notebook)
        tasks, combos = _tasks(notebook, output, sweeps)
    # resolved: "-o sub/../nb.ipynb" or a symlink to the notebook is the notebook too
    written = [path for task in tasks for path in (task.output, report_path(task.output))]
    if notebook.resolve() in {path.resolve() for path in [*written, _script_path(notebook, tasks)]}:
        raise UsageError("the output would overwrite the notebook itself",
                         "Give -o another path: the input is never modified.")
    swept = list(combos[0]) if combos else []
    checks.check_parameters(nb, notebook, [*from_file, *(name for name, _ in parameters), *swept])
    found = checks.healthy_kernel(kernel, nb, notebook)  # last: it starts the kernel's Python
    findings = [f for report in scan([notebook], found.manifest.options.netguard_allow) for f in report["findings"]]
    if findings and strict:
        raise UsageError(f"netguard found {len(findings)} line(s) that need the internet in {notebook.name} (--strict)",
                         f"Fix them (see 'kernelctl scan {notebook}'), or submit without --strict.")
    return notebook, found.spec.name, tasks, combos, findings


def submit(notebook: Path | None, kernel: str | None = None, output: Path | None = None,
           parameters: Sequence[tuple[str, str]] = (), parameter_file: Path | None = None,
           time: str | None = None, cpus: int | None = None, mem: str | None = None, gpus: str | None = None,
           account: str | None = None, partition: str | None = None, sbatch_args: Sequence[str] = (),
           sweeps: Sequence[str] = (), after: str | None = None, dry_run: bool = False,
           strict: bool = False, resume: Path | None = None) -> dict[str, Any]:
    """Check everything that can be checked here, write the job script and queue it.

    Returns the job id (None for ``dry_run``), the script (path and text), the notebook,
    kernel, outputs and sweep combinations, and netguard's findings. With ``strict``,
    findings refuse the submission. ``resume`` names the output of a stopped run to
    continue (``kernelctl run --resume`` in the job) instead of a new run.
    """
    sbatch = _sbatch_options(time, cpus, mem, gpus, account, partition, after)
    extra = [options.check_sbatch_arg(a) for a in sbatch_args]
    notebook, kernel, tasks, combos, findings = _checked_tasks(notebook, kernel, output, parameters, parameter_file,
                                                               sweeps, resume, strict)
    run_args = ["-f", str(parameter_file.absolute())] if parameter_file is not None else []
    run_args += [arg for name, value in parameters for arg in ("-p", name, value)]
    log = _log_path(notebook, tasks)
    text = render(JobScript(notebook=notebook, kernel=kernel, tasks=tasks, kernelctl=KERNELCTL_ARGV, run_args=run_args,
                            sbatch=sbatch, time_limit=options.time_seconds(time) if time else None,
                            log=log, extra=extra, resume=resume is not None))
    script = _script_path(notebook, tasks)
    outputs = [str(t.output) for t in tasks]
    result: dict[str, Any] = {"job_id": None, "script": None if dry_run else str(script), "script_text": text,
                              "notebook": str(notebook), "kernel": kernel, "outputs": outputs,
                              "combinations": combos, "findings": findings}
    if dry_run:
        return result
    queue.slurm_command("sbatch")  # before writing anything
    records.ready()  # a job queued without its record would be one 'kernelctl jobs' never shows
    for task in tasks:
        task.output.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(script, text, mode=0o755)
    try:
        result["job_id"] = queue.sbatch(script)
    except BaseException:
        script.unlink(missing_ok=True)  # nothing queued: no script to keep
        raise
    records.save(records.JobRecord(  # after ready(), only a full disk or a race can fail here
        id=result["job_id"], notebook=str(notebook), kernel=kernel,
        submitted=datetime.now(timezone.utc).isoformat(timespec="seconds"), script=str(script), outputs=outputs,
        reports=[str(report_path(t.output)) for t in tasks], combinations=combos, time=time, mem=mem,
        log=str(log)))
    return result


EXAMPLES = """\
  kernelctl submit analysis.ipynb -k myenv --time 2:00:00 --account def-me
  kernelctl submit train.ipynb -k ml --gpus 1 -p epochs 50 -o runs/e50.ipynb
  kernelctl submit model.ipynb -k myenv --sweep alpha=0.1,0.2 --sweep n=10,20 \\
      -o 'out/model-{alpha}-{n}.ipynb'                  one job array, 4 outputs
  kernelctl submit analysis.ipynb -k myenv --time 30 --dry-run   print script
  kernelctl submit report.ipynb -k myenv --after 4242 --sbatch-arg=--qos=high
  kernelctl submit --resume analysis.out.ipynb --time 4:00:00   continue it

The job script is kept beside the output (X.out.sbatch, or STEM.sweep.sbatch),
and Slurm's log, with the run's live progress, beside it (X.out-JOBID.log).
'kernelctl jobs' lists the jobs and why they ended. Jobs of 5 minutes or more
get SIGUSR1 120 s before their time limit; the run then saves its output with
the interrupted cell marked, ready for --resume.

exit status: 0 queued (or printed), 1 a failure (Slurm refused, broken kernel),
2 usage error"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_parser(
        subparsers, "submit",
        "Run a notebook as a Slurm batch job with 'kernelctl run', in one of kernelctl's\n"
        "kernels (its modules and env loaded on the compute node as in JupyterLab).\n"
        "Before queueing, checks the kernel, the notebook, its parameters and netguard's\n"
        "scan. Prints the job id on stdout.",
        EXAMPLES,
    )
    parser.add_argument("notebook", type=Path, metavar="NOTEBOOK", nargs="?",
                        help="the notebook to run (never modified; optional with --resume)")
    parser.add_argument("-k", "--kernel", metavar="NAME",
                        help="the kernelctl kernel to run it in (default: the notebook's own kernel)")
    parser.add_argument("-o", "--output", type=Path, metavar="PATH",
                        help="output notebook (default: STEM.out.ipynb beside it); with --sweep, {NAME} fields "
                             "are filled with each combination's values")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                        help="set a parameter, as papermill does (repeatable)")
    parser.add_argument("-f", "--parameters-file", type=Path, metavar="FILE",
                        help="parameters from a YAML or JSON file (-p overrides them)")
    slurm = parser.add_argument_group("Slurm resources")
    slurm.add_argument("--time", metavar="T", help="time limit: MINUTES, H:M:S or D-H[:M] (default: the partition's)")
    slurm.add_argument("--cpus", type=int, metavar="N", help="CPU cores (--cpus-per-task)")
    slurm.add_argument("--mem", metavar="M", help="memory, e.g. 8G")
    slurm.add_argument("--gpus", metavar="G", help="GPUs: a count or TYPE:COUNT")
    slurm.add_argument("--account", metavar="A", help="the account to charge, e.g. def-yourpi")
    slurm.add_argument("--partition", metavar="P", help="the partition to queue in")
    slurm.add_argument("--sbatch-arg", action="append", default=[], metavar="ARG",
                       help="any other sbatch option, e.g. --sbatch-arg=--qos=high (repeatable)")
    slurm.add_argument("--after", metavar="JOBID", help="start only after job JOBID finished successfully")
    parser.add_argument("--sweep", action="append", default=[], metavar="NAME=V1,V2",
                        help="run once per value (repeatable: the product of all), as one job array")
    parser.add_argument("--resume", type=Path, metavar="OUTPUT",
                        help="continue the stopped run that wrote OUTPUT, as a new job (e.g. with more --time)")
    parser.add_argument("--dry-run", action="store_true", help="print the job script; check, but queue nothing")
    parser.add_argument("--strict", action="store_true", help="refuse to submit when netguard finds internet use")
    add_json_flag(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from kernelctl.commands.scan import format_finding

    result = submit(args.notebook, args.kernel, args.output, [tuple(p) for p in args.parameter],
                    args.parameters_file, args.time, args.cpus, args.mem, args.gpus, args.account, args.partition,
                    args.sbatch_arg, args.sweep, args.after, args.dry_run, args.strict, args.resume)
    if args.json:
        print_json(result)
        return 0
    for finding in result["findings"]:
        print(f"warning: {format_finding(result['notebook'], finding)}", file=sys.stderr)
    if args.dry_run:
        sys.stdout.write(result["script_text"])
        return 0
    outputs = result["outputs"]
    print(f"submitted job {result['job_id']}: {result['notebook']} in kernel {result['kernel']!r}, "
          + (f"{len(outputs)} array tasks, outputs {outputs[0]} ..." if len(outputs) > 1 else f"output {outputs[0]}")
          + f"; script {result['script']}", file=sys.stderr)
    print(result["job_id"])
    return 0
