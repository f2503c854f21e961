"""How much netguard costs: per-cell check, audit hook on connects, scan throughput.

Run: ``.venv/bin/python benchmarks/netguard.py [--connects 10000] [--notebooks 1000]``.
Prints figures and ratios; it asserts nothing (targets: pre_run_cell median <= 1 ms on a
200-line cell, audit-hook overhead <= 5 % on loopback connects).

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
from contextlib import redirect_stderr
from pathlib import Path

from IPython.core.interactiveshell import ExecutionInfo, ExecutionResult, InteractiveShell

from kernelctl.commands.scan import scan
from kernelctl.netguard import guard
from kernelctl.netguard.extension import Netguard
from kernelctl.netguard.policy import HostPolicy

# A realistic notebook cell: imports, data wrangling, a plot, and one line that needs the internet.
_CELL_LINES = [
    "import numpy as np", "import pandas as pd", "import matplotlib.pyplot as plt",
    "from sklearn.model_selection import train_test_split",
    "df = pd.read_csv('data/measurements.csv')",
]
_BODY = [
    "df['v{i}'] = df['value'].rolling({w}).mean() * {i}",
    "x{i} = np.linspace(0, {w}, 100) ** 2 + df['value'].iloc[{i} % 7]",
    "if x{i}.sum() > {w}:\n    print('large', {i})",
    "stats_{i} = {{'mean': float(x{i}.mean()), 'max': float(x{i}.max())}}",
]


def make_cell(lines: int = 200, salt: int = 0) -> str:
    """A ``lines``-line cell; ``salt`` changes its text so the analysis cache misses."""
    out = list(_CELL_LINES) + ["import nltk", "nltk.download('punkt')"]
    i = 0
    while len("\n".join(out).splitlines()) < lines - 1:
        out.append(_BODY[i % len(_BODY)].format(i=i, w=i % 13 + 2))
        i += 1
    out.append(f"# run {salt}")
    return "\n".join(out)


def bench_pre_run_cell(repeats: int) -> dict[str, float]:
    shell = InteractiveShell.instance()
    netguard = Netguard(shell, "warn", HostPolicy())  # events called directly: no hook installed here
    cold_cells = [make_cell(salt=i) for i in range(repeats)]
    warm_cell = make_cell()

    def run(cell: str, transformed: str | None) -> float:
        info = ExecutionInfo(cell, store_history=True, silent=False, shell_futures=True, cell_id=None)
        info.transformed_cell = transformed
        result = ExecutionResult(info)
        started = time.perf_counter()
        netguard.pre_run_cell(info)
        netguard.post_run_cell(result)
        return time.perf_counter() - started

    sink = io.StringIO()
    with redirect_stderr(sink):  # the one finding per cell is printed; keep the terminal clean
        cold_ipython = [run(c, shell.transform_cell(c)) for c in cold_cells]
        cold_raw = [run(c + " ", None) for c in cold_cells]
        warm = [run(warm_cell, shell.transform_cell(warm_cell)) for _ in range(repeats)]
    assert "nltk-download" in sink.getvalue()  # the cell really was checked
    return {
        "cold, transformed_cell given (IPython >= 9.4)": statistics.median(cold_ipython),
        "cold, raw cell only (transform ourselves)": statistics.median(cold_raw),
        "warm, same cell re-run (analysis cached)": statistics.median(warm),
    }


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
        body = "\n".join(_BODY[k % len(_BODY)].format(i=i * 100 + j * 10 + k, w=k + 2) for k in range(8))
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
    parser.add_argument("--connect-child", choices=("without", "with"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.connect_child:
        print(_connect_round(args.connects, hook=args.connect_child == "with"))
        return
    print(f"python {sys.version.split()[0]}")

    print("\n1. extension pre_run_cell + post_run_cell, 200-line cell (median)")
    for label, seconds in bench_pre_run_cell(args.cells).items():
        print(f"   {label:48s} {seconds * 1e3:8.3f} ms   (target <= 1 ms)")

    print(f"\n2. {args.connects} loopback connects to 127.0.0.1 (median of {args.rounds} alternating rounds)")
    result = bench_connects(args.connects, args.rounds)
    overhead = result["with"] / result["without"] - 1
    print(f"   without audit hook  {result['without']:.3f} s  ({result['without'] / args.connects * 1e6:.1f} us/connect)")
    print(f"   with audit hook     {result['with']:.3f} s  ({result['with'] / args.connects * 1e6:.1f} us/connect)")
    print(f"   overhead            {overhead * 100:+.1f} %   (target <= 5 %)")

    print(f"\n3. kernelctl scan on {args.notebooks} generated notebooks (in process, warm imports)")
    result = bench_scan(args.notebooks)
    print(f"   {result['seconds']:.2f} s, {args.notebooks / result['seconds']:.0f} notebooks/s, "
          f"{result['findings']:.0f} findings")


if __name__ == "__main__":
    main()
