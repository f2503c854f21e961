"""kernelctl create / install / list / show / export / rebuild / remove with real wheels and kernels."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from jupyter_client.kernelspec import KernelSpecManager
from kernelhelpers import assert_user_error, kernel_json, kernelctl, kernelctl_json, run_in_kernel
from wheelfactory import build_corrupt_wheel, build_wheel

from conftest import offline_command


@pytest.fixture()
def site_wheels(tmp_path: Path) -> Path:
    """Tiny wheels in the shapes a site wheelhouse uses."""
    d = tmp_path / "site-wheels"
    build_wheel(d, "tinyfixture", "1.26.4+computecanada")
    build_wheel(d, "tinyfixture", "1.0")
    build_wheel(d, "backports.functools_lru_cache", "1.6.6")
    build_wheel(d, "netCDF4", "1.6.5", tag=f"cp{sys.version_info.major}{sys.version_info.minor}-cp"
                f"{sys.version_info.major}{sys.version_info.minor}-linux_x86_64")
    build_wheel(d, "needs-tiny", "2.0", requires=["tinyfixture>=1.26"])
    return d


def wh_args(real: Path, site: Path) -> list[str]:
    return ["--wheelhouse", str(real), "--wheelhouse", str(site)]


def test_create_makes_a_working_kernel_from_the_wheelhouse(real_wheelhouse: Path, site_wheels: Path) -> None:
    proc = kernelctl("create", "myenv", "numpy", "needs-tiny", "netCDF4", "backports.functools-lru-cache",
                     *wh_args(real_wheelhouse, site_wheels))
    assert "Python 3" in proc.stdout and "(myenv)" in proc.stdout  # tells which launcher entry to pick
    for step in ("[1/4]", "[2/4]", "[3/4]", "[4/4]"):
        assert step in proc.stderr

    data_dir = Path(os.environ["JUPYTER_DATA_DIR"])
    assert "myenv" in KernelSpecManager().find_kernel_specs()
    spec = kernel_json(data_dir, "myenv")
    prefix = Path(spec["metadata"]["kernelctl"]["prefix"])
    assert Path(spec["argv"][0]).is_absolute() and spec["argv"][0] == str(prefix / "bin" / "python")
    assert spec["env"]["PATH"].startswith(str(prefix / "bin") + ":")
    assert spec["env"]["VIRTUAL_ENV"] == str(prefix)
    assert (Path(os.environ["KERNELCTL_HOME"]) / "envs" / "myenv").resolve() == prefix

    out, _ = run_in_kernel("myenv", (
        "import sys, os, numpy, tinyfixture, netcdf4, backports_functools_lru_cache\n"
        "print(sys.prefix); print(tinyfixture.__version__); print(os.environ['VIRTUAL_ENV'])\n"
        "print(numpy.__file__.startswith(sys.prefix))"))
    lines = out.split()
    assert lines == [str(prefix), "1.26.4+computecanada", str(prefix), "True"]

    # pip inside the env stays offline on the same wheelhouse
    conf = (prefix / "pip.conf").read_text()
    assert "no-index = true" in conf and str(site_wheels) in conf

    manifest = json.loads((prefix / "kernelctl.json").read_text())
    assert manifest["requirements"] == ["numpy", "needs-tiny", "netCDF4", "backports.functools-lru-cache"]
    assert manifest["installed"]["tinyfixture"] == "1.26.4+computecanada"
    assert manifest["wheelhouses"] == [str(real_wheelhouse), str(site_wheels)]


def test_lifecycle_install_list_show_export_rebuild_remove(real_wheelhouse: Path, site_wheels: Path,
                                                           tmp_path: Path) -> None:
    kernelctl("create", "life", *wh_args(real_wheelhouse, site_wheels), "--no-verify", "-q")
    kernelctl("install", "life", "needs-tiny")
    shown = kernelctl_json("show", "life")
    assert shown["installed"]["needs-tiny"] == "2.0" and "needs-tiny" in shown["requirements"]

    listed = kernelctl_json("list")
    assert [(k["name"], k["status"]) for k in listed] == [("life", "ok")]
    assert "life" in kernelctl("list").stdout

    exported = kernelctl("export", "life").stdout
    assert "needs-tiny==2.0" in exported and "tinyfixture==1.26.4+computecanada" in exported
    assert "pip==" not in exported
    req = tmp_path / "pinned.txt"
    req.write_text(exported)
    kernelctl("create", "copy", "-r", str(req), *wh_args(real_wheelhouse, site_wheels), "--no-verify", "-q")
    assert kernelctl_json("show", "copy")["installed"]["needs-tiny"] == "2.0"

    old_prefix = Path(shown["prefix"])
    kernelctl("rebuild", "life", "-q")
    rebuilt = kernelctl_json("show", "life")
    assert rebuilt["prefix"] != str(old_prefix) and not old_prefix.exists()
    assert rebuilt["installed"]["needs-tiny"] == "2.0"
    assert rebuilt["created"] == shown["created"]
    out, _ = run_in_kernel("life", "import sys, tinyfixture; print(sys.prefix)")
    assert out.strip() == rebuilt["prefix"]

    kernelctl("remove", "life", "--yes")
    assert "life" not in KernelSpecManager().find_kernel_specs()
    assert not Path(rebuilt["prefix"]).exists()
    assert [k["name"] for k in kernelctl_json("list")] == ["copy"]


def test_rebuild_that_fails_keeps_the_old_env_in_service(real_wheelhouse: Path, site_wheels: Path) -> None:
    kernelctl("create", "keep", "tinyfixture", *wh_args(real_wheelhouse, site_wheels), "--no-verify", "-q")
    before = kernelctl_json("show", "keep")
    for wheel in site_wheels.glob("tinyfixture-*"):
        wheel.unlink()  # the wheelhouse lost the package since
    proc = kernelctl("rebuild", "keep", "-q", check=False)
    assert_user_error(proc, 1, "tinyfixture")
    after = kernelctl_json("show", "keep")
    assert after["prefix"] == before["prefix"] and Path(after["prefix"], "bin", "python").exists()
    store = Path(os.environ["KERNELCTL_HOME"]) / "envs" / ".store"
    assert [p.name for p in store.iterdir()] == [Path(before["prefix"]).name]


def test_remove_deletes_only_the_kernel_even_through_symlinks(real_wheelhouse: Path, site_wheels: Path,
                                                              tmp_path: Path) -> None:
    kernelctl("create", "gone", *wh_args(real_wheelhouse, site_wheels), "--no-verify", "-q")
    prefix = Path(kernelctl_json("show", "gone")["prefix"])
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "data.txt").write_text("keep me")
    (prefix / "mydata").symlink_to(precious)
    kernelctl("create", "other", *wh_args(real_wheelhouse, site_wheels), "--no-verify", "-q")

    refused = kernelctl("remove", "gone", check=False)  # no --yes and no terminal
    assert_user_error(refused, 2, "--yes")
    assert prefix.exists()

    kernelctl("remove", "gone", "--yes")
    assert not prefix.exists()
    assert (precious / "data.txt").read_text() == "keep me"
    assert not (Path(os.environ["KERNELCTL_HOME"]) / "envs" / "gone").is_symlink()
    assert kernelctl_json("show", "other")["name"] == "other"
    specs = KernelSpecManager().find_kernel_specs()
    assert "gone" not in specs and "other" in specs


def test_foreign_kernelspecs_are_left_alone(real_wheelhouse: Path, site_wheels: Path) -> None:
    foreign = Path(os.environ["JUPYTER_DATA_DIR"]) / "kernels" / "theirs"
    foreign.mkdir(parents=True)
    (foreign / "kernel.json").write_text(json.dumps(
        {"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
         "display_name": "Theirs", "language": "python"}))
    assert_user_error(kernelctl("remove", "theirs", "--yes", check=False), 1, "not made by kernelctl")
    assert_user_error(kernelctl("create", "theirs", *wh_args(real_wheelhouse, site_wheels), check=False),
                      1, "already exists", "--force")
    assert (foreign / "kernel.json").exists()
    assert kernelctl_json("list") == []


@pytest.mark.system
def test_create_and_install_never_touch_the_network(real_wheelhouse: Path, site_wheels: Path) -> None:
    """In a network namespace with only loopback, create (with verification) and install work."""
    kernelctl("create", "offline", "numpy", *wh_args(real_wheelhouse, site_wheels),
              prefix=offline_command([]))
    kernelctl("install", "offline", "needs-tiny", prefix=offline_command([]))
    assert kernelctl_json("show", "offline")["installed"]["needs-tiny"] == "2.0"


def test_pip_backend_builds_the_same_kernel(real_wheelhouse: Path, site_wheels: Path) -> None:
    kernelctl("create", "viapip", "needs-tiny", "--backend", "pip", *wh_args(real_wheelhouse, site_wheels), "-q")
    out, _ = run_in_kernel("viapip", "import tinyfixture; print(tinyfixture.__version__)")
    assert out.strip() == "1.26.4+computecanada"


def test_pip_configuration_is_how_the_site_publishes_its_wheelhouse(real_wheelhouse: Path, site_wheels: Path,
                                                                    tmp_path: Path) -> None:
    conf = tmp_path / "site-pip.conf"
    conf.write_text(f"[install]\nfind-links = {real_wheelhouse} {site_wheels}\n")
    os.environ["PIP_CONFIG_FILE"] = str(conf)  # restored by the isolation fixture
    kernelctl("create", "viaconf", "tinyfixture", "--no-verify", "-q")
    assert kernelctl_json("show", "viaconf")["wheelhouses"] == [str(real_wheelhouse), str(site_wheels)]
