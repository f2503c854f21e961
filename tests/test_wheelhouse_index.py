"""The wheelhouse index: file names, lazy metadata, the persistent cache, the resolver loop."""

from __future__ import annotations

import os
import random
import sys
from pathlib import Path

import pytest
from wheelfactory import build_wheel, build_wheelhouse

from kernelctl.wheelhouse import metadata_cache, wheelmeta
from kernelctl.wheelhouse.filenames import InvalidWheelName, is_dummy_version, normalize, parse, split_tags
from kernelctl.wheelhouse.index import WheelhouseIndex
from kernelctl.wheelhouse.greedy import resolve_greedy
from kernelctl.wheelhouse.resolver import (
    Requirement,
    ResolutionImpossible,
    WheelhouseProvider,
    resolve,
)
from kernelctl.wheelhouse.targets import make_targets

PY = f"{sys.version_info[0]}.{sys.version_info[1]}"


@pytest.mark.parametrize(("filename", "name", "project", "version", "build", "tags"), [
    ("tensorflow_cpu-1.6.0+computecanada-cp36-cp36m-linux_x86_64.whl", "tensorflow_cpu", "tensorflow-cpu",
     "1.6.0+computecanada", (), "cp36-cp36m-linux_x86_64"),
    ("shiboken2-5.15.0-5.15.0-cp35.cp36.cp37.cp38-abi3-linux_x86_64.whl", "shiboken2", "shiboken2", "5.15.0",
     (5, ".15.0"), "cp35.cp36.cp37.cp38-abi3-linux_x86_64"),
    ("backports.functools_lru_cache-1.4-py2.py3-none-any.whl", "backports.functools_lru_cache",
     "backports-functools-lru-cache", "1.4", (), "py2.py3-none-any"),
    ("netCDF4-1.5.8-cp310-cp310-linux_x86_64.whl", "netCDF4", "netcdf4", "1.5.8", (), "cp310-cp310-linux_x86_64"),
    ("jaxlib-0.4.20+cuda12.cudnn89.computecanada-cp311-cp311-linux_x86_64.whl", "jaxlib", "jaxlib",
     "0.4.20+cuda12.cudnn89.computecanada", (), "cp311-cp311-linux_x86_64"),
])
def test_parse_site_file_names(filename, name, project, version, build, tags) -> None:
    parsed = parse(filename)
    assert (parsed.name, parsed.project, parsed.version, parsed.build, parsed.tags) == (name, project, version, build, tags)


def test_misnamed_files_and_helpers() -> None:
    for bad in ("Keras-Preprocessing-1.0-py3-none-any.whl", "nothing.whl"):
        with pytest.raises(InvalidWheelName):
            parse(bad)
    assert normalize("Backports.Functools__LRU-Cache") == "backports-functools-lru-cache"
    assert is_dummy_version("3.1.4+dummy.computecanada") and not is_dummy_version("3.1.4+computecanada")
    assert split_tags("cp310.cp311-abi3-linux_x86_64") == (["cp310", "cp311"], ["abi3"], ["linux_x86_64"])


