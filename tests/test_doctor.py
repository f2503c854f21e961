"""kernelctl doctor finds what is broken, in kernelctl's kernels and others', and says the fix."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
from pathlib import Path

import pytest
from kernelhelpers import assert_user_error, kernelctl, kernelctl_json, run_in_kernel
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


def test_an_env_that_no_longer_matches_its_manifest_is_found(wheelhouses: tuple[Path, Path]) -> None:
    """A package whose metadata is gone or names another version than the manifest records
    (a hand-made pip run, a half-finished unpack) is what pip list and imports disagree on."""
    kernelctl("create", "drift", "--wheelhouse", str(wheelhouses[0]), "numpy", "--no-verify", "-q")
    info = kernelctl_json("show", "drift")
    site = next(Path(info["prefix"]).glob("lib/python*/site-packages"))
    [numpy_info] = site.glob("numpy-*.dist-info")
    (numpy_info / "METADATA").unlink()
    assert kernelctl_json("list")[0]["status"] == "ok"  # list reads no package metadata: cheap by design

    code, report = doctor_json("drift")
    assert code == 1
    [problem] = problems_of(report, "drift")
    assert problem["check"] == "packages" and "numpy" in problem["problem"]
    assert problem["fix"] == "kernelctl rebuild drift"
    kernelctl("rebuild", "drift", "-q", "--no-verify")
    assert doctor_json("drift")[0] == 0


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


def test_kernels_come_back_after_the_jupyter_data_dir_is_deleted(real_wheelhouse: Path) -> None:
    """The Alliance's fix for "Startup hangs" (rm -r ~/.local/share/jupyter ~/.jupyter), then doctor --fix."""
    kernelctl("create", "back", "--wheelhouse", str(real_wheelhouse), "--no-verify", "-q")
    prefix = kernelctl_json("show", "back")["prefix"]
    assert (Path(os.environ["JUPYTER_DATA_DIR"]) / "kernels" / "back").is_dir()
    for variable in ("JUPYTER_DATA_DIR", "JUPYTER_CONFIG_DIR"):
        shutil.rmtree(os.environ[variable], ignore_errors=True)  # ~/.jupyter may not exist yet

    [listed] = kernelctl_json("list")
    assert listed["name"] == "back" and listed["status"] == "unregistered" and listed["kernelspec"] is None
    assert "unregistered" in kernelctl("list").stdout
    assert_user_error(kernelctl("show", "back", check=False), 1, "no kernelspec", "kernelctl doctor --fix")
    code, report = doctor_json()
    assert code == 1 and report["leftovers"] == []  # the env is in service: never debris
    [lost] = [k for k in report["kernels"] if k["name"] == "back"]
    assert lost["status"] == "unregistered" and lost["env"] == prefix
    assert [p["fix"] for p in lost["problems"]] == ["kernelctl doctor --fix"]

    proc = kernelctl("doctor", "--fix", "--json", check=False)
    fixed = json.loads(proc.stdout)
    assert proc.returncode == 0 and fixed["ok"], proc.stdout + proc.stderr
    assert [(a["action"], a["kernel"], a["ok"]) for a in fixed["fixed"]] == [("register", "back", True)]
    assert "Registering 'back' again" in proc.stderr  # it was started and ran a cell before it was registered
    assert kernelctl_json("show", "back")["prefix"] == prefix  # the same env: nothing reinstalled
    out, _ = run_in_kernel("back", "import sys; print(sys.prefix)")
    assert out.strip() == prefix


def test_a_kernelspec_kernelctl_did_not_make_is_never_replaced(real_wheelhouse: Path) -> None:
    kernelctl("create", "taken", "--wheelhouse", str(real_wheelhouse), "--no-verify", "-q")
    spec = Path(os.environ["JUPYTER_DATA_DIR"]) / "kernels" / "taken" / "kernel.json"
    foreign = {"argv": ["python3", "-m", "ipykernel_launcher", "-f", "{connection_file}"], "display_name": "Theirs",
               "language": "python"}
    spec.write_text(json.dumps(foreign))
    kernelctl("doctor", "--fix", "-q", check=False)
    assert json.loads(spec.read_text()) == foreign


