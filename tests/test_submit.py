"""``kernelctl submit``: the checks made before queueing, the job script it writes, and
Slurm's refusals as one-line errors. Jobs that really run are in test_submit_slurm.py."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from kernelhelpers import assert_user_error, kernelctl, kernelctl_json
from slurmsupport import batch_kernel, notebook, slurm, slurm_cleanup, _module_kernel  # noqa: F401

from kernelctl.errors import UsageError
from kernelctl.slurm import options, sweep
from kernelctl.slurm.script import JobScript, Task, render, report_path


@pytest.mark.parametrize("value, seconds", [
    ("90", 5400), ("1", 60), ("5:30", 330), ("2:00:00", 7200), ("1-12", 129600), ("1-0:30", 88200),
    ("2-03:04:05", 183845),
])
def test_time_limits_in_slurm_forms(value: str, seconds: int) -> None:
    assert options.time_seconds(value) == seconds


@pytest.mark.parametrize("value", ["2h", "0", "1:2:3:4", "", "-5", "1-"])
def test_bad_time_limits_are_usage_errors(value: str) -> None:
    with pytest.raises(UsageError, match="not a Slurm time limit"):
        options.time_seconds(value)


def test_resource_checks() -> None:
    assert options.check_mem("8g") == "8G"
    assert options.check_gpus("a100:2") == "a100:2"
    assert options.check_job_id("4242_3") == "4242_3"
    for check, bad in [(options.check_mem, "8 GB"), (options.check_gpus, "0"), (options.check_job_id, "abc"),
                       (options.check_sbatch_arg, "qos=high")]:
        with pytest.raises(UsageError):
            check(bad)


def test_sweep_is_the_product_with_named_outputs(tmp_path: Path) -> None:
    combos = sweep.combinations(["alpha=0.1,0.2", "n=10,20"])
    assert combos == [{"alpha": "0.1", "n": "10"}, {"alpha": "0.1", "n": "20"},
                      {"alpha": "0.2", "n": "10"}, {"alpha": "0.2", "n": "20"}]
    default = sweep.sweep_outputs(None, tmp_path / "model.out.ipynb", combos)
    assert [p.name for p in default] == ["model-alpha=0.1-n=10.out.ipynb", "model-alpha=0.1-n=20.out.ipynb",
                                         "model-alpha=0.2-n=10.out.ipynb", "model-alpha=0.2-n=20.out.ipynb"]
    filled = sweep.sweep_outputs(tmp_path / "out/{n}/a{alpha}.ipynb", tmp_path / "x.out.ipynb", combos)
    assert filled[1] == tmp_path / "out/20/a0.1.ipynb"
    with pytest.raises(UsageError, match="same output"):
        sweep.sweep_outputs(tmp_path / "a{alpha}.ipynb", tmp_path / "x", combos)
    with pytest.raises(UsageError, match="not swept"):
        sweep.sweep_outputs(tmp_path / "{beta}.ipynb", tmp_path / "x", combos)
    for bad in [["alpha"], ["alpha=0.1,0.1"], ["alpha=1", "alpha=2"], ["1x=2"]]:
        with pytest.raises(UsageError):
            sweep.combinations(bad)


def test_script_for_an_array_runs_one_combination_per_task(tmp_path: Path) -> None:
    """The rendered script, run by bash with a fake kernelctl, passes each task its own values."""
    fake = tmp_path / "fake-kernelctl"
    fake.write_text('#!/bin/sh\nprintf "%s\\n" "$@"\n')
    fake.chmod(0o755)
    tasks = [Task(tmp_path / "a b.ipynb", (("alpha", "0.1"),)), Task(tmp_path / "c.ipynb", (("alpha", "it's"),))]
    text = render(JobScript(notebook=tmp_path / "nb.ipynb", kernel="k", tasks=tasks, kernelctl=[str(fake)],
                            run_args=["-p", "n", "3"], sbatch=["--time=60"], time_limit=3600))
    assert "#SBATCH --array=0-1\n" in text and "#SBATCH --signal=B:USR1@120\n" in text
    for index, task in enumerate(tasks):
        proc = subprocess.run(["bash", "-c", text], capture_output=True, text=True,
                              env={**os.environ, "SLURM_ARRAY_TASK_ID": str(index)})
        assert proc.stdout.splitlines() == [
            "run", str(tmp_path / "nb.ipynb"), "--kernel", "k", "-p", "n", "3", "--output", str(task.output),
            "--report", str(report_path(task.output)), "-p", "alpha", task.parameters[0][1]]
    short = render(JobScript(notebook=tmp_path / "nb.ipynb", kernel="k", tasks=tasks[:1], kernelctl=["kc"],
                             time_limit=60))
    assert "--signal" not in short and "--array" not in short


def test_dry_run_prints_the_script_and_queues_nothing(tmp_path: Path, batch_kernel: None) -> None:
    tmp_path = tmp_path / "work"
    tmp_path.mkdir()
    nb = notebook(tmp_path / "analysis.ipynb", ["print(alpha * 2)"], parameters="alpha = 1")
    proc = kernelctl("submit", str(nb), "-k", "batch", "--time", "2:00:00", "--cpus", "2", "--mem", "4G",
                     "--account", "def-me", "--partition", "debug", "--after", "17",
                     "--sbatch-arg=--qos=high", "-p", "alpha", "3", "--dry-run")
    script = proc.stdout
    sbatch_lines = [line for line in script.splitlines() if line.startswith("#SBATCH")]
    assert sbatch_lines == [
        "#SBATCH --job-name=kernelctl-analysis", f"#SBATCH --chdir={tmp_path}",
        f"#SBATCH --output={tmp_path}/analysis.out-%j.log", "#SBATCH --time=2:00:00", "#SBATCH --cpus-per-task=2",
        "#SBATCH --mem=4G", "#SBATCH --account=def-me", "#SBATCH --partition=debug",
        "#SBATCH --dependency=afterok:17", "#SBATCH --signal=B:USR1@120", "#SBATCH --qos=high"]
    run_line = script.splitlines()[-1]
    assert run_line.startswith(f"exec {shlex.join([sys.executable, '-m', 'kernelctl'])} run {nb} --kernel batch "
                               "-p alpha 3 --output \"$output\"")
    assert f"output={tmp_path}/analysis.out.ipynb" in script
    assert sorted(p.name for p in tmp_path.iterdir()) == ["analysis.ipynb"]  # nothing written
    assert not (Path(os.environ["KERNELCTL_HOME"]) / "jobs").exists()


def test_dry_run_json_for_a_sweep(tmp_path: Path, batch_kernel: None) -> None:
    nb = notebook(tmp_path / "model.ipynb", ["print(alpha, n)"], parameters="alpha = 0.5\nn = 1")
    result = kernelctl_json("submit", str(nb), "--sweep", "alpha=0.1,0.2", "--sweep", "n=10,20",
                            "-o", str(tmp_path / "out/m-{alpha}-{n}.ipynb"), "--dry-run")
    assert result["job_id"] is None and result["kernel"] == "batch"  # from the notebook's metadata
    assert result["outputs"][3] == str(tmp_path / "out/m-0.2-20.ipynb")
    assert "#SBATCH --array=0-3" in result["script_text"]
    assert "  2) output=" + str(tmp_path / "out/m-0.2-10.ipynb") + "; set -- -p alpha 0.2 -p n 10 ;;" \
        in result["script_text"]


def test_checks_before_queueing(tmp_path: Path, batch_kernel: None) -> None:
    nb = notebook(tmp_path / "nb.ipynb", ["import urllib.request\nurllib.request.urlopen('https://example.org')"],
                  parameters="alpha = 1")
    assert_user_error(kernelctl("submit", str(nb), "-p", "beta", "2", "--dry-run", check=False), 2,
                      "has no parameter beta", "defines: alpha")
    assert_user_error(kernelctl("submit", str(nb), "--sweep", "gamma=1,2", "--dry-run", check=False), 2,
                      "has no parameter gamma")
    assert_user_error(kernelctl("submit", str(nb), "-k", "nosuch", "--dry-run", check=False), 2,
                      "no kernel named 'nosuch'")
    assert_user_error(kernelctl("submit", str(nb), "--time", "2h", "--dry-run", check=False), 2, "--time")
    broken = tmp_path / "broken.ipynb"
    broken.write_text('{"cells": [')
    assert_user_error(kernelctl("submit", str(broken), "-k", "batch", "--dry-run", check=False), 2,
                      "is not a Jupyter notebook")
    params = tmp_path / "params.yaml"
    params.write_text("alpha: 2\ndelta: 3\n")
    assert_user_error(kernelctl("submit", str(nb), "-f", str(params), "--dry-run", check=False), 2,
                      "has no parameter delta")
    assert_user_error(kernelctl("submit", "--resume", str(nb), "--dry-run", check=False), 2,
                      "was not written by 'kernelctl run'")
    assert_user_error(kernelctl("submit", "--resume", str(nb), "-p", "alpha", "2", "--dry-run", check=False), 2,
                      "--resume continues one stopped run")
    warned = kernelctl("submit", str(nb), "--dry-run")
    assert re.search(r"warning: .*nb\.ipynb:cell 2:line 2: \S+ .*example\.org", warned.stderr), warned.stderr
    assert_user_error(kernelctl("submit", str(nb), "--dry-run", "--strict", check=False), 2,
                      "netguard found 1 line(s)", "kernelctl scan")


def test_no_sbatch_on_path_is_one_line(tmp_path: Path, batch_kernel: None) -> None:
    nb = notebook(tmp_path / "nb.ipynb", ["1"])
    env = {**os.environ, "PATH": str(Path(sys.executable).parent) + ":/usr/bin/nonexistent"}
    proc = subprocess.run([sys.executable, "-m", "kernelctl", "submit", str(nb)], capture_output=True, text=True,
                          env=env, timeout=120)
    assert_user_error(proc, 1, "sbatch is not on PATH", "--dry-run")
    assert not (Path(os.environ["KERNELCTL_HOME"]) / "jobs").exists()


def test_slurm_refusals_are_one_line(tmp_path: Path, batch_kernel: None, slurm_cleanup: None) -> None:
    nb = notebook(tmp_path / "nb.ipynb", ["1"])
    proc = kernelctl("submit", str(nb), "--partition", "nosuchpartition", check=False)
    assert_user_error(proc, 1, "Slurm refused the job: invalid partition", "sinfo -s")
    proc = kernelctl("submit", str(nb), "--mem", "100000G", check=False)
    assert_user_error(proc, 1, "Slurm refused the job: Memory specification can not be satisfied", "--mem")
    proc = kernelctl("submit", str(nb), "--partition", "short", "--time", "20", check=False)
    assert_user_error(proc, 1, "Slurm refused the job: Requested time limit is invalid", "TIMELIMIT; pass --time")
    assert sorted(p.name for p in tmp_path.glob("*.sbatch")) == []  # nothing queued, no script kept
    assert not list((Path(os.environ["KERNELCTL_HOME"]) / "jobs").glob("*"))  # and no record


def test_python_api(tmp_path: Path, batch_kernel: None) -> None:
    import kernelctl

    nb = notebook(tmp_path / "api.ipynb", ["print(n)"], parameters="n = 1")
    result = kernelctl.submit(nb, parameters=[("n", "2")], time="45", dry_run=True)
    assert result["job_id"] is None and result["outputs"] == [str(tmp_path / "api.out.ipynb")]
    assert "#SBATCH --time=45\n" in result["script_text"] and " -p n 2 " in result["script_text"]
    with pytest.raises(kernelctl.UsageError, match="has no parameter m"):
        kernelctl.submit(nb, parameters=[("m", "2")], dry_run=True)
    assert kernelctl.list_jobs() == []


@pytest.mark.parametrize("field", ["{alpha:>999999999999}", "{alpha!r}", "{alpha:x}"])
def test_output_template_fields_are_plain_names(tmp_path: Path, field: str) -> None:
    combos = sweep.combinations(["alpha=1,2"])
    with pytest.raises(UsageError, match="format or conversion"):
        sweep.sweep_outputs(tmp_path / f"out-{field}.ipynb", tmp_path / "x.out.ipynb", combos)


@pytest.mark.parametrize("where", ["notebook", "option", "extra"])
def test_a_line_break_cannot_put_a_command_into_the_script(tmp_path: Path, where: str) -> None:
    """Comment and #SBATCH lines are not shell-quoted: a line break there would make the rest a command."""
    evil = "x\ntouch " + str(tmp_path / "pwned") + " #"
    folder = tmp_path / evil if where == "notebook" else tmp_path
    job = JobScript(notebook=folder / "nb.ipynb", kernel="k", tasks=[Task(tmp_path / "nb.out.ipynb")],
                    kernelctl=["true"], sbatch=[f"--account={evil}"] if where == "option" else [],
                    extra=[f"--comment={evil}"] if where == "extra" else [])
    with pytest.raises(UsageError, match="has a line break"):
        render(job)
    # where quoting applies (the body), a line break in a value stays a value
    text = render(JobScript(notebook=tmp_path / "nb.ipynb", kernel="k", kernelctl=["true"],
                            tasks=[Task(tmp_path / "a.ipynb", (("alpha", evil),)), Task(tmp_path / "b.ipynb")]))
    subprocess.run(["bash", "-c", text], env={**os.environ, "SLURM_ARRAY_TASK_ID": "0"}, check=True, timeout=30)
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("planted", ["file", "symlink"])
def test_no_job_is_queued_when_its_record_cannot_be_kept(tmp_path: Path, batch_kernel: None, slurm: None,
                                                          planted: str) -> None:
    """The record was written after sbatch: a jobs path that is a file failed then, leaving a
    queued job the user was told had failed and 'kernelctl jobs' never showed."""
    jobs = Path(os.environ["KERNELCTL_HOME"]) / "jobs"
    jobs.parent.mkdir(parents=True, exist_ok=True)
    if planted == "file":
        jobs.write_text("not a directory")
    else:
        (tmp_path / "elsewhere").mkdir()
        jobs.symlink_to(tmp_path / "elsewhere")
    name = f"kernelctl-record{os.getpid()}{planted}"
    nb = notebook(tmp_path / f"{name.removeprefix('kernelctl-')}.ipynb", ["1"])
    try:
        proc = kernelctl("submit", str(nb), "--time", "1", check=False)
        assert_user_error(proc, 1, f"refusing to use {jobs}")
        queued = subprocess.run(["squeue", "-h", "-o", "%j"], capture_output=True, text=True, timeout=30).stdout
        assert name not in queued.split()
        assert not list(tmp_path.glob("*.sbatch")) and not list((tmp_path / "elsewhere").glob("*"))
    finally:
        subprocess.run(["scancel", f"--name={name}"], capture_output=True, timeout=30)


