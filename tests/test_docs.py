"""The commands shown in the docs run, and the output they show is true.

Convention, for ``docs/*.md`` and ``README.md``: in a fenced block, a line that starts with
``$ kernelctl `` (or ``$ jupyter kernelctl ``) is a command this test runs; the lines after
it, up to the next ``$ `` line or the end of the block, are its shown output. A line that is
only ``...`` elides output and is ignored; the first other line of shown output must appear
in the real output (stdout and stderr, with the home directory written ``~``).

- A command ending in ``# needs the internet`` or ``# on the cluster`` is not run here;
  ``test_lines_not_run`` lists them all.
- A command ending in ``# exits 1`` shows a failure on purpose: it must exit 1.
- ``scan``, ``doctor``, ``wheelhouse check`` and ``wheelhouse audit`` exit 1 when they find
  something, by design: they may exit 0 or 1.
- Every other command must exit 0. None may exit 2 or print a traceback.
- A ``--help`` command whose shown output has no ``...`` must print exactly that (at 80
  columns): the reference copies every command's help whole.

Each file's commands run in order, in one fresh sandbox: the ``isolated_env`` home, a
working directory holding the files the docs use (``requirements.txt``, ``analysis.ipynb``),
``KERNELCTL_WHEELHOUSE`` set to the real wheels (ipykernel, numpy) plus a few tiny wheels
(pandas, matplotlib), and, for a file whose commands use ``--module``, a real module system
over the test modulefiles.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import ROOT, require_system

DOC_FILES = sorted((ROOT / "docs").glob("*.md")) + [ROOT / "README.md"]
SKIP_MARKER = re.compile(r"\s#\s*(needs the internet|on the cluster)\s*$")
FAIL_MARKER = re.compile(r"\s#\s*exits 1\s*$")
PROMPT = re.compile(r"^\$ (jupyter )?kernelctl ")
# Commands whose exit status 1 means "found something", not "failed".
FINDERS = (("scan",), ("doctor",), ("wheelhouse", "check"), ("wheelhouse", "audit"))
TIMEOUT = 180

# Tiny stand-ins for wheels the docs name beyond the real ipykernel and numpy.
TINY_WHEELS = [
    {"name": "pandas", "version": "2.2.1", "requires": ["numpy>=1.23"]},
    {"name": "matplotlib", "version": "3.8.4", "requires": ["numpy>=1.21"]},
]

NOTEBOOK = {
    "cells": [
        {"cell_type": "markdown", "metadata": {}, "source": ["# Analysis"]},
        {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
         "source": ["!pip install transformers"]},
        {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
         "source": ["from transformers import AutoModel\n", 'model = AutoModel.from_pretrained("bert-base-uncased")']},
    ],
    "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    "nbformat": 4,
    "nbformat_minor": 5,
}


@dataclass(frozen=True)
class DocCommand:
    path: Path
    line: int
    command: str        # without the "$ " prompt
    shown: str | None   # first line of shown output, if any
    shown_all: tuple[str, ...]  # every line of shown output
    skip: str | None    # why it is not run here
    must_fail: bool

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"

    @property
    def words(self) -> list[str]:
        words = shlex.split(self.command, comments=True)
        return words[1:] if words and words[0] == "jupyter" else words

    @property
    def may_find(self) -> bool:
        args = self.words[1:]
        return any(tuple(args[:len(f)]) == f for f in FINDERS)


def parse(path: Path) -> list[DocCommand]:
    """The kernelctl commands in ``path``'s fenced blocks, with their shown output."""
    commands: list[DocCommand] = []
    in_block = False
    current: dict | None = None

    def finish() -> None:
        nonlocal current
        if current is not None:
            commands.append(DocCommand(path, current["line"], current["command"], current["shown"],
                                       tuple(current["all"]), current["skip"], current["must_fail"]))
        current = None

    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if line.lstrip().startswith("```"):
            finish()
            in_block = not in_block
            continue
        if not in_block:
            continue
        if line.startswith("$ "):
            finish()
            if not PROMPT.match(line):
                continue
            start = i
            text = line[2:]
            while text.endswith("\\") and i < len(lines):
                text = text[:-1] + " " + lines[i].strip()
                i += 1
            skip = SKIP_MARKER.search(text)
            current = {"line": start, "command": text.strip(), "shown": None, "all": [],
                       "skip": skip.group(1) if skip else None, "must_fail": bool(FAIL_MARKER.search(text))}
        elif current is not None:
            current["all"].append(line)
            if current["shown"] is None and line.strip() and line.strip() != "...":
                current["shown"] = line.strip()
    finish()
    return commands


TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:[+-]\d\d:\d\d|Z)?")


def _normalize(text: str) -> str:
    """Whitespace runs as one space, and any ISO 8601 time as TIME (shown output may be old)."""
    return " ".join(TIMESTAMP.sub("TIME", text).split())


