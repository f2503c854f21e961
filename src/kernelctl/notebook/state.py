"""Where a run stands, kept in the output notebook itself so that a stopped run can resume.

Each code cell carries ``metadata.kernelctl.status``: ``pending``, ``running``,
``completed``, ``error`` (it raised, but errors were allowed), ``failed``, ``timeout``,
``died`` (the kernel died in it) or ``interrupted``, and ``seconds``. The notebook's
``metadata.kernelctl.run`` holds how the run was asked for (source, kernel, options).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

KEY = "kernelctl"
FINISHED = frozenset({"completed", "error"})
# Cells a resume runs again before carrying on: the kernel is new, so their state is gone.
RERUN_TAGS = frozenset({"setup", "parameters", "injected-parameters"})


def code_cells(nb: Any) -> list[int]:
    """Indexes of the cells that run: code cells with some code."""
    return [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.source.strip()]


def status(cell: Any) -> str:
    record = cell.metadata.get(KEY)
    return str(record.get("status", "pending")) if isinstance(record, Mapping) else "pending"


def mark(cell: Any, state: str, seconds: float | None = None, **extra: Any) -> None:
    """Record ``state`` (and how long the cell ran) in the cell's metadata."""
    record: dict[str, Any] = {"status": state}
    if seconds is not None:
        record["seconds"] = round(seconds, 3)
    record.update(extra)
    cell.metadata[KEY] = record


def reset(nb: Any) -> None:
    """A fresh run: every code cell pending, with no outputs from an earlier run."""
    for index in code_cells(nb):
        cell = nb.cells[index]
        cell.outputs = []
        cell.execution_count = None
        mark(cell, "pending")


# The types of the recorded settings; a file whose settings do not match was not written by
# kernelctl run (or was damaged since) and cannot be resumed.
_SETTINGS = {"source": (str,), "kernel": (str,), "parameters": (Mapping,), "cell_timeout": (int, float, type(None)),
             "allow_errors": (bool,), "netguard": (str, type(None))}


def run_settings(nb: Any) -> dict[str, Any]:
    """How the run that wrote ``nb`` was asked for ({} for a notebook kernelctl did not run,
    or whose record of it is damaged)."""
    meta = nb.metadata.get(KEY)
    run = meta.get("run") if isinstance(meta, Mapping) else None
    if not isinstance(run, Mapping) or not all(isinstance(run.get(k), types) for k, types in _SETTINGS.items()):
        return {}
    return dict(run)


def record_settings(nb: Any, settings: Mapping[str, Any]) -> None:
    nb.metadata.setdefault(KEY, {})["run"] = dict(settings)


def resume_plan(nb: Any) -> tuple[list[int], list[int]]:
    """The cells a resume runs: (finished cells to run again for their state, the rest).

    The rest starts at the first code cell that did not finish; the ones run again are the
    finished cells before it tagged ``setup``, ``parameters`` or ``injected-parameters``.
    """
    cells = code_cells(nb)
    start = next((n for n, i in enumerate(cells) if status(nb.cells[i]) not in FINISHED), len(cells))
    again = [i for i in cells[:start] if RERUN_TAGS & set(nb.cells[i].metadata.get("tags") or [])]
    return again, cells[start:]
