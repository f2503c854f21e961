"""User-facing errors: one or two lines, no traceback, the right exit code, nothing left behind."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from jupyter_client.kernelspec import KernelSpecManager
from kernelhelpers import CLI, assert_user_error, kernelctl, kernelctl_json
from wheelfactory import build_corrupt_wheel, build_wheel

from conftest import require_system


@pytest.fixture()
def wheels(tmp_path: Path, real_wheelhouse: Path) -> list[str]:
    site = tmp_path / "site"
    build_wheel(site, "tinyfixture", "1.0")
    build_wheel(site, "tinyfixture", "1.2", tag="cp27-cp27mu-linux_x86_64")
    build_corrupt_wheel(site, "broken", "1.0")
    return ["--wheelhouse", str(real_wheelhouse), "--wheelhouse", str(site)]


def nothing_left(name: str) -> None:
    assert name not in KernelSpecManager().find_kernel_specs()
    store = Path(os.environ["KERNELCTL_HOME"]) / "envs" / ".store"
    assert not store.exists() or not any(store.iterdir())


@pytest.mark.parametrize("name", ["My Env", "_under", "a/b", "x" * 65, "ÿ"])
def test_invalid_name_states_the_rule(name: str) -> None:
    assert_user_error(kernelctl("create", name, check=False), 2, "lowercase letters")


def test_no_wheelhouse_configured() -> None:
    assert_user_error(kernelctl("create", "x", check=False), 2, "no wheelhouse", "--wheelhouse")


def test_wheelhouse_directory_missing(tmp_path: Path) -> None:
    proc = kernelctl("create", "x", "--wheelhouse", str(tmp_path / "nowhere"), check=False)
    assert_user_error(proc, 1, str(tmp_path / "nowhere"))


def test_existing_name_says_how_to_replace(wheels: list[str]) -> None:
    kernelctl("create", "dup", *wheels, "--no-verify", "-q")
    assert_user_error(kernelctl("create", "dup", *wheels, check=False), 1, "--force", "rebuild")
    kernelctl("create", "dup", "tinyfixture", *wheels, "--no-verify", "-q", "--force")


@pytest.mark.parametrize("backend", ["uv", "pip"])
@pytest.mark.parametrize("requirement", ["tinyfixture==9.9", "tinyfixture<1"])
def test_unsatisfiable_version_lists_what_the_wheelhouse_has(wheels: list[str], backend: str,
                                                             requirement: str) -> None:
    proc = kernelctl("create", "x", requirement, "--backend", backend, *wheels, check=False)
    assert_user_error(proc, 1, f"cannot satisfy '{requirement}'", "tinyfixture-1.0-py3-none-any.whl",
                      "tinyfixture-1.2-cp27-cp27mu-linux_x86_64.whl")
    nothing_left("x")


def test_unknown_project_is_named(wheels: list[str]) -> None:
    proc = kernelctl("create", "x", "no-such-project", *wheels, check=False)
    assert_user_error(proc, 1, "no-such-project", "no wheels for no-such-project")
    nothing_left("x")


@pytest.mark.parametrize("backend", ["uv", "pip"])
def test_corrupt_wheel_is_named(wheels: list[str], backend: str) -> None:
    proc = kernelctl("create", "x", "broken", "--backend", backend, *wheels, check=False)
    assert_user_error(proc, 1, "corrupt wheel", "broken-1.0-py3-none-any.whl")
    nothing_left("x")


@pytest.mark.parametrize("python", ["/no/such/python", "3.99"])
def test_missing_interpreter(wheels: list[str], python: str) -> None:
    assert_user_error(kernelctl("create", "x", "--python", python, *wheels, check=False), 2, python)


def test_invalid_requirement(wheels: list[str]) -> None:
    assert_user_error(kernelctl("create", "x", "numpy>>1", *wheels, check=False), 2, "invalid requirement")


def test_unknown_kernel_commands() -> None:
    for command in (["show", "nope"], ["install", "nope", "six"], ["export", "nope"], ["rebuild", "nope"],
                    ["remove", "nope", "--yes"]):
        assert_user_error(kernelctl(*command, check=False), 1, "no kernel named 'nope'", "kernelctl list")


def test_unknown_option_is_a_usage_error() -> None:
    assert_user_error(kernelctl("create", "--bogus", check=False), 2, "--help")
    assert_user_error(kernelctl("create", "x", "--no-verify", "numpy", "--bogus", check=False), 2, "--bogus")


def test_packages_may_follow_options(wheels: list[str]) -> None:
    kernelctl("create", "late", "--no-verify", "-q", "tinyfixture", *wheels)
    kernelctl("install", "late", "-v", "tinyfixture==1.0")
    assert kernelctl_json("show", "late")["requirements"] == ["tinyfixture", "tinyfixture==1.0"]


@pytest.mark.system
def test_full_disk_is_reported_and_cleaned_up(wheels: list[str], tmp_path: Path) -> None:
    """KERNELCTL_HOME on a 12 MB tmpfs, mounted in a private user+mount namespace."""
    probe = kernelctl("--version", check=False, prefix=["unshare", "-rm"])
    require_system(probe.returncode == 0, "needs unprivileged user and mount namespaces ('unshare -rm')")
    small = tmp_path / "small"
    small.mkdir()
    script = 'mount -t tmpfs -o size=12m tmpfs "$0" && exec "$@"'
    proc = kernelctl("create", "big", "numpy", *wheels, check=False,
                     prefix=["env", f"KERNELCTL_HOME={small}", "unshare", "-rm", "sh", "-c", script, str(small)])
    assert_user_error(proc, 1, "no space left", "KERNELCTL_HOME")
    nothing_left("big")


@pytest.mark.parametrize("damage", ["[]", '{"argv": [], "metadata": {"kernelctl": {"name": "hurt"}}}', "{not json"])
def test_a_damaged_kernelspec_gives_errors_not_tracebacks(wheels: list[str], damage: str) -> None:
    kernelctl("create", "hurt", *wheels, "--no-verify", "-q")
    spec = Path(os.environ["JUPYTER_DATA_DIR"]) / "kernels" / "hurt" / "kernel.json"
    spec.write_text(damage)
    for command in (["list"], ["show", "hurt"], ["doctor"], ["remove", "hurt", "--yes"], ["rebuild", "hurt"]):
        proc = kernelctl(*command, check=False)
        assert proc.returncode in (0, 1) and "Traceback" not in proc.stderr, (command, proc.stderr)
    kernelctl("create", "hurt", *wheels, "--no-verify", "-q", "--force")  # replacing it repairs it
    assert kernelctl_json("show", "hurt")["name"] == "hurt"


def test_remove_off_a_terminal_asks_for_yes_and_removes_nothing(wheels: list[str]) -> None:
    kernelctl("create", "keepme", *wheels, "--no-verify", "-q")
    proc = subprocess.run([*CLI, "remove", "keepme"], stdin=subprocess.DEVNULL, capture_output=True, text=True)
    assert proc.returncode == 2 and "--yes" in proc.stderr  # not a terminal: it asks for --yes
    assert kernelctl_json("show", "keepme")["name"] == "keepme"


def test_requirements_that_name_urls_are_refused_before_anything_runs(wheels: list[str], tmp_path: Path) -> None:
    proc = kernelctl("create", "x", "foo @ https://example.org/foo-1.0-py3-none-any.whl", *wheels, check=False)
    assert_user_error(proc, 2, "names a URL", "wheelhouse fetch")
    req = tmp_path / "req.txt"
    req.write_text("# mirrors: https://example.org\nnumpy  # see https://numpy.org\n--find-links https://example.org/wh\n")
    assert_user_error(kernelctl("create", "x", "-r", str(req), *wheels, check=False), 2, f"{req}:3 names a URL")
    nothing_left("x")
