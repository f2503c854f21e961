"""Benchmark ``kernelctl wheelhouse check`` against ``uv pip compile`` and ``pip install --dry-run``.

Not a test: it prints a table of times and ratios. Run it with the dev venv::

    .venv/bin/python benchmarks/wheelhouse.py [--projects 3000] [--cache-dir DIR] [--pip-timeout 120]

It generates (once; kept in ``--cache-dir``, default ``$KERNELCTL_BENCH_DIR`` or
``/var/tmp/kernelctl-bench``) a synthetic site wheelhouse of about 20,000 real wheel files
made by ``wheelhouse-fixtures/wheelfactory.py``: binary projects with one wheel per Python
version (``cpXY-cpXY-linux_x86_64``, ``+computecanada`` local versions), pure projects
with one ``py3-none-any`` wheel per version, and a random dependency DAG with version
bounds. A 60-requirement set is drawn whose dependency closure holds 1,000+ projects.

Timed, each as a fresh process on the same input in the same run:

* ``python -m kernelctl wheelhouse check -r reqs.txt --wheelhouse DIR --json`` (the real
  CLI), cold (empty kernelctl cache) and warm (best of several runs);
* ``uv pip compile --no-index --find-links DIR reqs.txt``, cold (empty uv cache) and warm,
  its warm runs alternating with kernelctl's so that load from elsewhere hits both alike;
* the same on two wheelhouses where Python 3.13 is covered only partly
  (:func:`partial`), 200 requirements each: ``backoff``, where binary projects' newest
  versions have no 3.13 wheel, so the set installs only with older versions, and
  ``partial``, where some projects have no 3.13 wheel at all, so some requirements are
  not covered (uv stops at the first; kernelctl gives each its status);
* ``pip install --dry-run --no-index --find-links DIR --ignore-installed --report``, on a
  smaller ~2,000-wheel wheelhouse (pip needs ~40 s at 2,200 wheels), with a time limit;
  kernelctl and uv are timed on that one too, for the ratios.

Each time is the wall time, with the process's CPU time (user + system, all threads)
beside it: on a shared machine the CPU time is the steadier of the two. Peak RSS is each
process's own (``wait4``). Python runs as
it does once kernelctl is installed, with its compiled bytecode: ``PYTHONDONTWRITEBYTECODE``
is dropped from the environment and a first ``--help`` run compiles kernelctl before
anything is timed, so "cold" means an empty metadata cache, not uncompiled modules.

The resolutions are compared: kernelctl must pin the same versions as uv (and as pip).
Last, the small wheelhouse's requirements are timed warm again with 20,000 unrelated
wheels (empty files: nothing opens them) in a second directory: the closure is the same,
the wheelhouse ten times larger, so the difference is what wheelhouse size costs.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "wheelhouse-fixtures"))

from wheelfactory import build_wheel  # noqa: E402

GENERATOR_VERSION = 4
#: How many dependencies a version has (drawn uniformly); tuned so 60 requirements close over ~1,400 projects.
DEGREES = (0, 0, 1, 1, 1, 2, 2, 3)
PYTHONS = ("3.10", "3.11", "3.12", "3.13")
TARGET_PY = f"{sys.version_info[0]}.{sys.version_info[1]}"


def plan(projects: int, seed: int) -> list[dict]:
    """The wheels of a synthetic wheelhouse, as build_wheel keyword arguments."""
    rng = random.Random(seed)
    names = [f"proj{i:05d}" for i in range(projects)]
    # A few spellings sites really have: dotted and mixed-case names.
    for i in range(0, projects, 97):
        names[i] = f"Back.Ports{i:05d}" if i % 2 else f"NetCDF{i:05d}"
    wheels = []
    for i, name in enumerate(names):
        binary = rng.random() < 0.3
        n_versions = rng.randint(1, 6)
        base_major = rng.randint(0, 3)
        versions = [f"{base_major + v // 3}.{v % 3}.{rng.randint(0, 9)}" for v in range(n_versions)]
        for vi, version in enumerate(versions):
            deps = []
            later = projects - i - 1
            if later > 0:
                # Mostly near neighbours plus a few "core" projects near the end (like numpy).
                k = min(later, rng.choice(DEGREES))
                picks = {i + 1 + int(rng.expovariate(1 / 60)) % later for _ in range(k)}
                if rng.random() < 0.3:
                    picks.add(projects - 1 - rng.randint(0, min(later - 1, 20)))
                for j in sorted(picks):
                    bound = rng.choice(("", "", ">=0.0", "!=9.9.9", "<99"))
                    deps.append(f"{names[j]}{bound}")
            if binary:
                local = "+computecanada"
                for py in PYTHONS:
                    cp = "cp" + py.replace(".", "")
                    wheels.append({"name": name, "version": version + local, "tag": f"{cp}-{cp}-linux_x86_64",
                                   "requires": deps})
            else:
                wheels.append({"name": name, "version": version, "tag": "py3-none-any", "requires": deps,
                               "requires_python": ">=3.8" if vi % 2 else None})
    return wheels


def partial(wheels: list[dict], seed: int, absent: float) -> list[dict]:
    """``wheels`` with Python 3.13 covered only partly, as on a site where 3.13 is new.

    The newest version of every binary project that has several has no 3.13 wheel (so a
    set still resolves for 3.13, by backing off to older versions, as pip and uv find);
    with ``absent`` > 0, that share of the binary projects has no 3.13 wheel at all, so
    what needs them is not covered.
    """
    rng = random.Random(seed + 13)
    versions: dict[str, list[str]] = {}
    for w in wheels:
        if w["tag"].startswith("cp313"):
            versions.setdefault(w["name"], []).append(w["version"])  # plan() lists them oldest first
    gone = {name for name in sorted(versions) if rng.random() < absent}
    dropped = {(name, vs[-1]) for name, vs in versions.items() if len(vs) > 1}
    return [w for w in wheels if not (w["tag"].startswith("cp313")
                                      and (w["name"] in gone or (w["name"], w["version"]) in dropped))]


def generate(dest: Path, projects: int, seed: int, absent: float | None = None) -> tuple[Path, int]:
    """Build (or reuse) the synthetic wheelhouse in ``dest``; return its path and wheel count.

    ``absent`` (not None) makes Python 3.13 partly covered (:func:`partial`).
    """
    marker = dest / ".complete"
    stamp = json.dumps({"projects": projects, "seed": seed, "generator": GENERATOR_VERSION, "absent": absent})
    if marker.exists() and marker.read_text() == stamp:
        return dest, sum(1 for _ in dest.glob("*.whl"))
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    wheels = plan(projects, seed)
    if absent is not None:
        wheels = partial(wheels, seed, absent)
    started = time.monotonic()
    for n, spec in enumerate(wheels, 1):
        spec = dict(spec)
        build_wheel(dest, spec.pop("name"), spec.pop("version"), **spec)
        if n % 5000 == 0:
            print(f"  generated {n}/{len(wheels)} wheels in {time.monotonic() - started:.0f} s", file=sys.stderr)
    # Let the directory's mtime settle so the listing cache is trusted, as on a real site.
    old = time.time() - 60
    os.utime(dest, (old, old))
    marker.write_text(stamp)
    os.utime(dest, (old, old))
    return dest, len(wheels)


def filler(dest: Path, count: int) -> Path:
    """``count`` empty files named as wheels of projects that nothing requires: wheelhouse
    size without closure (neither tool opens a wheel outside the closure)."""
    marker = dest / ".complete"
    if marker.exists() and marker.read_text() == str(count):
        return dest
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    for i in range(count):
        (dest / f"unrelated{i // 4:05d}-1.{i % 4}-py3-none-any.whl").touch()
    old = time.time() - 60
    marker.write_text(str(count))
    os.utime(dest, (old, old))
    return dest


def scaling(small: Path, extra: Path, reqs_file: Path, work: Path, runs: int) -> list[tuple[str, float, float]]:
    """Warm wall times of kernelctl and uv for one requirement set, on ``small`` alone and
    with ``extra`` (more wheels, same closure) as a second directory."""
    env = base_env()
    out = []
    for label, dirs in (("alone", [small]), ("with filler", [small, extra])):
        kcache, ucache = work / f"kc-scale-{len(dirs)}", work / f"uv-scale-{len(dirs)}"
        kcmd = [sys.executable, "-m", "kernelctl", "wheelhouse", "check", "-r", str(reqs_file), "--python", TARGET_PY,
                "--json"] + [a for d in dirs for a in ("--wheelhouse", str(d))]
        ucmd = [uv_bin(), "pip", "compile", "--no-index", str(reqs_file), "--python-version", TARGET_PY,
                "--no-header", "--no-annotate", "--quiet", "--cache-dir", str(ucache)]
        ucmd += [a for d in dirs for a in ("--find-links", str(d))]
        kenv = dict(env, KERNELCTL_CACHE_DIR=str(kcache))
        timed(kcmd, kenv)
        timed(ucmd, env)
        (kc, _, _), (uv, _, _) = best_of_alternating([(kcmd, kenv), (ucmd, env)], runs)
        out.append((label, kc, uv))
    return out


def pick_requirements(wheelhouse: Path, projects: int, count: int, seed: int) -> list[str]:
    """``count`` project names from the start of the DAG (large closures)."""
    rng = random.Random(seed + 1)
    names = sorted({p.name.split("-")[0] for p in wheelhouse.glob("*.whl")})
    early = names[: max(count * 4, len(names) // 5)]
    return sorted(rng.sample(early, count))


class Run(NamedTuple):
    """One timed run: wall and CPU seconds, peak RSS in MiB (of that process alone), and
    the finished process; all None when it timed out."""

    wall: float | None
    cpu: float | None
    rss: float | None
    proc: subprocess.CompletedProcess | None


def timed(cmd: list[str], env: dict[str, str], timeout: float | None = None) -> Run:
    """Run ``cmd`` once; its own resource usage comes from ``wait4``."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        child = subprocess.Popen(cmd, stdout=out, stderr=err, env=env)
        timer = threading.Timer(timeout, child.kill) if timeout else None
        if timer:
            timer.start()
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        if timer:
            timer.cancel()
            if not timer.is_alive() and child.returncode == -9 and wall >= timeout:
                return Run(None, None, None, None)
        out.seek(0)
        err.seek(0)
        proc = subprocess.CompletedProcess(cmd, child.returncode, out.read().decode(errors="replace"),
                                           err.read().decode(errors="replace"))
    return Run(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, proc)


