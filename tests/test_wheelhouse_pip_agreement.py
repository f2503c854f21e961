"""`kernelctl wheelhouse check` must decide what pip decides.

Each scenario builds a small wheelhouse of real wheels, then runs both
``pip install --dry-run --no-index --find-links ... --ignore-installed --report`` and
:func:`check_wheelhouse` for the same target, and compares the verdict (installable or
not) and, when installable, the exact set of distributions and versions.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from wheelfactory import build_wheelhouse

from kernelctl.commands.wheelhouse_check import check_wheelhouse
from kernelctl.wheelhouse.filenames import normalize

PY = f"{sys.version_info[0]}.{sys.version_info[1]}"
OTHER_PY = "3.12" if PY != "3.12" else "3.11"
CP = f"cp{sys.version_info[0]}{sys.version_info[1]}"
OTHER_CP = "cp" + OTHER_PY.replace(".", "")
NEXT_PY = f"{sys.version_info[0]}.{sys.version_info[1] + 1}"

# name -> (wheels per directory, requirements, targets as (python, platform or None))
SCENARIOS: dict[str, tuple[list[list[dict]], list[str], list[tuple[str, str | None]]]] = {
    "covered-highest-versions": (
        [[
            {"name": "app", "version": "1.0", "requires": ["lib>=1"]},
            {"name": "app", "version": "2.0", "requires": ["lib>=2", "base"]},
            {"name": "lib", "version": "1.5"},
            {"name": "lib", "version": "2.1", "requires": ["base<3"]},
            {"name": "base", "version": "2.9"},
            {"name": "base", "version": "3.0"},
        ]],
        ["app"], [(PY, None), (PY, "linux_x86_64"), (OTHER_PY, "linux_x86_64")],
    ),
    "missing-dependency": (
        [[{"name": "pandas", "version": "2.2.1", "requires": ["numpy>=1.23", "tzdata>=2022.7"]},
          {"name": "numpy", "version": "1.26.4"}]],
        ["pandas"], [(PY, None)],
    ),
    "missing-dependency-backtracks-to-older": (
        [[{"name": "pandas", "version": "2.2.1", "requires": ["tzdata>=2022.7"]},
          {"name": "pandas", "version": "1.5.3", "requires": ["pytz"]},
          {"name": "pytz", "version": "2024.1"}]],
        ["pandas"], [(PY, None)],
    ),
    "markers": (
        [[{"name": "tool", "version": "1.0",
           "requires": [f'tomli; python_version < "{PY}"', f'exceptiongroup; python_version >= "{PY}"',
                        'pywin32; sys_platform == "win32"']},
          {"name": "exceptiongroup", "version": "1.2.0"}]],
        ["tool"], [(PY, None)],
    ),
    "extras": (
        [[{"name": "dask", "version": "2024.1.0", "requires": ["toolz"],
           "extras": {"array": ["numpy>=1.21"], "complete": ["distributed"]}},
          {"name": "toolz", "version": "0.12.1"},
          {"name": "numpy", "version": "1.26.4"}]],
        ["dask[array]"], [(PY, None), (OTHER_PY, "linux_x86_64")],
    ),
    "extras-missing": (
        [[{"name": "dask", "version": "2024.1.0", "requires": ["toolz"],
           "extras": {"complete": ["distributed"]}},
          {"name": "toolz", "version": "0.12.1"}]],
        ["dask[complete]"], [(PY, None)],
    ),
    "conflict": (
        [[{"name": "a", "version": "1.0", "requires": ["c<2"]},
          {"name": "b", "version": "1.0", "requires": ["c>=2"]},
          {"name": "c", "version": "1.0"}, {"name": "c", "version": "2.0"}]],
        ["a", "b"], [(PY, None)],
    ),
    "conflict-resolved-by-backtracking": (
        [[{"name": "a", "version": "2.0", "requires": ["c>=2"]},
          {"name": "a", "version": "1.0", "requires": ["c<2"]},
          {"name": "b", "version": "1.0", "requires": ["c<2"]},
          {"name": "c", "version": "1.0"}, {"name": "c", "version": "2.0"}]],
        ["a", "b"], [(PY, None)],
    ),
    "requires-python": (
        [[{"name": "modern", "version": "2.0", "requires_python": f">={NEXT_PY}"},
          {"name": "modern", "version": "1.0", "requires_python": ">=3.8"}]],
        ["modern"], [(PY, None), (NEXT_PY, "linux_x86_64")],
    ),
    "requires-python-none-fits": (
        [[{"name": "future-only", "version": "1.0", "requires_python": ">=3.99"}]],
        ["future-only"], [(PY, None)],
    ),
    "local-versions": (
        [[{"name": "numpy", "version": "1.26.4", "tag": f"{CP}-{CP}-linux_x86_64"},
          {"name": "numpy", "version": "1.26.4+computecanada", "tag": f"{CP}-{CP}-linux_x86_64"},
          {"name": "numpy", "version": "1.26.3+computecanada", "tag": f"{CP}-{CP}-linux_x86_64"},
          {"name": "scipy", "version": "1.11.4+computecanada", "tag": f"{CP}-{CP}-linux_x86_64",
           "requires": ["numpy==1.26.4"]}]],
        ["scipy", "numpy>=1.26"], [(PY, None), (PY, "linux_x86_64")],
    ),
    "local-version-pin": (
        [[{"name": "numpy", "version": "1.26.4+computecanada"},
          {"name": "numpy", "version": "1.26.4"}, {"name": "numpy", "version": "1.25.0+computecanada"}]],
        ["numpy==1.25.0+computecanada"], [(PY, None)],
    ),
    "local-version-pin-absent": (
        [[{"name": "numpy", "version": "1.26.4"}]],
        ["numpy==1.26.4+computecanada"], [(PY, None)],
    ),
    "manylinux-refused-on-linux_x86_64": (
        [[{"name": "fastlib", "version": "1.0", "tag": f"{CP}-{CP}-manylinux_2_17_x86_64"},
          {"name": "purelib", "version": "1.0", "requires": ["fastlib"]}]],
        ["purelib"], [(PY, None), (PY, "linux_x86_64")],
    ),
    "compressed-and-abi3-tags": (
        [[{"name": "netCDF4", "version": "1.6.5", "tag": f"cp310.{CP}.{OTHER_CP}-cp310.{CP}.{OTHER_CP}-linux_x86_64",
           "requires": ["cftime"]},
          {"name": "cftime", "version": "1.6.3", "tag": "cp38-abi3-linux_x86_64"},
          {"name": "shiboken2", "version": "5.15.2", "tag": "cp35.cp36.cp37.cp38-abi3-linux_x86_64", "build": "1"}]],
        ["netcdf4", "shiboken2"], [(PY, "linux_x86_64"), (OTHER_PY, "linux_x86_64"), ("3.9", "linux_x86_64")],
    ),
    "dotted-and-mixed-case-names": (
        [[{"name": "backports.functools_lru_cache", "version": "1.6.6", "tag": "py2.py3-none-any"},
          {"name": "Keras_Preprocessing", "version": "1.1.2", "requires": ["Backports-Functools-LRU-Cache>=1.5"]},
          {"name": "netCDF4", "version": "1.6.5", "requires": ["NumPy"]},
          {"name": "numpy", "version": "1.26.4"}]],
        ["keras-preprocessing", "NETCDF4"], [(PY, None)],
    ),
    "directory-priority-and-prereleases": (
        [[{"name": "lib", "version": "2.0rc1"}, {"name": "only-pre", "version": "1.0b2"}],
         [{"name": "lib", "version": "1.9"}, {"name": "lib", "version": "2.0rc1"}]],
        ["lib", "only-pre"], [(PY, None)],
    ),
    # Sets that install only by backing off to older versions (the newest lack a wheel for
    # the target, or a dependency somewhere down), found as pip finds them.
    "backoff-newest-lacks-a-wheel-for-the-target": (
        [[{"name": "app", "version": "2.0", "requires": ["fast>=2"]},
          {"name": "app", "version": "1.0", "requires": ["fast"]},
          {"name": "fast", "version": "2.0", "tag": f"{OTHER_CP}-{OTHER_CP}-linux_x86_64"},
          {"name": "fast", "version": "1.0"}]],
        ["app"], [(PY, None), (OTHER_PY, "linux_x86_64")],
    ),
    "backoff-past-a-dead-end-two-levels-down": (
        [[{"name": "a", "version": "3.0", "requires": ["b>=2"]},
          {"name": "a", "version": "2.0", "requires": ["b"]},
          {"name": "b", "version": "2.0", "requires": ["c>=1"]},
          {"name": "b", "version": "1.0"}]],
        ["a"], [(PY, None)],
    ),
    "backoff-several-roots-sharing-a-dependency": (
        [[{"name": "x", "version": "2.0", "requires": ["core>=2"]},
          {"name": "x", "version": "1.0", "requires": ["core>=1.5"]},
          {"name": "y", "version": "3.0", "requires": ["core<1.5"]},
          {"name": "y", "version": "2.0", "requires": ["core"]},
          {"name": "core", "version": "2.0", "tag": f"{OTHER_CP}-{OTHER_CP}-linux_x86_64"},
          {"name": "core", "version": "1.5"}, {"name": "core", "version": "1.0"}]],
        ["x", "y"], [(PY, None)],
    ),
    "backoff-and-an-unreachable-requirement": (
        [[{"name": "app", "version": "2.0", "requires": ["gone"]},
          {"name": "app", "version": "1.0"},
          {"name": "dead", "version": "1.0", "requires": ["gone"]}]],
        ["app", "dead"], [(PY, None)],
    ),
    # A wheel whose METADATA disagrees with its file name: pip discards it.
    "metadata-name-differs-from-file-name": (
        [[{"name": "other", "version": "1.0", "file_as": ("good", "1.0")},
          {"name": "good", "version": "0.9"}]],
        ["good"], [(PY, None)],
    ),
    "dist-info-of-a-longer-name": (  # passes pip's prefix test, then is discarded
        [[{"name": "goodbye", "version": "1.0", "file_as": ("good", "1.0")}],
         [{"name": "good", "version": "0.9"}]],
        ["good"], [(PY, None)],
    ),
    "unreadable-newest-wheel-stops-pip": (
        [[{"name": "good", "version": "1.0", "requires": ["dep"]},
          {"name": "dep", "version": "2.0", "corrupt": True}, {"name": "dep", "version": "1.0"}]],
        ["good"], [(PY, None)],
    ),
    "metadata-version-differs-from-file-name": (
        [[{"name": "lib", "version": "1.0", "file_as": ("lib", "2.0")}]],
        ["lib"], [(PY, None)],
    ),
    "dummy-wheel": (
        [[{"name": "mpi4py", "version": "3.1.4+dummy.computecanada",
           "requires": ["mpi4py-noinstall==9999+dummy.computecanada"]}]],
        ["mpi4py"], [(PY, None)],
    ),
}

CASES = [(name, py, plat) for name, (_, _, targets) in SCENARIOS.items() for py, plat in targets]


def _build(tmp_path: Path, name: str) -> list[str]:
    dirs = []
    for i, wheels in enumerate(SCENARIOS[name][0]):
        dirs.append(str(build_wheelhouse(tmp_path / f"wh{i}", wheels)))
    return dirs


#: pip install checks Requires-Python against the running interpreter even with
#: --python-version (pip 23 passes no py_version_info to its resolver for install); pip
#: download checks it against the target. Scenarios here are judged by pip download.
DOWNLOAD_REFERENCE = {"requires-python"}


def pip_download_decision(dirs: list[str], reqs: list[str], python: str, platform: str | None,
                          tmp_path: Path) -> tuple[bool, set[tuple[str, str]], str]:
    """What ``pip download --no-index`` for the target decides (offline: copies from find-links)."""
    from kernelctl.wheelhouse.filenames import parse

    dest = tmp_path / "pip-download"
    cmd = [sys.executable, "-m", "pip", "download", "--no-index", "--disable-pip-version-check", "--no-input",
           "--only-binary=:all:", "--python-version", python, "--dest", str(dest)]
    if platform:
        cmd += ["--platform", platform]
    for d in dirs:
        cmd += ["--find-links", d]
    proc = subprocess.run(cmd + reqs, capture_output=True, text=True, env=os.environ.copy(), timeout=240)
    if proc.returncode != 0:
        return False, set(), proc.stderr
    return True, {(parse(f.name).project, parse(f.name).version) for f in dest.glob("*.whl")}, proc.stderr


def pip_decision(dirs: list[str], reqs: list[str], python: str, platform: str | None,
                 tmp_path: Path) -> tuple[bool, set[tuple[str, str]], str]:
    """What pip install decides: (installable, {(project, version)}, stderr)."""
    report = tmp_path / "pip-report.json"
    cmd = [sys.executable, "-m", "pip", "install", "--dry-run", "--no-index", "--ignore-installed",
           "--disable-pip-version-check", "--no-input", "--report", str(report)]
    for d in dirs:
        cmd += ["--find-links", d]
    if python != PY or platform:
        cmd += ["--only-binary=:all:", "--target", str(tmp_path / "pip-target")]
        if python != PY:
            cmd += ["--python-version", python]
        if platform:
            cmd += ["--platform", platform]
    proc = subprocess.run(cmd + reqs, capture_output=True, text=True,
                          env={**os.environ, "PIP_NO_CACHE_DIR": "1"}, timeout=240)
    if proc.returncode != 0:
        return False, set(), proc.stderr
    data = json.loads(report.read_text())
    return True, {(normalize(i["metadata"]["name"]), i["metadata"]["version"]) for i in data["install"]}, proc.stderr


@pytest.mark.parametrize(("scenario", "python", "platform"), CASES,
                         ids=[f"{n}-py{p}-{pl or 'native'}" for n, p, pl in CASES])
def test_check_agrees_with_pip(scenario: str, python: str, platform: str | None, tmp_path: Path) -> None:
    dirs = _build(tmp_path, scenario)
    reqs = SCENARIOS[scenario][1]
    decide = pip_download_decision if scenario in DOWNLOAD_REFERENCE and python != PY else pip_decision
    pip_ok, pip_installs, pip_err = decide(dirs, reqs, python, platform, tmp_path)

    report = check_wheelhouse(reqs, pythons=[python], platforms=[platform] if platform else None, wheelhouse=dirs)
    target = report["targets"][0]
    ours = {(normalize(i["name"]), i["version"]) for i in target["install"]}
    assert target["covered"] == pip_ok, (target["requirements"], pip_err)
    if pip_ok:
        assert ours == pip_installs
    else:
        bad = [r for r in target["requirements"] if r["status"] != "ok"]
        assert bad and all(r["reason"] for r in bad)
