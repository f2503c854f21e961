"""Notebooks and scripts checked as a whole: cells in order, sharing one scope.

Used by ``kernelctl scan``; a notebook's cells run with the imports of the cells above them.
R notebooks (by their kernelspec's or language_info's language) and ``.R`` scripts are
checked by :mod:`.r_rules`; notebooks in other languages are not checked.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from .catalogue import RULES
from .checker import Checker, Unscannable
from .r_rules import RULES as R_RULES, check_r
from .replay import Finding, Scope
from .policy import CELL_TAG
from .rulebook import Context

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


def notebook_language(notebook: dict) -> str:
    """The notebook's language, lowercase: its kernelspec's, else its language_info's, else python."""
    metadata = notebook.get("metadata") or {}
    for key in ("kernelspec", "language_info"):
        section = metadata.get(key) or {}
        value = section.get("language" if key == "kernelspec" else "name") if isinstance(section, dict) else None
        if isinstance(value, str) and value:
            return value.lower()
    return "python"


def r_findings(source: str, ctx: Context) -> list[Finding]:
    """Findings in R code, as the Python checker gives them (R's own rules, or the shared
    ones: shell command lines, HTTP requests, remote reads)."""
    return [Finding(rule, line, message, (R_RULES.get(rule) or RULES[rule]).hint)
            for line, rule, message in check_r(source, ctx)]


def check_notebook(notebook: dict, checker: Checker, scope: Scope | None = None) -> list[CellFinding]:
    """Findings per code cell of a parsed notebook; the cell index counts every cell."""
    language = notebook_language(notebook)
    if language != "r" and not language.startswith("python"):
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
        # run even when tagged: later cells need its imports
        findings = r_findings(source, checker.ctx) if language == "r" else checker.check(source, scope)
        tags = (cell.get("metadata") or {}).get("tags") or []
        if CELL_TAG not in tags:
            results.extend((index, f) for f in findings)
    return results


def check_file(path: Path, checker: Checker, text: str | None = None) -> list[CellFinding]:
    """Findings in a notebook (``.ipynb``), R script (``.R``) or Python script, given its ``text`` when the caller
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
    if path.suffix.lower() == ".r":
        return [(None, f) for f in r_findings(text, checker.ctx)]
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