def test_what_interrupted_builds_leave_is_reported_with_its_size_and_removed(real_wheelhouse: Path) -> None:
    from test_crash_safety import interrupt_at, start_create

    kernelctl("create", "kept", "--wheelhouse", str(real_wheelhouse), "--no-verify", "-q")
    in_service = Path(kernelctl_json("show", "kept")["prefix"])
    (in_service / ".kernelctl.json.x1y2.tmp").write_text("{")  # an atomic write killed half-way
    proc = start_create("killed", real_wheelhouse, "--no-verify")
    interrupt_at(proc, ("[2/3]",), signal.SIGKILL)  # during the install: a half-built generation
    kernels_dir = Path(os.environ["JUPYTER_DATA_DIR"]) / "kernels"
    staged = kernels_dir / ".kernelctl-staging" / "0a1b2c" / "gone"
    staged.mkdir(parents=True)
    (staged / "kernel.json").write_text("{}")

    code, report = doctor_json()
    assert code == 1
    found = {(item["kind"], item["kernel"]) for item in report["leftovers"]}
    expected = {("temp", "kept"), ("generation", "killed"), ("staging", "gone")}
    # the build may already have staged the killed kernel's spec (it starts verifying early)
    assert expected <= found <= expected | {("staging", "killed")}, report["leftovers"]
    [generation] = [item for item in report["leftovers"] if item["kind"] == "generation"]
    assert generation["size"] > 10_000 and report["leftover_bytes"] >= generation["size"]  # at least the venv itself
    human = kernelctl("doctor", check=False).stdout
    assert "left behind by interrupted commands" in human and generation["path"] in human

    fixed = json.loads(kernelctl("doctor", "--fix", "--json").stdout)
    assert fixed["ok"] and fixed["leftovers"] == []
    assert {(a["kind"], a["ok"]) for a in fixed["fixed"]} == {("temp", True), ("generation", True), ("staging", True)}
    assert not Path(generation["path"]).exists() and not staged.exists()
    assert in_service.is_dir() and kernelctl_json("list")[0]["status"] == "ok"  # the kernel in service is untouched


def test_a_name_another_command_holds_is_left_alone(real_wheelhouse: Path) -> None:
    from kernelctl.location import user_location
    from kernelctl.locking import name_lock

    store = Path(os.environ["KERNELCTL_HOME"]) / "envs" / ".store"
    building = store / "busy@20260101T000000-abcdef"
    building.mkdir(parents=True)
    with name_lock("busy", user_location()):  # a create of 'busy' is under way
        code, report = doctor_json()
        assert report["leftovers"] == []
        kernelctl("doctor", "--fix", "-q", check=False)
    assert building.is_dir()
    assert [item["path"] for item in doctor_json()[1]["leftovers"]] == [str(building)]


def test_list_starts_no_process_and_doctor_asks_the_module_command(real_wheelhouse: Path, tmp_path: Path) -> None:
    """list looks modules up on the recorded MODULEPATH; doctor runs the module command for
    what that lookup does not find (an alias, say) and believes its answer."""
    kernelctl("create", "mods", "--wheelhouse", str(real_wheelhouse), "--no-verify", "-q")
    marker = tmp_path / "module-command-ran"
    command = tmp_path / "modulecmd"
    command.write_text(f"#!/bin/sh\necho \"$@\" >> {marker}\nexit 0\n")  # finds every module
    command.chmod(0o755)
    modulepath = tmp_path / "modulefiles"
    (modulepath / "scipy-stack").mkdir(parents=True)
    (modulepath / "python").mkdir()
    (modulepath / "python" / "3.11.5.lua").write_text("")
    config = Path(os.environ["JUPYTER_DATA_DIR"]) / "kernels" / "mods" / "kernelctl-launch.json"
    data = json.loads(config.read_text())
    data.update(modules=["scipy-stack", "python/3.11", "alias-only"],
                module_system={"kind": "lmod", "command": [str(command)], "modulepath": str(modulepath)})
    config.write_text(json.dumps(data))

    [record] = kernelctl_json("list")
    assert record["status"] == "broken: module not found: alias-only"  # scipy-stack and python/3.11 are found
    kernelctl("show", "mods")
    assert not marker.exists()  # neither list nor show ran anything
    code, report = doctor_json("mods")
    assert code == 0 and problems_of(report, "mods") == []
    assert marker.read_text().split() == ["python", "is-avail", "alias-only"]  # once, and only for that name


