"""Slurm kernels without Slurm: option checking, kernel.json, pending advice, the signed
report channel, the job script, and the CLI's usage errors (no env is built for them)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from kernelhelpers import assert_user_error, kernelctl
from kernelctl.errors import UsageError
from kernelctl.slurmkernel import channel, jobs, jobscript, options, pending, spec
from kernelctl.slurmkernel.agent import parse_duration


def test_options_are_split_without_a_shell_and_normalised() -> None:
    assert options.parse("--time=2:00:00 -c 8 --mem 32G --gres=gpu:1 -A 'def-x' --exclusive") == [
        "--time=2:00:00", "--cpus-per-task=8", "--mem=32G", "--gres=gpu:1", "--account=def-x", "--exclusive"]
    assert options.parse("-c8 -t 90 -p debug") == ["--cpus-per-task=8", "--time=90", "--partition=debug"]
    assert options.parse("") == []


@pytest.mark.parametrize("text, named", [
    ("--bogus=1 -c 8 --wrap=x", ["--bogus=1", "--wrap=x (kernelctl sets it)"]),
    ("--exclusive=yes --time", ["--exclusive=yes (takes no value)", "--time (needs a value)"]),
    ("8 --output=x", ["8", "--output=x (kernelctl sets it)"]),
])
def test_unknown_options_are_named_together(text: str, named: list[str]) -> None:
    with pytest.raises(UsageError) as err:
        options.parse(text)
    assert err.value.message == "not Slurm options a kernel's job can take: " + ", ".join(named)


@pytest.mark.parametrize("text, words", [
    ("--time=soon", "not a Slurm time limit"), ("-c 0", "not a positive whole number"),
    ("--mem=lots", "not a memory size"), ("--nodes=2", "one process on one node"),
    ("--account='a;rm -rf ~'", "not a valid value"), ("--time='2:00", "cannot split"),
])
def test_malformed_values_are_usage_errors(text: str, words: str) -> None:
    with pytest.raises(UsageError, match=words):
        options.parse(text)


def test_summary_names_cores_and_gpus() -> None:
    assert options.summary([]) == "Slurm 1 core"
    assert options.summary(["--cpus-per-task=8", "--gres=gpu:a100:2"]) == "Slurm 8 cores, 2 GPUs"
    assert options.summary(["--cpus-per-task=4", "--gpus=1"]) == "Slurm 4 cores, 1 GPU"


def test_enable_and_disable_kernel_json() -> None:
    local = {"argv": ["python"], "display_name": "Python 3.11 (myenv)", "metadata": {"kernelctl": {"name": "myenv"}}}
    on = spec.enable(local, ["--cpus-per-task=8"], 600)
    assert on["display_name"] == "Python 3.11 (myenv, Slurm 8 cores)"
    assert on["metadata"]["kernel_provisioner"] == {"provisioner_name": "kernelctl-slurm",
                                                    "config": {"options": ["--cpus-per-task=8"], "queue_wait": 600.0}}
    assert spec.settings(on) == {"options": ["--cpus-per-task=8"], "queue_wait": 600.0}
    changed = spec.enable(on, ["--cpus-per-task=2"])
    assert changed["display_name"] == "Python 3.11 (myenv, Slurm 2 cores)"
    assert spec.disable(changed) == local and spec.settings(local) is None
    assert spec.enable({"display_name": "R"}, [])["display_name"] == "R (Slurm 1 core)"


def test_pending_reasons_come_with_advice() -> None:
    assert pending.describe("42", "Resources").startswith("Slurm job 42 is pending (Resources): no node has")
    assert "only one interactive job" in pending.advice("QOSMaxJobsPerUserLimit")
    assert "3 hours or less" in pending.advice("Priority")
    assert pending.describe("7", "None") == "Slurm job 7 is pending (no reason given yet)"


def test_signed_reports_refuse_other_tokens_and_tampering(tmp_path: Path) -> None:
    channel.make_private_dir(str(tmp_path / "run"))
    path = str(tmp_path / "run" / "report.json")
    channel.write_signed(path, "token-a", {"generation": 1, "connection": {"shell_port": 5}})
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600 and stat.S_IMODE(os.stat(tmp_path / "run").st_mode) == 0o700
    assert channel.read_signed(path, "token-a") == {"generation": 1, "connection": {"shell_port": 5}}
    assert channel.read_signed(path, "token-b") is None
    data = json.loads(Path(path).read_text())
    data["payload"]["connection"]["shell_port"] = 6
    Path(path).write_text(json.dumps(data))
    assert channel.read_signed(path, "token-a") is None
    assert channel.read_signed(str(tmp_path / "missing.json"), "token-a") is None


def test_job_script_holds_options_and_agent_but_no_secret(tmp_path: Path) -> None:
    script = jobscript.render("k1", "myenv", tmp_path / "run dir", ["--time=60", "--nodes=1", "--cpus-per-task=8"], "/work")
    lines = script.splitlines()
    assert "#SBATCH --job-name=kernelctl-kernel-k1" in lines and "#SBATCH --cpus-per-task=8" in lines
    assert lines.count("#SBATCH --nodes=1") == 1 and "#SBATCH --chdir=/work" in lines
    assert lines[-1].startswith("exec ") and lines[-1].endswith(f"agent.py '{tmp_path / 'run dir'}'")


def test_squeue_time_left_forms() -> None:
    assert [parse_duration(t) for t in ("1-02:00:00", "2:00:00", "09:30", "UNLIMITED", "INVALID")] == [
        93600, 7200, 570, None, None]


def test_create_checks_slurm_options_before_building() -> None:
    proc = kernelctl("create", "heavy", "--slurm", "--cpus=8 --time=1:00:00", check=False)
    assert_user_error(proc, 2, "not Slurm options a kernel's job can take: --cpus=8")
    proc = kernelctl("create", "heavy", "--slurm-wait", "60", check=False)
    assert_user_error(proc, 2, "--slurm-wait needs --slurm")
    assert not (Path(os.environ["JUPYTER_DATA_DIR"]) / "kernels" / "heavy").exists()


def test_slurm_command_on_unknown_kernel_and_contradictions() -> None:
    assert_user_error(kernelctl("slurm", "nothere", "--time=10 -c 2", check=False), 1, "no kernel named 'nothere'")
    assert_user_error(kernelctl("slurm", "nothere", "-c 2 --bogus", check=False), 2, "--bogus")
    assert_user_error(kernelctl("slurm", "x", "--time=10 -c 2", "--off", check=False), 2, "contradict")


def test_the_outer_jobs_variables_do_not_reach_the_kernels_job() -> None:
    outer = {"PATH": "/usr/bin", "SLURM_JOB_ID": "7", "SLURM_CPUS_PER_TASK": "2", "SBATCH_TIMELIMIT": "5",
             "SLURM_CONF": "/etc/slurm/slurm.conf", "JPY_SESSION_NAME": "x.ipynb"}
    assert jobs.job_environment(outer) == {"PATH": "/usr/bin", "SLURM_CONF": "/etc/slurm/slurm.conf",
                                           "JPY_SESSION_NAME": "x.ipynb"}


@pytest.mark.parametrize("wait", ["nan", "inf", "-inf", "0", "-5"])
def test_slurm_wait_must_be_a_finite_positive_number(wait: str) -> None:
    """nan/inf passed the old ``<= 0`` check and went into kernel.json as NaN/Infinity."""
    from kernelctl.commands.slurm import check_wait

    with pytest.raises(UsageError, match="--slurm-wait must be a positive number"):
        check_wait(float(wait))
    assert check_wait(600.0) == 600.0


def test_a_line_break_in_the_notebooks_directory_cannot_add_a_command(tmp_path: Path) -> None:
    """The directory went into '#SBATCH --chdir=...', where a line break ends the line and the
    rest ran as a command of the kernel's job."""
    import subprocess

    cwd = tmp_path / "nb\ntouch pwned #"
    cwd.mkdir()
    script = jobscript.render("k1", "myenv", tmp_path / "run", ["--time=60"], str(cwd), python="true")
    assert "--chdir" not in script
    # bash runs the script up to the agent's exec ('true' here) in that very directory, and nothing else
    subprocess.run(["bash", "-c", script.replace("exec true", "pwd > where; exec true")], check=True, timeout=30,
                   cwd=tmp_path)
    assert (cwd / "where").read_text() == f"{cwd}\n" and not list(tmp_path.rglob("pwned"))