@pytest.fixture()
def counted_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every wheel whose zip is opened to read METADATA."""
    opened: list[str] = []
    real = wheelmeta.read_metadata

    def counting(path, project):
        opened.append(os.path.basename(path))
        return real(path, project)

    monkeypatch.setattr(metadata_cache, "read_metadata", counting)
    return opened


def _resolve(index: WheelhouseIndex, *reqs: str):
    from packaging.requirements import Requirement as PReq

    provider = WheelhouseProvider(index, make_targets([PY])[0])
    roots = []
    for text in reqs:
        r = PReq(text)
        roots.append(Requirement(normalize(r.name), sorted(r.extras), r.specifier, text))
    return resolve(provider, roots)


def test_metadata_is_read_lazily_and_cached_across_runs(tmp_path: Path, counted_reads: list[str]) -> None:
    wh = build_wheelhouse(tmp_path / "wh", [
        {"name": "app", "version": "1.0", "requires": ["lib"]},
        {"name": "lib", "version": "1.0"},
        {"name": "lib", "version": "2.0"},
        *({"name": f"unrelated{i}", "version": "1.0"} for i in range(20)),
    ])
    first = WheelhouseIndex([wh])
    assert {k: str(c.version) for k, c in _resolve(first, "app").mapping.items()} == {"app": "1.0", "lib": "2.0"}
    first.save()
    assert sorted(counted_reads) == ["app-1.0-py3-none-any.whl", "lib-2.0-py3-none-any.whl"]

    counted_reads.clear()
    second = WheelhouseIndex([wh])
    assert set(_resolve(second, "app").mapping) == {"app", "lib"}
    assert counted_reads == []  # warm: no zip opened

    cache_files = list((Path(os.environ["XDG_CACHE_HOME"]) / "kernelctl" / "wheelhouse").glob("*.marshal"))
    assert len(cache_files) == 1

    # A wheel replaced in place (new size/mtime) is read again; a new one is listed.
    build_wheel(wh, "lib", "2.0", requires=["extra-dep"])
    os.utime(wh / "lib-2.0-py3-none-any.whl", ns=(1, 10**18))
    third = WheelhouseIndex([wh])
    # lib 2.0 now needs a missing project, so the resolver backtracks to lib 1.0.
    assert str(_resolve(third, "app").mapping["lib"].version) == "1.0"
    assert counted_reads == ["lib-2.0-py3-none-any.whl", "lib-1.0-py3-none-any.whl"]


def test_cache_dir_from_kernelctl_cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KERNELCTL_CACHE_DIR", str(tmp_path / "kc"))
    wh = build_wheelhouse(tmp_path / "wh", [{"name": "a", "version": "1"}])
    index = WheelhouseIndex([wh])
    index.metadata(index.wheels("a")[0])
    index.save()
    assert list((tmp_path / "kc" / "wheelhouse").glob("wh-*.marshal"))
    (next((tmp_path / "kc" / "wheelhouse").glob("wh-*.marshal"))).write_bytes(b"garbage")
    assert WheelhouseIndex([wh]).metadata(WheelhouseIndex([wh]).wheels("a")[0]).error is None


def test_directory_priority_for_identical_files(tmp_path: Path) -> None:
    arch = build_wheelhouse(tmp_path / "x86-64-v3", [{"name": "lib", "version": "1.0"}])
    generic = build_wheelhouse(tmp_path / "generic", [{"name": "lib", "version": "1.0"}])
    index = WheelhouseIndex([arch, generic])
    assert [w.path for w in index.wheels("lib")] == [str(arch / "lib-1.0-py3-none-any.whl"),
                                                      str(generic / "lib-1.0-py3-none-any.whl")]
    assert _resolve(index, "lib").mapping["lib"].wheel.path.startswith(str(arch))


def test_incremental_loop_matches_stock_resolvelib(tmp_path: Path) -> None:
    """The fast round loop must give exactly the stock resolvelib answer, conflicts included."""
    rng = random.Random(20240601)
    names = [f"p{i}" for i in range(40)]
    wheels = []
    for i, name in enumerate(names):
        for major in (1, 2, 3):
            deps = []
            for dep in rng.sample(names[i + 1:], min(len(names) - i - 1, rng.randint(0, 3))):
                bound = rng.choice(["", f">={rng.randint(1, 3)}", f"<{rng.randint(2, 4)}", "==2.*"])
                deps.append(dep + bound)
            wheels.append({"name": name, "version": f"{major}.0", "requires": deps})
    wh = build_wheelhouse(tmp_path / "wh", wheels)
    index = WheelhouseIndex([wh])
    target = make_targets([PY])[0]
    outcomes = set()
    for trial in range(25):
        picks = rng.sample(names[:15], 3)
        roots_text = [p + rng.choice(["", "<3", ">=2", "==1.*"]) for p in picks]
        results = []
        for stock in (False, True):
            from packaging.requirements import Requirement as PReq

            roots = [Requirement(PReq(t).name, (), PReq(t).specifier, t) for t in roots_text]
            try:
                got = resolve(WheelhouseProvider(index, target), roots, stock=stock)
                results.append({k: str(c.version) for k, c in got.mapping.items()})
            except ResolutionImpossible:
                results.append("impossible")
        assert results[0] == results[1], roots_text
        outcomes.add(results[0] == "impossible")
    assert outcomes == {True, False}  # the random cases exercised both success and failure


CP = f"cp{sys.version_info[0]}{sys.version_info[1]}"


def _random_site(rng: random.Random, root: Path, n: int) -> list[Path]:
    """Two directories of wheels with what resolution must get right: pre-releases, local,
    post and dev versions, the same version in both directories, equal versions spelled
    differently, dummy wheels, incompatible tags, Requires-Python, unreadable wheels, extras
    and markers, and dependencies with every kind of specifier."""
    names = [f"q{i}" for i in range(n)]
    versions = ["1.0", "1.0.0", "1.5.post1", "2.0rc1", "2.0", "2.0+computecanada", "3.0.dev1",
                "0.9+dummy.computecanada", "2.5"]
    bounds = [""] * 8 + [">=1", "<3", "==2.*", "!=2.0", ">=2.0rc1", "~=1.0", ">=1.5,<3", "<1", "==1.0"]
    dirs: list[list[dict]] = [[], []]
    for i, name in enumerate(names):
        for version in ["2.5"] + rng.sample(versions[:-1], rng.randint(0, 3)):
            later = names[i + 1:]
            deps = []
            for dep in rng.sample(later, min(len(later), rng.choice([0, 1, 1, 2, 3]))):
                extra = "[x]" if rng.random() < 0.15 else ""
                marker = rng.choice(["", "", "", '; python_version >= "3"', '; python_version < "3"'])
                deps.append(f"{dep}{extra}{rng.choice(bounds)}{marker}")
            extras = {"x": [f"{rng.choice(later)}{rng.choice(bounds)}"]} if later and rng.random() < 0.3 else None
            spec = {"name": name, "version": version, "requires": deps, "extras": extras,
                    "tag": rng.choice(["py3-none-any"] * 6 + [f"{CP}-{CP}-linux_x86_64"] * 2 + ["cp99-cp99-linux_x86_64"]),
                    "requires_python": rng.choice([None] * 6 + [">=3.8", ">=3.99"])}
            if version == "2.5":  # one plain wheel, so that not every closure fails
                spec.update(tag="py3-none-any", requires_python=None)
            elif rng.random() < 0.03:
                spec = {"name": name, "version": version, "corrupt": True}
            dirs[0 if rng.random() < 0.7 else 1].append(spec)
            if rng.random() < 0.1:
                dirs[1].append(dict(spec))
    return [build_wheelhouse(root / f"d{k}", wheels) for k, wheels in enumerate(dirs)]


def _outcome(index: WheelhouseIndex, roots_text: list[str], *, stock: bool):
    from packaging.requirements import Requirement as PReq

    target = make_targets([PY])[0]
    provider = WheelhouseProvider(index, target)
    roots = []
    for text in roots_text:
        r = PReq(text)
        roots.append(Requirement(normalize(r.name), sorted(normalize(e) for e in r.extras), r.specifier, text))
    try:
        got = resolve(provider, roots, stock=stock)
    except ResolutionImpossible:
        return "impossible", None
    pins = {k: (c.version_text, c.wheel.path) for k, c in got.mapping.items()}
    return pins, {k: sorted(v) for k, v in got.graph.items()}


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5, 6])
def test_greedy_pass_and_fallback_match_stock_resolvelib(tmp_path: Path, seed: int) -> None:
    """Whatever answers (the greedy pass, or resolvelib after it gives up), the pins and the
    dependency graph are exactly stock resolvelib's, on wheelhouses full of edge cases."""
    rng = random.Random(seed)
    index = WheelhouseIndex(_random_site(rng, tmp_path, 24), cache=False)
    names = [f"q{i}" for i in range(12)]
    greedy_answered = fell_back = 0
    for _ in range(30):
        roots_text = [p + rng.choice(["", "", "[x]"]) + rng.choice(["", "", ">=1", "<3", "==2.0", ">=2.0rc1"])
                      for p in rng.sample(names, rng.randint(1, 4))]
        ours = _outcome(index, roots_text, stock=False)
        assert ours == _outcome(index, roots_text, stock=True), roots_text

        from packaging.requirements import Requirement as PReq

        provider = WheelhouseProvider(index, make_targets([PY])[0])
        roots = [Requirement(normalize(PReq(t).name), sorted(PReq(t).extras), PReq(t).specifier, t)
                 for t in roots_text]
        provider.add_roots(roots)
        if resolve_greedy(provider, roots, 10_000) is None:
            fell_back += 1
        else:
            greedy_answered += 1
    assert greedy_answered and fell_back  # both paths were compared with stock resolvelib


