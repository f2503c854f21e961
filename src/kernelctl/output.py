"""Shared ways of printing results: JSON, aligned tables and step progress."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TextIO


def print_json(data: Any, stream: TextIO | None = None) -> None:
    """Print ``data`` as indented JSON followed by a newline."""
    stream = stream or sys.stdout
    # One write: json.dump writes token by token, a system call each when unbuffered.
    stream.write(json.dumps(data, indent=2, default=str) + "\n")


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Return ``rows`` as left-aligned columns under ``headers``."""
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells]
    return "\n".join(lines)


class Progress:
    """Numbered step messages on stderr, so stdout stays clean for results and JSON."""

    def __init__(self, total: int = 0, enabled: bool = True, stream: TextIO | None = None) -> None:
        self.total = total  # the command that runs the steps may set it once it knows them
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self._index = 0

    def note(self, message: str) -> None:
        if self.enabled:
            print(f"      {message}", file=self.stream, flush=True)

    @contextmanager
    def step(self, message: str) -> Iterator[None]:
        self._index += 1
        if self.enabled:
            print(f"[{self._index}/{self.total}] {message} ...", file=self.stream, flush=True)
        started = time.monotonic()
        yield
        if self.enabled:
            print(f"      done in {time.monotonic() - started:.1f} s", file=self.stream, flush=True)
