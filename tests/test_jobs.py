"""``kernelctl jobs`` for jobs Slurm no longer lists: the state and explanation come from the
report each run writes beside its output. The reports here come from real ``kernelctl run``
runs; the jobs' records name ids Slurm never gave out."""

from __future__ import annotations

from pathlib import Path

import pytest

from kernelhelpers import kernelctl, kernelctl_json
from slurmsupport import _module_kernel, batch_kernel, notebook  # noqa: F401  (fixtures)

from kernelctl.slurm import explain, queue, records
from kernelctl.slurm.script import report_path

UNKNOWN_IDS = iter(range(990001, 990100))  # far above the test Slurm's ids


def _record(nb: Path, output: Path, time: str | None = None, mem: str | None = None) -> str:
    job_id = str(next(UNKNOWN_IDS))
    records.save(records.JobRecord(id=job_id, notebook=str(nb), kernel="batch", submitted="2026-01-01T00:00:00+00:00",
                                   script=str(output.with_suffix(".sbatch")), outputs=[str(output)],
                                   reports=[str(report_path(output))], time=time, mem=mem))
    return job_id


def _run(nb: Path) -> Path:
    output = nb.with_name(nb.stem + ".out.ipynb")
    kernelctl("run", str(nb), "-k", "batch", "--report", str(report_path(output)), check=False)
    return output


def test_ends_read_from_run_reports(tmp_path: Path, batch_kernel: None) -> None:
    done = _run(notebook(tmp_path / "done.ipynb", ["print('ok')"]))
    failed = _run(notebook(tmp_path / "failed.ipynb", ["x = 1", "raise ValueError('bad input')"]))
    killed = _run(notebook(tmp_path / "killed.ipynb", ["data = bytearray(50_000_000)",
                                                       "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"]))
    ids = [_record(tmp_path / "done.ipynb", done), _record(tmp_path / "failed.ipynb", failed),
           _record(tmp_path / "killed.ipynb", killed, mem="1G"),
           _record(tmp_path / "never.ipynb", tmp_path / "never.out.ipynb")]
    jobs = {job["id"]: job for job in kernelctl_json("jobs")["jobs"]}
    assert [jobs[i]["state"] for i in ids] == ["COMPLETED", "FAILED", "FAILED", "UNKNOWN"]
    assert jobs[ids[0]]["explanation"] == ""
    assert "cell 2" in jobs[ids[1]]["explanation"] and "ValueError" in jobs[ids[1]]["explanation"]
    oom = jobs[ids[2]]["explanation"]
    assert oom.startswith("ran out of memory (its kernel's memory peaked at ") and oom.endswith("--mem 2G"), oom
    assert "left no report" in jobs[ids[3]]["explanation"]
    table = kernelctl("jobs").stdout.splitlines()
    assert table[0].split() == ["JOBID", "STATE", "KERNEL", "NOTEBOOK", "OUTPUT"]
    assert table[table.index(next(line for line in table if line.startswith(ids[2]))) + 1].strip() == oom


def test_no_jobs_yet() -> None:
    assert kernelctl("jobs").stdout == "kernelctl has submitted no jobs (from this KERNELCTL_HOME).\n"
    assert kernelctl_json("jobs") == {"jobs": []}


@pytest.mark.parametrize("asked, peak, expected", [
    (None, 3 * 2**30, "5G"), ("2G", 3 * 2**30, "5G"), ("4000", 0, "8G"), ("500M", 0, "1G"), (None, 0, "1G"),
])
def test_suggested_memory(asked: str | None, peak: int, expected: str) -> None:
    assert explain.suggest_mem(peak, asked) == expected


def test_time_limit_explanations(tmp_path: Path) -> None:
    out = tmp_path / "x.out.ipynb"
    usr1 = {"exit": {"code": 6, "message": f"stopped by SIGUSR1 in cell 7; outputs so far are saved in {out}"},
            "cells": [{"number": 6, "status": "completed"}, {"number": 7, "status": "interrupted"}]}
    # an early SIGUSR1 ends the job itself (Slurm says FAILED, exit 6): still a time limit
    assert explain.state_from_report(usr1) == "TIMEOUT"
    assert explain.explain("FAILED", "NonZeroExitCode", usr1, out, time="2:00:00") == (
        f"ran out of time at cell 7 (it had 2:00:00); raise --time or resume: "
        f"kernelctl submit --resume {out} --time 240")
    term = {"exit": {"code": 6, "message": "stopped by SIGTERM in cell 2; ..."}, "seconds": 20.0}
    assert [explain.state_from_report(term, limit) for limit in ("0:30", "1", None)] == \
        ["TIMEOUT", "CANCELLED", "CANCELLED"]  # scancel sends SIGTERM too
    assert explain.explain("TIMEOUT", "TimeLimit", None, out).startswith("ran out of time before its first cell")
    assert explain.explain("PENDING", "Resources", None, out) == "waiting in the queue (Resources)"
    assert explain.explain("OUT_OF_MEMORY", "", None, out, mem="4G") == \
        "ran out of memory (no peak was measured); submit again with --mem 8G"


