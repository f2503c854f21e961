"""`kernelctl wheelhouse avail`: names, globs, specifiers, newest version, JSON, exit code."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from wheelfactory import build_wheelhouse

from kernelctl.commands.wheelhouse_avail import list_available

CP = f"cp{sys.version_info[0]}{sys.version_info[1]}"
PY = f"{sys.version_info[0]}.{sys.version_info[1]}"


@pytest.fixture()
def wheelhouse(tmp_path: Path) -> str:
    return str(build_wheelhouse(tmp_path / "generic", [
        {"name": "netCDF4", "version": "1.6.5", "tag": f"cp310.{CP}-cp310.{CP}-linux_x86_64"},
        {"name": "netCDF4", "version": "1.5.8", "tag": "cp310-cp310-linux_x86_64"},
        {"name": "h5netcdf", "version": "1.3.0", "tag": "py3-none-any"},
        {"name": "numpy", "version": "1.26.4+computecanada", "tag": f"{CP}-{CP}-linux_x86_64"},
        {"name": "numpy", "version": "1.25.2+computecanada", "tag": "cp39-cp39-linux_x86_64"},
        {"name": "backports.functools_lru_cache", "version": "1.6.6", "tag": "py2.py3-none-any"},
    ]))


def test_glob_is_case_and_separator_insensitive(wheelhouse: str) -> None:
    rows = list_available(["*CDF*"], wheelhouse=[wheelhouse])["wheels"]
    assert [(r["name"], r["version"]) for r in rows] == [("h5netcdf", "1.3.0"), ("netCDF4", "1.6.5")]
    dotted = list_available(["Backports-Functools-LRU-Cache"], wheelhouse=[wheelhouse])["wheels"]
    assert [r["name"] for r in dotted] == ["backports.functools_lru_cache"]


def test_versions_local_part_and_columns(wheelhouse: str) -> None:
    rows = list_available(["numpy"], all_versions=True, wheelhouse=[wheelhouse])["wheels"]
    assert [(r["version"], r["local"]) for r in rows] == [("1.26.4", "computecanada"), ("1.25.2", "computecanada")]
    newest = list_available(["netcdf4"], wheelhouse=[wheelhouse])["wheels"]
    assert newest[0]["python"] == f"cp310,{CP}" and newest[0]["platform"] == "linux_x86_64"
    assert set(newest[0]) == {"name", "version", "local", "python", "abi", "platform", "file"}
    spec = list_available(["numpy<1.26"], wheelhouse=[wheelhouse])["wheels"]
    assert [r["version"] for r in spec] == ["1.25.2"]
    for_here = list_available(["numpy"], pythons=[PY], all_versions=True, wheelhouse=[wheelhouse])["wheels"]
    assert [r["version"] for r in for_here] == ["1.26.4"]


def test_cli_json_and_not_found(wheelhouse: str, kernelctl_cli: list[str]) -> None:
    proc = subprocess.run([*kernelctl_cli, "wheelhouse", "avail", "numpy", "--json", "--wheelhouse", wheelhouse],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert [r["name"] for r in json.loads(proc.stdout)["wheels"]] == ["numpy"]
    table = subprocess.run([*kernelctl_cli, "wheelhouse", "avail", "--wheelhouse", wheelhouse],
                           capture_output=True, text=True)
    assert table.returncode == 0 and table.stdout.splitlines()[0].split()[:3] == ["NAME", "VERSION", "LOCAL"]
    assert len(table.stdout.splitlines()) == 1 + 4  # header + newest wheel of each project
    missing = subprocess.run([*kernelctl_cli, "wheelhouse", "avail", "scipy", "--wheelhouse", wheelhouse],
                             capture_output=True, text=True)
    assert missing.returncode == 1 and "scipy" in missing.stderr
    bad = subprocess.run([*kernelctl_cli, "wheelhouse", "avail", "numpy>>1", "--wheelhouse", wheelhouse],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
