"""netguard inside real R kernels: the hook kernelctl writes into each R kernel's profile.

Each kernel is made by ``kernelctl create --language r`` and its cells are run by
``netguard_helpers/run_cells.py`` inside a network namespace with only loopback
(``offline_command``), so every connection the cells attempt fails at once.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import offline_command
from kernelhelpers import kernel_json, kernelctl
from kernelctl.netguard.catalogue import RULES
from kernelctl.netguard.r_rules import R_CRAN_INSTALL
from rsupport import cran_like_repo

HELPER = Path(__file__).parent / "netguard_helpers" / "run_cells.py"
PREFIX = "[kernelctl netguard]"


def outcome(call: str) -> str:
    """A cell that runs ``call`` and prints "ok" or its error message on stdout."""
    return (f'r <- try({call}, silent = TRUE)\n'
            'cat(if (inherits(r, "try-error")) conditionMessage(attr(r, "condition")) else "ok", "\\n")')


CELLS = {
    "remote": outcome('download.file("https://example.org/x", tempfile(), quiet = TRUE)'),
    "cran": 'old <- options(repos = c(CRAN = "https://cloud.r-project.org"))\n'
            + outcome('install.packages("foo", lib = tempdir(), quiet = TRUE)') + "\noptions(old)",
    "repos_null": outcome('suppressWarnings(install.packages("/nowhere/foo_1.0.tar.gz", repos = NULL))'),
    "local_repo": outcome('suppressWarnings(install.packages("absent", lib = tempdir(), quiet = TRUE))'),
    "file_url": 'f <- tempfile(); writeLines("x", f)\n'
                + outcome('download.file(paste0("file://", f), tempfile(), quiet = TRUE)'),
    "loopback": outcome('download.file("http://127.0.0.1:9/x", tempfile(), quiet = TRUE)'),
    "allowed": outcome('download.file("https://mirror.example.net/x", tempfile(), quiet = TRUE)'),
}


def create_r_kernel(tmp_path: Path, mode: str) -> None:
    repo = cran_like_repo(tmp_path / "repo", ("greet",))
    kernelctl("create", "rk", "--language", "r", "--r-repo", str(repo), "--netguard", mode,
              "--netguard-allow", ".example.net", "--no-verify", "-q")
    assert kernel_json(tmp_path / "jupyter-data", "rk")["env"]["KERNELCTL_NETGUARD"] == mode


def run_cells(tmp_path: Path, names: tuple[str, ...] = tuple(CELLS)) -> dict[str, dict]:
    """Run the CELLS called ``names`` in kernel rk offline; results by cell name."""
    cells_file = tmp_path / "cells.json"
    cells_file.write_text(json.dumps([CELLS[name] for name in names]))
    done = subprocess.run(offline_command([sys.executable, str(HELPER), "rk", str(cells_file)]),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return dict(zip(names, json.loads(done.stdout)))


def run_r_kernel(tmp_path: Path, mode: str) -> dict[str, dict]:
    """Create an R kernel in netguard ``mode`` and run CELLS in it offline; results by cell name."""
    create_r_kernel(tmp_path, mode)
    return run_cells(tmp_path)


def guard_lines(result: dict) -> list[str]:
    return [line for line in result["stderr"].splitlines() if line.startswith(PREFIX)]


def test_warn_mode_prints_one_line_per_internet_call(tmp_path: Path) -> None:
    results = run_r_kernel(tmp_path, "warn")
    assert guard_lines(results["remote"]) == [
        f'{PREFIX} http-request: download.file("https://example.org/x") needs the internet '
        f'\u2014 {RULES["http-request"].hint}']
    assert "cannot open URL" in results["remote"]["stdout"]  # warned, then R tried (and failed offline)
    assert guard_lines(results["cran"]) == [
        f"{PREFIX} r-cran-install: install.packages() from https://cloud.r-project.org needs the internet "
        f"\u2014 {R_CRAN_INSTALL.hint}"]  # one line: not again for the index downloads inside it
    for name in ("repos_null", "local_repo", "file_url", "loopback", "allowed"):
        assert guard_lines(results[name]) == [], name
    assert results["file_url"]["stdout"].strip() == "ok"
    assert all(r["error"] is None for r in results.values())


def test_block_mode_stops_the_call_at_once_with_the_fix(tmp_path: Path) -> None:
    results = run_r_kernel(tmp_path, "block")
    assert results["remote"]["stdout"].strip() == (
        f'block mode: {PREFIX} http-request: download.file("https://example.org/x") needs the internet '
        f'\u2014 {RULES["http-request"].hint}')
    assert results["cran"]["stdout"].startswith(f"block mode: {PREFIX} r-cran-install: install.packages()")
    assert R_CRAN_INSTALL.hint in results["cran"]["stdout"]
    for name in ("repos_null", "local_repo", "file_url", "loopback", "allowed"):
        assert "block mode" not in results[name]["stdout"] and guard_lines(results[name]) == [], name
    assert results["file_url"]["stdout"].strip() == "ok"


def test_off_mode_adds_no_hook_and_kernelctl_netguard_switches_the_mode(tmp_path: Path) -> None:
    results = run_r_kernel(tmp_path, "off")
    assert [line for r in results.values() for line in guard_lines(r)] == []
    assert "cannot open URL" in results["remote"]["stdout"]  # R's own failure, nothing in front of it
    assert "block mode" not in "".join(r["stdout"] for r in results.values())

    kernelctl("netguard", "rk", "--mode", "block")  # the allowlist is kept
    env = kernel_json(tmp_path / "jupyter-data", "rk")["env"]
    assert env == {"KERNELCTL_NETGUARD": "block", "KERNELCTL_NETGUARD_ALLOW": ".example.net,${KERNELCTL_NETGUARD_ALLOW}"}
    results = run_cells(tmp_path, ("remote", "allowed"))
    assert results["remote"]["stdout"].startswith(f"block mode: {PREFIX} http-request:")
    assert "block mode" not in results["allowed"]["stdout"]
    kernelctl("netguard", "rk", "--clear-allow")
    assert kernel_json(tmp_path / "jupyter-data", "rk")["env"] == {"KERNELCTL_NETGUARD": "block"}
    assert run_cells(tmp_path, ("allowed",))["allowed"]["stdout"].startswith(f"block mode: {PREFIX} http-request:")
