"""Shared kernels for groups and courses: --prefix (and --sys-prefix/--system, the same code
with other prefixes), readable and usable by others, changeable only by the owner."""

from __future__ import annotations

import grp
import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from jupyter_client.kernelspec import KernelSpecManager
from kernelhelpers import assert_user_error, kernelctl, kernelctl_json, run_in_kernel

from conftest import require_system


@pytest.fixture()
def shared_prefix() -> Iterator[Path]:
    """A prefix other users can traverse (pytest's tmp dirs are private to their owner)."""
    base = Path(tempfile.mkdtemp(prefix="kernelctl-shared-", dir="/var/tmp"))
    os.chmod(base, 0o755)
    yield base / "course"
    shutil.rmtree(base)


def writable_by_others(root: Path) -> list[Path]:
    bad = []
    for dirpath, dirnames, filenames in os.walk(root):
        for entry in [Path(dirpath)] + [Path(dirpath) / n for n in dirnames + filenames]:
            if not entry.is_symlink() and entry.stat().st_mode & (stat.S_IWGRP | stat.S_IWOTH):
                bad.append(entry)
    return bad


def test_prefix_kernel_is_found_through_jupyter_path_and_shared_read_only(
        real_wheelhouse: Path, shared_prefix: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    kernelctl("create", "course", "numpy", "--prefix", str(shared_prefix), "--wheelhouse", str(real_wheelhouse), "-q")
    spec_dir = shared_prefix / "share" / "jupyter" / "kernels" / "course"
    assert (spec_dir / "kernel.json").is_file()
    assert "course" not in KernelSpecManager().find_kernel_specs()  # not on the path yet

    monkeypatch.setenv("JUPYTER_PATH", str(shared_prefix / "share" / "jupyter"))
    assert KernelSpecManager().find_kernel_specs()["course"] == str(spec_dir)
    shown = kernelctl_json("show", "course")
    prefix = Path(shown["prefix"])
    assert prefix.is_relative_to(shared_prefix / "share" / "kernelctl" / "envs")
    out, _ = run_in_kernel("course", "import sys, numpy; print(sys.prefix)")
    assert out.strip() == str(prefix)

    assert writable_by_others(prefix) == [] and writable_by_others(spec_dir) == []
    assert (spec_dir / "kernel.json").stat().st_mode & stat.S_IROTH
    assert (prefix / "bin" / "python").resolve().stat().st_mode & stat.S_IXOTH

    kernelctl("rebuild", "course", "-q", "--no-verify")
    rebuilt = Path(kernelctl_json("show", "course")["prefix"])
    assert rebuilt != prefix and rebuilt.is_relative_to(shared_prefix) and writable_by_others(rebuilt) == []

    kernelctl("remove", "course", "--yes")
    assert not spec_dir.exists() and not rebuilt.exists()


@pytest.mark.system
def test_another_user_can_use_but_not_change_a_group_kernel(real_wheelhouse: Path, shared_prefix: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    require_system(os.geteuid() == 0 and shutil.which("setpriv") is not None,
                   "needs root and setpriv to act as another user")
    group = grp.getgrnam("users")
    kernelctl("create", "grp", "numpy", "--prefix", str(shared_prefix), "--group", "users",
              "--wheelhouse", str(real_wheelhouse), "-q", "--no-verify")
    monkeypatch.setenv("JUPYTER_PATH", str(shared_prefix / "share" / "jupyter"))
    prefix = Path(kernelctl_json("show", "grp")["prefix"])
    assert prefix.stat().st_gid == group.gr_gid and not prefix.stat().st_mode & stat.S_IRWXO

    def as_nobody(gid: int, *argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["setpriv", "--reuid", "65534", "--regid", str(gid), "--clear-groups", *argv],
                              capture_output=True, text=True)

    member = as_nobody(group.gr_gid, str(prefix / "bin" / "python"), "-c",
                       f"import numpy, sys; print(sys.prefix)\nopen({str(prefix / 'x')!r}, 'w')")
    assert str(prefix) in member.stdout  # a member runs the env's Python and numpy ...
    assert "PermissionError" in member.stderr  # ... but cannot change the env
    outsider = as_nobody(65534, "cat", str(prefix / "pyvenv.cfg"))
    assert outsider.returncode != 0 and "Permission denied" in outsider.stderr


def test_group_needs_a_shared_kernel_and_a_real_group(real_wheelhouse: Path, shared_prefix: Path) -> None:
    assert_user_error(kernelctl("create", "g", "--group", "users", "--wheelhouse", str(real_wheelhouse),
                                check=False), 2, "--prefix")
    assert_user_error(kernelctl("create", "g", "--prefix", str(shared_prefix), "--group", "no-such-group-x",
                                "--wheelhouse", str(real_wheelhouse), check=False), 2, "no-such-group-x")
    assert_user_error(kernelctl("create", "g", "--prefix", str(shared_prefix), "--system",
                                check=False), 2, "not allowed with")


def test_a_restrictive_umask_still_shares_the_kernel(real_wheelhouse: Path, shared_prefix: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Admins often run with umask 077; the directories kernelctl makes must still let users in."""
    umask_077 = ["sh", "-c", 'umask 077 && exec "$@"', "sh"]
    kernelctl("create", "strict", "--prefix", str(shared_prefix), "--wheelhouse", str(real_wheelhouse),
              "-q", "--no-verify", prefix=umask_077)
    monkeypatch.setenv("JUPYTER_PATH", str(shared_prefix / "share" / "jupyter"))
    prefix = Path(kernelctl_json("show", "strict")["prefix"])
    for directory in (shared_prefix, shared_prefix / "share" / "jupyter" / "kernels" / "strict",
                      shared_prefix / "share" / "kernelctl" / "envs" / ".store", prefix, prefix / "lib"):
        mode = directory.stat().st_mode
        assert mode & stat.S_IROTH and mode & stat.S_IXOTH, directory
    assert writable_by_others(shared_prefix) == []
