"""How much netguard costs: per-cell check, audit hook on connects, scan throughput.

Run: ``.venv/bin/python benchmarks/netguard.py [--only cells] [--connects 10000] [--notebooks 1000]``.
Prints figures against the targets (pre_run_cell median <= 1 ms on a 200-line cell,
audit-hook overhead <= 5 % on loopback connects) without asserting them.

The 200-line cell is ordinary analysis code (see :data:`CELL_DESCRIPTION`), timed as is
("no trigger": nothing in it needs the internet) and with one line that reads a URL with
pandas ("one trigger line"); "cold" cells are new text, as when a cell first runs. Findings
from a partial parse wait for IPython's own parse of the cell; printing them then is timed
too, the parse itself (IPython's, which runs with or without netguard) is not.

All traffic stays on 127.0.0.1. An audit hook cannot be removed once added, so the
connect benchmark alternates child processes without and with the hook (warn mode).
"""

from __future__ import annotations

import argparse
import io
import json
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import types
from collections.abc import Callable
from contextlib import redirect_stderr
from pathlib import Path

from IPython.core.interactiveshell import ExecutionInfo, ExecutionResult, InteractiveShell

from kernelctl.commands.scan import scan
from kernelctl.netguard import guard
from kernelctl.netguard.extension import Netguard
from kernelctl.netguard.policy import HostPolicy

# A 200-line analysis cell as notebooks hold them: imports, then per run numpy signal work,
# pandas smoothing and grouping, a scipy fit, a scikit-learn model and a matplotlib figure.
_HEADER = [
    "import numpy as np", "import pandas as pd", "import matplotlib.pyplot as plt", "from scipy import stats",
    "from sklearn.linear_model import LinearRegression", "from sklearn.model_selection import train_test_split",
    "rng = np.random.default_rng(42)", "scores = []",
]
_RUN = [
    "# run {i}",
    "period{i} = {w}",
    "t{i} = np.linspace(0, 4 * period{i}, 500)",
    "signal{i} = np.sin(2 * np.pi * t{i} / period{i}) + rng.normal(0, 0.1, t{i}.size)",
    "frame{i} = pd.DataFrame({{'t': t{i}, 'signal': signal{i}}})",
    "frame{i}['smooth'] = frame{i}['signal'].rolling(window=period{i}, center=True).mean()",
    "summary{i} = frame{i}.groupby(pd.cut(frame{i}['t'], 10))['signal'].agg(['mean', 'std'])",
    "slope{i}, intercept{i}, r{i}, p{i}, se{i} = stats.linregress(frame{i}['t'], frame{i}['signal'])",
    "X_train, X_test, y_train, y_test = train_test_split(",
    "    frame{i}[['t']], frame{i}['signal'], test_size=0.2, random_state={i})",
    "model{i} = LinearRegression().fit(X_train, y_train)",
    "scores.append(model{i}.score(X_test, y_test))",
    "fig, ax = plt.subplots(figsize=(8, 4))",
    "ax.plot(frame{i}['t'], frame{i}['signal'], alpha=0.4, label='raw')",
    "ax.plot(frame{i}['t'], frame{i}['smooth'], lw=2, label=f'smoothed (window {{period{i}}})')",
    "ax.set_xlabel('time [s]')",
    "ax.set_ylabel('amplitude')",
    "ax.legend()",
    "fig.savefig(f'figures/run_{{period{i}:02d}}.png', dpi=150)",
    "plt.close(fig)",
    "if r{i} ** 2 > 0.5:",
    "    print(f'period {{period{i}}}: strong trend, slope={{slope{i}:.3f}}')",
]
# The one line that needs the internet in the "one trigger line" variant (a remote-read finding).
TRIGGER_LINE = "raw = pd.read_csv('https://example.org/data/measurements.csv', parse_dates=['time'])"
CELL_DESCRIPTION = ("imports of numpy/pandas/matplotlib/scipy/sklearn, then per run: np.linspace/np.sin signal, "
                    "pd.DataFrame + rolling mean + groupby, stats.linregress, train_test_split + LinearRegression, "
                    "a matplotlib figure saved to a file")


