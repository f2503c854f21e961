"""``kernelctl scan``: human and JSON output, exit codes, recursion, bad files."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from kernelctl.cli import main
from kernelctl.commands.scan import iter_files, scan


def _notebook(path: Path, cells: list[tuple[str, str]], **metadata: object) -> Path:
    """Write a nbformat-4 notebook of (cell_type, source) cells; a 'tagged:' prefix adds the allow tag."""
    nb_cells = []
    for kind, source in cells:
        meta: dict = {}
        if source.startswith("tagged:"):
            source, meta = source[len("tagged:"):], {"tags": ["kernelctl-allow-net"]}
        cell = {"cell_type": kind, "metadata": meta, "source": source.splitlines(keepends=True)}
        if kind == "code":
            cell.update(outputs=[], execution_count=None)
        nb_cells.append(cell)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": metadata, "cells": nb_cells}))
    return path


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    _notebook(root / "tutorial.ipynb", [
        ("markdown", "Install first:\n\n    !pip install transformers\n\nsee https://huggingface.co"),
        ("code", "import pandas as pd\nfrom transformers import AutoModel"),
        ("code", "!pip install transformers"),
        ("markdown", "Load the model"),
        ("code", "model = AutoModel.from_pretrained('bert-base-uncased')\ndf = pd.read_csv('https://example.org/a.csv')"),
        ("code", "tagged:!wget https://example.org/big.tgz"),
    ])
    _notebook(root / "clean.ipynb", [("code", "import numpy as np\nprint(np.arange(3))")])
    (root / "scripts").mkdir()
    (root / "scripts" / "fetch.py").write_text("import nltk\n\nnltk.download('punkt')\n")
    (root / "scripts" / "notes.txt").write_text("!pip install x\n")
    # Places a scan must not descend into.
    _notebook(root / ".ipynb_checkpoints" / "tutorial-checkpoint.ipynb", [("code", "!pip install x")])
    _notebook(root / ".hidden" / "x.ipynb", [("code", "!pip install x")])
    (root / "venv").mkdir()
    (root / "venv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (root / "venv" / "lib.py").write_text("import nltk\nnltk.download('x')\n")
    (root / "__pycache__").mkdir()
    (root / "__pycache__" / "x.py").write_text("import nltk\nnltk.download('x')\n")
    return root


def test_directory_recursion_skips_hidden_checkpoints_and_venvs(project: Path) -> None:
    files = [p.relative_to(project).as_posix() for p in iter_files(project)]
    assert files == ["clean.ipynb", "tutorial.ipynb", "scripts/fetch.py"]


def test_human_output_and_exit_status(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", str(project)]) == 1
    out, err = capsys.readouterr()
    lines = out.splitlines()
    nb, script = project / "tutorial.ipynb", project / "scripts" / "fetch.py"
    assert [line.split(" — ")[0] for line in lines] == [
        f"{nb}:cell 3:line 1: pip-install pip install downloads from PyPI (pypi.org)",
        f"{nb}:cell 5:line 1: hf-from-pretrained from_pretrained('bert-base-uncased') downloads from the model hub",
        f"{nb}:cell 5:line 2: remote-read pandas.read_csv() reads from example.org",
        f"{script}:line 3: nltk-download nltk.download() fetches data from raw.githubusercontent.com",
    ]
    assert all(" — " in line and line.split(" — ")[1] for line in lines)
    assert "4 finding(s) in 3 files scanned" in err


def test_json_output(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", str(project / "tutorial.ipynb"), str(project / "scripts"), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert [f["path"] for f in report["files"]] == [str(project / "tutorial.ipynb"),
                                                    str(project / "scripts" / "fetch.py")]
    notebook, script = report["files"]
    # cell: 0-based index into the notebook's cells, markdown cells included.
    assert [(f["cell"], f["line"], f["rule"]) for f in notebook["findings"]] == [
        (2, 1, "pip-install"), (4, 1, "hf-from-pretrained"), (4, 2, "remote-read")]
    assert [(f["cell"], f["line"], f["rule"]) for f in script["findings"]] == [(None, 3, "nltk-download")]
    for finding in notebook["findings"] + script["findings"]:
        assert set(finding) == {"cell", "line", "rule", "message", "hint"} and finding["hint"]
    assert "error" not in notebook


def test_clean_files_exit_zero(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", str(project / "clean.ipynb"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"files": [{"path": str(project / "clean.ipynb"), "findings": []}]}


def test_missing_path_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", str(tmp_path / "nope.ipynb")]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines()[0] == f"error: no such file or directory: {tmp_path / 'nope.ipynb'}"
    assert "Traceback" not in err and len(err.splitlines()) == 2


def test_bad_allow_entry_is_a_usage_error(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", str(project), "--allow", "ex@mple"]) == 2
    assert "bad --allow entry" in capsys.readouterr().err


def test_allow_option_and_env(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = project / "tutorial.ipynb"
    rules = [f["rule"] for f in scan([path], allow=["example.org"])[0]["findings"]]
    assert rules == ["pip-install", "hf-from-pretrained"]
    monkeypatch.setenv("KERNELCTL_NETGUARD_ALLOW", ".org")
    assert [f["rule"] for f in scan([path])[0]["findings"]] == ["pip-install", "hf-from-pretrained"]


def test_malformed_and_unreadable_files_are_reported_and_scan_goes_on(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "broken.ipynb").write_text('{"cells": [')
    (project / "notebook-list.ipynb").write_text("[1, 2]")
    (project / "binary.py").write_bytes(b"\xff\xfe\x00bad")
    (project / "syntax.py").write_text("def f(:\n")
    assert main(["scan", str(project), "--json"]) == 1
    report = {Path(f["path"]).name: f for f in json.loads(capsys.readouterr().out)["files"]}
    for name in ("broken.ipynb", "notebook-list.ipynb", "binary.py", "syntax.py"):
        assert report[name]["error"] and report[name]["findings"] == [], name
    assert "JSON" in report["broken.ipynb"]["error"]
    assert "syntax error" in report["syntax.py"]["error"]
    assert len(report["tutorial.ipynb"]["findings"]) == 3  # the good files were still scanned

    assert main(["scan", str(project)]) == 1
    err = capsys.readouterr().err
    assert f"{project / 'broken.ipynb'}: error: not valid JSON" in err
    assert "4 unreadable" in err


def test_markdown_only_notebook_is_clean(tmp_path: Path) -> None:
    path = _notebook(tmp_path / "docs.ipynb", [("markdown", "!pip install x\n\nrequests.get('https://example.org')")])
    assert scan([path]) == [{"path": str(path), "findings": []}]


def test_cli_entry_point_in_a_subprocess(project: Path, kernelctl_cli: list[str]) -> None:
    done = subprocess.run([*kernelctl_cli, "scan", "--json", str(project / "scripts")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    assert json.loads(done.stdout)["files"][0]["findings"][0]["rule"] == "nltk-download"
    help_text = subprocess.run([*kernelctl_cli, "scan", "--help"], capture_output=True, text=True,
                               timeout=120).stdout
    assert "examples:" in help_text and "kernelctl-allow-net" in help_text