def test_cheap_checks_say_what_list_can_see_and_doctor_asks_the_interpreter(real_wheelhouse: Path) -> None:
    for name in ("noipk", "stale1", "stale2"):
        kernelctl("create", name, "--wheelhouse", str(real_wheelhouse), "--no-verify", "-q")
    prefix = Path(kernelctl_json("show", "noipk")["prefix"])
    [site] = prefix.glob("lib/python*/site-packages")
    shutil.rmtree(site / "ipykernel")
    for name in ("stale1", "stale2"):  # two envs on one interpreter: built on a Python that has since changed
        path = Path(kernelctl_json("show", name)["prefix"]) / "kernelctl.json"
        data = json.loads(path.read_text())
        major, minor, patch = data["python_version"].split(".")
        old = f"{major}.{minor}.{int(patch) + 1}"
        path.write_text(json.dumps({**data, "python_version": old}))

    status = {r["name"]: r["status"] for r in kernelctl_json("list")}
    assert status == {"noipk": "broken: ipykernel does not import: it is not in the env",
                      "stale1": "ok", "stale2": "ok"}  # a version needs the interpreter run: list does not
    code, report = doctor_json()
    assert code == 1
    [missing] = problems_of(report, "noipk")
    assert missing["check"] == "interpreter" and "No module named 'ipykernel'" in missing["problem"]
    for name in ("stale1", "stale2"):
        [stale] = problems_of(report, name)
        assert stale["check"] == "stale" and f"built on Python {old} but" in stale["problem"]
        assert stale["fix"] == f"kernelctl rebuild {name}"


def test_doctor_works_where_there_is_no_slurm(real_wheelhouse: Path, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """A laptop has no squeue: that is not the kernels' problem, and doctor still checks them
    (the orphan-job check has nothing to report)."""
    kernelctl("create", "fine", "--no-verify", "-q", "--wheelhouse", str(real_wheelhouse))
    bin_dir = tmp_path / "bin"  # this Python and nothing else on PATH
    bin_dir.mkdir()
    os.symlink(sys.executable, bin_dir / "python3")
    monkeypatch.setenv("PATH", str(bin_dir))
    proc = kernelctl("doctor", "fine", "--json", check=False)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    report = json.loads(proc.stdout)
    assert report["orphan_jobs"] == [] and problems_of(report, "fine") == [], report
    assert "slurm_unanswered" not in report  # no Slurm here: nothing to say about it


def fake_squeue(bin_dir: Path, script: str) -> None:
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "squeue").write_text(f"#!/bin/sh\n{script}\n")
    (bin_dir / "squeue").chmod(0o755)


def test_doctor_says_when_slurm_does_not_answer(real_wheelhouse: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A controller that is down: the kernels are still checked, and doctor says which check
    it could not make, rather than saying nothing or hanging."""
    kernelctl("create", "fine", "--no-verify", "-q", "--wheelhouse", str(real_wheelhouse))
    fake_squeue(tmp_path / "bin", "echo 'slurm_load_jobs error: Unable to contact slurm controller' >&2; exit 1")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    code, report = doctor_json("fine")
    assert code == 0 and problems_of(report, "fine") == [] and report["orphan_jobs"] == []
    assert report["slurm_unanswered"] == ("squeue failed: slurm_load_jobs error: Unable to contact slurm "
                                          "controller, so orphan Slurm kernel jobs were not looked for")
    assert "note: squeue failed: slurm_load_jobs error" in kernelctl("doctor", "fine").stdout


def test_doctor_waits_for_squeue_only_so_long(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from kernelctl.slurmkernel import orphans

    fake_squeue(tmp_path / "bin", "exec sleep 30")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(orphans, "SQUEUE_TIMEOUT", 0.5)
    assert orphans.doctor_report(fix=False) == ([], "squeue did not answer within 0.5 s, so orphan Slurm kernel "
                                                    "jobs were not looked for")