def make_cell(lines: int = 200, salt: int = 0, trigger: bool = False) -> str:
    """A ``lines``-line analysis cell; ``salt`` changes its text so the analysis cache misses,
    ``trigger`` puts :data:`TRIGGER_LINE` after the imports."""
    out = list(_HEADER) + ([TRIGGER_LINE] if trigger else [])
    run = 0
    while len(out) < lines - 1:
        out.extend(line.format(i=run, w=run % 13 + 5) for line in _RUN)
        run += 1
    return "\n".join(out[:lines - 1] + [f"print('done', {salt})"])


def _kernel_namespace() -> dict[str, object]:
    """The kernel namespace once the cell has run (its imports and the objects it made).

    numpy, pandas and friends are not installed here: stand-ins carry their module and type
    names, which is all netguard reads of them.
    """
    def of_type(module: str, name: str) -> type:
        return type(name, (), {"__module__": module})

    def function(module: str, name: str) -> Callable[..., None]:
        def stand_in() -> None:
            """Stands in for a library function."""
        stand_in.__module__, stand_in.__qualname__ = module, name
        return stand_in

    frame = of_type("pandas.core.frame", "DataFrame")
    return {"np": types.ModuleType("numpy"), "pd": types.ModuleType("pandas"),
            "plt": types.ModuleType("matplotlib.pyplot"), "stats": types.ModuleType("scipy.stats"),
            "rng": of_type("numpy.random._generator", "Generator")(),
            "LinearRegression": of_type("sklearn.linear_model._base", "LinearRegression"),
            "train_test_split": function("sklearn.model_selection._split", "train_test_split"),
            "scores": [0.5], **{f"frame{i}": frame() for i in range(10)}}


def bench_pre_run_cell(repeats: int) -> dict[str, dict[str, float]]:
    """Median seconds of pre_run_cell + post_run_cell per cell variant and case."""
    shell = InteractiveShell.instance()
    shell.user_ns.update(_kernel_namespace())
    netguard = Netguard(shell, "warn", HostPolicy())  # events called directly: no hook installed here
    netguard._wrap_parser()

    def run(cell: str, transformed: str | None) -> float:
        info = ExecutionInfo(cell, store_history=True, silent=False, shell_futures=True, cell_id=None)
        info.transformed_cell = transformed
        result = ExecutionResult(info)
        started = time.perf_counter()
        netguard.pre_run_cell(info)
        if netguard._held:  # what the wrapped ast_parse adds to IPython's own parse
            netguard._release()
        netguard.post_run_cell(result)
        return time.perf_counter() - started

    results: dict[str, dict[str, float]] = {}
    for name, trigger in (("no trigger", False), ("one trigger line", True)):
        cold_cells = [make_cell(salt=i, trigger=trigger) for i in range(repeats)]
        warm_cell = make_cell(trigger=trigger)
        sink = io.StringIO()
        with redirect_stderr(sink):  # keep the terminal clean of the finding
            cold_ipython = [run(c, shell.transform_cell(c)) for c in cold_cells]
            cold_raw = [run(c + " ", None) for c in cold_cells]
            warm = [run(warm_cell, shell.transform_cell(warm_cell)) for _ in range(repeats)]
        findings = sink.getvalue().count("remote-read")
        assert findings == (3 * repeats if trigger else 0), sink.getvalue()  # the cells really were checked
        results[name] = {
            "cold, transformed_cell given (IPython >= 9.4)": statistics.median(cold_ipython),
            "cold, raw cell only (transform ourselves)": statistics.median(cold_raw),
            "warm, same cell re-run": statistics.median(warm),
        }
    return results


