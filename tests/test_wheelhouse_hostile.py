"""Hostile wheelhouses (issue 13): bombs, FIFOs, odd names, renamed wheels, partial coverage.

Every test builds real wheels (wheelhouse-fixtures/wheelfactory.py) and runs the real
commands or their Python API; nothing here touches the network.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest
from wheelfactory import build_bomb_wheel, build_corrupt_wheel, build_wheel, build_wheelhouse

from kernelctl.commands.wheelhouse_check import check_wheelhouse
from kernelctl.wheelhouse.check import resolve_narrowing
from kernelctl.wheelhouse.diagnosis import diagnose
from kernelctl.wheelhouse.index import WheelhouseIndex
from kernelctl.wheelhouse.wheelmeta import METADATA_LIMIT, read_metadata
from kernelctl.wheelhouse.reachability import Reachability
from kernelctl.wheelhouse.resolver import Requirement, WheelhouseProvider
from kernelctl.wheelhouse.targets import make_targets

PY = f"{sys.version_info[0]}.{sys.version_info[1]}"
CP = f"cp{sys.version_info[0]}{sys.version_info[1]}"
OTHER_CP = "cp312" if CP != "cp312" else "cp311"


def _limited(megabytes: int):
    def apply() -> None:
        limit = megabytes * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    return apply


def _run(cli: list[str], *args: str, memory_mb: int | None = None, timeout: float = 120
         ) -> subprocess.CompletedProcess:
    return subprocess.run([*cli, *args], capture_output=True, text=True, timeout=timeout,
                          preexec_fn=_limited(memory_mb) if memory_mb else None)


# -- METADATA inflated with a cap --------------------------------------------------------

def test_a_metadata_bomb_is_an_unusable_wheel_not_gigabytes(tmp_path: Path, kernelctl_cli: list[str]) -> None:
    wh = tmp_path / "wh"
    bomb = build_bomb_wheel(wh, "bomb", "2.0")  # ~1 MB on disk, METADATA inflates to 1 GiB
    build_wheel(wh, "bomb", "1.0")
    build_wheel(wh, "fine", "1.0")
    assert bomb.stat().st_size < 2 * 1024 * 1024
    # 600 MB of address space: reading the 1 GiB METADATA would raise MemoryError.
    for command in (["wheelhouse", "check", "bomb", "fine"], ["wheelhouse", "audit"],
                    ["wheelhouse", "check", "bomb", "fine", "--json"]):
        proc = _run(kernelctl_cli, *command, "--wheelhouse", str(wh), memory_mb=600)
        assert "Traceback" not in proc.stderr and "MemoryError" not in proc.stderr + proc.stdout, proc.stderr
        assert proc.returncode == 1, proc.stderr
        assert "decompression bomb" in proc.stdout
    report = check_wheelhouse(["bomb", "fine"], pythons=[PY], wheelhouse=[str(wh)])
    got = {r["requirement"]: r for r in report["targets"][0]["requirements"]}
    # pip stops at the newest wheel of bomb; the check says so on one line.
    assert got["bomb"]["status"] == "incompatible" and "\n" not in got["bomb"]["reason"]
    assert "bomb 2.0: unusable wheel (METADATA is 1,073,741,824 bytes" in got["bomb"]["reason"]
    assert got["fine"]["status"] == "ok"
    assert [p["kind"] for p in report["problems"]] == ["unreadable"]


@pytest.mark.parametrize("claimed", [0, 100, METADATA_LIMIT])
def test_a_bomb_that_lies_about_its_size_is_still_capped(tmp_path: Path, claimed: int) -> None:
    path = build_bomb_wheel(tmp_path, "liar", "1.0", inflated=METADATA_LIMIT * 4, claimed=claimed)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    meta = read_metadata(path, "liar")
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert meta.error is not None and "METADATA" in meta.error and "\n" not in meta.error
    assert grown_mb < 3 * METADATA_LIMIT / 2**20  # never the 64 MiB it inflates to, plus copies


def test_metadata_just_under_the_cap_is_read(tmp_path: Path) -> None:
    path = build_bomb_wheel(tmp_path, "big", "1.0", inflated=METADATA_LIMIT)
    meta = read_metadata(path, "big")
    assert meta.error is None and meta.version == "1.0"


# -- unusable entries, listed and never blocking ------------------------------------------

@pytest.fixture()
def littered(tmp_path: Path) -> Path:
    """A wheelhouse with one good wheel and every kind of unusable entry."""
    wh = build_wheelhouse(tmp_path / "wh", [{"name": "good", "version": "1.0"}])
    os.mkfifo(wh / "fifo-1.0-py3-none-any.whl")
    os.symlink(tmp_path / "nowhere.whl", wh / "dangling-1.0-py3-none-any.whl")
    (wh / "dir-1.0-py3-none-any.whl").mkdir()
    build_wheel(tmp_path / "elsewhere", "newline", "1.0").rename(wh / "new\nline-1.0-py3-none-any.whl")
    (wh / "notawheel.whl").write_bytes(b"")
    build_corrupt_wheel(wh, "corrupt", "1.0")
    build_wheel(wh, "renamed", "1.0").rename(wh / "other-1.0-py3-none-any.whl")
    return wh


EXPECTED = {
    "fifo-1.0-py3-none-any.whl": ("not-a-file", "FIFO"),
    "dangling-1.0-py3-none-any.whl": ("not-a-file", "dangling"),
    "dir-1.0-py3-none-any.whl": ("not-a-file", "directory"),
    "new\nline-1.0-py3-none-any.whl": ("misnamed", "control characters"),
    "notawheel.whl": ("misnamed", "not a wheel file name"),
}


def test_unusable_entries_are_listed_by_avail_check_and_audit(littered: Path, kernelctl_cli: list[str]) -> None:
    wh = ["--wheelhouse", str(littered)]
    avail = _run(kernelctl_cli, "wheelhouse", "avail", "--json", *wh, timeout=60)
    assert avail.returncode == 0, avail.stderr
    data = json.loads(avail.stdout)
    problems = {Path(p["path"]).name: p for p in data["problems"]}
    for name, (kind, words) in EXPECTED.items():
        assert problems[name]["kind"] == kind and words in problems[name]["message"], problems.get(name)
    assert [w["name"] for w in data["wheels"]] == ["corrupt", "good", "other"]

    text = _run(kernelctl_cli, "wheelhouse", "avail", *wh, timeout=60)
    assert "fifo-1.0-py3-none-any.whl: not a regular file but a FIFO" in text.stderr
    assert "new\\nline-1.0-py3-none-any.whl" in text.stderr  # escaped: one line per entry
    assert all(line.count(": ") >= 2 for line in text.stderr.splitlines() if not line.startswith("not found"))

    check = _run(kernelctl_cli, "wheelhouse", "check", "good", "--json", *wh, timeout=60)
    assert check.returncode == 0, check.stderr  # unusable entries elsewhere do not fail the check
    listed = {Path(p["path"]).name for p in json.loads(check.stdout)["problems"]}
    assert set(EXPECTED) <= listed
    check_text = _run(kernelctl_cli, "wheelhouse", "check", "good", *wh, timeout=60)
    assert "not-a-file: " in check_text.stdout and "dangling symbolic link" in check_text.stdout

    audit = _run(kernelctl_cli, "wheelhouse", "audit", "--json", *wh, timeout=60)
    assert audit.returncode == 1 and "Traceback" not in audit.stderr
    report = json.loads(audit.stdout)
    assert {Path(p["path"]).name for p in report["not_a_file"]} == {
        "fifo-1.0-py3-none-any.whl", "dangling-1.0-py3-none-any.whl", "dir-1.0-py3-none-any.whl"}
    assert {Path(p["path"]).name for p in report["unreadable"]} == {
        "corrupt-1.0-py3-none-any.whl", "other-1.0-py3-none-any.whl"}
    assert report["summary"]["misnamed"] == 2 and report["summary"]["not_a_file"] == 3


def test_a_fifo_in_place_of_a_wheel_never_blocks_a_read(tmp_path: Path) -> None:
    """Listed as a wheel, then replaced by a FIFO before its METADATA is read."""
    wh = build_wheelhouse(tmp_path / "wh", [{"name": "app", "version": "1.0"}])
    index = WheelhouseIndex([wh], cache=False)
    wheel = index.wheels("app")[0]
    Path(wheel.path).unlink()
    os.mkfifo(wheel.path)
    meta = index.metadata(wheel)  # a blocking open would hang here (pytest-timeout fails it)
    assert meta.error is not None and "FIFO" in meta.error


def test_renamed_wheels_are_reported_as_pip_reports_them(tmp_path: Path) -> None:
    wh = build_wheelhouse(tmp_path / "wh", [
        {"name": "other", "version": "1.0", "file_as": ("good", "1.0")},  # pip: invalid wheel, stops
        {"name": "good", "version": "0.9"},
        {"name": "lib", "version": "1.0", "file_as": ("lib", "2.0")},  # pip: inconsistent version, discards
        {"name": "lib", "version": "1.0"},
    ])
    report = check_wheelhouse(["good", "lib"], pythons=[PY], wheelhouse=[str(wh)])
    got = {r["requirement"]: r for r in report["targets"][0]["requirements"]}
    assert got["good"]["status"] == "incompatible"
    assert ".dist-info directory 'other-1.0.dist-info' does not start with 'good'" in got["good"]["reason"]
    assert got["lib"]["status"] == "ok" and got["lib"]["version"] == "1.0"
    kinds = {Path(p["path"]).name: p["kind"] for p in report["problems"]}
    assert kinds == {"good-1.0-py3-none-any.whl": "unreadable", "lib-2.0-py3-none-any.whl": "inconsistent"}
    assert "pip discards this wheel" in next(p["message"] for p in report["problems"] if p["kind"] == "inconsistent")


# -- partial coverage: real statuses, conflict only for conflicts --------------------------

def _partial_site(tmp_path: Path, width: int) -> tuple[list[str], dict[str, str]]:
    """A wheelhouse where this Python is covered only partly, and the status each
    requirement must get."""
    wheels: list[dict] = [
        {"name": "core", "version": "2.0", "tag": f"{OTHER_CP}-{OTHER_CP}-linux_x86_64"},
        {"name": "core", "version": "1.0", "tag": f"{CP}-{CP}-linux_x86_64"},
        {"name": "legacy", "version": "1.0", "tag": f"{OTHER_CP}-{OTHER_CP}-linux_x86_64"},
        {"name": "c", "version": "1.0"}, {"name": "c", "version": "2.0"},
        {"name": "left", "version": "1.0", "requires": ["c<2"]},
        {"name": "right", "version": "1.0", "requires": ["c>=2"]},
    ]
    expected = {"left": "conflict", "right": "conflict", "legacy": "incompatible", "core>=2": "incompatible",
                "absent": "not-found", "c>5": "no-matching-version"}
    for i in range(width):
        # Newest needs core>=2 (no wheel here): installs by backing off to the older version.
        wheels += [{"name": f"back{i}", "version": "2.0", "requires": ["core>=2"]},
                   {"name": f"back{i}", "version": "1.0", "requires": ["core"]}]
        expected[f"back{i}"] = "ok"
        # Every version needs legacy, two levels down: dependency-missing with the chain.
        wheels += [{"name": f"deep{i}", "version": v, "requires": [f"mid{i}"]} for v in ("1.0", "2.0")]
        wheels += [{"name": f"mid{i}", "version": "1.0", "requires": ["legacy"]}]
        expected[f"deep{i}"] = "dependency-missing"
    return [str(build_wheelhouse(tmp_path / "wh", wheels))], expected


def test_partly_covered_target_gives_each_requirement_its_real_status(tmp_path: Path) -> None:
    dirs, expected = _partial_site(tmp_path, 40)
    report = check_wheelhouse(list(expected), pythons=[PY], platforms=["linux_x86_64"], wheelhouse=dirs)
    got = {r["requirement"]: r for r in report["targets"][0]["requirements"]}
    assert {k: v["status"] for k, v in got.items()} == expected
    assert got["back7"]["version"] == "1.0"
    assert got["deep3"]["reason"].startswith("deep3 2.0 -> mid3 1.0 -> legacy: legacy 1.0 has no wheel for Python")
    assert got["deep3"]["chain"] == "deep3 2.0 -> mid3 1.0 -> legacy" and got["deep3"]["missing"] == "legacy"
    assert "c<2" in got["left"]["reason"] and "c>=2" in got["left"]["reason"]
    # Without the culprits, the rest is covered, at the older versions.
    fine = [k for k, v in expected.items() if v == "ok"]
    ok = check_wheelhouse(fine, pythons=[PY], platforms=["linux_x86_64"], wheelhouse=dirs)
    assert ok["covered"] is True
    assert {(i["name"], i["version"]) for i in ok["targets"][0]["install"]} == (
        {(f"back{i}", "1.0") for i in range(40)} | {("core", "1.0")})


def test_bounded_resolution_narrows_instead_of_blaming_everything(tmp_path: Path) -> None:
    """With too few rounds for the whole set, bisection keeps what resolves and reports
    the rest as too-deep, never as conflict."""
    wh = build_wheelhouse(tmp_path / "wh", [w for i in range(8) for w in (
        {"name": f"r{i}", "version": "1.0", "requires": [f"d{i}"]}, {"name": f"d{i}", "version": "1.0"})])
    provider = WheelhouseProvider(WheelhouseIndex([wh], cache=False), make_targets([PY])[0])
    provider.keep = Reachability(provider).viable
    reqs = [Requirement(f"r{i}", (), provider.specifier(""), f"r{i}") for i in range(8)]
    assert resolve_narrowing(provider, reqs).failed == []
    narrowed = resolve_narrowing(provider, reqs, max_rounds=6)  # 2 pins a requirement, + 1 final round
    assert narrowed.resolved is not None and narrowed.kept == [0, 1]
    assert sorted(pos for pos, _, _ in narrowed.failed) == [2, 3, 4, 5, 6, 7]
    assert all(type(err).__name__ == "ResolutionTooDeep" for _, err, _ in narrowed.failed)


# -- reachability on hostile graphs ---------------------------------------------------------

def test_reachability_handles_cycles_and_deep_chains(tmp_path: Path) -> None:
    depth = 1500  # deeper than Python's recursion limit allows a recursive walk
    chain = [{"name": f"n{i}", "version": "1.0", "requires": [f"n{i + 1}"]} for i in range(depth)]
    wh = build_wheelhouse(tmp_path / "wh", chain + [
        {"name": f"n{depth}", "version": "1.0", "requires": ["n0"]},  # closes a 1,501-project cycle
        {"name": "a", "version": "1.0", "requires": ["b"]}, {"name": "b", "version": "1.0", "requires": ["a"]},
        {"name": "x", "version": "2.0", "requires": ["y"]}, {"name": "x", "version": "1.0"},
        {"name": "y", "version": "1.0", "requires": ["x>=2", "missing"]},
    ])
    provider = WheelhouseProvider(WheelhouseIndex([wh], cache=False), make_targets([PY])[0])
    reach = Reachability(provider)

    def first(name: str):
        cand = reach.first_viable(Requirement(name, (), provider.specifier(""), name))
        return cand.version_text if cand else None

    assert first("n0") == "1.0" and first("a") == "1.0"
    assert first("x") == "1.0"  # x 2.0 -> y -> missing: the cycle through x does not save it
    assert first("y") is None
    chain_, missing = reach.dead_end(Requirement("y", (), provider.specifier(""), "y"))
    assert [c.project for c in chain_] == ["y"] and missing.text == "missing"
    report = check_wheelhouse(["n0", "x", "y"], pythons=[PY], wheelhouse=[str(wh)])
    got = {r["requirement"]: r["status"] for r in report["targets"][0]["requirements"]}
    assert got == {"n0": "ok", "x": "ok", "y": "dependency-missing"}


def test_reachability_budget_bounds_the_walk(tmp_path: Path) -> None:
    wh = build_wheelhouse(tmp_path / "wh", [{"name": f"p{i}", "version": "1.0", "requires": [f"p{i + 1}"]}
                                            for i in range(50)])
    provider = WheelhouseProvider(WheelhouseIndex([wh], cache=False), make_targets([PY])[0])
    reach = Reachability(provider, budget=10)
    root = Requirement("p0", (), provider.specifier(""), "p0")
    # p50 does not exist, but past its budget the walk guesses "viable"...
    assert reach.first_viable(root) is not None and reach.steps <= 12
    # ... and the resolver, offered that guess, finds the dead end and says where.
    provider.keep = reach.viable
    narrowed = resolve_narrowing(provider, [root])
    assert narrowed.kept == [] and len(narrowed.failed) == 1
    _, error, trial = narrowed.failed[0]
    status, reason, extra = diagnose(trial, error)
    # (p49 itself is judged when the resolver meets it: it has no viable candidate)
    assert status == "dependency-missing" and extra["missing"] == "p49"
    assert reason.startswith("p0 1.0 -> p1 1.0 -> ") and "-> p48 1.0 -> p49: " in reason


# -- property: statuses agree with an exhaustive search ------------------------------------

def _universe():
    """A hypothesis strategy: ``(wheels, roots)`` over four projects and one missing one."""
    from hypothesis import strategies as st

    names = ["p0", "p1", "p2", "p3"]
    dep = st.tuples(st.sampled_from(names + ["gone"]), st.sampled_from(["", ">=2", "<2", "==1", "==3"]))
    release = st.tuples(st.sampled_from(["1", "2", "3"]), st.booleans(), st.lists(dep, max_size=2))
    project = st.lists(release, min_size=0, max_size=3, unique_by=lambda r: r[0])
    roots = st.lists(st.tuples(st.sampled_from(names + ["gone"]), st.sampled_from(["", ">=2", "<2", "==3"])),
                     min_size=1, max_size=4, unique_by=lambda r: r[0])
    return st.tuples(st.fixed_dictionaries({n: project for n in names}), roots)


def _solvable(universe: dict, roots: list[tuple[str, str]]) -> bool:
    """Whether some choice of one installable version (or none) per project meets ``roots``
    and every chosen version's dependencies: the ground truth, by brute force."""
    import itertools

    from packaging.specifiers import SpecifierSet

    names = sorted(universe)
    options = [[None] + [v for v, installable, _ in universe[n] if installable] for n in names]
    deps = {(n, v): d for n in names for v, _, d in universe[n]}
    for choice in itertools.product(*options):
        chosen = dict(zip(names, choice))

        def meets(project: str, spec: str) -> bool:
            return chosen.get(project) is not None and SpecifierSet(spec).contains(chosen[project])

        if all(meets(p, s) for p, s in roots) and all(
                meets(p, s) for n, v in chosen.items() if v is not None for p, s in deps[(n, v)]):
            return True
    return False


