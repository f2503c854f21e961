"""Time ``kernelctl create --language r`` with one local package against the manual recipe, in one run.

    .venv/bin/python benchmarks/r_kernel.py [--runs 3]

Both make a registered IRkernel kernel whose library holds one small package (built here
with ``R CMD build`` into a CRAN-like repository on disk), IRkernel from Debian's site
library (r-cran-irkernel):
  kernelctl       kernelctl create bench --language r --r-repo REPO greet -q (its own library
                  in a new env generation, the Rprofile, the launcher, and verification: it
                  starts the kernel and runs 1 + 1)
  manual          mkdir an R library; install.packages(TARBALL, lib = LIB, repos = NULL,
                  type = "source"); IRkernel::installspec(name = ..., user = TRUE) (the
                  Alliance recipe made offline; no check that the kernel starts)
  manual + start  the manual recipe, then starting its kernel and running 1 + 1 through
                  jupyter_client, which is what kernelctl's verification does
Each run uses a fresh HOME, JUPYTER_DATA_DIR and KERNELCTL_HOME; medians and ratios printed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from jupyter_client.manager import start_new_kernel

PACKAGE = "greet"


def build_repo(root: Path) -> Path:
    """A CRAN-like repository at ``root`` holding the one-function package ``greet``."""
    src = root / "src-pkg" / PACKAGE
    (src / "R").mkdir(parents=True)
    (src / "DESCRIPTION").write_text(
        f"Package: {PACKAGE}\nVersion: 0.1.0\nTitle: Benchmark Package\nDescription: One function.\n"
        'Authors@R: person("B", "M", email = "b@example.org", role = c("aut", "cre"))\nLicense: MIT\n')
    (src / "NAMESPACE").write_text("export(greeting)\n")
    (src / "R" / "greet.R").write_text('greeting <- function() "world"\n')
    contrib = root / "repo" / "src" / "contrib"
    contrib.mkdir(parents=True)
    subprocess.run(["R", "CMD", "build", str(src)], cwd=contrib, check=True, capture_output=True)
    subprocess.run(["Rscript", "-e", f"tools::write_PACKAGES('{contrib}', type = 'source')"], check=True,
                   capture_output=True)
    return root / "repo"


def sandbox(work: Path) -> dict[str, str]:
    home = work / "home"
    home.mkdir(parents=True)
    return {**os.environ, "HOME": str(home), "JUPYTER_DATA_DIR": str(work / "jupyter"),
            "KERNELCTL_HOME": str(work / "kernelctl"), "JUPYTER_PLATFORM_DIRS": "1",
            "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}  # jupyter, for installspec


def run(argv: list[str], env: dict[str, str]) -> None:
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def kernelctl(work: Path, repo: Path, env: dict[str, str]) -> None:
    run([sys.executable, "-m", "kernelctl", "create", "bench", "--language", "r", "--r-repo", str(repo),
         PACKAGE, "-q"], env)


def manual(work: Path, repo: Path, env: dict[str, str]) -> None:
    library = work / "R-library"
    library.mkdir()
    tarball = next((repo / "src" / "contrib").glob(f"{PACKAGE}_*.tar.gz"))
    run(["Rscript", "-e", f"install.packages('{tarball}', lib = '{library}', repos = NULL, type = 'source'); "
                          "IRkernel::installspec(name = 'bench-manual', displayname = 'R manual', user = TRUE)"], env)


def start_and_add(name: str, env: dict[str, str]) -> None:
    """Start kernel ``name`` through jupyter_client and run ``1 + 1`` (what kernelctl verifies)."""
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        km, kc = start_new_kernel(kernel_name=name, startup_timeout=120)
        try:
            reply = kc.execute_interactive("1 + 1", timeout=120, output_hook=lambda msg: None)
            assert reply["content"]["status"] == "ok"
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=True)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def timed(step, *args) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    step(*args)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if not shutil.which("R"):
        print("needs R and IRkernel (apt-get install r-base-core r-base-dev r-cran-irkernel)", file=sys.stderr)
        return 2
    times: dict[str, list[float]] = {"kernelctl": [], "manual": [], "manual + start": []}
    with tempfile.TemporaryDirectory(prefix="kernelctl-bench-r-") as tmp:
        repo = build_repo(Path(tmp))
        for number in range(args.runs):
            for label in ("kernelctl", "manual"):
                work = Path(tmp) / f"{label.replace(' ', '-')}-{number}"
                env = sandbox(work)
                if label == "kernelctl":
                    times[label].append(timed(kernelctl, work, repo, env))
                else:
                    recipe = timed(manual, work, repo, env)
                    times["manual"].append(recipe)
                    times["manual + start"].append(recipe + timed(start_and_add, "bench-manual", env))
    load = os.getloadavg()[0]
    medians = {label: statistics.median(values) for label, values in times.items()}
    print(f"R kernel with one local package, {args.runs} run(s) each, load average {load:.1f} on "
          f"{os.cpu_count()} CPUs")
    for label, values in times.items():
        print(f"  {label:<15} median {medians[label]:6.2f} s   runs: {', '.join(f'{v:.2f}' for v in values)}")
    print(f"  ratio kernelctl / manual:          {medians['kernelctl'] / medians['manual']:.2f}")
    print(f"  ratio kernelctl / manual + start:  {medians['kernelctl'] / medians['manual + start']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
