"""Time ``kernelctl run`` against papermill and ``jupyter execute`` on the same notebook, in one run.

    .venv/bin/python benchmarks/run.py [--rounds 5] [--wheelhouse DIR]

The notebook has 60 short cells (an assignment and a print each) and one 2-second cell.
All three tools run it in the same kernelctl kernel (made here, from the wheelhouse), from
the command line as a user would, writing an output notebook: kernelctl with its
per-cell and periodic saves, papermill with its defaults (it too saves after every cell),
``jupyter execute --output`` (nbclient; saves once at the end). Rounds alternate the
tools, in a rotating order; the table shows medians.

The per-cell overhead of a tool is what it spends between one short cell and the next:
the kernel's time stamps in the output notebook (nbclient records them for all three)
give, for each short cell, the time from the kernel going idle after it to the kernel
going busy with the next one, which holds the tool's saving, printing and message
handling but not the kernel's own work; the table shows the median over the cells of
all rounds. (Subtracting wall times of two notebooks would measure the same thing, but
on a shared machine start-up times vary by more than the whole difference.)

papermill is not a kernelctl dependency: it is pip-installed from the package registry
into a venv kept in the test cache (``$KERNELCTL_TEST_CACHE/bench-papermill``).
Target (issue "Notebooks as batch jobs"): kernelctl's wall time at most 1.1x papermill's.
The exit status is 0 when it is met on the medians.
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

CACHE = Path(os.environ.get("KERNELCTL_TEST_CACHE", "/var/tmp/kernelctl-test-cache"))
PY = f"{sys.version_info.major}.{sys.version_info.minor}"
BIN = Path(sys.executable).parent
SHORT_CELLS = 60
TARGET = 1.1


def papermill() -> Path:
    """The papermill command of the benchmark's own venv, made on first use."""
    venv = CACHE / "bench-papermill"
    program = venv / "bin" / "papermill"
    if not program.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "papermill", "ipykernel"],
                       check=True)
    return program


def write_notebook(path: Path, short_cells: int) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import time")]
    nb.cells += [nbformat.v4.new_code_cell(f"v{i} = {i} * 2\nprint(v{i})") for i in range(short_cells)]
    nb.cells.append(nbformat.v4.new_code_cell("time.sleep(2)"))
    nb.metadata["kernelspec"] = {"name": "bench", "display_name": "bench", "language": "python"}
    nbformat.write(nb, path)
    return path


def commands(notebook: Path, out: Path) -> dict[str, list[str]]:
    return {
        "kernelctl run": [str(BIN / "kernelctl"), "run", str(notebook), "-k", "bench", "-o", str(out)],
        "papermill": [str(papermill()), str(notebook), str(out), "-k", "bench"],
        "jupyter execute": [str(BIN / "jupyter-execute"), "--kernel_name=bench", f"--output={out}", str(notebook)],
    }


def _stamp(cell: nbformat.NotebookNode, key: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(cell.metadata["execution"][key].replace("Z", "+00:00"))


def gaps_ms(output: Path) -> list[float]:
    """For each short cell: ms from the kernel going idle after it to going busy with the next."""
    cells = nbformat.read(output, as_version=4).cells
    return [(_stamp(after, "iopub.status.busy") - _stamp(before, "iopub.status.idle")).total_seconds() * 1000
            for before, after in zip(cells[1:SHORT_CELLS + 1], cells[2:SHORT_CELLS + 2])]


def timed(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--wheelhouse", type=Path, default=CACHE / f"real-py{PY}")
    args = parser.parse_args()
    papermill()
    with tempfile.TemporaryDirectory(prefix="kernelctl-bench-run-") as scratch:
        base = Path(scratch)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_", "KERNELCTL_", "JUPYTER"))}
        for key in ("HOME", "KERNELCTL_HOME", "JUPYTER_DATA_DIR", "JUPYTER_CONFIG_DIR", "JUPYTER_RUNTIME_DIR",
                    "IPYTHONDIR"):
            env[key] = str(base / key.lower())
        env.update(PIP_CONFIG_FILE=os.devnull, JUPYTER_PLATFORM_DIRS="1")
        subprocess.run([str(BIN / "kernelctl"), "create", "bench", "--wheelhouse", str(args.wheelhouse),
                        "--no-verify", "-q"], env=env, check=True)
        notebook = write_notebook(base / "bench.ipynb", SHORT_CELLS)
        tools = list(commands(notebook, base / "x.out.ipynb"))
        times: dict[str, list[float]] = {tool: [] for tool in tools}
        gaps: dict[str, list[float]] = {tool: [] for tool in tools}
        for round_ in range(args.rounds):
            for tool in tools[round_ % len(tools):] + tools[:round_ % len(tools)]:
                output = base / f"bench.{tool.split()[0]}.out.ipynb"
                times[tool].append(timed(commands(notebook, output)[tool], env))
                gaps[tool] += gaps_ms(output)
    wall = {tool: statistics.median(values) for tool, values in times.items()}
    print(f"{'tool':<16} {'wall (s), median':>17} {'min':>7} {'max':>7} {'per-cell overhead (ms)':>23}")
    for tool in tools:
        print(f"{tool:<16} {wall[tool]:>17.2f} {min(times[tool]):>7.2f} {max(times[tool]):>7.2f} "
              f"{statistics.median(gaps[tool]):>23.1f}")
    ratio = wall["kernelctl run"] / wall["papermill"]
    print(f"\nkernelctl run / papermill: {ratio:.2f}x wall time (target <= {TARGET}x), "
          f"medians of {args.rounds} alternating rounds of {SHORT_CELLS + 1} cells")
    return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