def test_statuses_agree_with_an_exhaustive_search() -> None:
    import tempfile

    from hypothesis import HealthCheck, given, settings

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(_universe())
    def check(case) -> None:
        universe, roots = case
        with tempfile.TemporaryDirectory() as tmp:
            wheels = [{"name": n, "version": v, "requires": [p + s for p, s in d],
                       "tag": "py3-none-any" if ok else f"{OTHER_CP}-{OTHER_CP}-linux_x86_64"}
                      for n, releases in universe.items() for v, ok, d in releases]
            wh = build_wheelhouse(Path(tmp) / "wh", wheels)
            texts = [p + s for p, s in roots]
            report = check_wheelhouse(texts, pythons=[PY], platforms=["linux_x86_64"], wheelhouse=[str(wh)],
                                      use_cache=False)
        target = report["targets"][0]
        status = {r["requirement"]: r["status"] for r in target["requirements"]}
        assert target["covered"] == _solvable(universe, roots), (status, universe)
        for (p, s), text in zip(roots, texts):
            if status[text] in ("not-found", "no-matching-version", "incompatible", "dependency-missing"):
                assert not _solvable(universe, [(p, s)]), (text, status, universe)
            assert status[text] != "too-deep"
        ok_roots = [r for r, text in zip(roots, texts) if status[text] == "ok"]
        assert _solvable(universe, ok_roots), (status, universe)  # the ok ones install together
        if target["covered"]:
            chosen = {i["name"]: i["version"] for i in target["install"]}
            assert all(chosen.get(p) is not None for p, _ in roots)

    check()


