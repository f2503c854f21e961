"""Time ``kernelctl doctor`` (and ``list``) over 200 kernels, against the previous doctor, in one run.

    .venv/bin/python benchmarks/doctor.py [--kernels 200] [--rounds 3] [--wheelhouse DIR] [--baseline REV]

The 200 kernels are made cheaply but honestly: one real kernel from ``kernelctl create``
(ipykernel from the wheelhouse), then 199 more whose env generations are hard-linked copies
of its env (``cp -al``: every file is there, as doctor expects, at no disk cost), each with
its own manifest, ``envs/NAME`` link and kernelspec (kernel.json and launch config rewritten
to point at its own env), as ``create`` would have written them. All share one interpreter,
like the kernels of one account or one course.

Both versions run on the same kernels, interleaved (one of each per round): this checkout's
``kernelctl doctor --json``, and the doctor of ``--baseline`` (default: the commit this
branch started from, i.e. 0.1's approach: two Python starts per kernel), taken from git into
a scratch directory and run with the same interpreter and dependencies. The table shows the
median wall time, the cost per kernel and the ratio; both reports must find every kernel
healthy, so neither is timed doing less. Target (issue 12): 200 kernels in <= 3 s.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_WHEELHOUSE = Path("/var/tmp/kernelctl-test-cache") / f"real-py{sys.version_info[0]}.{sys.version_info[1]}"
TARGET_SECONDS = 3.0


def sandbox_env(root: Path) -> dict[str, str]:
    home = root / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KERNELCTL_", "JUPYTER", "PIP_", "VIRTUAL_ENV"))}
    env.update(HOME=str(home), KERNELCTL_HOME=str(home / ".local/share/kernelctl"),
               JUPYTER_DATA_DIR=str(home / ".local/share/jupyter"), JUPYTER_CONFIG_DIR=str(home / ".jupyter"),
               JUPYTER_PLATFORM_DIRS="1", PIP_CONFIG_FILE=os.devnull, PYTHONPATH=str(ROOT / "src"))
    return env


def make_kernels(count: int, wheelhouse: Path, env: dict[str, str]) -> None:
    """One real kernel, then ``count - 1`` copies sharing its files (see the module docstring)."""
    first = "k000"
    subprocess.run([sys.executable, "-m", "kernelctl", "create", first, "--wheelhouse", str(wheelhouse),
                    "--no-verify", "-q"], env=env, check=True)
    kernels = Path(env["JUPYTER_DATA_DIR"]) / "kernels"
    spec_text = (kernels / first / "kernel.json").read_text()
    old_prefix = json.loads(spec_text)["metadata"]["kernelctl"]["prefix"]
    old_generation = Path(old_prefix)
    envs = Path(env["KERNELCTL_HOME"]) / "envs"
    manifest = json.loads((old_generation / "kernelctl.json").read_text())
    for index in range(1, count):
        name = f"k{index:03d}"
        generation = old_generation.with_name(old_generation.name.replace(first, name, 1))
        subprocess.run(["cp", "-al", str(old_generation), str(generation)], check=True)
        (generation / "kernelctl.json").unlink()  # a hard link: write a file of its own
        (generation / "kernelctl.json").write_text(json.dumps({**manifest, "name": name, "prefix": str(generation)}))
        (envs / name).symlink_to(generation)
        spec_dir = kernels / name
        shutil.copytree(kernels / first, spec_dir)
        for filename in ("kernel.json", "kernelctl-launch.json"):
            text = (kernels / first / filename).read_text()
            text = text.replace(old_prefix, str(generation)).replace(f"envs/{first}", f"envs/{name}")
            text = text.replace(f'"name": "{first}"', f'"name": "{name}"').replace(f"({first})", f"({name})")
            (spec_dir / filename).write_text(text)


def baseline_tree(rev: str, dest: Path) -> Path:
    """The ``src`` tree of ``rev``, exported from git into ``dest``."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "src"], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest / "src"


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, dict | list]:
    started = time.perf_counter()
    proc = subprocess.run(argv, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(argv)} failed:\n{proc.stderr}")
    return elapsed, json.loads(proc.stdout)


def healthy(report: dict | list) -> int:
    kernels = report["kernels"] if isinstance(report, dict) else report
    return sum(1 for k in kernels if k.get("ok", k.get("status") == "ok"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kernels", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--wheelhouse", type=Path, default=DEFAULT_WHEELHOUSE)
    parser.add_argument("--baseline", default=None, help="git revision to compare with (default: merge-base with main)")
    args = parser.parse_args()
    rev = args.baseline or subprocess.run(["git", "-C", str(ROOT), "merge-base", "HEAD", "main"], check=True,
                                          capture_output=True, text=True).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="kernelctl-bench-doctor-") as tmp:
        root = Path(tmp)
        env = sandbox_env(root)
        started = time.perf_counter()
        make_kernels(args.kernels, args.wheelhouse, env)
        print(f"made {args.kernels} kernels in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        old_env = {**env, "PYTHONPATH": str(baseline_tree(rev, root))}
        runs: dict[str, list[float]] = {}
        cases = {
            "doctor (this checkout)": (["doctor", "--json"], env),
            f"doctor ({rev[:7]})": (["doctor", "--json"], old_env),
            "list (this checkout)": (["list", "--json"], env),
            f"list ({rev[:7]})": (["list", "--json"], old_env),
        }
        for _ in range(args.rounds):
            for label, (command, case_env) in cases.items():
                seconds, report = timed([sys.executable, "-m", "kernelctl", *command], case_env)
                if healthy(report) < args.kernels:
                    raise SystemExit(f"{label}: only {healthy(report)} of {args.kernels} kernels healthy")
                runs.setdefault(label, []).append(seconds)
    base = statistics.median(runs[f"doctor ({rev[:7]})"])
    print(f"{args.kernels} kernels, median of {args.rounds} interleaved rounds, Python {sys.version.split()[0]}")
    print(f"{'':<26} {'seconds':>8} {'ms/kernel':>10} {'vs old doctor':>14}")
    for label, samples in runs.items():
        median = statistics.median(samples)
        print(f"{label:<26} {median:>8.2f} {1000 * median / args.kernels:>10.1f} {median / base:>13.3f}x")
    new = statistics.median(runs["doctor (this checkout)"])
    met = new <= TARGET_SECONDS
    print(f"target: doctor over {args.kernels} kernels <= {TARGET_SECONDS:.0f} s: {'met' if met else 'NOT met'} "
          f"({new:.2f} s)")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
