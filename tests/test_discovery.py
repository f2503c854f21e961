"""Wheelhouse discovery: --wheelhouse > KERNELCTL_WHEELHOUSE > pip's find-links > error."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kernelctl.errors import KernelctlError, UsageError
from kernelctl.wheelhouse.discovery import discover


@pytest.fixture()
def dirs(tmp_path: Path) -> list[Path]:
    made = []
    for name in ("a", "b", "c", "d"):
        (tmp_path / name).mkdir()
        made.append(tmp_path / name)
    return made


def test_explicit_directories_win_in_order(dirs: list[Path]) -> None:
    env = {"KERNELCTL_WHEELHOUSE": str(dirs[2]), "PIP_FIND_LINKS": str(dirs[3])}
    found = discover([dirs[1], dirs[0]], environ=env)
    assert found.dirs == (dirs[1], dirs[0])
    assert found.source == "--wheelhouse"


def test_kernelctl_wheelhouse_variable_beats_pip(dirs: list[Path]) -> None:
    env = {"KERNELCTL_WHEELHOUSE": os.pathsep.join(map(str, dirs[:2])), "PIP_FIND_LINKS": str(dirs[3])}
    assert discover(environ=env).dirs == tuple(dirs[:2])


def test_pip_find_links_variable(dirs: list[Path]) -> None:
    env = {"PIP_FIND_LINKS": f"{dirs[0]} file://{dirs[1]} https://example.org/wheels"}
    assert discover(environ=env).dirs == (dirs[0], dirs[1])


def test_pip_config_file_install_section_beats_global(dirs: list[Path], tmp_path: Path) -> None:
    conf = tmp_path / "pip.conf"
    conf.write_text(f"[global]\nfind-links = {dirs[3]}\n[install]\nfind-links = {dirs[0]} {dirs[1]}\n")
    found = discover(environ={"PIP_CONFIG_FILE": str(conf), "HOME": str(tmp_path)})
    assert found.dirs == (dirs[0], dirs[1])
    assert "pip" in found.source


def test_alliance_style_multiline_find_links(dirs: list[Path], tmp_path: Path) -> None:
    conf = tmp_path / "pip-x86-64-v3.conf"
    conf.write_text("[global]\ndisable-pip-version-check = true\n"
                    f"[wheel]\nfind-links = {dirs[2]}\n[install]\nfind-links =\n    {dirs[1]}\n    {dirs[0]}\n")
    assert discover(environ={"PIP_CONFIG_FILE": str(conf), "HOME": str(tmp_path)}).dirs == (dirs[1], dirs[0])


def test_user_pip_config_is_read_when_no_config_file_is_set(dirs: list[Path], tmp_path: Path) -> None:
    user_conf = tmp_path / "xdg" / "pip" / "pip.conf"
    user_conf.parent.mkdir(parents=True)
    user_conf.write_text(f"[global]\nfind-links = {dirs[2]}\n")
    env = {"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "xdg"), "XDG_CONFIG_DIRS": str(tmp_path / "none")}
    assert discover(environ=env).dirs == (dirs[2],)


def test_nothing_configured_is_a_usage_error(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path), "XDG_CONFIG_DIRS": str(tmp_path / "none"), "PIP_CONFIG_FILE": os.devnull}
    with pytest.raises(UsageError) as err:
        discover(environ=env)
    assert "--wheelhouse" in (err.value.hint or "")


def test_missing_directory_is_named(tmp_path: Path) -> None:
    with pytest.raises(KernelctlError) as err:
        discover([tmp_path / "nope"], environ={})
    assert str(tmp_path / "nope") in err.value.message
    assert err.value.exit_code == 1
