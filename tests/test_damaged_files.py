"""Damaged kernelctl files (manifest, kernel.json's metadata, launch config) are reported in one
line with the fix, by every command that reads them, never with a traceback.

The CLI tests damage a real kernel's files the ways the hostile test of 0.1 did; the
property-based tests damage them at random (any field replaced by any JSON value, keys
deleted, the whole file replaced) and call the Python API that list, show and doctor use.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kernelhelpers import assert_user_error, kernelctl, kernelctl_json

from kernelctl.commands.doctor import diagnose
from kernelctl.commands.list import list_kernels
from kernelctl.commands.show import show
from kernelctl.errors import KernelctlError
from kernelctl.kernelfiles import MAX_BYTES, DamagedFile, LaunchConfig, SchemaError, conform, load
from kernelctl.manifest import Manifest

# Commands that read a kernel's files, in an order that keeps the kernel until the last.
READERS = (["list"], ["show", "hurt"], ["doctor"], ["doctor", "hurt"], ["export", "hurt"],
           ["install", "hurt", "tinyfixture"], ["rebuild", "hurt", "--no-verify", "-q"],
           ["netguard", "hurt"], ["remove", "hurt", "--yes"])


def spec_dir(name: str = "hurt") -> Path:
    return Path(os.environ["JUPYTER_DATA_DIR"]) / "kernels" / name


def files_of(name: str = "hurt") -> dict[str, Path]:
    prefix = Path(json.loads((spec_dir(name) / "kernel.json").read_text())["metadata"]["kernelctl"]["prefix"])
    return {"manifest": prefix / "kernelctl.json", "kernel.json": spec_dir(name) / "kernel.json",
            "launch": spec_dir(name) / "kernelctl-launch.json"}


def edit(path: Path, change: Callable[[Any], Any]) -> None:
    path.write_text(json.dumps(change(json.loads(path.read_text()))))


def nested(depth: int) -> list:
    value: list = []
    for _ in range(depth):
        value = [value]
    return value


def _set(keys: tuple[str, ...], value: Any) -> Callable[[Any], Any]:
    def change(data: Any) -> Any:
        target = data
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value
        return data
    return change


def _drop(*keys: str) -> Callable[[Any], Any]:
    def change(data: Any) -> Any:
        target = data
        for key in keys[:-1]:
            target = target[key]
        del target[keys[-1]]
        return data
    return change


# (file, damage, words the one-line report must contain)
DAMAGES = [
    ("manifest", _set(("options", "modules"), {"a": 1}), "options.modules: expected a list"),
    ("manifest", _set(("requirement_files",), [{"path": 1}]), "requirement_files[0].path: expected a string"),
    ("manifest", _set(("installed",), [["numpy", "1.0"]]), "installed: expected an object"),
    ("manifest", _drop("prefix"), "prefix: missing"),
    ("manifest", _set(("options", "modules"), nested(500)), "options.modules[0]: expected a string"),
    ("manifest", _set(("name",), "a\x00b"), "name: contains a NUL character"),
    ("manifest", "[" * 100_000, "nested too deeply"),
    ("manifest", "{}" + " " * (MAX_BYTES + 1), "over 16 MB"),
    ("manifest", b"\xff\xfe{", "not UTF-8"),
    ("kernel.json", _set(("metadata", "kernelctl"), ["prefix"]), "metadata.kernelctl: expected an object"),
    ("kernel.json", _set(("metadata", "kernelctl", "prefix"), {"a": 1}), "metadata.kernelctl.prefix"),
    ("kernel.json", _set(("metadata", "kernelctl", "shared"), "yes"), "metadata.kernelctl.shared"),
    ("launch", _set(("exec",), "python"), "exec: expected a list"),
    ("launch", _set(("module_system",), {"kind": "lmod"}), "module_system.command: missing"),
    ("launch", _set(("env",), {"A": ["b"]}), "env.A: expected a string"),
    ("launch", "[" * 100_000, "nested too deeply"),
]


def damage(path: Path, how: Callable[[Any], Any] | str | bytes) -> None:
    if callable(how):
        edit(path, how)
    elif isinstance(how, bytes):
        path.write_bytes(how)
    else:
        path.write_text(how)


@pytest.fixture()
def wheels(real_wheelhouse: Path, tmp_path: Path) -> list[str]:
    from wheelfactory import build_wheel

    extra = tmp_path / "extra"
    build_wheel(extra, "tinyfixture", "1.0")
    return ["--wheelhouse", str(real_wheelhouse), "--wheelhouse", str(extra)]


@pytest.mark.parametrize("which,how,words", DAMAGES, ids=[f"{d[0]}:{d[2]}" for d in DAMAGES])
def test_every_reader_reports_the_damage_in_one_line_with_the_fix(wheels: list[str], which: str,
                                                                    how: Any, words: str) -> None:
    kernelctl("create", "hurt", *wheels, "--no-verify", "-q")
    path = files_of()[which]
    damage(path, how)
    reported = False
    for command in READERS:
        proc = kernelctl(*command, check=False)
        output = proc.stdout + proc.stderr
        assert "Traceback" not in output, (command, output)
        if proc.returncode == 0:
            continue
        if command[0] in ("doctor", "list"):
            assert proc.returncode == 1 and words in proc.stdout and "fix: kernelctl" in proc.stdout, (command, output)
        else:
            assert_user_error(proc, 1, str(path), words, "Fix: kernelctl")
        reported = True
    assert reported
    kernelctl("create", "hurt", *wheels, "--no-verify", "-q", "--force")  # replacing it repairs it
    assert kernelctl_json("list")[0]["status"] == "ok"


def test_list_and_show_name_the_damaged_file(wheels: list[str]) -> None:
    kernelctl("create", "hurt", *wheels, "--no-verify", "-q")
    launch = files_of()["launch"]
    damage(launch, _set(("path",), "bin"))
    [record] = kernelctl_json("list")
    assert record["status"] == f"broken: {launch} is damaged: path: expected a list, found a string"
    assert_user_error(kernelctl("show", "hurt", check=False), 1, str(launch), "Fix: kernelctl doctor --fix")
    # doctor --fix writes the kernelspec again from the manifest, and starts it to prove it
    assert kernelctl("doctor", "--fix", "-q").returncode == 0
    assert kernelctl_json("show", "hurt")["status"] == "ok"


@pytest.mark.parametrize("special", ["fifo", "device", "directory"])
def test_a_manifest_that_is_not_a_regular_file_never_hangs(wheels: list[str], special: str) -> None:
    kernelctl("create", "hurt", *wheels, "--no-verify", "-q")
    manifest = files_of()["manifest"]
    manifest.unlink()
    if special == "fifo":
        os.mkfifo(manifest)
    elif special == "device":
        manifest.symlink_to("/dev/zero")
    else:
        manifest.mkdir()
    proc = kernelctl("show", "hurt", check=False, timeout=30)
    assert_user_error(proc, 1, str(manifest), "Fix: kernelctl create hurt --force")
    assert "broken:" in kernelctl_json("list")[0]["status"]


# --- property-based: any damage, through the API that list, show and doctor use -------------

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                    max_leaves=8)


def _paths(data: Any, prefix: tuple = ()) -> list[tuple]:
    """Every key path in ``data`` (dict keys and list indexes)."""
    found = [prefix] if prefix else []
    items = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else []
    for key, value in items:
        found += _paths(value, (*prefix, key))
    return found


@st.composite
def damaged(draw: st.DrawFn, original: Any) -> bytes:
    """``original`` (a JSON value) with one random damage, as file bytes."""
    kind = draw(st.sampled_from(["replace", "delete", "whole", "bytes", "truncate"]))
    text = json.dumps(original)
    if kind == "bytes":
        return draw(st.binary(max_size=64))
    if kind == "truncate":
        return text.encode()[:draw(st.integers(0, len(text) - 1))]
    if kind == "whole":
        return json.dumps(draw(JSON)).encode()
    data = json.loads(text)
    path = draw(st.sampled_from(_paths(data)))
    target = data
    for key in path[:-1]:
        target = target[key]
    if kind == "delete":
        del target[path[-1]]
    else:
        target[path[-1]] = draw(JSON)
    return json.dumps(data).encode()


def test_any_damage_is_a_kernelctl_error_or_a_valid_kernel(wheels: list[str]) -> None:
    kernelctl("create", "hurt", *wheels, "--no-verify", "-q")
    originals = {which: path.read_bytes() for which, path in files_of().items()}
    paths = files_of()

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(which=st.sampled_from(sorted(paths)), data=st.data())
    def check(which: str, data: st.DataObject) -> None:
        for name, path in paths.items():
            path.write_bytes(originals[name])
        paths[which].write_bytes(data.draw(damaged(json.loads(originals[which]))))
        [record] = [r for r in list_kernels() if r["name"] == "hurt"] or [{"status": "broken: gone from list"}]
        assert record["status"] == "ok" or record["status"].startswith("broken: ")
        try:
            info = show("hurt")
            assert isinstance(info["installed"], dict) and all(isinstance(v, str) for v in info["installed"].values())
        except KernelctlError as err:
            assert "\n" not in err.message and err.hint
        report = diagnose("hurt")[0]
        assert all(isinstance(p["fix"], str) and p["fix"] for k in report["kernels"] for p in k["problems"])

    check()


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_conform_accepts_only_the_shape_it_describes(data: st.DataObject) -> None:
    """Whatever the JSON, conform returns a fully typed object or raises SchemaError."""
    valid = {"exec": ["python", "-m", "ipykernel_launcher"], "env": {"VIRTUAL_ENV": "/e"}, "path": ["/e/bin"],
             "modules": ["scipy-stack"], "purge": False,
             "module_system": {"kind": "lmod", "command": ["/lmod"], "modulepath": "/m"}}
    text = data.draw(damaged(valid))
    try:
        raw = json.loads(text)
    except ValueError:
        return
    try:
        config = conform(LaunchConfig, raw)
    except SchemaError:
        return
    assert all(isinstance(a, str) for a in config.exec)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in config.env.items())
    assert isinstance(config.purge, bool) and all(isinstance(m, str) for m in config.modules)
    assert config.module_system is None or all(isinstance(c, str) for c in config.module_system.command)


def test_a_manifest_from_a_newer_kernelctl_keeps_working(tmp_path: Path) -> None:
    data = {"name": "x", "prefix": "/p", "python_requested": None, "python_executable": "/usr/bin/python3",
            "python_version": "3.11.7", "wheelhouses": [], "requirements": [], "requirement_files": [],
            "options": {"future_option": {"deep": [1]}}, "future_field": [[[]]], "schema": 2}
    path = tmp_path / "kernelctl.json"
    path.write_text(json.dumps(data))
    manifest = load(Manifest, path, "fix")
    assert manifest.options.modules == [] and manifest.schema == 2
    data["schema"] = True  # a bool is not an integer here
    path.write_text(json.dumps(data))
    with pytest.raises(DamagedFile, match="schema: expected an integer, found true or false"):
        load(Manifest, path, "fix")