def test_a_directory_that_cannot_be_listed_is_a_one_line_error(tmp_path: Path) -> None:
    from kernelctl.errors import KernelctlError
    from kernelctl.wheelhouse.metadata_cache import DirCache

    not_a_dir = tmp_path / "wheels"
    not_a_dir.write_text("")  # replaced by a file after discovery, or unreadable: same error path
    with pytest.raises(KernelctlError) as err:
        DirCache(not_a_dir, None).groups()
    assert "cannot list the wheelhouse directory" in str(err.value) and err.value.hint


def test_a_conflict_blames_its_parties_not_everything_that_shares_the_project(tmp_path: Path) -> None:
    wh = build_wheelhouse(tmp_path / "wh", [{"name": "c", "version": "1.0"}, {"name": "c", "version": "2.0"}] + [
        {"name": f"use{i}", "version": "1.0", "requires": ["c"]} for i in range(30)])
    reqs = [f"use{i}" for i in range(15)] + ["c==1.0", "c==2.0"] + [f"use{i}" for i in range(15, 30)]
    report = check_wheelhouse(reqs, pythons=[PY], wheelhouse=[str(wh)])
    got = {r["requirement"]: r for r in report["targets"][0]["requirements"]}
    assert {k for k, v in got.items() if v["status"] != "ok"} == {"c==1.0", "c==2.0"}
    assert all(got[k]["status"] == "conflict" and "c==1.0" in got[k]["reason"] and "c==2.0" in got[k]["reason"]
               for k in ("c==1.0", "c==2.0"))