def _sandbox(tmp_path: Path, home: Path, real_wheelhouse: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The working directory and environment the docs' commands run in."""
    from wheelfactory import build_wheelhouse

    tiny = build_wheelhouse(tmp_path / "tiny-wheels", TINY_WHEELS)
    monkeypatch.setenv("KERNELCTL_WHEELHOUSE", os.pathsep.join([str(real_wheelhouse), str(tiny)]))
    # Kernelspecs where a user's are: ~/.local/share/jupyter/kernels.
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(home / ".local/share/jupyter"))
    shim = tmp_path / "bin"
    shim.mkdir()
    (shim / "kernelctl").write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m kernelctl "$@"\n')
    (shim / "kernelctl").chmod(0o755)
    monkeypatch.setenv("PATH", os.pathsep.join([str(shim), os.path.dirname(sys.executable), os.environ["PATH"]]))
    work = tmp_path / "work"
    work.mkdir()
    (work / "requirements.txt").write_text("numpy\n")
    (work / "analysis.ipynb").write_text(json.dumps(NOTEBOOK, indent=1) + "\n")
    return work


def _module_system(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import modsupport

    for kind in ("lmod", "tcl"):
        if modsupport.find_command(kind):
            modsupport.setup_modules(kind, tmp_path, monkeypatch)
            return
    require_system(False, "the docs' --module examples need Lmod or Environment Modules "
                          "(run .ci/install-system-packages as root)")


def _check(cmd: DocCommand, proc: subprocess.CompletedProcess[str], home: Path) -> None:
    output = proc.stdout + proc.stderr
    context = f"{cmd.where}: $ {cmd.command}\nexit {proc.returncode}\n{output}"
    assert "Traceback" not in output, context
    assert proc.returncode != 2, context
    if cmd.must_fail:
        assert proc.returncode == 1, context
    elif cmd.may_find:
        assert proc.returncode in (0, 1), context
    else:
        assert proc.returncode == 0, context
    if cmd.shown is not None:
        real = _normalize(output.replace(str(home), "~"))
        assert _normalize(cmd.shown) in real, f"shown output is not in the real output\n{context}"
    if cmd.words[-1:] == ["--help"] and cmd.shown_all and "..." not in (line.strip() for line in cmd.shown_all):
        # The reference copies --help whole: it must be exactly what the command prints.
        assert "\n".join(cmd.shown_all).rstrip() == proc.stdout.rstrip(), f"--help differs\n{context}"


DOCS_WITH_COMMANDS = [doc for doc in DOC_FILES if any(c.skip is None for c in parse(doc))]


@pytest.mark.parametrize("doc", DOCS_WITH_COMMANDS, ids=[str(p.relative_to(ROOT)) for p in DOCS_WITH_COMMANDS])
def test_doc_commands(doc: Path, tmp_path: Path, isolated_env: Path, real_wheelhouse: Path,
                      monkeypatch: pytest.MonkeyPatch) -> None:
    commands = [c for c in parse(doc) if c.skip is None]
    home = isolated_env
    work = _sandbox(tmp_path, home, real_wheelhouse, monkeypatch)
    if any("--module" in c.words for c in commands):
        _module_system(tmp_path, monkeypatch)
    for cmd in commands:
        proc = subprocess.run(["bash", "-c", cmd.command], cwd=work, capture_output=True, text=True,
                              timeout=TIMEOUT, stdin=subprocess.DEVNULL, env={**os.environ, "COLUMNS": "80"})
        _check(cmd, proc, home)


def test_lines_not_run_say_why() -> None:
    """Doc commands that are not run (they need the internet or a real cluster) say so in the doc."""
    skipped = [c for doc in DOC_FILES for c in parse(doc) if c.skip]
    for cmd in skipped:
        assert SKIP_MARKER.search(cmd.command), cmd


def test_parser_reads_the_convention(tmp_path: Path) -> None:
    doc = tmp_path / "x.md"
    doc.write_text("text\n$ kernelctl list\n```console\n$ kernelctl list\nNAME  X\n...\n"
                   "$ module load python\n$ kernelctl wheelhouse fetch numpy --dest ~/w  # needs the internet\n"
                   "$ kernelctl create x requests   # exits 1\n...\nerror: no\n"
                   "$ jupyter kernelctl doctor\n```\n")
    cmds = parse(doc)
    assert [(c.line, c.command.split("#")[0].strip(), c.shown, c.skip, c.must_fail) for c in cmds] == [
        (4, "kernelctl list", "NAME  X", None, False),
        (8, "kernelctl wheelhouse fetch numpy --dest ~/w", None, "needs the internet", False),
        (9, "kernelctl create x requests", "error: no", None, True),
        (12, "jupyter kernelctl doctor", None, None, False),
    ]
    assert cmds[3].may_find and not cmds[0].may_find
