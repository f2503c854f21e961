"""Slurm kernels against the real single-node Slurm of .ci/install-slurm: a real kernelctl
kernel started through jupyter_client's KernelManager runs in its own job; interrupt,
restart (same job), shutdown (job gone), a killed server (the job ends itself), a full
queue (the start fails with the pending reason, no job left) and CurveZMQ (a client
without the keys cannot execute). Every test checks that no kernel job is left."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from jupyter_client.blocking import BlockingKernelClient
from jupyter_client.manager import KernelManager

from kernelhelpers import kernelctl
from slurmsupport import _module_kernel, batch_kernel, job_state, slurm, wait_for_end  # noqa: F401  (fixtures)

from kernelctl.slurmkernel.jobs import ACTIVE
from kernelctl.slurmkernel.jobscript import JOB_PREFIX


def kernel_jobs() -> dict[str, str]:
    """{job id: state} of the kernelctl kernel jobs squeue shows active."""
    out = subprocess.run(["squeue", "-h", "-o", "%i|%j|%T"], capture_output=True, text=True, check=True).stdout
    return {i: s for i, n, s in (line.split("|") for line in out.splitlines()) if n.startswith(JOB_PREFIX) and s in ACTIVE}


@pytest.fixture()
def slurm_kernel(slurm: None, batch_kernel: None) -> Iterator[str]:
    """Kernel 'batch' as a Slurm kernel; afterwards no kernel job may be left in squeue."""
    kernelctl("slurm", "batch", "--time=10 --mem=500M", "--slurm-wait", "120")
    yield "batch"
    left = kernel_jobs()
    if left:
        subprocess.run(["scancel", *left], capture_output=True)
    assert left == {}, "the test left kernel jobs in squeue"


def execute(kc: BlockingKernelClient, code: str, timeout: float = 60) -> tuple[dict, str]:
    out: list[str] = []
    reply = kc.execute_interactive(code, timeout=timeout, output_hook=lambda m: out.append(m["content"].get("text", "")))
    return reply["content"], "".join(out)


def test_start_interrupt_restart_shutdown(slurm_kernel: str) -> None:
    km = KernelManager(kernel_name=slurm_kernel)
    km.start_kernel()
    try:
        job_id = km.provisioner.job_id
        assert job_state(job_id) == "RUNNING"
        kc = km.client()
        kc.start_channels()
        kc.wait_for_ready(timeout=60)
        reply, out = execute(kc, "import os; print(os.environ['SLURM_JOB_ID'])")
        assert (reply["status"], out.strip()) == ("ok", job_id)

        # Interrupt across nodes: Slurm signals the job's agent, which passes SIGINT on.
        msg_id = kc.execute("while True: pass")
        time.sleep(2)
        km.interrupt_kernel()
        reply = kc.get_shell_msg(timeout=30)
        assert reply["parent_header"]["msg_id"] == msg_id
        assert (reply["content"]["status"], reply["content"]["ename"]) == ("error", "KeyboardInterrupt")
        assert execute(kc, "print(6 * 7)")[1].strip() == "42"  # the kernel lives on

        # Restart reuses the allocation: a new kernel in the same job, with the same ports.
        before = km.get_connection_info()
        km.restart_kernel()
        assert km.provisioner.job_id == job_id and km.provisioner.generation == 2
        assert {k: before[k] for k in ("ip", "shell_port", "hb_port")} == {k: km.get_connection_info()[k] for k in ("ip", "shell_port", "hb_port")}
        kc.wait_for_ready(timeout=60)
        reply, out = execute(kc, "import os; print(os.environ['SLURM_JOB_ID'], 'x' in dir())")
        assert out.split() == [job_id, "False"]  # same job, fresh kernel
        kc.stop_channels()
    finally:
        km.shutdown_kernel()
    assert job_id not in kernel_jobs()
    assert not Path(km.provisioner.rundir).exists(), "the run dir (with the keys) outlived the kernel"


def test_curve_keys_are_required_to_execute(slurm_kernel: str) -> None:
    km = KernelManager(kernel_name=slurm_kernel)
    km.start_kernel()
    try:
        info = json.loads(Path(km.connection_file).read_text())
        assert info["curve_publickey"] and info["curve_secretkey"]
        assert oct(Path(km.connection_file).stat().st_mode & 0o777) == "0o600"
        secrets = Path(km.provisioner.rundir) / "secrets.json"
        assert oct(secrets.stat().st_mode & 0o777) == "0o600" and oct(secrets.parent.stat().st_mode & 0o777) == "0o700"
        script = subprocess.run(["scontrol", "show", "job", km.provisioner.job_id, "--details"],
                                capture_output=True, text=True).stdout
        assert info["key"] not in script and info["curve_secretkey"] not in script

        # The same connection info without the Curve keys: the HMAC key alone is not enough.
        plain = BlockingKernelClient()
        plain.load_connection_info({k: v for k, v in info.items() if not k.startswith("curve")})
        plain.start_channels()
        plain.execute("print('should not run')")
        with pytest.raises(queue.Empty):
            plain.get_shell_msg(timeout=5)
        plain.stop_channels()

        kc = km.client()
        kc.start_channels()
        kc.wait_for_ready(timeout=60)
        assert execute(kc, "print('with keys')")[1].strip() == "with keys"
        kc.stop_channels()
    finally:
        km.shutdown_kernel()


SERVER = """
import sys, time
from jupyter_client.manager import KernelManager
km = KernelManager(kernel_name=sys.argv[1])
km.start_kernel()
print(km.provisioner.job_id, flush=True)
time.sleep(600)
"""


def test_killed_server_job_ends_itself(slurm_kernel: str, tmp_path: Path) -> None:
    server = subprocess.Popen([sys.executable, "-c", SERVER, slurm_kernel], stdout=subprocess.PIPE, text=True)
    try:
        job_id = server.stdout.readline().strip()
        assert job_id.isdigit() and job_state(job_id) == "RUNNING"
    finally:
        server.send_signal(signal.SIGKILL)
        server.wait()
    killed = time.monotonic()
    states = wait_for_end([job_id], timeout=120)
    assert states[job_id] in ("COMPLETED", "")  # the agent ended the job itself, no scancel
    assert time.monotonic() - killed < 120


def test_full_node_start_fails_with_pending_reason(slurm_kernel: str) -> None:
    kernelctl("slurm", "batch", "--slurm-wait", "8")
    blocker = subprocess.run(["sbatch", "--parsable", "--exclusive", "--job-name=kernelctl-test-blocker",
                              "--output=/dev/null", "--wrap", "sleep 300"], capture_output=True, text=True, check=True)
    blocker_id = blocker.stdout.strip()
    try:
        deadline = time.monotonic() + 60
        while job_state(blocker_id) != "RUNNING" and time.monotonic() < deadline:
            time.sleep(0.5)
        km = KernelManager(kernel_name=slurm_kernel)
        started = time.monotonic()
        with pytest.raises(RuntimeError) as failed:
            km.start_kernel()
        assert 8 <= time.monotonic() - started < 40
        message = str(failed.value)
        assert "still pending after 8 s" in message and "was cancelled" in message
        assert "(Resources)" in message or "(Priority)" in message, message
        assert "no node has the requested" in message.lower() or "other jobs are ahead" in message.lower()
        assert "--slurm-wait" in message
        assert kernel_jobs() == {}
    finally:
        subprocess.run(["scancel", blocker_id], capture_output=True)
        wait_for_end([blocker_id], timeout=60)


def test_cli_shows_it_and_doctor_cancels_orphans(slurm_kernel: str) -> None:
    info = json.loads(kernelctl("slurm", "batch", "--json").stdout)
    assert info["slurm"] == {"options": ["--time=10", "--mem=500M"], "queue_wait": 120.0}
    assert info["display_name"].endswith(", Slurm 1 core)")
    listed = {k["name"]: k for k in json.loads(kernelctl("list", "--json").stdout)}
    assert listed["batch"]["slurm"] == info["slurm"] and listed["batch"]["display_name"] == info["display_name"]
    assert "slurm:         own job: --time=10 --mem=500M; queue wait up to 120 s" in kernelctl("show", "batch").stdout

    # A kernel job whose server left no run dir: what a server on a crashed login node leaves.
    orphan = subprocess.run(["sbatch", "--parsable", f"--job-name={JOB_PREFIX}gone-server", "--output=/dev/null",
                             "--wrap", "sleep 300"], capture_output=True, text=True, check=True).stdout.strip()
    try:
        proc = kernelctl("doctor", "--json", check=False)
        report = json.loads(proc.stdout)
        assert proc.returncode == 1 and not report["ok"]
        assert [(j["job_id"], j["why"], j["cancelled"]) for j in report["orphan_jobs"]] == [
            (orphan, "its server's run dir is gone", False)]
        text = kernelctl("doctor", check=False).stdout
        assert f"ORPHAN  Slurm job {orphan}" in text and f"fix: scancel {orphan}" in text
        fixed = kernelctl("doctor", "--fix", check=False)
        assert f"ORPHAN  Slurm job {orphan}" in fixed.stdout and "cancelled" in fixed.stdout
        assert wait_for_end([orphan], timeout=60)[orphan] in ("CANCELLED", "")
    finally:
        subprocess.run(["scancel", orphan], capture_output=True)


def test_time_limit_is_announced_in_the_notebook(slurm_kernel: str, caplog: pytest.LogCaptureFixture) -> None:
    """A 3-minute job: the 2-minute warning reaches the running cell's stderr, and at the
    limit the kernel stops with a line naming the time limit (the 10-minute warning needs a
    longer job; Slurm counts in minutes)."""
    kernelctl("slurm", "batch", "--time=3 --mem=500M")
    km = KernelManager(kernel_name=slurm_kernel)
    # ipykernel does not capture its fd 2 under pytest, which the job's environment would say
    km.start_kernel(env={k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"})
    try:
        kc = km.client()
        kc.start_channels()
        kc.wait_for_ready(timeout=60)
        errors: list[str] = []
        hook = lambda m: errors.append(m["content"].get("text", "")) if m["content"].get("name") == "stderr" else None  # noqa: E731
        kc.execute_interactive("import time; time.sleep(75)", timeout=120, output_hook=hook)
        log = (Path(km.provisioner.rundir) / "job.log").read_text()
        assert "".join(errors).strip() == (
            "kernelctl: this Slurm job reaches its time limit (--time=3) in 2 minutes; save your work now."), log
        errors.clear()
        kc.execute("time.sleep(200)")
        deadline = time.monotonic() + 150
        while km.is_alive() and time.monotonic() < deadline:
            try:
                msg = kc.get_iopub_msg(timeout=1)
                hook(msg) if msg["msg_type"] == "stream" else None
            except queue.Empty:
                pass
        assert not km.is_alive()
        assert "the kernel stops now: its Slurm job reached its time limit (--time=3)" in "".join(errors)
        assert "reached its time limit (--time=3): the kernel was stopped" in caplog.text
        kc.stop_channels()
    finally:
        km.shutdown_kernel(now=True)


def test_jupyter_lab_runs_restarts_and_shuts_down_a_slurm_kernel(slurm_kernel: str, tmp_path: Path) -> None:
    from labsupport import kernel_execute, running_lab

    with running_lab(tmp_path / "lab") as lab:
        kernel_id = lab.api("/api/kernels", "POST", {"name": slurm_kernel})["id"]
        out, reply = kernel_execute(lab, kernel_id, "import os; print(os.environ['SLURM_JOB_ID'])")
        job_id = out.strip()
        assert reply["status"] == "ok" and kernel_jobs().get(job_id) == "RUNNING", lab.log_tail()
        assert f"kernel {kernel_id} queued as Slurm job {job_id}" in lab.log.read_text()
        lab.api(f"/api/kernels/{kernel_id}/restart", "POST")
        out, reply = kernel_execute(lab, kernel_id, "import os; print(os.environ['SLURM_JOB_ID'])")
        assert out.strip() == job_id, lab.log_tail()
        status, _, _ = lab.request(f"/api/kernels/{kernel_id}", "DELETE", timeout=150)
        assert status == 204
        assert job_id not in kernel_jobs()
