"""Time ``kernelctl create`` against the manual recipes, on one local wheelhouse, in one run.

    .venv/bin/python benchmarks/create.py [--runs 5] [--wheelhouse DIR] [--kernelctl DIR]

Compared, each building a registered kernel with ipykernel + numpy + pandas:
  kernelctl   kernelctl create (verification included: it starts the kernel and runs a cell),
              run from a plain, non-editable 'pip install .' of this checkout (no extras) into
              its own venv, as a user or a site installs it (--kernelctl DIR reuses one)
  pip recipe  virtualenv --no-download + pip install --no-index --find-links + ipykernel install
  uv recipe   uv venv + uv pip install --offline --no-index --find-links + ipykernel install
Targets (issue 12): kernelctl's median at most 1.0x the uv recipe's and 0.3x the pip recipe's.
Each round runs every recipe once, in a shuffled (seeded) order: on a disk that is still
writing back the pip recipe's files, a recipe that always came at the same place after it
would carry that cost alone. Every run starts from an empty home, KERNELCTL_HOME and
Jupyter data dir. The caches are kept between runs, as a user's are between builds, and
warmed by one untimed run of each recipe: uv's (the unpacked wheels, shared by kernelctl and
the uv recipe), virtualenv's (seed wheels) and kernelctl's (the bytecode of the kernel's
start-up modules).
Without --wheelhouse, the wheels are fetched once into /var/tmp/kernelctl-test-cache/bench-wh.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PACKAGES = ["ipykernel", "numpy", "pandas"]
REPO = Path(__file__).resolve().parent.parent
KERNELCTL: list[Path] = []  # the plain install's kernelctl, set by main()
DEFAULT_WHEELHOUSE = Path("/var/tmp/kernelctl-test-cache/bench-wh")


def uv_bin() -> str:
    from uv import find_uv_bin

    return find_uv_bin()


def run(argv: list[str], env: dict[str, str]) -> None:
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def plain_install(venv: Path) -> Path:
    """kernelctl as ``pip install .`` (no extras) puts it into a fresh venv; its ``kernelctl``."""
    if not (venv / "bin" / "kernelctl").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", str(REPO)], check=True)
    return venv / "bin" / "kernelctl"


def kernelctl(work: Path, wheelhouse: Path, env: dict[str, str]) -> None:
    run([str(KERNELCTL[0]), "create", "bench", *PACKAGES, "--wheelhouse", str(wheelhouse), "-q"], env)


def pip_recipe(work: Path, wheelhouse: Path, env: dict[str, str]) -> None:
    venv = work / "pip-env"
    run([sys.executable, "-m", "virtualenv", "--no-download", "--quiet", str(venv)], env)
    run([str(venv / "bin/pip"), "install", "--quiet", "--no-index", "--find-links", str(wheelhouse), *PACKAGES], env)
    run([str(venv / "bin/python"), "-m", "ipykernel", "install", "--user", "--name", "bench-pip"], env)


def uv_recipe(work: Path, wheelhouse: Path, env: dict[str, str]) -> None:
    venv = work / "uv-env"
    run([uv_bin(), "venv", "--quiet", str(venv)], env)
    run([uv_bin(), "pip", "install", "--quiet", "--python", str(venv / "bin/python"), "--offline", "--no-index",
         "--find-links", str(wheelhouse), *PACKAGES], env)
    run([str(venv / "bin/python"), "-m", "ipykernel", "install", "--user", "--name", "bench-uv"], env)


def measure(recipe, wheelhouse: Path, caches: Path) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """Wall time and CPU time (of every process the recipe ran) of one run."""
    with tempfile.TemporaryDirectory(prefix="kernelctl-bench-") as tmp:
        work = Path(tmp)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_", "KERNELCTL_", "JUPYTER"))}
        env.update(HOME=str(work / "home"), KERNELCTL_HOME=str(work / "kh"), JUPYTER_DATA_DIR=str(work / "jd"),
                   PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1", UV_CACHE_DIR=str(caches / "uv"),
                   KERNELCTL_CACHE_DIR=str(caches / "kernelctl"),
                   VIRTUALENV_OVERRIDE_APP_DATA=str(caches / "virtualenv"), JUPYTER_PLATFORM_DIRS="1")
        os.sync()  # untimed: no recipe pays for writing back what the one before it wrote or deleted
        cpu = _children_cpu()
        started = time.perf_counter()
        recipe(work, wheelhouse, env)
        return time.perf_counter() - started, _children_cpu() - cpu


def _children_cpu() -> float:
    """User + system CPU of all finished descendants (each counts its own waited-for children)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--wheelhouse", type=Path)
    parser.add_argument("--kernelctl", type=Path, default=Path(tempfile.gettempdir()) / "kernelctl-bench-plain",
                        help="venv for the plain install of this checkout (made if missing)")
    args = parser.parse_args()
    KERNELCTL.append(plain_install(args.kernelctl))
    wheelhouse = args.wheelhouse or DEFAULT_WHEELHOUSE
    if not args.wheelhouse and not any(DEFAULT_WHEELHOUSE.glob("pandas-*.whl")):
        subprocess.run([sys.executable, "-m", "kernelctl", "wheelhouse", "fetch", *PACKAGES,
                        "--dest", str(DEFAULT_WHEELHOUSE), "-q"], check=True)
    recipes = {"kernelctl": kernelctl, "pip recipe": pip_recipe, "uv recipe": uv_recipe}
    with tempfile.TemporaryDirectory(prefix="kernelctl-bench-caches-") as caches:
        for recipe in recipes.values():  # warm caches and imports once, untimed
            measure(recipe, wheelhouse, Path(caches))
        times: dict[str, list[float]] = {name: [] for name in recipes}
        cpus: dict[str, list[float]] = {name: [] for name in recipes}
        shuffler = random.Random(0)
        for _ in range(args.runs):  # interleaved, in a new order each round, so drift affects all alike
            for name in shuffler.sample(list(recipes), len(recipes)):
                wall, cpu = measure(recipes[name], wheelhouse, Path(caches))
                times[name].append(wall)
                cpus[name].append(cpu)
    medians = {name: statistics.median(t) for name, t in times.items()}
    print(f"create a kernel with {' + '.join(PACKAGES)} from {wheelhouse}; {args.runs} runs each, seconds")
    print(f"load average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
    print(f"{'recipe':<12} {'median':>8} {'min':>8} {'max':>8} {'CPU median':>11}")
    for name, t in times.items():
        print(f"{name:<12} {medians[name]:8.2f} {min(t):8.2f} {max(t):8.2f} {statistics.median(cpus[name]):11.2f}")
    for recipe, target in (("uv recipe", 1.0), ("pip recipe", 0.3)):
        ratio = medians["kernelctl"] / medians[recipe]
        print(f"kernelctl / {recipe:<10} = {ratio:.2f}x (target <= {target:.2f}x: "
              f"{'met' if ratio <= target else 'NOT met'}; kernelctl also verifies the kernel, the recipe does not)")


if __name__ == "__main__":
    main()
