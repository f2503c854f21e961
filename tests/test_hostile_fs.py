"""Links and strangers' files planted in kernelctl's own directories never redirect its writes
or deletes: the lock file, the kernelspec staging dir, the env store and the envs dir, in the
user's location and in a shared prefix, are refused with a one-line error naming the path, and
what they point to is left exactly as it was. ``envs/NAME``, the link kernelctl makes to its
env generation, keeps working."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from jupyter_client.kernelspec import KernelSpecManager
from kernelhelpers import assert_user_error, kernelctl, kernelctl_json

from conftest import require_system


def home() -> Path:
    return Path(os.environ["KERNELCTL_HOME"])


def kernels_dir() -> Path:
    return Path(os.environ["JUPYTER_DATA_DIR"]) / "kernels"


@pytest.fixture()
def victim(tmp_path: Path) -> Path:
    """Someone else's directory, laid out as kernelctl's would be, so that a followed link
    would find names to delete in it: ``*/NAME`` (staging) and ``NAME@*`` (store)."""
    root = tmp_path / "victim"
    for sub in ("x/k", "k@20200101T000000-abcdef", "k"):
        (root / sub).mkdir(parents=True)
        (root / sub / "thesis.tex").write_text("precious")
    (root / "k.lock").write_text("precious")
    return root


def snapshot(root: Path) -> dict[str, bytes | None]:
    return {str(p.relative_to(root)): p.read_bytes() if p.is_file() else None for p in sorted(root.rglob("*"))}


def replace_with_link(path: Path, target: Path) -> None:
    """Put a symlink to ``target`` where ``path`` is (as an attacker who can write its parent would)."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(target)


def create(name: str, wheelhouse: Path, *extra: str, check: bool = True):  # noqa: ANN201
    return kernelctl("create", name, "--wheelhouse", str(wheelhouse), "--no-verify", "-q", *extra, check=check)


PLANTS: dict[str, Callable[[Path], Path]] = {
    "lock": lambda victim: home() / "locks" / "k.lock",
    "staging": lambda victim: kernels_dir() / ".kernelctl-staging",
    "store": lambda victim: home() / "envs" / ".store",
    "envs": lambda victim: home() / "envs",
    "locks-dir": lambda victim: home() / "locks",
}
TARGETS = {"lock": "k.lock"}


@pytest.mark.parametrize("where", PLANTS)
def test_a_planted_link_is_refused_and_its_target_untouched(real_wheelhouse: Path, victim: Path,
                                                            where: str) -> None:
    create("k", real_wheelhouse)
    env = Path(kernelctl_json("show", "k")["prefix"])
    planted = PLANTS[where](victim)
    saved = planted.with_name(planted.name + ".saved")
    if planted.exists():
        planted.rename(saved)
    replace_with_link(planted, victim / TARGETS.get(where, ""))
    before = snapshot(victim)
    for command in (["create", "k", "--wheelhouse", str(real_wheelhouse), "--no-verify", "-q", "--force"],
                    ["remove", "k", "--yes"]):
        assert_user_error(kernelctl(*command, check=False), 1, f"refusing to use {planted}", "symbolic link")
    for command in (["install", "k", "six"], ["rebuild", "k", "--no-verify"]):
        # refused, or (with the store moved away) stopped earlier because the env is missing
        assert_user_error(kernelctl(*command, check=False), 1)
    assert snapshot(victim) == before
    planted.unlink()
    if saved.exists():
        saved.rename(planted)
    # once the link is gone, the kernel is as it was, and usable
    assert kernelctl_json("show", "k")["prefix"] == str(env) and env.is_dir()
    kernelctl("remove", "k", "--yes")
    assert not env.exists() and snapshot(victim) == before


def test_a_kernelspec_dir_replaced_by_a_link_is_not_written_through(real_wheelhouse: Path, tmp_path: Path) -> None:
    create("k", real_wheelhouse)
    spec_dir = kernels_dir() / "k"
    elsewhere = tmp_path / "elsewhere-k"
    shutil.copytree(spec_dir, elsewhere)
    shutil.rmtree(spec_dir)
    spec_dir.symlink_to(elsewhere)
    before = snapshot(elsewhere)
    for command in (["netguard", "k", "--mode", "block"], ["install", "k", "six"], ["rebuild", "k", "--no-verify"],
                    ["remove", "k", "--yes"]):
        assert_user_error(kernelctl(*command, check=False), 1, f"refusing to use {spec_dir}", "symbolic link")
    assert snapshot(elsewhere) == before