def test_warm_index_parses_no_file_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The parsed release tables come from the cache; a changed project alone is parsed again."""
    from kernelctl.wheelhouse import index as index_module

    wh = build_wheelhouse(tmp_path / "wh", [
        {"name": "app", "version": "1.0", "requires": ["lib"]},
        {"name": "lib", "version": "1.0"},
        {"name": "lib", "version": "2.0rc1"},
    ])
    old = os.stat(wh).st_mtime - 60
    os.utime(wh, (old, old))  # a settled directory: its listing is cached
    first = WheelhouseIndex([wh])
    assert [r[:2] for r in first.releases("lib")] == [("2.0rc1", True), ("1.0", False)]
    first.releases("app")
    first.save()

    parsed: list[str] = []
    real = index_module.parse_release
    monkeypatch.setattr(index_module, "parse_release", lambda name: parsed.append(name) or real(name))
    warm = WheelhouseIndex([wh])
    assert [r[:2] for r in warm.releases("lib")] == [("2.0rc1", True), ("1.0", False)]
    assert warm.releases("app")[0][0] == "1.0" and parsed == []

    build_wheel(wh, "lib", "1.1")
    os.utime(wh, (old + 1, old + 1))
    changed = WheelhouseIndex([wh])
    assert [r[0] for r in changed.releases("lib")] == ["2.0rc1", "1.1", "1.0"]
    changed.releases("app")
    assert sorted(parsed) == ["lib-1.0-py3-none-any.whl", "lib-1.1-py3-none-any.whl", "lib-2.0rc1-py3-none-any.whl"]


@pytest.mark.parametrize("text", [
    "numpy", "numpy>=1.23", "numpy>=1.23,<2", "numpy<2,>=1.23", "Foo.Bar_baz-1[Extra_1,extra-2]>=1.0",
    "x[a,a]", "x[a_b,a-b]", "x==1.0.*", "x===weird+1", "x~=1.4.5", "x!=1.0+local", "x>=1.0a1", "x==1.0-1",
    "x>=1.0.*", "x[]", "x >= 1", "x[ a ]", 'x; python_version < "3"', "x @ https://example.org/x-1.0.tar.gz",
    "x>=", "x>=1,,<2", "x>=1,", "x<=>1", "-x", "x-", "x[a,]", "x==1.0.*,!=1.0.1", "x<1!2.0", "x>1.0.post1.dev2",
])
def test_plain_requires_dist_reads_as_packaging_reads_it(text: str) -> None:
    """The fast path for plain Requires-Dist values gives packaging's reading, or its error."""
    from packaging.requirements import InvalidRequirement, Requirement as PReq

    try:
        req = PReq(text)
    except InvalidRequirement:
        with pytest.raises(InvalidRequirement):
            wheelmeta._dependency(text)
        return
    expected = (text, normalize(req.name), req.name, tuple(sorted(normalize(e) for e in req.extras)),
                str(req.specifier), str(req.marker) if req.marker is not None else None)
    assert tuple(wheelmeta._dependency(text)) == expected


