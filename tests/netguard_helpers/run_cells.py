"""Start one real kernel, run cells in it, print what each cell produced as JSON.

Usage: ``python run_cells.py KERNEL_NAME CELLS_JSON``. CELLS_JSON holds a list of cell
sources. The kernelspec is looked up in ``$JUPYTER_DATA_DIR/kernels``. The test suite runs this script
inside a network namespace with only loopback (``offline_command`` in conftest), so any
DNS lookup or connection the cells attempt fails at once instead of reaching the internet.

Output: ``[{"stdout": str, "stderr": str, "error": {"ename", "evalue"} | null,
"seconds": float}, ...]``, one entry per cell, on stdout.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from jupyter_client.manager import start_new_kernel


def run(kernel_name: str, cells: list[str]) -> list[dict]:
    manager, client = start_new_kernel(kernel_name=kernel_name, startup_timeout=60)
    results = []
    try:
        for source in cells:
            result: dict = {"stdout": "", "stderr": "", "error": None}

            def collect(msg: dict, result: dict = result) -> None:
                kind, content = msg["header"]["msg_type"], msg["content"]
                if kind == "stream":
                    result[content["name"]] += content["text"]
                elif kind == "error":
                    result["error"] = {"ename": content["ename"], "evalue": content["evalue"]}

            started = time.monotonic()
            client.execute_interactive(source, output_hook=collect, timeout=60)
            result["seconds"] = time.monotonic() - started
            results.append(result)
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    return results


if __name__ == "__main__":
    name, cells_file = sys.argv[1], Path(sys.argv[2])
    print(json.dumps(run(name, json.loads(cells_file.read_text()))))
