"""Requirement files read as pip reads them, and the wheelhouse-only promise held through
every file of the tree: continuations, comments, nested -r/-c, cycles, options (issue 13).

The reader is pure, so most cases run it directly; the CLI cases check that create and
install refuse before anything runs and that install follows relative includes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from kernelhelpers import assert_user_error, kernelctl, kernelctl_json
from wheelfactory import build_wheel

from kernelctl.errors import UsageError
from kernelctl.requirements import COMMAND_LINE, logical_lines, read


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_logical_lines_join_before_comments_as_pip_does() -> None:
    text = "a \\\n  >=1\n# whole-line comment \\\nb # trailing \\\nc\n\n  d  \n"
    # pip joins 'b # trailing ' with 'c' and then drops the comment: c is no requirement
    assert logical_lines(text) == [(1, "a   >=1"), (4, "b"), (7, "d")]


@pytest.mark.parametrize("text", [
    "--find-links http:\\\n//127.0.0.1:9/\nsix\n",        # the URL split over a continuation
    "six --index-url=https://example.org/simple\n",
    "-ihttps://example.org/simple\n",
    "--extra-index-url https://example.org/simple\n",
    "--trusted-host example.org\n",
    "-f /some/local/dir\n",                                 # any find-links: only --wheelhouse adds dirs
    "six @ https://example.org/six-1.0-py3-none-any.whl\n",
    "https://example.org/six-1.0-py3-none-any.whl\n",
    "git+https://example.org/six.git#egg=six\n",
    "--find-links ${KERNELCTL_TEST_EVIL}\n",               # pip expands ${VAR}: so does the check
    "-r https://example.org/more.txt\n",
])
def test_anything_reaching_past_the_wheelhouse_is_refused_with_file_and_line(tmp_path: Path, text: str) -> None:
    req = write(tmp_path / "req.txt", "numpy\n" + text)
    with pytest.raises(UsageError) as caught:
        read(files=[req], environ={"KERNELCTL_TEST_EVIL": "http://127.0.0.1:9/"})
    assert f"{req}:2" in caught.value.message and "wheelhouse" in str(caught.value)


def test_a_url_two_includes_deep_is_refused_naming_its_file(tmp_path: Path) -> None:
    top = write(tmp_path / "top.txt", "numpy\n-r mid/mid.txt\n")
    write(tmp_path / "mid" / "mid.txt", f"-r {tmp_path / 'deep' / 'deep.txt'}\n")  # an absolute include
    deep = write(tmp_path / "deep" / "deep.txt", "six\n--extra-index-url http://127.0.0.1:9/simple\n")
    with pytest.raises(UsageError) as caught:
        read(files=[top])
    assert f"{deep}:2" in caught.value.message


def test_nested_includes_are_relative_to_the_file_that_names_them(tmp_path: Path, monkeypatch) -> None:
    top = write(tmp_path / "top.txt", "numpy>=1  # pinned below\n-r sub/more.txt\n")
    more = write(tmp_path / "sub" / "more.txt", "six\n-c ../constraints/c.txt\n--no-index\n")
    cons = write(tmp_path / "constraints" / "c.txt", "numpy<3\n-c nested.txt\n")
    write(tmp_path / "constraints" / "nested.txt", "six==1.16.0\n")
    monkeypatch.chdir("/")
    got = read(["pandas"], [top])
    assert [(r.text, r.source) for r in got.requirements] == [
        ("pandas", COMMAND_LINE), ("numpy>=1", f"{top}:1"), ("six", f"{more}:1")]
    assert [(c.text, c.source) for c in got.constraints] == [
        ("numpy<3", f"{cons}:1"), ("six==1.16.0", f"{tmp_path / 'constraints' / 'nested.txt'}:1")]
    assert [f.path for f in got.files] == [str(top)]


def test_cycles_are_refused_but_a_file_may_be_included_twice(tmp_path: Path) -> None:
    write(tmp_path / "a.txt", "-r b.txt\nsix\n")
    write(tmp_path / "b.txt", "-r sub/../a.txt\n")
    with pytest.raises(UsageError, match="cycle"):
        read(files=[tmp_path / "a.txt"])
    write(tmp_path / "common.txt", "six\n")
    write(tmp_path / "both.txt", "-r common.txt\n-r ./common.txt\n")
    assert [r.text for r in read(files=[tmp_path / "both.txt"]).requirements] == ["six", "six"]


@pytest.mark.parametrize("text, needle", [
    ("-e ./project\n", "editable"),
    ("--bogus-option\n", "unknown option"),
    ("six -r other.txt\n", "cannot follow a requirement"),
    ("-r missing.txt\n", "missing.txt"),
    ("numpy>>1\n", "invalid requirement"),
    ("-c c.txt\n", "not a project name"),
])
def test_other_bad_lines_are_usage_errors_naming_the_line(tmp_path: Path, text: str, needle: str) -> None:
    write(tmp_path / "c.txt", "six @ file:///nowhere/six-1.0-py3-none-any.whl\n")
    req = write(tmp_path / "req.txt", text)
    with pytest.raises(UsageError, match=needle):
        read(files=[req])


def test_check_reads_the_same_files_but_ignores_index_options(tmp_path: Path) -> None:
    req = write(tmp_path / "req.txt", "--index-url https://example.org/simple\nsix \\\n  ==1.16.0\n-r sub/x.txt\n")
    write(tmp_path / "sub" / "x.txt", "numpy\n")
    assert [r.text for r in read(files=[req], offline=False).requirements] == ["six==1.16.0", "numpy"]


# --- the CLI: refused before anything runs; install follows relative includes ------------------


@pytest.fixture()
def site(tmp_path: Path, real_wheelhouse: Path) -> list[str]:
    build_wheel(tmp_path / "site", "tinyfixture", "1.0")
    build_wheel(tmp_path / "site", "tinyfixture", "1.2")
    return ["--wheelhouse", str(real_wheelhouse), "--wheelhouse", str(tmp_path / "site")]


def nothing_made() -> None:
    store = Path(os.environ["KERNELCTL_HOME"]) / "envs" / ".store"
    assert not store.exists() or not any(store.iterdir())


def test_create_refuses_a_backslash_joined_url_and_a_deep_one(site: list[str], tmp_path: Path) -> None:
    joined = write(tmp_path / "joined.txt", "tinyfixture\n--find-links http:\\\n//127.0.0.1:9/\n")
    assert_user_error(kernelctl("create", "x", "-r", str(joined), *site, check=False), 2, f"{joined}:2", "fetch")
    write(tmp_path / "top.txt", "-r one/one.txt\n")
    write(tmp_path / "one" / "one.txt", "-r ../two/two.txt\n")
    deep = write(tmp_path / "two" / "two.txt", "tinyfixture @ http://127.0.0.1:9/tinyfixture-1.0-py3-none-any.whl\n")
    assert_user_error(kernelctl("create", "x", "-r", str(tmp_path / "top.txt"), *site, check=False), 2, f"{deep}:1")
    nothing_made()


def test_nested_relative_includes_and_constraints_work_in_create_install_and_rebuild(
        site: list[str], tmp_path: Path) -> None:
    write(tmp_path / "reqs" / "base.txt", "-r more/tiny.txt\n")
    write(tmp_path / "reqs" / "more" / "tiny.txt", "tinyfixture\n-c pins.txt\n")
    write(tmp_path / "reqs" / "more" / "pins.txt", "tinyfixture==1.0  # the older one\n")
    kernelctl("create", "nest", "-r", str(tmp_path / "reqs" / "base.txt"), *site, "-q", "--no-verify")
    assert kernelctl_json("show", "nest")["installed"]["tinyfixture"] == "1.0"
    kernelctl("remove", "nest", "--yes")
    kernelctl("create", "nest", *site, "-q", "--no-verify")
    kernelctl("install", "nest", "-q", "--no-verify", "-r", str(tmp_path / "reqs" / "base.txt"))
    shown = kernelctl_json("show", "nest")
    assert shown["installed"]["tinyfixture"] == "1.0"
    assert {"text": "tinyfixture", "source": f"{tmp_path / 'reqs' / 'more' / 'tiny.txt'}:1"} in shown["requirement_lines"]
    for path in (tmp_path / "reqs").rglob("*.txt"):
        path.unlink()  # rebuild needs only the manifest, never the files again
    kernelctl("rebuild", "nest", "-q", "--no-verify")
    assert kernelctl_json("show", "nest")["installed"]["tinyfixture"] == "1.0"


def test_an_old_manifest_is_rebuilt_from_its_recorded_text_vetted_now(site: list[str], tmp_path: Path) -> None:
    """Manifests from before requirement_lines keep each -r file's text: rebuild reads that
    text with the same reader (nested includes relative to the recorded path), and refuses
    a URL in it instead of fetching again."""
    kernelctl("create", "old", *site, "-q", "--no-verify")
    write(tmp_path / "gone" / "pins.txt", "tinyfixture==1.0\n")

    def make_old(text: str) -> None:
        path = Path(kernelctl_json("show", "old")["prefix"]) / "kernelctl.json"
        data = json.loads(path.read_text())
        del data["requirement_lines"], data["constraint_lines"]
        data["requirement_files"] = [{"path": str(tmp_path / "gone" / "req.txt"), "text": text}]
        path.write_text(json.dumps(data))

    make_old("tinyfixture \\\n  <2\n-c pins.txt\n")
    kernelctl("rebuild", "old", "-q", "--no-verify")
    rebuilt = kernelctl_json("show", "old")
    assert rebuilt["installed"]["tinyfixture"] == "1.0"
    assert rebuilt["requirement_lines"] == [{"text": "tinyfixture<2", "source": f"{tmp_path / 'gone' / 'req.txt'}:1"}]

    make_old("tinyfixture\n--find-links http:\\\n//127.0.0.1:9/\n")
    before = kernelctl_json("show", "old")["prefix"]
    proc = kernelctl("rebuild", "old", "-q", "--no-verify", check=False)
    assert_user_error(proc, 1, f"{tmp_path / 'gone' / 'req.txt'}:2", "kernelctl create old --force")
    assert kernelctl_json("show", "old")["prefix"] == before  # the kernel in service is untouched
