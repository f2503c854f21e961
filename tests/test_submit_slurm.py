"""``kernelctl submit`` and ``kernelctl jobs`` against the real single-node Slurm that
.ci/install-slurm starts: real jobs run real kernels, and the tests read the output
notebooks they wrote. Slurm counts time limits in minutes, so only one test waits for one."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

from kernelhelpers import kernelctl, kernelctl_json
from slurmsupport import (  # noqa: F401  (fixtures)
    _module_kernel, batch_kernel, notebook, read_notebook, slurm, slurm_cleanup, stream_text, wait_for_end,
)

from kernelctl.slurm import explain


SLOW_CELLS = ["print('first cell done')",
              "import time\nprint('sleeping', flush=True)\ntime.sleep(180)\nprint('never printed')",
              "print('never run')"]


def _jobs() -> dict[str, dict]:
    return {job["id"]: job for job in kernelctl_json("jobs")["jobs"]}


def test_submit_runs_the_notebook_and_jobs_lists_it(tmp_path: Path, batch_kernel: None, slurm_cleanup: None) -> None:
    nb = notebook(tmp_path / "analysis.ipynb", ["import os\nprint('result', alpha * 2, os.environ['SLURM_JOB_ID'])"],
                  parameters="alpha = 1")
    proc = kernelctl("submit", str(nb), "-k", "batch", "-p", "alpha", "21", "--cpus", "1", "--mem", "500M")
    job_id = proc.stdout.strip()
    assert job_id.isdigit(), proc.stdout
    assert f"submitted job {job_id}" in proc.stderr
    record = json.loads((Path(os.environ["KERNELCTL_HOME"]) / "jobs" / f"{job_id}.json").read_text())
    assert record["notebook"] == str(nb) and record["kernel"] == "batch"
    assert Path(record["script"]) == tmp_path / "analysis.out.sbatch" and Path(record["script"]).is_file()

    assert wait_for_end([job_id], timeout=240) == {job_id: "COMPLETED"}
    out = read_notebook(tmp_path / "analysis.out.ipynb")
    assert stream_text(out.cells[-1]) == f"result 42 {job_id}\n"
    assert "injected-parameters" in out.cells[1].metadata["tags"]
    log = (tmp_path / f"analysis.out-{job_id}.log").read_text()
    assert "[cell 3/3]" in log and "result 42" in log  # the run's live progress, in Slurm's log
    job = _jobs()[job_id]
    assert (job["state"], job["kernel"], job["output"]) == ("COMPLETED", "batch", str(tmp_path / "analysis.out.ipynb"))
    assert job["explanation"] == ""
    table = kernelctl("jobs").stdout
    assert table.splitlines()[0].split() == ["JOBID", "STATE", "KERNEL", "NOTEBOOK", "OUTPUT"]
    assert table.splitlines()[1].split() == [job_id, "COMPLETED", "batch", "analysis.ipynb",
                                             str(tmp_path / "analysis.out.ipynb")]


def test_sweep_is_one_array_with_an_output_per_combination(tmp_path: Path, batch_kernel: None,
                                                           slurm_cleanup: None) -> None:
    nb = notebook(tmp_path / "model.ipynb", ["print(f'{alpha}x{n}={alpha * n}')"], parameters="alpha = 0.5\nn = 1")
    job_id = kernelctl("submit", str(nb), "--sweep", "alpha=1,2", "--sweep", "n=10,20",
                       "-o", str(tmp_path / "out/model-{alpha}-{n}.ipynb")).stdout.strip()
    tasks = [f"{job_id}_{i}" for i in range(4)]
    assert wait_for_end(tasks, timeout=300) == {task: "COMPLETED" for task in tasks}
    for alpha, n in [(1, 10), (1, 20), (2, 10), (2, 20)]:
        out = read_notebook(tmp_path / f"out/model-{alpha}-{n}.ipynb")
        assert stream_text(out.cells[-1]) == f"{alpha}x{n}={alpha * n}\n"
    jobs = _jobs()
    assert sorted(jobs) == tasks
    assert jobs[f"{job_id}_3"]["parameters"] == {"alpha": "2", "n": "20"}
    assert (tmp_path / "out/model.sweep.sbatch").is_file()


def test_time_limit_mid_cell_keeps_finished_cells_and_marks_the_stop(tmp_path: Path, batch_kernel: None,
                                                                     slurm_cleanup: None) -> None:
    """The one test that waits for a time limit: Slurm's minimum, 1 minute (ends in 60-90 s)."""
    nb = notebook(tmp_path / "slow.ipynb", [
        "import time\nprint('first cell done')",
        "print('sleeping', flush=True)\ntime.sleep(180)\nprint('never printed')",
        "print('never run')",
    ])
    job_id = kernelctl("submit", str(nb), "--time", "1").stdout.strip()
    assert wait_for_end([job_id], timeout=240) == {job_id: "TIMEOUT"}
    out = read_notebook(tmp_path / "slow.out.ipynb")
    first, slow, last = out.cells
    assert stream_text(first) == "first cell done\n"
    assert first.metadata["kernelctl"]["status"] == "completed"
    assert slow.metadata["kernelctl"]["status"] == "interrupted"
    assert "sleeping\n" in stream_text(slow) and "never printed" not in stream_text(slow)
    assert "[kernelctl] interrupted by SIGTERM" in stream_text(slow)
    assert last.metadata["kernelctl"]["status"] == "pending" and not last.outputs
    report = json.loads((tmp_path / "slow.out.report.json").read_text())
    assert report["exit"]["code"] == 6
    assert explain.state_from_report(report, "1") == "TIMEOUT"  # what jobs says once squeue forgot the job
    job = _jobs()[job_id]
    assert job["state"] == "TIMEOUT"
    assert job["explanation"] == (f"ran out of time at cell 2 (it had 1); raise --time or resume: "
                                  f"kernelctl submit --resume {tmp_path / 'slow.out.ipynb'} --time 2")