def test_memory_kills_in_slurm_logs(tmp_path: Path) -> None:
    log = tmp_path / "job.log"
    assert explain.memory_kill(log) is None  # no log yet
    log.write_text("[cell 2/3] big = load()\n")
    assert explain.memory_kill(log) is None
    log.write_text("slurmstepd: error: Detected 1 oom-kill event(s) in StepId=7.batch. Some of your processes "
                   "may have been killed by the cgroup out-of-memory handler.\n")
    assert explain.memory_kill(log) == 0
    assert explain.state_from_report(None, None, log) == "OUT_OF_MEMORY"
    assert explain.explain("OUT_OF_MEMORY", "", None, tmp_path / "x.ipynb", mem="3G", log=log) == \
        "ran out of memory (no peak was measured); submit again with --mem 6G"


def test_queue_output_parsing() -> None:
    assert queue.parse_squeue("12|RUNNING|None\n13_0|PENDING|Resources\nbad line\n") == {
        "12": ("RUNNING", "None"), "13_0": ("PENDING", "Resources")}
    # sacct -n -P -X -o JobID,State,Reason, as Slurm 22.05 prints it
    assert queue.parse_sacct("40|CANCELLED by 0|None\n41_2|TIMEOUT|TimeLimit\n42|OUT_OF_MEMORY|OutOfMemory\n") == {
        "40": ("CANCELLED", "None"), "41_2": ("TIMEOUT", "TimeLimit"), "42": ("OUT_OF_MEMORY", "OutOfMemory")}
    assert queue.hint_for("invalid account or account/partition combination specified").startswith("Run 'sacctmgr")


def test_damaged_records_are_skipped_and_paths_that_would_block_are_not_read(tmp_path: Path) -> None:
    """A damaged, hand-edited or planted file in KERNELCTL_HOME/jobs hides only itself: no
    traceback, and no read that never ends (a FIFO, /dev/zero as the log)."""
    import json
    import os

    jobs = records.jobs_dir()
    jobs.mkdir(parents=True)
    good = {"id": "990200", "notebook": str(tmp_path / "nb.ipynb"), "kernel": "batch",
            "submitted": "2026-01-01T00:00:00+00:00", "script": str(tmp_path / "x.sbatch"),
            "outputs": [str(tmp_path / "o.ipynb")], "reports": [str(tmp_path / "o.report.json")]}
    damaged = [{"outputs": [], "reports": []}, {"id": 990202}, {"reports": []}, {"outputs": "/o", "reports": "/r"},
               {"submitted": None}, {"combinations": ["x"]}, {"outputs": [str(tmp_path / "a"), str(tmp_path / "b")]},
               {"time": 5}, {"id": "../x"}]
    for n, change in enumerate(damaged):
        (jobs / f"9903{n:02}.json").write_text(json.dumps({**good, "id": f"9903{n:02}", **change}))
    (jobs / "a.json").write_text("[1, 2")
    (jobs / "b.json").write_text("[1, 2]")
    (jobs / "c.json").mkdir()
    os.mkfifo(jobs / "d.json")
    fifo = tmp_path / "fifo.out.ipynb"
    os.mkfifo(fifo)
    os.mkfifo(tmp_path / "fifo.report.json")
    (jobs / "990200.json").write_text(json.dumps({**good, "outputs": [str(fifo)],
                                                   "reports": [str(tmp_path / "fifo.report.json")],
                                                   "log": "/dev/zero"}))
    listed = json.loads(kernelctl("jobs", "--json", timeout=60).stdout)["jobs"]
    assert [(j["id"], j["state"]) for j in listed] == [("990200", "UNKNOWN")]


@pytest.mark.parametrize("damaged", [
    {"exit": {"code": 6, "message": "SIGTERM"}, "seconds": "x"}, {"exit": [1]},
    {"exit": {"code": 6, "message": "SIGUSR1"}, "cells": [{"status": "interrupted"}]},
    {"exit": {"code": 4, "message": "SIGKILL"}, "peak_rss_bytes": "big"}, {"exit": {"code": 6, "message": 5}},
])
def test_a_damaged_report_is_no_report(tmp_path: Path, damaged: dict[str, object]) -> None:
    """Each of these was a ValueError/KeyError/AttributeError/TypeError traceback in 'kernelctl jobs'."""
    import json

    path = tmp_path / "o.report.json"
    path.write_text(json.dumps(damaged))
    assert explain.read_json(path) is None
    output = tmp_path / "o.ipynb"
    assert explain.explain(explain.state_from_report(None, "60"), "", None, output, "60").startswith("Slurm no longer")
    path.write_text(json.dumps({"exit": {"code": 6, "message": "SIGUSR1"}, "seconds": 1.5, "peak_rss_bytes": 0,
                                "cells": [{"number": 3, "status": "interrupted"}]}))
    report = explain.read_json(path)
    assert explain.explain(explain.state_from_report(report, "60"), "", report, output, "60").startswith(
        "ran out of time at cell 3 (it had 60)")


@pytest.mark.parametrize("field, value", [("time", "abc"), ("mem", "zzz"), ("time", "0")])
def test_a_record_with_a_damaged_time_or_mem_is_skipped(field: str, value: str) -> None:
    """'kernelctl jobs' computed more time/memory from them: a usage error or ValueError for the whole list."""
    import json

    good = {"id": "990300", "notebook": "/nb.ipynb", "kernel": "batch", "submitted": "2026-01-01T00:00:00+00:00",
            "script": "/x.sbatch", "outputs": ["/o.ipynb"], "reports": ["/o.report.json"], "time": "60", "mem": "4G"}
    assert records.parse(json.dumps(good)).time == "60"
    with pytest.raises(ValueError):
        records.parse(json.dumps({**good, field: value}))