def test_a_dangling_lock_link_creates_nothing(real_wheelhouse: Path, tmp_path: Path) -> None:
    target = tmp_path / "elsewhere" / "new-file"
    target.parent.mkdir()
    replace_with_link(home() / "locks" / "k.lock", target)
    assert_user_error(create("k", real_wheelhouse, check=False), 1, "symbolic link")
    assert not target.exists() and "k" not in KernelSpecManager().find_kernel_specs()


@pytest.mark.parametrize("kind", ["hard link", "fifo", "directory"])
def test_a_lock_path_that_is_not_a_plain_file_of_ours_is_refused(real_wheelhouse: Path, victim: Path,
                                                                 kind: str) -> None:
    lock = home() / "locks" / "k.lock"
    lock.parent.mkdir(parents=True)
    if kind == "hard link":
        os.link(victim / "k.lock", lock)
    elif kind == "fifo":
        os.mkfifo(lock)  # must not hang
    else:
        lock.mkdir()
    proc = create("k", real_wheelhouse, check=False)
    assert_user_error(proc, 1, f"refusing to use {lock}")
    assert (victim / "k.lock").read_text() == "precious"


def test_envs_name_link_kernelctl_makes_is_still_allowed(real_wheelhouse: Path) -> None:
    create("k", real_wheelhouse)
    link = home() / "envs" / "k"
    first = link.resolve()
    assert link.is_symlink() and first.parent == home() / "envs" / ".store"
    create("k", real_wheelhouse, "--force")
    assert link.is_symlink() and link.resolve() != first and not first.exists()


@pytest.mark.parametrize("where", ["share/kernelctl", "share/kernelctl/envs/.store", "share/jupyter/kernels",
                                   "share/jupyter/kernels/.kernelctl-staging"])
def test_links_in_a_shared_prefix_are_refused(real_wheelhouse: Path, victim: Path, tmp_path: Path,
                                              where: str) -> None:
    prefix = tmp_path / "course"
    create("k", real_wheelhouse, "--prefix", str(prefix))
    os.environ["JUPYTER_PATH"] = str(prefix / "share" / "jupyter")  # restored by the isolation fixture
    planted = prefix / where
    planted.rename(planted.with_name(planted.name + ".saved")) if planted.exists() else None
    replace_with_link(planted, victim)
    before = snapshot(victim)
    proc = create("k", real_wheelhouse, "--prefix", str(prefix), "--force", check=False)
    assert_user_error(proc, 1, f"refusing to use {planted}", "symbolic link")
    assert snapshot(victim) == before


def test_a_prefix_that_is_itself_a_link_is_the_users_choice(real_wheelhouse: Path, tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "alias").symlink_to(tmp_path / "real")
    create("k", real_wheelhouse, "--prefix", str(tmp_path / "alias"))
    assert (tmp_path / "real" / "share" / "jupyter" / "kernels" / "k" / "kernel.json").is_file()


@pytest.mark.system
@pytest.mark.parametrize("where", ["locks", "envs/.store"])
def test_a_directory_of_another_user_is_refused(real_wheelhouse: Path, where: str) -> None:
    require_system(os.geteuid() == 0, "needs root to give a directory to another user")
    create("k", real_wheelhouse)
    directory = home() / where
    os.chown(directory, 65534, -1)
    proc = create("k", real_wheelhouse, "--force", check=False)
    assert_user_error(proc, 1, f"refusing to use {directory}", "uid 65534", "not to you")
    assert (home() / "envs" / "k").resolve().is_dir()  # the kernel in service is untouched


@pytest.mark.system
def test_a_shared_kernel_of_another_user_says_whose_it_is(real_wheelhouse: Path, tmp_path: Path) -> None:
    require_system(os.geteuid() == 0, "needs root to give a directory to another user")
    prefix = tmp_path / "course"
    create("k", real_wheelhouse, "--prefix", str(prefix))
    os.environ["JUPYTER_PATH"] = str(prefix / "share" / "jupyter")  # restored by the isolation fixture
    os.chown(prefix / "share" / "kernelctl", 65534, -1)
    proc = kernelctl("install", "k", "six", check=False)
    assert_user_error(proc, 1, "you may not change kernel 'k'", "uid 65534", "kernelctl export k")
