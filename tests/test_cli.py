"""The CLI surface: help everywhere, `jupyter kernelctl`, the Python API behind it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from kernelhelpers import kernelctl

import kernelctl as api
from kernelctl.commands import COMMANDS


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_examples(command: str) -> None:
    proc = kernelctl(command, "--help")
    assert proc.stdout.startswith(f"usage: kernelctl {command}")
    assert "examples:" in proc.stdout or command == "wheelhouse"


def test_wheelhouse_subcommands_have_help() -> None:
    for sub in ("fetch", "avail", "check", "audit"):
        assert "examples:" in kernelctl("wheelhouse", sub, "--help").stdout


def test_a_command_imports_only_what_it_needs() -> None:
    code = ("import sys; from kernelctl.cli import build_parser; build_parser(['scan', '.']); "
            "print(sorted(m for m in sys.modules if m.startswith('kernelctl.commands.')))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "['kernelctl.commands.args', 'kernelctl.commands.scan']"  # args: the shared options


def test_the_scripts_exit_with_main_status_skipping_the_last_collection(tmp_path: Path) -> None:
    from importlib.metadata import entry_points

    scripts = {e.name: e.value for e in entry_points(group="console_scripts") if e.name.endswith("kernelctl")}
    assert scripts == {"kernelctl": "kernelctl.cli:script", "jupyter-kernelctl": "kernelctl.cli:script"}
    code = ("import atexit, gc, sys; from kernelctl.cli import script\n"
            "atexit.register(lambda: print('atexit ran, frozen:', gc.get_freeze_count() > 0))\n"
            "sys.argv = ['kernelctl', 'show', 'missing']\n"
            "sys.exit(script())")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "KERNELCTL_HOME": str(tmp_path / "kh"),
                               "JUPYTER_DATA_DIR": str(tmp_path / "jd")})
    assert done.returncode == 1 and "error: " in done.stderr
    assert done.stdout.strip() == "atexit ran, frozen: True"


def test_no_command_prints_usage_and_exits_2() -> None:
    proc = kernelctl(check=False)
    assert proc.returncode == 2 and "usage: kernelctl" in proc.stderr


def test_jupyter_subcommand_dispatch() -> None:
    jupyter = Path(sys.executable).with_name("jupyter")
    if not jupyter.exists():
        jupyter = Path(shutil.which("jupyter") or "jupyter")
    bin_dir = str(Path(sys.executable).parent)
    proc = subprocess.run([str(jupyter), "kernelctl", "list", "--json"], capture_output=True, text=True,
                          env={**os.environ, "PATH": bin_dir + ":" + os.environ["PATH"]})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_python_api_matches_the_cli(real_wheelhouse: Path) -> None:
    manifest = api.create("apikernel", wheelhouses=[real_wheelhouse], verify=False)
    assert manifest.name == "apikernel" and "ipykernel" in manifest.installed
    assert [k["name"] for k in api.list_kernels()] == ["apikernel"]
    assert api.show("apikernel")["prefix"] == manifest.prefix
    assert "ipykernel==" in api.export("apikernel")
    with pytest.raises(api.KernelctlError):
        api.show("missing")
    api.remove("apikernel")
    assert api.list_kernels() == []
