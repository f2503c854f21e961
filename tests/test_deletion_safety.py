"""kernelctl deletes only its own env generations of the kernel at hand, whatever a kernel.json
says, whichever path (symlinked or not) leads to them, and never an env still in service."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from kernelhelpers import assert_user_error, kernelctl, kernelctl_json


def kernels_dir() -> Path:
    return Path(os.environ["JUPYTER_DATA_DIR"]) / "kernels"


def test_a_copied_or_edited_kernelspec_cannot_delete_another_env(real_wheelhouse: Path, tmp_path: Path) -> None:
    wh = ["--wheelhouse", str(real_wheelhouse), "--no-verify", "-q"]
    kernelctl("create", "k1", *wh)
    k1_env = Path(kernelctl_json("show", "k1")["prefix"])
    shutil.copytree(kernels_dir() / "k1", kernels_dir() / "k2")  # k2's kernel.json names k1's env
    kernelctl("create", "k2", *wh, "--force")
    assert k1_env.is_dir()
    shutil.copytree(kernels_dir() / "k1", kernels_dir() / "k3")
    kernelctl("remove", "k3", "--yes")
    assert k1_env.is_dir() and kernelctl_json("show", "k1")["prefix"] == str(k1_env)

    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "thesis.tex").write_text("precious")
    spec_path = kernels_dir() / "k2" / "kernel.json"
    spec = json.loads(spec_path.read_text())
    spec["metadata"]["kernelctl"]["prefix"] = str(victim)
    spec_path.write_text(json.dumps(spec))
    kernelctl("create", "k2", *wh, "--force")
    kernelctl("remove", "k2", "--yes")
    assert (victim / "thesis.tex").read_text() == "precious"


def test_a_failed_replace_through_a_symlinked_prefix_keeps_the_kernel(real_wheelhouse: Path,
                                                                      tmp_path: Path) -> None:
    shared = tmp_path / "project" / "course"
    alias = tmp_path / "alias"
    alias.symlink_to(tmp_path / "project")
    wh = ["--wheelhouse", str(real_wheelhouse), "-q", "--no-verify"]
    kernelctl("create", "k9", "--prefix", str(shared), *wh)
    os.environ["JUPYTER_PATH"] = str(shared / "share" / "jupyter")  # restored by the isolation fixture
    env = Path(kernelctl_json("show", "k9")["prefix"])
    failed = kernelctl("create", "k9", "no-such-project", "--prefix", str(alias / "course"), "--force", *wh,
                       check=False)
    assert_user_error(failed, 1, "no-such-project")
    assert env.is_dir() and kernelctl_json("list")[0]["status"] == "ok"


def test_an_env_registered_from_another_data_dir_is_not_taken_silently(real_wheelhouse: Path,
                                                                       tmp_path: Path) -> None:
    wh = ["--wheelhouse", str(real_wheelhouse), "-q", "--no-verify"]
    kernelctl("create", "k11", *wh)
    env = Path(kernelctl_json("show", "k11")["prefix"])
    os.environ["JUPYTER_DATA_DIR"] = str(tmp_path / "other-data")
    assert_user_error(kernelctl("create", "k11", *wh, check=False), 1, "already exists", "--force")
    assert env.is_dir()


def test_a_directory_of_the_users_at_envs_name_is_left_alone(real_wheelhouse: Path) -> None:
    own = Path(os.environ["KERNELCTL_HOME"]) / "envs" / "mine"
    own.mkdir(parents=True)
    (own / "notes.txt").write_text("mine")
    proc = kernelctl("create", "mine", "--wheelhouse", str(real_wheelhouse), check=False)
    assert_user_error(proc, 1, "is not kernelctl's link")
    assert (own / "notes.txt").read_text() == "mine" and "mine" not in kernelctl("list").stdout
