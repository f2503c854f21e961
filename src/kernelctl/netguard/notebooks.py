"""Notebooks and scripts checked as a whole: cells in order, sharing one scope.

Used by ``kernelctl scan``; a notebook's cells run with the imports of the cells above them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from .checker import Checker, Unscannable
from .replay import Finding, Scope
from .rulebook import CELL_TAG, Context

CellFinding = tuple["int | None", Finding]


def notebook_cells(notebook: dict) -> list[dict]:
    """The cells of an nbformat 4 (or legacy 3) notebook."""
    if "cells" in notebook:
        cells = notebook["cells"]
    elif "worksheets" in notebook:
        cells = [c for ws in notebook["worksheets"] for c in ws.get("cells", [])]
    else:
        raise ValueError("not a Jupyter notebook (no 'cells')")
    if not isinstance(cells, list):
        raise ValueError("not a Jupyter notebook ('cells' is not a list)")
    return cells


def check_notebook(notebook: dict, checker: Checker, scope: Scope | None = None) -> list[CellFinding]:
    """Findings per code cell of a parsed notebook; the cell index counts every cell."""
    language = ((notebook.get("metadata") or {}).get("kernelspec") or {}).get("language", "python")
    if not str(language).lower().startswith("python"):
        return []
    scope = scope if scope is not None else Scope()
    results: list[CellFinding] = []
    for index, cell in enumerate(notebook_cells(notebook)):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", cell.get("input", ""))
        if isinstance(source, list):
            source = "".join(source)
        if not isinstance(source, str) or not source.strip():
            continue
        findings = checker.check(source, scope)  # run even when tagged: later cells need its imports
        tags = (cell.get("metadata") or {}).get("tags") or []
        if CELL_TAG not in tags:
            results.extend((index, f) for f in findings)
    return results


def check_file(path: Path, checker: Checker, text: str | None = None) -> list[CellFinding]:
    """Findings in a notebook (``.ipynb``) or Python script, given its ``text`` when the caller
    has read it; raises ValueError/OSError when unreadable, and :class:`.checker.Unscannable`
    (a ValueError) when it exhausts the parser."""
    if text is None:
        text = path.read_text(encoding="utf-8")
    checker.ctx.base_dir = str(path.parent)  # relative model paths are relative to the file
    if path.suffix == ".ipynb":
        try:
            notebook = json.loads(text)
        except json.JSONDecodeError as err:
            raise ValueError(f"not valid JSON: {err}") from None
        except RecursionError:
            raise Unscannable("JSON nested too deeply to read") from None
        if not isinstance(notebook, dict):
            raise ValueError("not a Jupyter notebook")
        return check_notebook(notebook, checker)
    analysis = checker.analyze(text)
    if analysis.syntax_error:
        raise ValueError(f"syntax error, {analysis.syntax_error}")
    return [(None, f) for f in checker.check(text)]


def check_source(source: str, ctx: Context | None = None, scope: Scope | None = None) -> list[Finding]:
    """Convenience: findings in one piece of source (a script or an IPython cell)."""
    return Checker(ctx).check(source, scope)


def iter_findings(cells: Iterable[str], checker: Checker | None = None) -> list[list[Finding]]:
    """Findings for a sequence of cells sharing one scope, as a notebook would run them."""
    checker = checker or Checker()
    scope = Scope()
    return [checker.check(cell, scope) for cell in cells]