def _connect_round(count: int, hook: bool) -> float:
    """Seconds for ``count`` connect+accept+close cycles on 127.0.0.1 (run in a child process)."""
    if hook:
        guard.install("warn", HostPolicy())
        guard.GUARD.new_cell()
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(128)
    address = server.getsockname()
    linger = struct.pack("ii", 1, 0)  # close with RST: no TIME_WAIT pile-up skewing later rounds

    def cycle(n: int) -> float:
        started = time.perf_counter()
        for _ in range(n):
            client = socket.create_connection(address)
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
            peer, _ = server.accept()
            peer.close()
            client.close()
        return time.perf_counter() - started

    cycle(count // 10)  # warm up
    return cycle(count)


def bench_connects(count: int, rounds: int) -> dict[str, float]:
    """Alternate fresh child processes without and with the hook (an audit hook cannot be
    removed), so machine load drifts affect both sides alike."""
    results: dict[str, list[float]] = {"without": [], "with": []}
    for _ in range(rounds):
        for side in ("without", "with"):
            child = subprocess.run([sys.executable, __file__, "--connect-child", side, "--connects", str(count)],
                                   capture_output=True, text=True, check=True)
            results[side].append(float(child.stdout))
    return {side: statistics.median(values) for side, values in results.items()}


def _notebook(i: int) -> dict:
    cells = [
        {"cell_type": "markdown", "metadata": {}, "source": f"# Analysis {i}\nSee https://example.org/{i}"},
        {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
         "source": "import numpy as np\nimport pandas as pd\nimport matplotlib.pyplot as plt\n%matplotlib inline"},
    ]
    for j in range(12):
        body = "\n".join(line.format(i=i * 100 + j, w=j + 5) for line in _RUN[:8])
        cells.append({"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "source": body})
    extras = ["!pip install seaborn", "df = pd.read_csv('https://example.org/data.csv')",
              "%%bash\nls data\nwc -l data/*.csv", "from transformers import AutoModel\n"
              "m = AutoModel.from_pretrained('bert-base-uncased')", "print(df.describe())"]
    cells.append({"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                  "source": extras[i % len(extras)]})
    return {"nbformat": 4, "nbformat_minor": 5, "metadata": {"kernelspec": {"language": "python"}}, "cells": cells}


def bench_scan(count: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for i in range(count):
            (root / f"nb{i:04d}.ipynb").write_text(json.dumps(_notebook(i)))
        started = time.perf_counter()
        reports = scan([root])
        seconds = time.perf_counter() - started
    assert len(reports) == count
    return {"seconds": seconds, "findings": sum(len(r["findings"]) for r in reports)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=200, help="cells timed per pre_run_cell case")
    parser.add_argument("--connects", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5, help="connect rounds per side (median taken)")
    parser.add_argument("--notebooks", type=int, default=1000)
    parser.add_argument("--only", choices=("cells", "connects", "scan"), help="run one part")
    parser.add_argument("--connect-child", choices=("without", "with"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.connect_child:
        print(_connect_round(args.connects, hook=args.connect_child == "with"))
        return
    print(f"python {sys.version.split()[0]}")
    parts = [args.only] if args.only else ["cells", "connects", "scan"]

    if "cells" in parts:
        _report_cells(args.cells)
    if "connects" in parts:
        _report_connects(args.connects, args.rounds)
    if "scan" in parts:
        _report_scan(args.notebooks)


def _report_cells(cells: int) -> None:
    print(f"\n1. extension pre_run_cell + post_run_cell on a 200-line cell, median of {cells} cells")
    print(f"   the cell: {CELL_DESCRIPTION}")
    print(f"   its one trigger line: {TRIGGER_LINE}")
    for variant, figures in bench_pre_run_cell(cells).items():
        print(f"   {variant}:")
        for label, seconds in figures.items():
            verdict = "meets" if seconds <= 1e-3 else "MISSES"
            print(f"     {label:46s} {seconds * 1e3:7.3f} ms   {verdict} the 1 ms target")


def _report_connects(connects: int, rounds: int) -> None:
    print(f"\n2. {connects} loopback connects to 127.0.0.1 (median of {rounds} alternating rounds)")
    result = bench_connects(connects, rounds)
    overhead = result["with"] / result["without"] - 1
    print(f"   without audit hook  {result['without']:.3f} s  ({result['without'] / connects * 1e6:.1f} us/connect)")
    print(f"   with audit hook     {result['with']:.3f} s  ({result['with'] / connects * 1e6:.1f} us/connect)")
    print(f"   overhead            {overhead * 100:+.1f} %   (target <= 5 %)")


def _report_scan(notebooks: int) -> None:
    print(f"\n3. kernelctl scan on {notebooks} generated notebooks (in process, warm imports)")
    result = bench_scan(notebooks)
    print(f"   {result['seconds']:.2f} s, {notebooks / result['seconds']:.0f} notebooks/s, "
          f"{result['findings']:.0f} findings")


if __name__ == "__main__":
    main()