def _archive(path: Path, how: str) -> Path:
    """A wheel-like zip written in one of the ways zip writers differ."""
    import zipfile

    meta = b"Metadata-Version: 2.1\nName: pkg\nVersion: 1.0\nRequires-Dist: dep>=1\n" * (50 if how == "big" else 1)
    method = zipfile.ZIP_STORED if how in ("stored", "bad-crc") else zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(path, "w", compression=method) as zf:
        zf.writestr("pkg/__init__.py", b"")
        name = "pkg-1.0.dist-info/METADATA"
        if how == "utf8":
            zf.writestr("pkg/d\u00e9j\u00e0.py", b"x")
        if how == "zip64":
            with zf.open(name, "w", force_zip64=True) as fh:
                fh.write(meta)
        elif how == "descriptor":
            with zf.open(zipfile.ZipInfo(name), "w") as fh:  # streamed: sizes in a data descriptor
                fh.write(meta)
        else:
            zf.writestr(name, meta)
        if how == "comment":
            zf.comment = b"PK\x05\x06 looks like an end record"
    data = path.read_bytes()
    if how == "prepended":
        path.write_bytes(b"#!/bin/sh\n" + data)
    elif how == "bad-crc":
        at = data.index(b"Name: pkg")
        path.write_bytes(data[:at] + b"Name: pkh" + data[at + 9:])
    elif how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    return path


