"""The wheelhouse index: file names, lazy metadata, the persistent cache, the resolver loop."""

from __future__ import annotations

import os
import random
import sys
from pathlib import Path

import pytest
from wheelfactory import build_wheel, build_wheelhouse

from kernelctl.wheelhouse import metadata_cache
from kernelctl.wheelhouse.filenames import InvalidWheelName, is_dummy_version, normalize, parse, split_tags
from kernelctl.wheelhouse.index import WheelhouseIndex
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
    real = metadata_cache.read_metadata

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