def test_early_usr1_before_the_limit_saves_and_explains(tmp_path: Path, batch_kernel: None,
                                                        slurm_cleanup: None) -> None:
    """What --signal=B:USR1@120 does 2 minutes before a long job's limit, sent now by hand."""
    nb = notebook(tmp_path / "long.ipynb", SLOW_CELLS)
    job_id = kernelctl("submit", str(nb), "--time", "10").stdout.strip()
    assert "#SBATCH --signal=B:USR1@120" in (tmp_path / "long.out.sbatch").read_text()
    _wait_for_sleep(tmp_path / f"long.out-{job_id}.log")
    waiting = kernelctl("submit", str(notebook(tmp_path / "next.ipynb", ["1"])), "-k", "batch",
                        "--after", job_id).stdout.strip()
    jobs = _jobs()
    assert (jobs[job_id]["state"], jobs[job_id]["explanation"]) == ("RUNNING", "at cell 2 of 3 (1 finished)")
    assert (jobs[waiting]["state"], jobs[waiting]["explanation"]) == ("PENDING", "waiting in the queue (Dependency)")
    subprocess.run(["scancel", "--batch", "--signal=USR1", job_id], check=True, timeout=30)
    assert wait_for_end([job_id], timeout=120) == {job_id: "FAILED"}  # the run exits 6 before any limit
    slow = read_notebook(tmp_path / "long.out.ipynb").cells[1]
    assert slow.metadata["kernelctl"]["status"] == "interrupted"
    assert "[kernelctl] interrupted by SIGUSR1" in stream_text(slow)
    output = tmp_path / "long.out.ipynb"
    assert _jobs()[job_id]["explanation"] == (f"ran out of time at cell 2 (it had 10); raise --time or resume: "
                                              f"kernelctl submit --resume {output} --time 20")

    # resuming as a new job starts again at the interrupted cell, in the same output
    resumed = kernelctl("submit", "--resume", str(output), "--time", "20").stdout.strip()
    log = tmp_path / f"long.out-{resumed}.log"
    _wait_for_sleep(log)
    assert "[cell 1/3]" not in log.read_text() and "[cell 2/3]" in log.read_text()
    assert read_notebook(output).cells[0].metadata["kernelctl"]["status"] == "completed"
    assert _jobs()[resumed]["notebook"] == str(nb)  # slurm_cleanup cancels it, and the one never started


def _wait_for_sleep(log: Path) -> None:
    """Wait until a job running SLOW_CELLS prints that its second cell sleeps."""
    deadline = time.monotonic() + 180
    while not (log.exists() and "sleeping" in log.read_text()):
        assert time.monotonic() < deadline, f"the job never reached its sleeping cell: {log}"
        time.sleep(1)


def test_memory_limit_kill_is_explained(tmp_path: Path, batch_kernel: None, slurm_cleanup: None) -> None:
    """Slurm kills a job over its --mem (here jobacct_gather's OverMemoryKill, on clusters a
    cgroup); jobs reads what Slurm measured from its log and suggests a --mem."""
    nb = notebook(tmp_path / "big.ipynb", [
        "print('small')",
        "import time\nblocks = []\nfor _ in range(40):\n    blocks.append(bytearray(50_000_000))\n    time.sleep(0.25)",
    ])
    job_id = kernelctl("submit", str(nb), "--mem", "600M").stdout.strip()
    assert wait_for_end([job_id], timeout=180)[job_id] in ("FAILED", "OUT_OF_MEMORY", "CANCELLED")
    assert "Exceeded job memory limit" in (tmp_path / f"big.out-{job_id}.log").read_text()
    explanation = _jobs()[job_id]["explanation"]
    assert explanation.startswith("ran out of memory (Slurm measured ") and explanation.endswith("--mem 2G"), explanation
    assert stream_text(read_notebook(tmp_path / "big.out.ipynb").cells[0]) == "small\n"
