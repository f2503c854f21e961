"""`kernelctl wheelhouse check`: statuses, reasons, requirements files, JSON and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from wheelfactory import build_corrupt_wheel, build_wheel, build_wheelhouse

from kernelctl.commands.wheelhouse_check import check_wheelhouse
from kernelctl.errors import UsageError
from kernelctl.wheelhouse.reqfile import gather, parse_file

PY = f"{sys.version_info[0]}.{sys.version_info[1]}"
CP = f"cp{sys.version_info[0]}{sys.version_info[1]}"
NEXT_PY = f"{sys.version_info[0]}.{sys.version_info[1] + 1}"


@pytest.fixture()
def site(tmp_path: Path) -> list[str]:
    """A two-directory site wheelhouse: arch-specific first, then generic."""
    arch = build_wheelhouse(tmp_path / "x86-64-v3", [
        {"name": "numpy", "version": "1.26.4+computecanada", "tag": f"{CP}-{CP}-linux_x86_64"},
        {"name": "pandas", "version": "2.2.1+computecanada", "tag": f"{CP}-{CP}-linux_x86_64",
         "requires": ["numpy>=1.23", "python-dateutil>=2.8.2", "tzdata>=2022.7"]},
        {"name": "fastlib", "version": "1.0", "tag": f"{CP}-{CP}-manylinux_2_17_x86_64"},
    ])
    generic = build_wheelhouse(tmp_path / "generic", [
        {"name": "python_dateutil", "version": "2.9.0", "requires": ["six>=1.5"]},
        {"name": "six", "version": "1.16.0", "tag": "py2.py3-none-any"},
        {"name": "requests", "version": "2.31.0"},
        {"name": "requests", "version": "2.32.3", "requires_python": f">={NEXT_PY}"},
        {"name": "a", "version": "1.0", "requires": ["c<2"]},
        {"name": "b", "version": "1.0", "requires": ["c>=2"]},
        {"name": "c", "version": "1.0"},
        {"name": "c", "version": "2.0"},
        {"name": "mpi4py", "version": "3.1.4+dummy.computecanada",
         "requires": ["mpi4py-noinstall==9999+dummy.computecanada"]},
        {"name": "cmake", "version": "3.27.7+dummy.computecanada"},
        {"name": "broken", "version": "1.0", "corrupt": True},
    ])
    return [str(arch), str(generic)]


def _statuses(report: dict, target: int = 0) -> dict[str, dict]:
    return {r["requirement"]: r for r in report["targets"][target]["requirements"]}


def test_each_status_with_its_reason(site: list[str]) -> None:
    reqs = ["pandas", "numpy<1", "scipy", "requests>2.32", "mpi4py", "cmake", "six", "broken"]
    report = check_wheelhouse(reqs, pythons=[PY], wheelhouse=site)
    got = _statuses(report)
    assert not report["covered"]
    assert got["pandas"]["status"] == "dependency-missing"
    assert "pandas 2.2.1+computecanada -> tzdata>=2022.7" in got["pandas"]["reason"]
    assert got["numpy<1"]["status"] == "no-matching-version"
    assert "1.26.4+computecanada" in got["numpy<1"]["reason"]
    assert got["scipy"]["status"] == "not-found"
    assert got["requests>2.32"]["status"] == "incompatible"
    assert f">={NEXT_PY}" in got["requests>2.32"]["reason"]
    assert got["mpi4py"]["status"] == "dummy" and "module load mpi4py" in got["mpi4py"]["reason"]
    assert got["cmake"]["status"] == "dummy"
    assert got["six"]["status"] == "ok" and got["six"]["version"] == "1.16.0"
    assert got["six"]["file"].endswith("six-1.16.0-py2.py3-none-any.whl")
    assert got["broken"]["status"] != "ok" and "cannot read the wheel" in got["broken"]["reason"]
    assert any(p["kind"] == "unreadable" for p in report["problems"])


def test_incompatible_names_the_tags(site: list[str]) -> None:
    report = check_wheelhouse(["fastlib"], pythons=[PY], platforms=["linux_x86_64"], wheelhouse=site)
    entry = _statuses(report)["fastlib"]
    assert entry["status"] == "incompatible"
    assert "manylinux_2_17_x86_64" in entry["reason"] and "linux_x86_64" in entry["reason"]
    native = check_wheelhouse(["fastlib"], pythons=[PY], wheelhouse=site)
    assert native["covered"] is True  # pip on this (non-Alliance) machine accepts manylinux


def test_conflict_between_requirements(site: list[str]) -> None:
    report = check_wheelhouse(["a", "b", "six"], pythons=[PY], wheelhouse=site)
    got = _statuses(report)
    assert got["a"]["status"] == got["b"]["status"] == "conflict"
    assert "c<2" in got["a"]["reason"] and "c>=2" in got["a"]["reason"]
    assert got["six"]["status"] == "ok"
    assert report["targets"][0]["install"] == []


def test_covered_install_list_and_python_targets(site: list[str]) -> None:
    report = check_wheelhouse(["python-dateutil", "requests"], pythons=[PY, NEXT_PY],
                                platforms=["linux_x86_64"], wheelhouse=site)
    assert report["covered"] is True
    first, second = report["targets"]
    assert [t["python"] for t in report["targets"]] == [PY, NEXT_PY]
    assert {(i["name"], i["version"]) for i in first["install"]} == {
        ("python_dateutil", "2.9.0"), ("six", "1.16.0"), ("requests", "2.31.0")}
    assert ("requests", "2.32.3") in {(i["name"], i["version"]) for i in second["install"]}


def test_markers_are_evaluated_for_the_target(tmp_path: Path) -> None:
    wh = build_wheelhouse(tmp_path / "wh", [
        {"name": "tool", "version": "1.0", "requires": [f'backport; python_version < "{NEXT_PY}"']},
    ])
    report = check_wheelhouse(["tool"], pythons=[PY, NEXT_PY], platforms=["linux_x86_64"], wheelhouse=[str(wh)])
    here, later = report["targets"]
    assert here["requirements"][0]["status"] == "dependency-missing"
    assert "backport" in here["requirements"][0]["reason"]
    assert later["covered"] is True
    skipped = check_wheelhouse([f'tool; python_version >= "{NEXT_PY}"'], pythons=[PY], wheelhouse=[str(wh)])
    assert skipped["covered"] is True and "marker" in skipped["targets"][0]["requirements"][0]["reason"]


def test_unknown_extra_is_a_warning_like_pip(tmp_path: Path) -> None:
    wh = build_wheelhouse(tmp_path / "wh", [{"name": "dask", "version": "2024.1.0", "extras": {"array": ["numpy"]}}])
    report = check_wheelhouse(["dask[nosuch]"], pythons=[PY], wheelhouse=[str(wh)])
    assert report["covered"] is True
    assert any("nosuch" in w for w in report["targets"][0]["warnings"])


def test_requirements_file_with_includes_comments_and_freeze_pins(site: list[str], tmp_path: Path) -> None:
    (tmp_path / "base.txt").write_text("# base\nsix>=1.5  # inline comment\n")
    wheel = Path(site[1]) / "python_dateutil-2.9.0-py3-none-any.whl"
    (tmp_path / "req.txt").write_text(
        "--no-index\n-r base.txt\n"
        "numpy==1.26.4+computecanada \\\n    --hash=sha256:0000\n"
        f"python-dateutil @ file://{wheel}\n"
    )
    roots = parse_file(tmp_path / "req.txt")
    assert [r.text for r in roots] == ["six>=1.5", "numpy==1.26.4+computecanada", "python-dateutil @ file://" + str(wheel)]
    assert str(roots[2].requirement) == "python-dateutil==2.9.0"
    assert roots[0].source.endswith("base.txt:2")
    report = check_wheelhouse(files=[str(tmp_path / "req.txt")], pythons=[PY], wheelhouse=site)
    assert report["covered"] is True
    assert {r["status"] for r in report["targets"][0]["requirements"]} == {"ok"}


def test_pip_freeze_output_is_accepted(site: list[str], tmp_path: Path) -> None:
    venv_freeze = subprocess.run([sys.executable, "-m", "pip", "freeze", "--all"], capture_output=True,
                                 text=True, check=True).stdout
    frozen = tmp_path / "frozen.txt"
    frozen.write_text(venv_freeze)
    notes: list[str] = []
    roots = parse_file(frozen, notes=notes)
    lines = [line for line in venv_freeze.splitlines() if line.strip() and not line.startswith("#")]
    assert len(roots) + len(notes) == len(lines)
    assert len(notes) == len([line for line in lines if line.startswith("-e")])
    report = check_wheelhouse(files=[str(frozen)], pythons=[PY], wheelhouse=site)
    assert report["notes"] == notes
    # This virtualenv's packages are not in the small fixture wheelhouse: most are not-found.
    assert report["covered"] is False
    assert "not-found" in {r["status"] for r in report["targets"][0]["requirements"]}


def test_bad_input_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        gather(["numpy>>1"])
    (tmp_path / "c.txt").write_text("-c constraints.txt\n")
    with pytest.raises(UsageError):
        parse_file(tmp_path / "c.txt")
    with pytest.raises(UsageError):
        parse_file(tmp_path / "missing.txt")
    (tmp_path / "loop.txt").write_text("-r loop.txt\n")
    with pytest.raises(UsageError):
        parse_file(tmp_path / "loop.txt")


def test_cli_json_and_exit_codes(site: list[str], kernelctl_cli: list[str], tmp_path: Path) -> None:
    wh = [arg for d in site for arg in ("--wheelhouse", d)]
    ok = subprocess.run([*kernelctl_cli, "wheelhouse", "check", "six", "--json", *wh], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    data = json.loads(ok.stdout)
    assert data["covered"] is True
    target = data["targets"][0]
    assert set(target) >= {"python", "platform", "covered", "install", "requirements"}
    assert set(target["requirements"][0]) >= {"requirement", "status", "reason", "version", "file"}
    assert set(target["install"][0]) == {"name", "version", "file"}

    bad = subprocess.run([*kernelctl_cli, "wheelhouse", "check", "pandas", *wh], capture_output=True, text=True)
    assert bad.returncode == 1
    assert "dependency-missing" in bad.stdout and "tzdata" in bad.stdout

    usage = subprocess.run([*kernelctl_cli, "wheelhouse", "check", "numpy", "--python", "three", *wh],
                           capture_output=True, text=True)
    assert usage.returncode == 2 and "Traceback" not in usage.stderr and "--python" in usage.stderr

    missing_dir = subprocess.run([*kernelctl_cli, "wheelhouse", "check", "six", "--wheelhouse",
                                  str(tmp_path / "nope")], capture_output=True, text=True)
    assert missing_dir.returncode == 1 and "Traceback" not in missing_dir.stderr

    helped = subprocess.run([*kernelctl_cli, "wheelhouse", "check", "--help"], capture_output=True, text=True)
    assert helped.returncode == 0 and "examples:" in helped.stdout


def test_wheelhouse_from_pip_configuration(site: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    conf = tmp_path / "pip.conf"
    conf.write_text(f"[install]\nfind-links = {site[0]} {site[1]}\n")
    monkeypatch.setenv("PIP_CONFIG_FILE", str(conf))
    report = check_wheelhouse(["python-dateutil"], pythons=[PY])
    assert report["wheelhouse"] == site and report["covered"] is True


def test_unreadable_and_misnamed_wheels_are_reported_as_pip_meets_them(tmp_path: Path) -> None:
    wh = tmp_path / "wh"
    build_wheel(wh, "good", "1.0", requires=["dep"])
    build_corrupt_wheel(wh, "dep", "2.0")
    build_wheel(wh, "dep", "1.0")
    (wh / "dep-notaversion-py3-none-any.whl").write_bytes(b"")
    report = check_wheelhouse(["good"], pythons=[PY], wheelhouse=[str(wh)])
    # pip stops at the unreadable dep 2.0 ("Wheel 'dep' ... is invalid"), never reaching
    # dep 1.0: so does the check, naming the wheel; neither file stops the run.
    entry = report["targets"][0]["requirements"][0]
    assert report["covered"] is False and entry["status"] == "dependency-missing"
    assert "good 1.0 -> dep" in entry["reason"] and "dep 2.0: unusable wheel" in entry["reason"]
    kinds = {p["kind"] for p in report["problems"]}
    assert kinds == {"unreadable", "misnamed"}
