"""Julia kernels, with the ijulia-kernel test module's stand-in julia (no real Julia can be
installed here): it records how the launcher started it, which is what IJulia would see."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from jupyter_client.manager import KernelManager
from kernelhelpers import assert_user_error, kernel_json, kernelctl, kernelctl_json
from modsupport import ModuleSetup, clear_module_environment, setup_modules

from kernelctl.julia import IJULIA_START, OFFLINE_ENV


@pytest.fixture(params=["lmod", "tcl"])
def mods(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleSetup:
    return setup_modules(request.param, tmp_path, monkeypatch)


def start_and_record(name: str, record: Path, timeout: float = 60) -> dict:
    """Start kernel ``name`` through jupyter_client; return what the stand-in julia recorded."""
    km = KernelManager(kernel_name=name)
    km.start_kernel()
    try:
        deadline = time.monotonic() + timeout
        while not record.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert record.exists(), "the stand-in julia was never started"
        return json.loads(record.read_text().splitlines()[0])
    finally:
        km.shutdown_kernel(now=True)


def test_julia_kernel_loads_its_modules_and_starts_ijulia_offline(
        mods: ModuleSetup, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    depot = tmp_path / "my-depot"
    proc = kernelctl("create", "jl", "--language", "julia", "--module", "ijulia-kernel",
                     "--julia-project", str(tmp_path / "proj"), "--julia-depot", str(depot))
    assert "Verification skipped" in proc.stderr
    spec = kernel_json(Path(os.environ["JUPYTER_DATA_DIR"]), "jl")
    assert (spec["language"], spec["display_name"]) == ("julia", "Julia (jl)")
    shown = kernelctl_json("show", "jl")
    assert shown["options"]["modules"] == ["ijulia-kernel"] and shown["installed"] == {}
    assert kernelctl_json("list")[0]["status"] == "ok"
    for command in (["install", "jl", "numpy"], ["export", "jl"], ["netguard", "jl", "--mode", "block"]):
        assert_user_error(kernelctl(*command, check=False), 2, "'jl' is a julia kernel: it has no Python env")

    clear_module_environment(monkeypatch)  # the server has no module variables
    record = tmp_path / "julia-record.jsonl"
    monkeypatch.setenv("KCTL_FAKE_JULIA_RECORD", str(record))
    seen = start_and_record("jl", record)
    argv = seen["argv"]
    assert Path(argv[0]) == mods.support / "julia-bin" / "julia"  # found on the PATH the module made
    assert argv[1:6] == ["-i", "--color=yes", f"--project={tmp_path / 'proj'}", "-e", IJULIA_START]
    assert len(argv) == 7 and argv[6].endswith(".json")  # the connection file
    env = seen["env"]
    assert {k: env.get(k) for k in OFFLINE_ENV} == OFFLINE_ENV
    # Our depot first, then what the module put there.
    assert env["JULIA_DEPOT_PATH"] == f"{depot}:{mods.support / 'julia-depot'}:"

    # The manifest is enough to rebuild it: same project, depot and modules.
    assert (shown["options"]["julia_project"], shown["options"]["julia_depot"]) == (str(tmp_path / "proj"), str(depot))
    kernelctl("rebuild", "jl", "-q")
    record.unlink()
    again = start_and_record("jl", record)
    assert again["argv"][:6] == argv[:6] and again["env"]["JULIA_DEPOT_PATH"] == env["JULIA_DEPOT_PATH"]


def test_julia_kernels_take_no_python_packages(mods: ModuleSetup) -> None:
    proc = kernelctl("create", "jl", "numpy", "--language", "julia", "--module", "ijulia-kernel", check=False)
    assert_user_error(proc, 2, "a Julia kernel installs no Python packages")
    proc = kernelctl("create", "py", "--julia-depot", "/x", check=False)
    assert_user_error(proc, 2, "--julia-project and --julia-depot are for Julia kernels")