@pytest.mark.parametrize("how", ["stored", "deflated", "big", "descriptor", "comment", "utf8", "zip64",
                                 "prepended", "bad-crc", "truncated"])
def test_wheel_zip_reader_agrees_with_zipfile(tmp_path: Path, how: str) -> None:
    """The fast reader returns what zipfile returns, or leaves the archive to zipfile."""
    from kernelctl.wheelhouse.wheelmeta import METADATA_LIMIT
    from kernelctl.wheelhouse.wheelzip import Unsupported, open_regular, read_member, read_member_zipfile

    path = _archive(tmp_path / "pkg-1.0-py3-none-any.whl", how)

    def choose(names):
        return next((n for n in names if n.endswith(".dist-info/METADATA")), None)

    fd = open_regular(path)
    try:
        try:
            expected = read_member_zipfile(fd, choose, METADATA_LIMIT)
        except ValueError:
            expected = None  # zipfile cannot read it: the fast reader must not either
        try:
            got = read_member(fd, choose, METADATA_LIMIT)
        except Unsupported:
            assert how not in ("stored", "deflated", "big", "descriptor", "utf8")  # what wheels are
        else:
            assert expected is not None and got == expected
    finally:
        os.close(fd)
    assert (wheelmeta.read_metadata(path, "pkg").error is None) == (expected is not None)


def test_filter_keeps_exactly_the_final_versions_a_specifier_contains() -> None:
    """What the provider relies on to check final releases one by one instead of through
    SpecifierSet.filter: on final versions (local, post, epochs included) both agree."""
    from packaging.specifiers import InvalidSpecifier, SpecifierSet
    from packaging.version import Version

    rng = random.Random(7)
    bases = ["0", "1", "1.0", "1.0.0", "1.0.1", "1.1", "2", "2.0", "10.0", "1!1.0"]
    finals = sorted({Version(b + suffix) for b in bases
                     for suffix in ("", ".post1", "+local", "+computecanada", ".post2+x.1")}, reverse=True)
    singles = []
    for op in ("==", "!=", "<", "<=", ">", ">=", "~=", "==="):
        for b in bases:
            for suffix in ("", ".*", ".post1", "+local", "rc1", ".dev0"):
                try:
                    SpecifierSet(op + b + suffix)
                except InvalidSpecifier:
                    continue
                singles.append(op + b + suffix)
    for text in singles + [",".join(rng.sample(singles, rng.randint(2, 3))) for _ in range(1000)]:
        spec = SpecifierSet(text)
        assert list(spec.filter(finals)) == [v for v in finals if spec.contains(v)], text
