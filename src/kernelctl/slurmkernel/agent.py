"""The agent a Slurm kernel's job runs (``python -I -S agent.py RUNDIR``) on its node.

Standard library only. It reads the kernel's argv and keys from ``RUNDIR/secrets.json``,
picks the kernel's five ports on this node, writes the kernel's connection file (0600),
starts the kernel (its own launcher: modules, env, netguard) and reports the ports back in
a signed ``report.json``. Then it watches over the kernel:

- SIGINT (``scancel --batch --signal=INT``) is passed to the kernel: interrupt across nodes.
- SIGUSR1 / SIGUSR2 terminate / kill the kernel but keep the job, for a restart.
- After the kernel exits the job waits ``linger`` seconds for a ``start.json`` asking for
  the next generation (a restart reuses the allocation), then ends.
- When the server's heartbeat file stops changing for ``heartbeat_timeout`` seconds, the
  server is gone: the kernel is stopped and the job ends (no orphan job).
- Ten and two minutes before the job's time limit, and at the limit, a line goes to the
  kernel's stderr, which ipykernel shows in the running notebook.
"""

import os
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import channel  # noqa: E402  (a sibling file; -I leaves the script's directory off sys.path)

WARNINGS = (600, 120)  # seconds before the time limit
FINAL_NOTICE = 20  # seconds before the limit at which the kernel is stopped with a message
TICK = 0.25


def log(message):
    sys.stderr.write("kernelctl-agent: %s\n" % message)
    sys.stderr.flush()


def node_ip(configured):
    """The address the kernel listens on: the configured one, else this node's name's."""
    return configured or socket.gethostbyname(socket.gethostname())


def pick_ports(ip, previous):
    """Five free TCP ports on ``ip``: the previous generation's when all are free again (so
    clients keep their connection across a restart), else new ones from the kernel."""
    for wanted in (previous or None, [0] * 5):
        if not wanted:
            continue
        sockets = []
        try:
            for port in wanted:
                s = socket.socket()
                sockets.append(s)
                # the kernel's listeners use SO_REUSEADDR too, so old ports in TIME_WAIT are free to it
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind((ip, port))
            return [s.getsockname()[1] for s in sockets]
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()
    raise OSError("no free ports on %s" % ip)


def parse_duration(text):
    """squeue's %L (``[D-]HH:MM:SS``, ``MM:SS``) in seconds; None for UNLIMITED/INVALID."""
    text = text.strip()
    days = 0
    if "-" in text:
        head, text = text.split("-", 1)
        if not head.isdigit():
            return None
        days = int(head)
    parts = text.split(":")
    if not parts or not all(p.isdigit() for p in parts):
        return None
    seconds = 0
    for part in parts:
        seconds = seconds * 60 + int(part)
    return days * 86400 + seconds


