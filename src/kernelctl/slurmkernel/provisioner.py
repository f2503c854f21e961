"""``kernelctl-slurm``: a jupyter_client kernel provisioner that runs the kernel in its own
Slurm job. kernel.json selects it with ``metadata.kernel_provisioner``; every Jupyter front end
(JupyterLab, nbclient, jupyter console, kernelctl run) then gets a Slurm kernel unaware.

Starting queues one job whose agent (:mod:`.agent`) picks the ports on its node, starts the
kernel's own argv there and reports back through signed files in a private run dir
(:mod:`.channel`). Kernel traffic is CurveZMQ-encrypted with keys made per start. The job is
cancelled on shutdown, on a failed start and when the queue wait runs out; the agent ends
it when this server's heartbeat stops. A restart starts a new kernel in the same job.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import shutil
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

import zmq
from jupyter_client.connect import KernelConnectionInfo
from jupyter_client.provisioning.provisioner_base import KernelProvisionerBase
from jupyter_core.paths import jupyter_runtime_dir
from traitlets import Float, List, Unicode

from kernelctl.errors import KernelctlError
from kernelctl.slurmkernel import channel, jobs, jobscript, pending
from kernelctl.slurmkernel.options import value as option_value

NAME = "kernelctl-slurm"
RUNDIR_PREFIX = "kernelctl-slurm-"
# Signals the agent (the job's batch shell) turns into actions on the kernel alone.
_AGENT_SIGNALS = {signal.SIGINT: "INT", signal.SIGTERM: "USR1", signal.SIGKILL: "USR2"}


class SlurmKernelError(KernelctlError, RuntimeError):
    """A Slurm kernel could not start; the message says why and what to change."""


def rundir_for(kernel_id: str) -> Path:
    """The private run dir of a kernel (in Jupyter's runtime dir, which is 0700 and on the
    home filesystem, so compute nodes see it)."""
    return Path(jupyter_runtime_dir()) / (RUNDIR_PREFIX + kernel_id)


class Heartbeat:
    """A daemon thread that touches a file every ``interval`` seconds while this process
    lives; the agent ends the job when the touches stop (the server was killed)."""

    def __init__(self, path: Path, interval: float) -> None:
        self.path, self.interval = path, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat {path.parent.name}", daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        while True:
            try:
                self.path.touch()
            except OSError:
                pass
            if self._stop.wait(self.interval):
                return

    def stop(self) -> None:
        self._stop.set()


class SlurmProvisioner(KernelProvisionerBase):  # type: ignore[misc]
    """Runs the kernel in a Slurm job of its own (see the module's docstring)."""

    options = List(Unicode(), help="sbatch options, normalised (--time=60 --cpus-per-task=8)").tag(config=True)
    queue_wait = Float(300.0, help="seconds to wait in the queue before the start fails and the job is cancelled").tag(config=True)
    heartbeat_interval = Float(10.0, help="seconds between the server's heartbeats").tag(config=True)
    heartbeat_timeout = Float(60.0, help="seconds without heartbeat after which the job ends itself").tag(config=True)
    linger = Float(60.0, help="seconds the job waits for a restart after the kernel exits").tag(config=True)
    connect_timeout = Float(120.0, help="seconds from the job's start to the kernel's report").tag(config=True)
    ip = Unicode("", help="address the kernel listens on (default: its node's name's address)").tag(config=True)

    job_id: str | None = None
    rundir: Path | None = None
    generation = 0
    _token = ""
    _heartbeat: Heartbeat | None = None
    _ended = False
    _exit_code: int | None = None
    _job_checked = 0.0
    timings: dict[str, float] = {}  # wall-clock times of the last start's steps

    # -- state -------------------------------------------------------------------------
    @property
    def has_process(self) -> bool:
        return self.job_id is not None and not self._ended

    def _report(self) -> dict[str, Any] | None:
        if self.rundir is None:
            return None
        return channel.read_signed(str(self.rundir / channel.REPORT), self._token)

    async def _job_active(self, every: float = 5.0) -> bool:
        """Whether the job still holds its allocation (squeue at most every ``every`` s)."""
        if self.job_id is None or self._ended:
            return False
        if time.monotonic() - self._job_checked < every:
            return True
        found = await jobs.state(self.job_id)
        self._job_checked = time.monotonic()
        if found is not None and found[0] not in jobs.ACTIVE:
            self._job_over(found[0])
            return False
        return True

    def _job_over(self, state: str) -> None:
        self._ended = True
        report = self._report() or {}
        if report.get("ending") == "time limit" or state == "TIMEOUT":
            limit = "--time=" + option_value(self.options, "time") if option_value(self.options, "time") else "its --time"
            self.log.error("kernelctl: Slurm job %s reached its time limit (%s): the kernel was stopped; "
                           "ask for more with 'kernelctl slurm %s \"--time=... ...\"'", self.job_id, limit, self.parent.kernel_name)
        elif report.get("ending") == "server gone":
            self.log.error("kernelctl: Slurm job %s ended itself: it lost this server's heartbeat", self.job_id)
        elif state and state != "COMPLETED":
            self.log.error("kernelctl: Slurm job %s ended (%s); its log is %s", self.job_id, state,
                           self.rundir / channel.JOB_LOG if self.rundir else "gone")

    async def poll(self) -> int | None:
        report = self._report()
        if report and report.get("generation") == self.generation and report.get("state") != "running":
            if report.get("state") == "ended" and not self._ended:
                self._job_over("")  # the agent ended the job: say why (time limit, lost server)
            code = report.get("exit_code")
            return int(code) if code is not None else 1
        if not await self._job_active():
            return 1
        return None

    async def wait(self) -> int | None:
        while (code := await self.poll()) is None:
            await asyncio.sleep(0.5)
        return code

    async def send_signal(self, signum: int) -> None:
        """SIGINT reaches the kernel on its node through the job's agent (Slurm's signal
        delivery), so Interrupt works across nodes; signal 0 only checks liveness."""
        if signum == 0 or self.job_id is None:
            return
        name = _AGENT_SIGNALS.get(signal.Signals(signum))
        if name is None:
            self.log.warning("kernelctl: signal %s is not passed to a Slurm kernel", signum)
            return
        await jobs.scancel(self.job_id, "--batch", f"--signal={name}")

    async def kill(self, restart: bool = False) -> None:
        await self._stop(restart, signal.SIGKILL)

    async def terminate(self, restart: bool = False) -> None:
        await self._stop(restart, signal.SIGTERM)

    async def _stop(self, restart: bool, signum: int) -> None:
        """For a restart, stop the kernel and keep the job; else cancel the job."""
        if self.job_id is None or self._ended:
            return
        if restart and await self._job_active(every=0):
            await self.send_signal(signum)
            return
        await self._cancel()

    async def _cancel(self) -> None:
        assert self.job_id is not None
        if not await jobs.cancel_and_wait(self.job_id):
            self.log.warning("kernelctl: Slurm job %s is still in squeue two minutes after scancel", self.job_id)
        self._ended = True

    async def cleanup(self, restart: bool = False) -> None:
        if restart:
            return
        if self.job_id is not None and not self._ended:
            await self._cancel()
        if self._heartbeat is not None:
            self._heartbeat.stop()
            self._heartbeat = None
        if self.rundir is not None:
            shutil.rmtree(self.rundir, ignore_errors=True)  # holds the keys

    def get_shutdown_wait_time(self, recommended: float = 5.0) -> float:
        return max(recommended, 10.0)  # the kernel's exit is seen through the shared filesystem

    def get_stable_start_time(self, recommended: float = 10.0) -> float:
        return max(recommended, 30.0)

    # -- starting ----------------------------------------------------------------------
    async def pre_launch(self, **kwargs: Any) -> dict[str, Any]:
        km = self.parent
        if km.curve_publickey is None:  # per start; a restart keeps them like the HMAC key
            km.curve_publickey, km.curve_secretkey = zmq.curve_keypair()
        spec = self.kernel_spec
        names = {"resource_dir": spec.resource_dir, "prefix": sys.prefix}
        # {connection_file} stays: the agent fills in the file it writes on the node.
        cmd = [re.sub(r"\{(resource_dir|prefix)\}", lambda m: names[m.group(1)], arg) for arg in spec.argv]
        cmd += kwargs.pop("extra_arguments", [])
        kwargs.pop("transport_encryption", None)
        return await super().pre_launch(cmd=cmd, **kwargs)

    async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> KernelConnectionInfo:
        if self.job_id is not None and not self._ended and await self._job_active(every=0):
            self.generation += 1
            self.log.info("kernelctl: restarting the kernel in Slurm job %s (no new job)", self.job_id)
            channel.write_signed(str(self.rundir / channel.START), self._token, {"generation": self.generation})
        else:
            await self._submit(cmd, kwargs)
        try:
            await self._await_running()
            report = await self._await_report()
        except BaseException:
            await self.cleanup()  # no job, heartbeat or keys outlive a failed start
            raise
        return self._connection_info(report)

    async def _submit(self, cmd: list[str], kwargs: dict[str, Any]) -> None:
        km = self.parent
        self.rundir = rundir_for(self.kernel_id)
        channel.make_private_dir(str(self.rundir))
        self._token = secrets.token_hex(32)
        self.generation, self._ended, self.job_id = 1, False, None
        for stale in (channel.REPORT, channel.START):
            (self.rundir / stale).unlink(missing_ok=True)
        # The keys go in a 0600 file in a 0700 dir: never on a command line nor in the script.
        channel.write_private(str(self.rundir / channel.SECRETS), json.dumps({
            "argv": cmd,
            "key": km.session.key.decode(), "signature_scheme": km.session.signature_scheme,
            "curve_publickey": km.curve_publickey.decode(), "curve_secretkey": km.curve_secretkey.decode(),
            "token": self._token, "kernel_name": km.kernel_name, "ip": self.ip,
            "heartbeat_timeout": self.heartbeat_timeout, "linger": self.linger,
            "time_limit": option_value(self.options, "time") and "--time=" + option_value(self.options, "time"),
        }))
        self._heartbeat = Heartbeat(self.rundir / channel.HEARTBEAT, self.heartbeat_interval)
        self.timings = {"submit": time.time()}  # wall clock, as the agent's; for benchmarks/slurm_kernel.py
        script = jobscript.render(self.kernel_id, km.kernel_name, self.rundir, self.options, kwargs.get("cwd"))
        self.job_id = await jobs.submit(script, kwargs["env"])
        self.log.info("kernelctl: kernel %s queued as Slurm job %s", self.kernel_id, self.job_id)
        self.timings["queued"] = time.time()

    async def _await_running(self) -> None:
        """Wait for the job to start, logging each new pending reason; cancel it and fail
        with the reason when ``wait`` seconds pass or it ends first."""
        assert self.job_id is not None
        deadline = time.monotonic() + self.queue_wait
        reason = None
        while True:
            found = await jobs.state(self.job_id)
            if found is not None:
                state, why = found
                if state in ("RUNNING", "COMPLETING") or (state == "" and self._report()):
                    self.timings["running"] = time.time()
                    return
                if state not in jobs.ACTIVE:
                    self._ended = True
                    raise SlurmKernelError(f"the kernel's Slurm job {self.job_id} ended before it ran ({state or 'gone'})",
                                           self._log_tail())
                if state == "PENDING" and why != reason:
                    reason = why
                    self.log.warning("kernelctl: %s", pending.describe(self.job_id, why))
            if time.monotonic() > deadline:
                await self._cancel()
                hint = pending.advice(reason or "")
                raise SlurmKernelError(
                    f"the kernel's Slurm job {self.job_id} was still pending after {self.queue_wait:.0f} s "
                    f"({reason or 'no reason given'}) and was cancelled",
                    (hint[0].upper() + hint[1:] + "; or " if hint else "") + f"allow a longer wait: 'kernelctl slurm {self.parent.kernel_name} --slurm-wait SECONDS'.")
            await asyncio.sleep(0.2 if time.monotonic() - deadline + self.queue_wait < 5 else 1.0)

    def _log_tail(self) -> str:
        """The job log's last line, for a start error (the run dir goes with the failed start)."""
        try:
            lines = [line for line in (self.rundir / channel.JOB_LOG).read_text(errors="replace").splitlines() if line.strip()]
        except (OSError, TypeError):
            lines = []
        return f"The job's log ends with: {lines[-1].strip()}" if lines else "The job wrote no log."

    async def _await_report(self) -> dict[str, Any]:
        """The agent's signed report of this generation's kernel, once it runs."""
        deadline = time.monotonic() + self.connect_timeout
        while time.monotonic() < deadline:
            report = self._report()
            if report and report.get("generation") == self.generation:
                if report.get("state") == "running":
                    self.timings.update(reported=time.time(), agent_started=report.get("agent_started", 0.0),
                                        report_written=report.get("written", 0.0))
                    return report
                self._ended = report.get("state") == "ended"
                raise SlurmKernelError(f"the kernel in Slurm job {self.job_id} exited at once "
                                       f"(status {report.get('exit_code')})", self._log_tail())
            if not await self._job_active(every=2.0):
                raise SlurmKernelError(f"Slurm job {self.job_id} ended before its kernel reported",
                                       self._log_tail())
            await asyncio.sleep(0.05)
        raise SlurmKernelError(f"the kernel in Slurm job {self.job_id} did not report within {self.connect_timeout:.0f} s",
                               self._log_tail())

    def _connection_info(self, report: dict[str, Any]) -> KernelConnectionInfo:
        km = self.parent
        info: dict[str, Any] = dict(report["connection"])
        info.pop("kernel_name", None)
        info.update(key=km.session.key, signature_scheme=km.session.signature_scheme,
                    curve_publickey=km.curve_publickey.decode(), curve_secretkey=km.curve_secretkey.decode())
        self.connection_info = info
        return info

    # -- persistence -------------------------------------------------------------------
    async def get_provisioner_info(self) -> dict[str, Any]:
        info = await super().get_provisioner_info()
        info.update(job_id=self.job_id, rundir=str(self.rundir) if self.rundir else None, generation=self.generation)
        return info

    async def load_provisioner_info(self, provisioner_info: dict[str, Any]) -> None:
        """Take over a running job: a later restart starts the kernel in it again."""
        await super().load_provisioner_info(provisioner_info)
        self.job_id = provisioner_info.get("job_id")
        self.generation = int(provisioner_info.get("generation") or 0)
        if provisioner_info.get("rundir"):
            self.rundir = Path(provisioner_info["rundir"])
            self._token = channel.read_json(str(self.rundir / channel.SECRETS))["token"]
            self._heartbeat = Heartbeat(self.rundir / channel.HEARTBEAT, self.heartbeat_interval)