@pytest.mark.parametrize("spelling", ["sub/../nb.ipynb", "link.ipynb"])
def test_an_output_that_is_the_notebook_by_another_name_is_refused(tmp_path: Path, spelling: str) -> None:
    """Only the exact path was compared: the job queued, then its run refused after the wait."""
    from kernelctl.commands.submit import submit

    nb = notebook(tmp_path / "nb.ipynb", ["1"])
    (tmp_path / "sub").mkdir()
    (tmp_path / "link.ipynb").symlink_to(nb)
    with pytest.raises(UsageError, match="would overwrite the notebook itself"):
        submit(nb, "batch", tmp_path / spelling, dry_run=True)


def test_a_job_script_that_would_replace_the_notebook_is_refused(tmp_path: Path) -> None:
    from kernelctl.commands.submit import submit

    nb = notebook(tmp_path / "x.sbatch", ["1"])  # the script of -o x.ipynb is x.sbatch
    with pytest.raises(UsageError, match="would overwrite the notebook itself"):
        submit(nb, "batch", tmp_path / "x.ipynb", dry_run=True)


def test_a_sweep_too_large_for_a_job_array_is_refused_before_it_is_built() -> None:
    thousand = ",".join(map(str, range(1000)))
    assert len(sweep.combinations([f"a={thousand}"])) == 1000
    with pytest.raises(UsageError, match="gives 1,000,000 combinations, more than the 10,000"):
        sweep.combinations([f"a={thousand}", f"b={thousand}"])


@pytest.mark.parametrize("arg", ["--array=0-3", "-a0-3", "-a", "--wrap=hostname"])
def test_sbatch_args_that_would_undo_the_script_are_refused(arg: str) -> None:
    """An --array of its own ran one notebook N times into one output; --wrap replaced the run."""
    with pytest.raises(UsageError, match="kernelctl submit sets"):
        options.check_sbatch_arg(arg)
    assert options.check_sbatch_arg("--account=def-x") == "--account=def-x"
    assert options.check_sbatch_arg("--qos=high") == "--qos=high"
