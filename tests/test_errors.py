"""User-facing errors: one or two lines, no traceback, the right exit code, nothing left behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from jupyter_client.kernelspec import KernelSpecManager
from kernelhelpers import CLI, assert_user_error, kernelctl, kernelctl_json
from wheelfactory import build_corrupt_wheel, build_wheel

from kernelctl.errors import UsageError
from kernelctl.names import validate_name

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


@pytest.mark.parametrize("name", ["ok\n", "\nok", "o\nk", "o\tk", "ok\r", "ok\x1b[2J", "ok\u2028", "ok\u0085",
                                  "ok\x7f"])
def test_a_name_with_control_characters_is_refused(wheels: list[str], name: str) -> None:
    with pytest.raises(UsageError):
        validate_name(name)
    for command in (["create", name, *wheels, "--no-verify"], ["show", name], ["remove", name, "--yes"]):
        proc = kernelctl(*command, check=False)
        assert_user_error(proc, 2, f"invalid kernel name {name!r}", "lowercase letters")
    nothing_left("ok")


def test_no_character_outside_the_rule_is_accepted_anywhere_in_a_name() -> None:
    """Every character up to U+2FFF (C0 and C1 controls, NEL, line and paragraph separators,
    zero-width ones, Latin/Greek/Cyrillic look-alikes) and a few beyond (BOM, fullwidth 'a',
    an emoji), at the end of a name and inside it."""
    allowed = set("abcdefghijklmnopqrstuvwxyz0123456789._-")
    for code in [*range(0x3000), 0xFEFF, 0xFF41, 0x1F600]:
        char = chr(code)
        for name in (f"a{char}", f"a{char}b"):
            try:
                validate_name(name)
            except UsageError:
                assert char not in allowed, repr(name)
            else:
                assert char in allowed, repr(name)


def foreign_kernelspec(directory: Path, name: str) -> Path:
    """A kernelspec kernelctl did not make (as 'ipykernel install --name NAME' writes one)."""
    spec = directory / name
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": "Theirs", "language": "python"}))
    return spec


@pytest.mark.parametrize("where", ["same kernels dir", "earlier on JUPYTER_PATH"])
def test_a_name_a_foreign_kernelspec_holds_in_another_case_is_refused(wheels: list[str], tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch,
                                                                      where: str) -> None:
    ours = Path(os.environ["JUPYTER_DATA_DIR"]) / "kernels"
    if where == "same kernels dir":
        holder = foreign_kernelspec(ours, "Coll")
    else:
        monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "site-jupyter"))
        holder = foreign_kernelspec(tmp_path / "site-jupyter" / "kernels", "COLL")
    assert KernelSpecManager().find_kernel_specs()["coll"] == str(holder)  # what the launcher starts for 'coll'
    for force in ([], ["--force"]):
        proc = kernelctl("create", "coll", *wheels, "--no-verify", *force, check=False)
        assert_user_error(proc, 1, str(holder), "case-insensitively", "move")
    store = Path(os.environ["KERNELCTL_HOME"]) / "envs" / ".store"
    assert not (ours / "coll").exists() and (holder / "kernel.json").is_file() and not any(store.glob("*"))
    holder.rename(holder.with_name("theirs"))  # the way out the error names
    kernelctl("create", "coll", *wheels, "--no-verify", "-q")
    assert KernelSpecManager().find_kernel_specs()["coll"] == str(ours / "coll")


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


DEEP = "[" * 100_000
NOT_UTF8 = '{"argv": ["\xff"]}'


@pytest.mark.parametrize(("where", "damage"), [("spec", DEEP), ("spec", NOT_UTF8), ("launch", DEEP),
                                               ("launch", NOT_UTF8), ("manifest", DEEP), ("manifest", NOT_UTF8)])
def test_nested_or_undecodable_kernelctl_files_give_one_error(wheels: list[str], where: str, damage: str) -> None:
    kernelctl("create", "hurt", *wheels, "--no-verify", "-q")
    spec_dir = Path(os.environ["JUPYTER_DATA_DIR"]) / "kernels" / "hurt"
    path = {"spec": spec_dir / "kernel.json", "launch": spec_dir / "kernelctl-launch.json",
            "manifest": Path(kernelctl_json("show", "hurt")["prefix"]) / "kernelctl.json"}[where]
    path.write_bytes(damage.encode("latin-1"))
    for command in (["list"], ["show", "hurt"], ["doctor"], ["export", "hurt"], ["install", "hurt", "tinyfixture"],
                    ["rebuild", "hurt", "--no-verify"], ["remove", "hurt", "--yes"]):
        proc = kernelctl(*command, check=False)
        assert proc.returncode in (0, 1) and "Traceback" not in proc.stderr, (command, proc.stderr)
        if proc.returncode and command != ["doctor"]:  # doctor reports on stdout and exits 1
            assert_user_error(proc, 1)
    kernelctl("create", "hurt", *wheels, "--no-verify", "-q", "--force")  # the way out the errors name
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