def time_left(job_id):
    """Seconds until the job's time limit, or None when it has none (or squeue is silent)."""
    try:
        out = subprocess.run(["squeue", "-h", "-j", job_id, "-o", "%L"], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, universal_newlines=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return parse_duration(out) if out.strip() else None


def minutes(seconds):
    return "%d minute%s" % (round(seconds / 60), "" if round(seconds / 60) == 1 else "s")


class Agent:
    def __init__(self, rundir):
        self.rundir = rundir
        self.secrets = channel.read_json(os.path.join(rundir, channel.SECRETS))
        self.token = self.secrets["token"]
        self.job_id = os.environ.get("SLURM_JOB_ID", "")
        self.generation = 0
        self.ports = None
        self.kernel = None
        self.exit_code = None
        self.ending = ""
        self.stop = False
        self.started_at = time.time()  # wall clock, for the benchmark's queue/connect split

    # -- the kernel ------------------------------------------------------------------
    def start(self, generation):
        self.generation = generation
        ip = node_ip(self.secrets.get("ip"))
        self.ports = pick_ports(ip, self.ports)
        names = ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port")
        info = dict(zip(names, self.ports), transport="tcp", ip=ip, key=self.secrets["key"],
                    signature_scheme=self.secrets["signature_scheme"], kernel_name=self.secrets.get("kernel_name", ""))
        if self.secrets.get("curve_secretkey"):
            info["curve_publickey"] = self.secrets["curve_publickey"]
            info["curve_secretkey"] = self.secrets["curve_secretkey"]
        import json

        connection_file = os.path.join(self.rundir, channel.CONNECTION)
        channel.write_private(connection_file, json.dumps(info))
        argv = [a.replace("{connection_file}", connection_file) for a in self.secrets["argv"]]
        # A session of its own, so SIGINT reaches the kernel's process group and not the agent.
        self.kernel = subprocess.Popen(argv, start_new_session=True, stdin=subprocess.DEVNULL)
        self.exit_code = None
        log("generation %d: kernel pid %d on %s ports %s" % (generation, self.kernel.pid, ip, self.ports))
        self.report("running", connection={k: v for k, v in info.items() if not k.startswith(("key", "curve"))})

    def report(self, state, connection=None):
        payload = {"generation": self.generation, "state": state, "job_id": self.job_id,
                   "host": socket.gethostname(), "exit_code": self.exit_code, "ending": self.ending,
                   "agent_started": self.started_at, "written": time.time()}
        if connection is not None:
            self.connection = connection
        payload["connection"] = getattr(self, "connection", None)
        channel.write_signed(os.path.join(self.rundir, channel.REPORT), self.token, payload)

    def signal_kernel(self, signum):
        if self.kernel is not None and self.kernel.poll() is None:
            try:
                os.killpg(self.kernel.pid, signum)
            except OSError:
                pass

    def tell_notebook(self, text):
        """One line on the kernel's stderr: ipykernel captures its fd 2 into the notebook
        (and when it does not, the line lands in the job's log)."""
        if self.kernel is None or self.kernel.poll() is not None:
            return
        line = ("\nkernelctl: %s\n" % text).encode("utf-8")
        try:
            # O_APPEND: when fd 2 is the job's log file, a fresh open would write at offset 0
            fd = os.open("/proc/%d/fd/2" % self.kernel.pid, os.O_WRONLY | os.O_NONBLOCK | os.O_APPEND)
            try:
                os.write(fd, line)
            finally:
                os.close(fd)
        except OSError:
            log(text)

    def stop_kernel(self, grace=5.0):
        """SIGTERM the kernel's group, SIGKILL after ``grace`` seconds."""
        self.signal_kernel(signal.SIGTERM)
        deadline = time.monotonic() + grace
        while self.kernel is not None and self.kernel.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        self.signal_kernel(signal.SIGKILL)

    # -- the loop --------------------------------------------------------------------
    def install_signals(self):
        signal.signal(signal.SIGINT, lambda s, f: self.signal_kernel(signal.SIGINT))
        signal.signal(signal.SIGUSR1, lambda s, f: self.signal_kernel(signal.SIGTERM))
        signal.signal(signal.SIGUSR2, lambda s, f: self.signal_kernel(signal.SIGKILL))

        def terminate(signum, frame):
            self.ending = self.ending or "cancelled"
            self.stop = True

        signal.signal(signal.SIGTERM, terminate)

    def heartbeat_stamp(self):
        try:
            return os.stat(os.path.join(self.rundir, channel.HEARTBEAT)).st_mtime_ns
        except OSError:
            return None

    def run(self):
        self.install_signals()
        timeout = float(self.secrets.get("heartbeat_timeout", 60))
        linger = float(self.secrets.get("linger", 60))
        left = time_left(self.job_id) if self.job_id else None
        end = time.monotonic() + left if left is not None else None
        warnings = [w for w in WARNINGS if left is None or left > w]
        limit_text = self.secrets.get("time_limit") or "its --time"
        self.start(1)
        stamp, stamp_seen = self.heartbeat_stamp(), time.monotonic()
        exited_at = None
        while not self.stop:
            time.sleep(TICK)
            now = time.monotonic()
            current = self.heartbeat_stamp()
            if current != stamp:
                stamp, stamp_seen = current, now
            elif now - stamp_seen > timeout:
                self.ending = "server gone"
                log("the server's heartbeat stopped %d s ago: ending the job" % (now - stamp_seen))
                break
            if end is not None:
                remaining = end - now
                while warnings and remaining <= warnings[0]:
                    self.tell_notebook("this Slurm job reaches its time limit (%s) in %s; save your work now."
                                       % (limit_text, minutes(warnings.pop(0))))
                if remaining <= FINAL_NOTICE:
                    self.ending = "time limit"
                    self.tell_notebook("the kernel stops now: its Slurm job reached its time limit (%s)." % limit_text)
                    time.sleep(2)  # ipykernel forwards captured output every 0.2 s; let it, before the SIGTERM
                    break
            if self.kernel.poll() is not None and exited_at is None:
                self.exit_code = self.kernel.returncode
                exited_at = now
                self.report("exited")
            if exited_at is not None:
                request = channel.read_signed(os.path.join(self.rundir, channel.START), self.token)
                if request and request.get("generation") == self.generation + 1:
                    exited_at = None
                    self.start(self.generation + 1)
                elif now - exited_at > linger:
                    self.ending = "kernel exited"
                    break
        self.stop_kernel()
        if self.kernel is not None and self.exit_code is None:
            self.exit_code = self.kernel.poll()
        self.report("ended")
        log("job ends (%s)" % (self.ending or "done"))


def main(argv):
    if len(argv) != 1:
        sys.stderr.write("usage: agent.py RUNDIR\n")
        return 2
    Agent(argv[0]).run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
