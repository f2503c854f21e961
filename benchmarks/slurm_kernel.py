"""Time a Slurm kernel's start against the same kernel started locally, in one run.

    .venv/bin/python benchmarks/slurm_kernel.py [--runs 8] [--wheelhouse DIR]

Needs a running Slurm with an idle node (.ci/install-slurm). Measured: from
``KernelManager.start_kernel()`` to the first ``execute_reply`` (a cell sent as soon as the
channels open), for one kernelctl kernel (``--netguard off``) started
  local   where this script runs (jupyter_client's LocalProvisioner)
  slurm   in its own Slurm job (``kernelctl slurm bench '--time=10 --mem=500M'``)
Runs alternate. The Slurm start is split with the provisioner's own timestamps into
  sbatch      running sbatch until it prints the job id
  queue       job id -> the job's agent starts on the node (Slurm's scheduling and job
              launch latency)
  connect     agent start -> its signed report of the kernel's ports is written (port
              choice, connection file, kernel exec)
  report seen report written -> the provisioner has read it (its polling of squeue/the file)
  to reply    report read -> first execute_reply (mostly the kernel's own start-up)
and "added beyond queue" = slurm - local - queue. Target (issue 10): added beyond Slurm's own
scheduling latency <= 1 s (exit status 0 when met on the medians).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from jupyter_client.manager import KernelManager

DEFAULT_WHEELHOUSE = Path("/var/tmp/kernelctl-test-cache/bench-wh")


def first_reply(name: str) -> tuple[float, dict[str, float]]:
    """Seconds from start_kernel() to the first reply, and the Slurm steps' seconds."""
    km = KernelManager(kernel_name=name)
    started = time.time()  # wall clock: the Slurm steps are timed by the agent on its node too
    km.start_kernel()
    client = km.client()
    client.start_channels()
    try:
        msg_id = client.execute("1", store_history=False)
        while (reply := client.get_shell_msg(timeout=120))["parent_header"].get("msg_id") != msg_id:
            pass
        done = time.time()
        assert reply["content"]["status"] == "ok", reply["content"]
        marks = getattr(km.provisioner, "timings", {})
        steps = {}
        if marks:
            steps = {"before sbatch": marks["submit"] - started, "sbatch": marks["queued"] - marks["submit"],
                     "queue": marks["agent_started"] - marks["queued"],
                     "connect": marks["report_written"] - marks["agent_started"],
                     "report seen": marks["reported"] - marks["report_written"], "to reply": done - marks["reported"]}
        return done - started, steps
    finally:
        client.stop_channels()
        km.shutdown_kernel(now=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=8)
    parser.add_argument("--wheelhouse", type=Path, default=DEFAULT_WHEELHOUSE)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kernelctl-slurm-bench-") as tmp:
        work = Path(tmp)  # one node here; on a cluster the run dir must be on a shared filesystem
        os.environ.update({"KERNELCTL_HOME": str(work / "kh"), "JUPYTER_DATA_DIR": str(work / "jd"),
                           "JUPYTER_RUNTIME_DIR": str(work / "rt")})
        kernelctl = [sys.executable, "-m", "kernelctl"]
        subprocess.run([*kernelctl, "create", "bench", "--netguard", "off", "--no-verify", "-q",
                        "--wheelhouse", str(args.wheelhouse)], check=True)
        spec_dir = work / "jd" / "kernels"
        subprocess.run(["cp", "-r", str(spec_dir / "bench"), str(spec_dir / "bench-slurm")], check=True)
        spec = json.loads((spec_dir / "bench-slurm" / "kernel.json").read_text())
        spec["metadata"]["kernelctl"]["name"] = "bench-slurm"
        (spec_dir / "bench-slurm" / "kernel.json").write_text(json.dumps(spec))
        subprocess.run([*kernelctl, "slurm", "bench-slurm", "--time=10 --mem=500M"], check=True, stdout=subprocess.DEVNULL)
        first_reply("bench")  # warm the page cache
        local, slurm, steps = [], [], []
        for _ in range(args.runs):
            local.append(first_reply("bench")[0])
            total, split = first_reply("bench-slurm")
            slurm.append(total)
            steps.append(split)
    med = statistics.median
    print(f"start_kernel -> first execute_reply, median of {args.runs} runs (ms)")
    print(f"{'kernel':<22}{'median':>9}{'min':>9}{'max':>9}")
    for label, values in (("local", local), ("slurm", slurm)):
        print(f"{label:<22}{med(values) * 1000:>9.1f}{min(values) * 1000:>9.1f}{max(values) * 1000:>9.1f}")
    print("\nthe Slurm start, step by step (median ms)")
    for step in ("before sbatch", "sbatch", "queue", "connect", "report seen", "to reply"):
        print(f"  {step:<20}{med([s[step] for s in steps]) * 1000:>9.1f}")
    queue = med([s["queue"] for s in steps])
    added = med([s - l - s_steps["queue"] for s, l, s_steps in zip(slurm, local, steps)])
    print(f"\nadded by Slurm in total: {(med(slurm) - med(local)) * 1000:+.1f} ms, of which Slurm's queue "
          f"(job id -> agent start) {queue * 1000:.1f} ms")
    print(f"added beyond the queue (median of per-round slurm - local - queue): {added * 1000:+.1f} ms; target <= 1000 ms")
    return 0 if added <= 1.0 else 1


if __name__ == "__main__":
    sys.exit(main())