def best_of(cmd: list[str], env: dict[str, str], runs: int) -> tuple[float, float]:
    """The lowest wall time and the lowest CPU time over ``runs`` runs."""
    results = [timed(cmd, env) for _ in range(runs)]
    return min(r.wall for r in results), min(r.cpu for r in results)


def best_of_alternating(commands: list[tuple[list[str], dict[str, str]]], runs: int
                        ) -> list[tuple[float, float, float]]:
    """:func:`best_of` for several commands run in turn, so that a burst of load from
    elsewhere on the machine falls on all of them alike; also the highest peak RSS."""
    results: list[list[Run]] = [[] for _ in commands]
    for _ in range(runs):
        for i, (cmd, env) in enumerate(commands):
            results[i].append(timed(cmd, env))
    return [(min(x.wall for x in r), min(x.cpu for x in r), max(x.rss for x in r)) for r in results]


def base_env() -> dict[str, str]:
    """The environment for every timed command: no pip/uv/kernelctl settings, bytecode on."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PIP_", "UV_", "KERNELCTL_")) and k != "PYTHONDONTWRITEBYTECODE"}
    env["PIP_CONFIG_FILE"] = os.devnull
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def uv_bin() -> str:
    try:
        import uv

        return uv.find_uv_bin()
    except Exception:
        return shutil.which("uv") or "uv"


def parse_pins(text: str) -> dict[str, str]:
    from packaging.utils import canonicalize_name

    pins = {}
    for line in text.splitlines():
        line = line.split("#")[0].strip()
        if "==" in line:
            name, _, version = line.partition("==")
            pins[canonicalize_name(name)] = version.strip()
    return pins


def bench(label: str, wheelhouse: Path, reqs_file: Path, work: Path, runs: int, pip_timeout: float | None,
          with_pip: bool, rows: list[list], checks: list[str], python: str = TARGET_PY) -> dict:
    from packaging.utils import canonicalize_name

    env = base_env()
    kc_cache = work / f"kc-cache-{label}"
    uv_cache = work / f"uv-cache-{label}"
    for d in (kc_cache, uv_cache):
        shutil.rmtree(d, ignore_errors=True)
    kenv = dict(env, KERNELCTL_CACHE_DIR=str(kc_cache))
    kcmd = [sys.executable, "-m", "kernelctl", "wheelhouse", "check", "-r", str(reqs_file),
            "--wheelhouse", str(wheelhouse), "--python", python, "--json"]
    cold = timed(kcmd, kenv)
    assert cold.proc is not None and cold.proc.returncode in (0, 1), cold.proc.stderr if cold.proc else "timeout"
    report = json.loads(cold.proc.stdout)
    target = report["targets"][0]
    ours = {canonicalize_name(i["name"]): i["version"] for i in target["install"]}
    statuses = Counter(r["status"] for r in target["requirements"])

    ucmd = [uv_bin(), "pip", "compile", "--no-index", "--find-links", str(wheelhouse), str(reqs_file),
            "--python-version", python, "--no-header", "--no-annotate", "--quiet", "--cache-dir", str(uv_cache)]
    uv_cold = timed(ucmd, env)
    uv_ok = uv_cold.proc is not None and uv_cold.proc.returncode == 0
    (warm, warm_cpu, rss), (uv_warm, uv_warm_cpu, uv_rss) = best_of_alternating([(kcmd, kenv), (ucmd, env)], runs)
    checks.append(f"{label}: kernelctl says covered={report['covered']}, statuses {dict(sorted(statuses.items()))}")
    if uv_ok:
        uv_pins = parse_pins(uv_cold.proc.stdout)
        checks.append(f"{label}: kernelctl and uv pin the same {len(ours)} versions: {uv_pins == ours}")
    else:
        tail = uv_cold.proc.stderr.strip().splitlines()[-1:] if uv_cold.proc else ["timeout"]
        checks.append(f"{label}: uv found no resolution: {tail[0][:200] if tail else '(no output)'}")

    pip_time = None
    if with_pip:
        rep = work / f"pip-report-{label}.json"
        pcmd = [sys.executable, "-m", "pip", "install", "--dry-run", "--no-index", "--ignore-installed",
                "--find-links", str(wheelhouse), "-r", str(reqs_file), "--report", str(rep), "--quiet"]
        pip = timed(pcmd, env, timeout=pip_timeout)
        pip_time = pip.wall
        if pip.proc is not None and pip.proc.returncode == 0:
            pins = {canonicalize_name(i["metadata"]["name"]): i["metadata"]["version"]
                    for i in json.loads(rep.read_text())["install"]}
            checks.append(f"{label}: kernelctl and pip pin the same {len(ours)} versions: {pins == ours}")
        elif pip.proc is None:
            checks.append(f"{label}: pip exceeded the {pip_timeout:.0f} s limit")
    wheels = sum(1 for _ in wheelhouse.glob("*.whl"))
    rss = max(rss, cold.rss)
    uv_rss = max(uv_rss, uv_cold.rss or 0)
    rows.append([label, python, wheels, len(ours), cold.wall, cold.cpu, warm, warm_cpu, uv_cold.wall, uv_cold.cpu,
                 uv_warm, uv_warm_cpu, rss, uv_rss, pip_time])
    return {"cold": cold.wall, "warm": warm, "uv_cold": uv_cold.wall, "uv_warm": uv_warm, "pip": pip_time,
            "rss": rss, "uv_rss": uv_rss}


def fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def startup_time(runs: int) -> tuple[float, float]:
    """Lowest CPU time of ``kernelctl wheelhouse check --help`` and of a bare ``python -c pass``."""
    env = base_env()
    helps = best_of([sys.executable, "-m", "kernelctl", "wheelhouse", "check", "--help"], env, runs)
    bare = best_of([sys.executable, "-c", "pass"], env, runs)
    return helps[1], bare[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--projects", type=int, default=3000, help="projects in the large wheelhouse")
    parser.add_argument("--small-projects", type=int, default=300, help="projects in pip's smaller wheelhouse")
    parser.add_argument("--requirements", type=int, default=60)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--runs", type=int, default=7, help="warm runs of each tool, alternating (best is kept)")
    parser.add_argument("--pip-timeout", type=float, default=180.0)
    parser.add_argument("--partial-requirements", type=int, default=200,
                        help="requirements of the partial-coverage cases (Python 3.13)")
    parser.add_argument("--absent", type=float, default=0.3,
                        help="share of binary projects with no 3.13 wheel at all in the 'partial' case")
    parser.add_argument("--cache-dir", type=Path,
                        default=Path(os.environ.get("KERNELCTL_BENCH_DIR", "/var/tmp/kernelctl-bench")))
    args = parser.parse_args(argv)

    args.cache_dir.mkdir(parents=True, exist_ok=True)
    large, n_large = generate(args.cache_dir / f"large-{args.projects}-{args.seed}", args.projects, args.seed)
    small, n_small = generate(args.cache_dir / f"small-{args.small_projects}-{args.seed}", args.small_projects, args.seed)
    backoff, _ = generate(args.cache_dir / f"backoff-{args.projects}-{args.seed}", args.projects, args.seed, 0.0)
    gaps, _ = generate(args.cache_dir / f"partial-{args.absent}-{args.projects}-{args.seed}", args.projects,
                       args.seed, args.absent)
    # Compile kernelctl's bytecode once, as installing it would, before anything is timed.
    timed([sys.executable, "-m", "kernelctl", "wheelhouse", "check", "--help"], base_env())
    rows: list[list] = []
    checks: list[str] = []
    with tempfile.TemporaryDirectory(prefix="kernelctl-bench-") as tmp:
        work = Path(tmp)
        results = {}
        for label, wh, n_projects, with_pip in (("large", large, args.projects, False),
                                                ("small", small, args.small_projects, True)):
            reqs = pick_requirements(wh, n_projects, min(args.requirements, n_projects // 5), args.seed)
            reqs_file = work / f"reqs-{label}.txt"
            reqs_file.write_text("\n".join(reqs) + "\n")
            results[label] = bench(label, wh, reqs_file, work, args.runs, args.pip_timeout, with_pip, rows, checks)
        for label, wh in (("backoff", backoff), ("partial", gaps)):
            reqs = pick_requirements(wh, args.projects, args.partial_requirements, args.seed)
            reqs_file = work / f"reqs-{label}.txt"
            reqs_file.write_text("\n".join(reqs) + "\n")
            results[label] = bench(label, wh, reqs_file, work, args.runs, None, False, rows, checks, "3.13")
        extra = filler(args.cache_dir / "filler-20000", 20000)
        scaled = scaling(small, extra, work / "reqs-small.txt", work, args.runs)
        startup_cpu, bare_cpu = startup_time(args.runs)

    headers = ["wheelhouse", "python", "wheels", "closure", "kc cold", "(cpu)", "kc warm", "(cpu)",
               "uv cold", "(cpu)", "uv warm", "(cpu)", "kc MiB", "uv MiB", "pip"]
    table = [headers] + [[str(r[0]), str(r[1]), str(r[2]), str(r[3])] + [fmt(x) for x in r[4:]] for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(headers))]
    print(f"seconds, best of {args.runs} alternating warm runs; wall time, then CPU time (user + system, all "
          "threads); MiB = highest peak RSS of the process over its runs; kc = 'python -m kernelctl wheelhouse check'")
    for row in table:
        print("  ".join(c.rjust(w) for c, w in zip(row, widths)))
    print()
    for label, r in results.items():
        ratios = [f"kc cold/uv cold {r['cold'] / r['uv_cold']:.2f}x", f"kc warm/uv warm {r['warm'] / r['uv_warm']:.2f}x",
                  f"peak RSS kc {r['rss']:.0f} MiB, uv {r['uv_rss']:.0f} MiB"]
        if r["pip"]:
            ratios.append(f"pip/kc cold {r['pip'] / r['cold']:.1f}x")
        print(f"{label}: " + ", ".join(ratios))
    (_, kc_alone, uv_alone), (_, kc_more, uv_more) = scaled
    print(f"scaling, small's requirements, warm: {n_small} wheels -> {n_small + 20000} wheels (20,000 unrelated "
          f"in a second directory, same closure): kc {kc_alone:.3f} -> {kc_more:.3f} s, uv {uv_alone:.3f} -> {uv_more:.3f} s")
    big = results["large"]
    print(f"targets, large: cold within 2x of uv: {big['cold'] <= 2 * big['uv_cold']}; "
          f"warm <= 0.2 s: {big['warm'] <= 0.2}; warm ahead of uv warm: {big['warm'] < big['uv_warm']}")
    for label in ("backoff", "partial"):
        r = results[label]
        print(f"targets, {label} ({args.partial_requirements} requirements, Python 3.13): cold <= 2 s: "
              f"{r['cold'] <= 2}; peak RSS < 1 GiB: {r['rss'] < 1024}")
    print(f"startup CPU: 'kernelctl wheelhouse check --help' {startup_cpu:.3f} s, bare python {bare_cpu:.3f} s")
    for line in checks:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
