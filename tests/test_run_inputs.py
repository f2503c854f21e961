"""Inputs ``kernelctl run`` refuses before any kernel starts (no kernel needed): files that are
not notebooks, and paths that would overwrite the notebook or the output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from kernelctl.commands.run import read_notebook, run
from kernelctl.errors import UsageError


def _notebook(path: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell("print(1)"))
    nbformat.write(nb, path)
    return path


def test_a_fifo_is_refused_instead_of_blocking_forever(tmp_path: Path) -> None:
    fifo = tmp_path / "n.ipynb"
    os.mkfifo(fifo)
    # in a subprocess: a regression would block in open(), which no exception can interrupt
    proc = subprocess.run([sys.executable, "-m", "kernelctl", "run", str(fifo), "-k", "x"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "is not a regular file" in proc.stderr and "Traceback" not in proc.stderr


def test_a_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="is not a regular file"):
        read_notebook(tmp_path)


@pytest.mark.parametrize("source", [5, None, {"a": 1}])
def test_a_cell_without_text_source_is_refused(tmp_path: Path, source: object) -> None:
    path = tmp_path / "n.ipynb"
    cell = {"cell_type": "code", "source": source, "metadata": {}, "outputs": [], "execution_count": None}
    path.write_text(json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    with pytest.raises(UsageError, match="cell 1 has no text source"):
        read_notebook(path)


def test_sources_saved_as_lists_of_lines_still_read(tmp_path: Path) -> None:
    path = tmp_path / "n.ipynb"
    cell = {"cell_type": "code", "source": ["print(1)\n", "print(2)"], "metadata": {}, "outputs": [],
            "execution_count": None}
    path.write_text(json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    assert read_notebook(path).cells[0].source == "print(1)\nprint(2)"


@pytest.mark.parametrize("target", ["n.ipynb", "n.out.ipynb"])
def test_report_may_not_overwrite_the_notebook_or_the_output(tmp_path: Path, target: str) -> None:
    nb = _notebook(tmp_path / "n.ipynb")
    before = nb.read_bytes()
    with pytest.raises(UsageError, match="would overwrite the"):
        run(nb, "x", report=tmp_path / target, echo=False)
    assert nb.read_bytes() == before and not (tmp_path / "n.out.ipynb").exists()


def test_output_that_is_a_directory_is_a_usage_error(tmp_path: Path) -> None:
    nb = _notebook(tmp_path / "n.ipynb")
    (tmp_path / "out").mkdir()
    with pytest.raises(UsageError, match="is a directory"):
        run(nb, "x", output=tmp_path / "out", echo=False)


@pytest.mark.parametrize("option", ["cell_timeout", "start_timeout", "autosave"])
@pytest.mark.parametrize("value", [float("nan"), float("inf"), 0.0])
def test_timeouts_must_be_finite_and_positive(tmp_path: Path, option: str, value: float) -> None:
    """nan passed the old '<= 0' check: --autosave nan saved in a busy loop, nan/inf timeouts a TraitError."""
    nb = _notebook(tmp_path / "n.ipynb")
    with pytest.raises(UsageError, match="must be a positive number of seconds"):
        run(nb, "x", echo=False, **{option: value})


def test_resume_with_an_output_is_a_usage_error_not_silently_ignored(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="--resume continues the run into its own output"):
        run(resume=_notebook(tmp_path / "n.out.ipynb"), output=tmp_path / "other.ipynb", echo=False)
    assert not (tmp_path / "other.ipynb").exists()


def test_two_runs_cannot_write_the_same_output_at_once(tmp_path: Path) -> None:
    from kernelctl.errors import KernelctlError
    from kernelctl.notebook.saving import claimed

    work = tmp_path / "work"
    work.mkdir()
    out = work / "n.out.ipynb"
    with claimed(out):
        with pytest.raises(KernelctlError, match=f"another kernelctl run \\(pid {os.getpid()} on .*\\) is writing"):
            with claimed(work / "." / "n.out.ipynb"):  # the same file, spelled otherwise
                pass
        with claimed(work / "other.ipynb"):  # another output is free
            pass
    with claimed(out):  # free again once the first run ended
        pass
    assert list(work.iterdir()) == []  # the claim adds nothing beside the user's files


def test_a_report_path_that_is_a_directory_is_refused_before_the_run(tmp_path: Path) -> None:
    """It failed only after the whole run, with an IsADirectoryError."""
    nb = _notebook(tmp_path / "n.ipynb")
    (tmp_path / "r").mkdir()
    with pytest.raises(UsageError, match="--report .* is a directory"):
        run(nb, "x", report=tmp_path / "r", echo=False)
