"""R kernels with Debian's R and IRkernel, and packages built by the tests into local repositories."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from conftest import offline_command
from kernelhelpers import assert_user_error, kernel_json, kernelctl, kernelctl_json, run_in_kernel
from test_shared import shared_prefix, writable_by_others  # noqa: F401 (a fixture)
from modsupport import ModuleSetup, setup_modules
from rsupport import build_tarballs, cran_like_repo


@pytest.fixture(params=["lmod", "tcl"])
def mods(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleSetup:
    return setup_modules(request.param, tmp_path, monkeypatch)


def test_r_kernel_installs_from_a_cran_like_repo_and_puts_its_library_first(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    repo = cran_like_repo(tmp_path / "repo")
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    kernelctl("create", "rk", "--language", "r", "--r-repo", str(repo), "hello")
    assert list(scratch.iterdir()) == []  # the verification kernel is killed: its Rtmp dir went with ours
    spec = kernel_json(tmp_path / "jupyter-data", "rk")
    assert (spec["language"], spec["display_name"], spec["argv"][0]) == ("r", "R (rk)", "python3")
    shown = kernelctl_json("show", "rk")
    assert shown["options"]["language"] == "r" and shown["options"]["r_repos"] == [str(repo)]
    # hello's dependency came from the repo too; IRkernel from Debian's site library, not installed again
    assert shown["installed"] == {"greet": "0.1.0", "hello": "0.1.0"}
    assert shown["runtime"].startswith("R 4.")
    library = Path(shown["prefix"]) / "library"
    out, _ = run_in_kernel("rk", 'cat(hello::hello(), .libPaths(), sep = "\\n"); cat(getOption("repos"), "\\n")',
                           timeout=120)
    lines = out.splitlines()
    assert lines[0] == "hello world"
    assert Path(lines[1]).resolve() == library.resolve()
    assert "/usr/lib/R/site-library" in lines[2:-1]  # the site's library stays visible behind it
    assert lines[-1].strip() == f"file://{repo}"
    listed = {r["name"]: r for r in kernelctl_json("list")}
    assert listed["rk"]["language"] == "r" and listed["rk"]["status"] == "ok"

    shutil.rmtree(library)  # an incomplete env is reported, and rebuild mends it
    [record] = kernelctl_json("list")
    assert record["status"] == f"broken: {library} is missing: the env is incomplete"
    kernelctl("rebuild", "rk", "-q", "--no-verify")
    assert kernelctl_json("list")[0]["status"] == "ok"


def test_install_packages_in_the_kernel_uses_only_the_local_repo(tmp_path: Path) -> None:
    plain = build_tarballs(tmp_path / "tarballs")  # a plain directory of source tarballs
    # created without any network: only loopback, as on a compute node
    kernelctl("create", "rk", "--language", "r", "--r-repo", str(plain), "greet", prefix=offline_command([]))
    assert kernelctl_json("show", "rk")["installed"] == {"greet": "0.1.0"}
    out, _ = run_in_kernel("rk", 'install.packages("hello", quiet = TRUE); '
                                 'cat(hello::hello(), rownames(installed.packages(.libPaths()[1])), sep = "\\n")',
                           timeout=180)
    assert out.split("\n")[:3] == ["hello world", "greet", "hello"]


def test_a_package_missing_from_the_repos_is_named_with_what_they_hold(tmp_path: Path) -> None:
    repo = cran_like_repo(tmp_path / "repo", ("greet",))
    proc = kernelctl("create", "rk", "--language", "r", "--r-repo", str(repo), "hello", check=False)
    assert_user_error(proc, 1, "R package(s) hello not in the local R repositories", "they hold: greet")
    only_hello = cran_like_repo(tmp_path / "repo2", ("hello",))  # hello's dependency greet is missing
    proc = kernelctl("create", "rk", "--language", "r", "--r-repo", str(only_hello), "hello", check=False)
    assert_user_error(proc, 1, "R package(s) greet not in the local R repositories", "they hold: hello")
    assert kernelctl_json("list") == []
    assert_user_error(kernelctl("create", "rk", "--language", "r", "--r-repo", str(tmp_path), check=False), 2,
                      "is not a local R repository")
    assert_user_error(kernelctl("create", "rk", "--language", "r", "hello>=1", check=False), 2,
                      "'hello>=1' is not an R package name")
    assert_user_error(kernelctl("create", "py", "--r-repo", str(repo), check=False), 2, "--r-repo is for R kernels")


def test_install_export_rebuild_doctor_fix_and_remove_an_r_kernel(tmp_path: Path) -> None:
    repo = cran_like_repo(tmp_path / "repo")
    kernelctl("create", "rk", "--language", "r", "--r-repo", str(repo), "greet")
    before = kernelctl_json("show", "rk")["prefix"]
    kernelctl("install", "rk", "hello", "-q")  # into a new generation, from the recorded repo
    installed = kernelctl_json("show", "rk")
    assert installed["requirements"] == ["greet", "hello"] and not Path(before).exists()
    assert installed["installed"] == {"greet": "0.1.0", "hello": "0.1.0"}
    assert kernelctl("export", "rk").stdout.splitlines()[2:] == ["greet==0.1.0", "hello==0.1.0"]
    assert_user_error(kernelctl("install", "rk", "-r", "reqs.txt", check=False), 2, "takes R package names")
    kernelctl("rebuild", "rk", "-q")
    after = kernelctl_json("show", "rk")
    assert after["prefix"] != installed["prefix"] and after["installed"] == installed["installed"]

    shutil.rmtree(Path(os.environ["JUPYTER_DATA_DIR"]) / "kernels" / "rk")  # the 'Startup hangs' fix
    proc = kernelctl("doctor", "--fix", "--json", check=False)
    assert proc.returncode == 0 and "Registering 'rk' again: starting it and running 1 + 1" in proc.stderr, proc.stderr
    assert kernelctl_json("show", "rk")["prefix"] == after["prefix"]  # nothing reinstalled
    out, _ = run_in_kernel("rk", "cat(hello::hello())", timeout=120)
    assert out == "hello world"

    kernelctl("remove", "rk", "--yes")
    assert not Path(after["prefix"]).exists() and kernelctl_json("list") == []


def test_shared_r_kernel_under_a_prefix(tmp_path: Path, shared_prefix: Path,  # noqa: F811
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    repo = cran_like_repo(tmp_path / "repo", ("greet",))
    kernelctl("create", "course-r", "--language", "r", "--r-repo", str(repo), "greet", "--prefix", str(shared_prefix))
    monkeypatch.setenv("JUPYTER_PATH", str(shared_prefix / "share" / "jupyter"))
    prefix = Path(kernelctl_json("show", "course-r")["prefix"])
    assert prefix.is_relative_to(shared_prefix / "share" / "kernelctl" / "envs")
    assert writable_by_others(prefix) == [] and writable_by_others(shared_prefix / "share" / "jupyter") == []
    out, _ = run_in_kernel("course-r", 'cat(greet::greeting(), .libPaths()[1], sep = "\n")', timeout=120)
    assert out.splitlines() == ["world", str((prefix / "library").resolve())]


def test_r_kernel_loads_its_module_at_start_without_module_variables(
        mods: ModuleSetup, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plain = build_tarballs(tmp_path / "tarballs", ("greet",))
    kernelctl("create", "rk", "--language", "r", "--module", "r/4.2", "--r-repo", str(plain), "greet")
    launch = json.loads((Path(kernelctl_json("show", "rk")["kernelspec"]) / "kernelctl-launch.json").read_text())
    assert launch["modules"] == ["r/4.2"] and launch["exec"][0] == "R"  # R from the module's PATH
    monkeypatch.delenv("MODULEPATH")  # the server has no module variables at all
    monkeypatch.delenv("LMOD_CMD" if mods.kind == "lmod" else "MODULES_CMD")
    out, _ = run_in_kernel("rk", 'cat(Sys.getenv("KERNELCTL_TEST_R_MODULE"), R.home(), .libPaths(), sep = "\\n")',
                           timeout=120)
    lines = out.splitlines()
    assert lines[0] == "r/4.2"
    own = Path(kernelctl_json("show", "rk")["prefix"]) / "library"
    assert [Path(p).resolve() for p in lines[2:4]] == [own.resolve(), (mods.support / "r-module-library").resolve()]
