"""Helpers for tests that drive the CLI and real kernels."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from jupyter_client.manager import start_new_kernel

CLI = [sys.executable, "-m", "kernelctl"]


def kernelctl(*args: str, check: bool = True, timeout: float = 300, prefix: Sequence[str] = (),
              input: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run the kernelctl CLI in a subprocess (optionally behind ``prefix``, e.g. unshare)."""
    proc = subprocess.run([*prefix, *CLI, *args], capture_output=True, text=True, timeout=timeout,
                          input=input if input is not None else "")
    if check and proc.returncode != 0:
        raise AssertionError(f"kernelctl {' '.join(args)} exited {proc.returncode}:\n{proc.stderr}")
    return proc


def kernelctl_json(*args: str) -> Any:
    return json.loads(kernelctl(*args, "--json").stdout)


def assert_user_error(proc: subprocess.CompletedProcess[str], code: int, *needles: str) -> None:
    """A user-facing error: the exit code, one or two lines on stderr, no traceback.

    Progress lines that came before the error are not part of it.
    """
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    starts = [i for i, line in enumerate(lines) if line.startswith(("error:", "kernelctl: interrupted"))]
    assert starts, proc.stderr
    lines = lines[starts[0]:]
    assert proc.returncode == code, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    assert 1 <= len(lines) <= 2, proc.stderr
    for needle in needles:
        assert needle in proc.stderr, (needle, proc.stderr)


def run_in_kernel(name: str, code: str, timeout: float = 60) -> tuple[str, str]:
    """Start kernel ``name`` by name through jupyter_client, run ``code``; return (stdout, stderr)."""
    km, kc = start_new_kernel(kernel_name=name, startup_timeout=timeout)
    out: list[str] = []
    err: list[str] = []

    def hook(msg: dict[str, Any]) -> None:
        if msg["msg_type"] == "stream":
            (out if msg["content"]["name"] == "stdout" else err).append(msg["content"]["text"])
        elif msg["msg_type"] == "error":
            err.append("\n".join(msg["content"]["traceback"]))

    try:
        reply = kc.execute_interactive(code, timeout=timeout, output_hook=hook)
        assert reply["content"]["status"] == "ok", "".join(err)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    return "".join(out), "".join(err)


def kernel_json(jupyter_data_dir: Path, name: str) -> dict[str, Any]:
    return json.loads((jupyter_data_dir / "kernels" / name / "kernel.json").read_text())
