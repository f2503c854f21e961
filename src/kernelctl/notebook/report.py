"""What a run produced, for the Python API and the ``--report`` JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kernelctl.commands.common import Kernel
from kernelctl.fsutil import write_json_atomic
from kernelctl.notebook import state
from kernelctl.notebook.outcome import Cause


@dataclass
class RunResult:
    """The end of a run: its cause (``exit_code`` is the CLI's status), the error message and
    hint when it did not finish, the output notebook and the report's data."""

    cause: Cause
    output: Path
    message: str = ""
    hint: str | None = None
    report: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.cause is Cause.DONE

    @property
    def exit_code(self) -> int:
        return self.cause.value


def cell_records(nb: Any) -> list[dict[str, Any]]:
    """Each code cell's number (from 1), index in the notebook, tags, status and seconds."""
    records = []
    for number, index in enumerate(state.code_cells(nb), 1):
        cell = nb.cells[index]
        meta = cell.metadata.get(state.KEY) or {}
        records.append({"number": number, "index": index, "tags": list(cell.metadata.get("tags") or []),
                        "status": meta.get("status", "pending"), "seconds": meta.get("seconds")})
    return records


def build(nb: Any, kernel: Kernel, env: dict[str, str], cause: Cause, message: str, *, source: str, output: Path,
          seconds: float, peak_rss: int, extra: dict[str, Any]) -> dict[str, Any]:
    """The report of a run of ``nb`` (the output notebook as saved)."""
    spec = kernel.spec
    return {
        "notebook": source,
        "output": str(output),
        "kernel": {"name": spec.name, "display_name": spec.spec.get("display_name"),
                   "language": kernel.manifest.options.language, "resource_dir": str(spec.resource_dir),
                   "prefix": str(kernel.prefix)},
        "modules": list(kernel.manifest.options.modules),
        "env": env,
        "exit": {"code": cause.value, "cause": cause.label, "message": message},
        "seconds": round(seconds, 3),
        "peak_rss_bytes": peak_rss,
        "cells": cell_records(nb),
        **extra,
    }


def write(path: Path, report: dict[str, Any]) -> None:
    write_json_atomic(path, report)
