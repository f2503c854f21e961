"""What a run prints as it goes: each cell's start, its output as it arrives, its end.

Progress, the cells' stdout and their tracebacks (cell output, like the rest) go to ``out``,
the cells' stderr streams and kernelctl's warnings to ``err``;
every write is flushed, so a Slurm output file shows where the run is.
"""

from __future__ import annotations

import re
import sys
from typing import Any, TextIO

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def first_line(source: str, width: int = 60) -> str:
    line = next((s.strip() for s in source.splitlines() if s.strip()), "")
    return line if len(line) <= width else line[:width - 1] + "…"


def plain(text: str) -> str:
    """``text`` without terminal colour codes (tracebacks carry them)."""
    return _ANSI.sub("", text)


class Live:
    """Prints a run's progress; ``number`` and ``total`` count code cells from 1."""

    def __init__(self, out: TextIO | None = None, err: TextIO | None = None) -> None:
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self._line_open = {id(self.out): False, id(self.err): False}

    def _write(self, stream: TextIO, text: str) -> None:
        stream.write(text)
        stream.flush()
        if text:
            self._line_open[id(stream)] = not text.endswith("\n")

    def _end_lines(self) -> None:
        """Finish a line a cell left open, so the next progress line starts on its own."""
        for stream in (self.out, self.err):
            if self._line_open[id(stream)]:
                self._write(stream, "\n")

    def note(self, text: str) -> None:
        self._end_lines()
        self._write(self.out, f"{text}\n")

    def warn(self, text: str) -> None:
        self._end_lines()
        self._write(self.err, f"warning: {text}\n")

    def cell_start(self, number: int, total: int, source: str, again: bool = False) -> None:
        what = " (setup, again)" if again else ""
        self.note(f"[cell {number}/{total}]{what} {first_line(source)}")

    def output(self, msg: dict[str, Any]) -> None:
        """One iopub message of the running cell."""
        kind, content = msg["msg_type"], msg["content"]
        if kind == "stream":
            self._write(self.err if content.get("name") == "stderr" else self.out, content.get("text", ""))
        elif kind == "error":
            self._write(self.out, plain("\n".join(content.get("traceback") or [])) + "\n")
        elif kind == "execute_result":
            text = (content.get("data") or {}).get("text/plain")
            if text:
                self._write(self.out, text + "\n")

    def cell_end(self, number: int, total: int, state: str, seconds: float) -> None:
        self.note(f"[cell {number}/{total}] {state} in {seconds:.2f} s")
