"""kernelctl doctor finds what is broken, in kernelctl's kernels and others', and says the fix."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from kernelhelpers import kernelctl, kernelctl_json
from wheelfactory import build_wheel

from conftest import require_system


def doctor_json(*args: str) -> tuple[int, dict]:
    proc = kernelctl("doctor", *args, "--json", check=False)
    return proc.returncode, json.loads(proc.stdout)


def problems_of(report: dict, name: str) -> list[dict]:
    return next(k for k in report["kernels"] if k["name"] == name)["problems"]


@pytest.fixture()
def wheelhouses(real_wheelhouse: Path, tmp_path: Path) -> tuple[Path, Path]:
    extra = tmp_path / "extra-wheels"
    build_wheel(extra, "tinyfixture", "1.0")
    return real_wheelhouse, extra


def test_healthy_kernels_pass(wheelhouses: tuple[Path, Path]) -> None:
    kernelctl("create", "fine", "--wheelhouse", str(wheelhouses[0]), "--no-verify", "-q")
    code, report = doctor_json()
    assert code == 0 and report["ok"] is True
    assert problems_of(report, "fine") == []
    assert "ok" in kernelctl("doctor", "fine").stdout


def test_broken_pieces_are_reported_with_fixes(wheelhouses: tuple[Path, Path]) -> None:
    real, extra = wheelhouses
    for name in ("nopip", "nowh", "gone"):
        kernelctl("create", name, "--wheelhouse", str(real), "--wheelhouse", str(extra) if name == "nowh" else str(real),
                  "--no-verify", "-q")
    (Path(kernelctl_json("show", "nopip")["prefix"]) / "pip.conf").unlink()
    shutil.rmtree(extra)
    gone_prefix = Path(kernelctl_json("show", "gone")["prefix"])
    shutil.rmtree(gone_prefix)

    code, report = doctor_json()
    assert code == 1 and report["ok"] is False
    [offline] = problems_of(report, "nopip")
    assert offline["check"] == "offline" and offline["fix"] == "kernelctl rebuild nopip"
    [wheelhouse] = problems_of(report, "nowh")
    assert wheelhouse["check"] == "wheelhouse" and str(extra) in wheelhouse["problem"]
    [env] = problems_of(report, "gone")
    assert env["check"] == "env" and str(gone_prefix) in env["problem"] and "kernelctl create gone" in env["fix"]

    human = kernelctl("doctor", "nopip", check=False)
    assert human.returncode == 1 and "BROKEN" in human.stdout and "fix: kernelctl rebuild nopip" in human.stdout
    kernelctl("rebuild", "nopip", "-q", "--no-verify")
    assert doctor_json("nopip")[0] == 0


def test_a_changed_cluster_python_is_found_and_rebuild_fixes_it(wheelhouses: tuple[Path, Path],
                                                               tmp_path: Path) -> None:
    """The env's base interpreter goes away, as when a Python module is retired."""
    system_python = Path("/usr/bin/python3.11")
    require_system(system_python.exists(), "needs Debian's python3.11 to stand in for a cluster Python")
    base = tmp_path / "cluster-python" / "bin"
    base.mkdir(parents=True)
    shutil.copy2(system_python, base / "python3.11")  # a copy still finds its stdlib under /usr
    kernelctl("create", "stale", "--python", str(base / "python3.11"), "--wheelhouse", str(wheelhouses[0]),
              "--no-verify", "-q")
    shutil.rmtree(base)
    code, report = doctor_json("stale")
    assert code == 1
    [problem] = problems_of(report, "stale")
    assert problem["check"] == "interpreter" and problem["fix"] == "kernelctl rebuild stale"
    kernelctl("rebuild", "stale", "--python", "3.11", "-q")
    assert doctor_json("stale")[0] == 0


def test_foreign_kernels_are_checked_too(tmp_path: Path) -> None:
    spec_dir = Path(os.environ["JUPYTER_DATA_DIR"]) / "kernels" / "oldcourse"
    spec_dir.mkdir(parents=True)
    (spec_dir / "kernel.json").write_text(json.dumps({
        "argv": [str(tmp_path / "deleted-env/bin/python"), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Old course", "language": "python"}))
    code, report = doctor_json()
    assert code == 1
    [problem] = problems_of(report, "oldcourse")
    assert problem["check"] == "interpreter" and problem["fix"] == "jupyter kernelspec remove oldcourse"
    assert next(k for k in report["kernels"] if k["name"] == "oldcourse")["kernelctl"] is False


def test_a_kernelspec_jupyter_cannot_load_is_reported(real_wheelhouse: Path) -> None:
    kernelctl("create", "garbled", "--wheelhouse", str(real_wheelhouse), "--no-verify", "-q")
    (Path(os.environ["JUPYTER_DATA_DIR"]) / "kernels" / "garbled" / "kernel.json").write_text("{not json")
    code, report = doctor_json()
    assert code == 1
    [problem] = problems_of(report, "garbled")
    assert problem["check"] == "kernelspec" and "cannot be read" in problem["problem"]
    assert doctor_json("garbled")[0] == 1


def test_a_manifest_from_a_newer_kernelctl_still_reads(real_wheelhouse: Path) -> None:
    kernelctl("create", "newer", "--wheelhouse", str(real_wheelhouse), "--no-verify", "-q")
    path = Path(kernelctl_json("show", "newer")["prefix"]) / "kernelctl.json"
    data = json.loads(path.read_text())
    data["future_field"] = 1
    data["options"]["future_option"] = True
    path.write_text(json.dumps(data))
    assert kernelctl_json("show", "newer")["name"] == "newer" and doctor_json("newer")[0] == 0
