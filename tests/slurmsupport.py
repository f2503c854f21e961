"""Helpers for the tests that submit real jobs to the single-node Slurm of .ci/install-slurm.

``slurm`` skips (fails in CI) when no Slurm answers here; ``slurm_cleanup`` scancels every job
a test submitted and checks that none of them is left in the queue. ``batch_kernel`` makes one
real kernelctl kernel per test module; the jobs find it because sbatch exports
the test's environment (KERNELCTL_HOME, JUPYTER_DATA_DIR) to them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import require_system
from kernelhelpers import kernelctl

# States of a job that has not finished yet (squeue's default listing).
ACTIVE = {"PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "SUSPENDED", "REQUEUED", "RESIZING", "SIGNALING",
          "STAGE_OUT"}


def slurm_ready() -> bool:
    """Whether a Slurm controller answers and its node takes jobs."""
    if not shutil.which("sbatch") or not shutil.which("sinfo"):
        return False
    try:
        proc = subprocess.run(["sinfo", "--noheader", "--format=%T"], capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired:
        return False
    return proc.returncode == 0 and any(s.strip() in ("idle", "mixed", "allocated") for s in proc.stdout.split())


def queued_ids() -> list[str]:
    """Ids of jobs squeue lists as not finished (one per array task)."""
    proc = subprocess.run(["squeue", "-h", "-r", "-o", "%i"], capture_output=True, text=True, timeout=30, check=True)
    return proc.stdout.split()


def job_state(job_id: str) -> str:
    """squeue's state of one job or array task, '' once the controller forgot it."""
    proc = subprocess.run(["squeue", "-h", "-r", "--states=all", "-o", "%i %T"], capture_output=True, text=True,
                          timeout=30, check=True)
    return dict(line.split() for line in proc.stdout.splitlines()).get(job_id, "")


def wait_for_end(job_ids: list[str], timeout: float) -> dict[str, str]:
    """Wait until none of ``job_ids`` is pending or running; their final states."""
    deadline = time.monotonic() + timeout
    while True:
        states = {job: job_state(job) for job in job_ids}
        if not ACTIVE & set(states.values()):
            return states
        if time.monotonic() > deadline:
            raise AssertionError(f"jobs still not finished after {timeout} s: {states}")
        time.sleep(1)


@pytest.fixture()
def slurm() -> None:
    require_system(slurm_ready(), "needs a running Slurm (sudo .ci/install-slurm starts one)")


def _recorded_ids(home: Path) -> list[str]:
    return [json.loads(p.read_text())["id"] for p in (home / "jobs").glob("*.json")] if (home / "jobs").is_dir() else []


@pytest.fixture()
def slurm_cleanup(slurm: None, isolated_env: Path) -> Iterator[None]:
    """After the test: scancel what it submitted (kernelctl's records), then none of it may
    be left in squeue (other users' jobs may share the machine's Slurm)."""
    home = Path(str(isolated_env)) / ".local/share/kernelctl"
    yield
    ids = _recorded_ids(home)
    if ids:
        subprocess.run(["scancel", *ids], capture_output=True, timeout=30)

    def left() -> list[str]:
        return [job for job in queued_ids() if job.split("_")[0] in ids]

    deadline = time.monotonic() + 60
    while left() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert left() == [], "a test left jobs in squeue"


@pytest.fixture(scope="module")
def _module_kernel() -> dict[str, str]:
    return {}  # filled by the module's first batch_kernel


@pytest.fixture()
def batch_kernel(_module_kernel: dict[str, str], real_wheelhouse: Path,
              monkeypatch: pytest.MonkeyPatch) -> None:
    """A real kernelctl kernel named 'batch', made once per test module (in its first test's
    isolated dirs) and seen by every test of the module through JUPYTER_DATA_DIR."""
    if not _module_kernel:
        kernelctl("create", "batch", "--wheelhouse", str(real_wheelhouse), "--no-verify", "-q")
        _module_kernel["JUPYTER_DATA_DIR"] = os.environ["JUPYTER_DATA_DIR"]
    monkeypatch.setenv("JUPYTER_DATA_DIR", _module_kernel["JUPYTER_DATA_DIR"])


def notebook(path: Path, cells: list[str], parameters: str | None = None, kernel: str = "batch") -> Path:
    """Write a Python notebook of ``cells`` (after a ``parameters`` cell, when given)."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": kernel, "display_name": kernel, "language": "python"}
    if parameters is not None:
        nb.cells.append(nbformat.v4.new_code_cell(parameters, metadata={"tags": ["parameters"]}))
    nb.cells += [nbformat.v4.new_code_cell(source) for source in cells]
    nbformat.write(nb, path)
    return path


def read_notebook(path: Path) -> Any:
    import nbformat

    return nbformat.read(path, as_version=4)


def stream_text(cell: Any) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")
