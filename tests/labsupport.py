"""A real JupyterLab server and headless Chromium for end-to-end tests, on 127.0.0.1 only.

:func:`running_lab` starts ``jupyter lab`` from this interpreter's environment with nothing
that reaches beyond the machine (no news feed, no update check, no PyPI extension manager,
no browser of its own) and stops it, with its kernels, however the test ends.
:func:`kernel_execute` runs code in a server-side kernel over its websocket channels with
Jupyter messaging protocol messages, as JupyterLab itself does. :func:`chromium_page` opens
Debian's Chromium through Playwright, which never downloads a browser of its own here.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.sync_api import sync_playwright
from tornado.websocket import websocket_connect

HOST = "127.0.0.1"
CHROMIUM = Path("/usr/bin/chromium")
# Chromium flags this machine needs: no sandbox as root, and none of Chromium's own
# background traffic, which the closed network refuses.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# Straight to the server on loopback, whatever proxy the environment names.
DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class Lab:
    """A running JupyterLab server."""

    url: str
    token: str
    process: subprocess.Popen[bytes]
    log: Path

    def request(self, path: str, method: str = "GET", body: dict[str, Any] | None = None,
                timeout: float = 30) -> tuple[int, str, bytes]:
        """One HTTP request to the server's ``path``: (status, content type, body)."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Authorization": f"token {self.token}",
                                              "Content-Type": "application/json"})
        try:
            with DIRECT.open(req, timeout=timeout) as resp:
                return resp.status, resp.headers.get("Content-Type", ""), resp.read()
        except urllib.error.HTTPError as err:
            return err.code, err.headers.get("Content-Type", ""), err.read()

    def api(self, path: str, method: str = "GET", body: dict[str, Any] | None = None) -> Any:
        """A REST call that must succeed; its JSON answer."""
        status, _, payload = self.request(path, method, body)
        assert 200 <= status < 300, f"{method} {path}: {status} {payload[:500]!r}\n{self.log_tail()}"
        return json.loads(payload) if payload else None

    def log_tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "--- jupyter lab log (tail) ---\n" + "\n".join(text.splitlines()[-lines:])


def _wait_until_up(lab: Lab, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if lab.process.poll() is not None:
            raise AssertionError(f"jupyter lab exited with {lab.process.returncode}\n{lab.log_tail()}")
        try:
            if lab.request("/api/status", timeout=5)[0] == 200:
                return
        except OSError:
            pass  # not listening yet
        time.sleep(0.25)
    raise AssertionError(f"jupyter lab did not answer within {timeout:.0f}s\n{lab.log_tail()}")


def _stop(lab: Lab) -> None:
    """Ask the server to shut down, which stops its kernels; signal it if it does not.

    Kernels run in sessions of their own, but a kernel whose server is gone exits by itself
    (ipykernel watches its parent), so even the SIGKILL path leaves nothing running.
    """
    if lab.process.poll() is None:
        try:
            lab.request("/api/shutdown", method="POST", timeout=10)
        except OSError:
            pass  # already going away; the signals below make sure
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            lab.process.wait(timeout=20)
            return
        except subprocess.TimeoutExpired:
            os.killpg(lab.process.pid, sig)
    lab.process.wait(timeout=20)


# JupyterLab user settings: never fetch the Jupyter news feed nor check for updates, and
# so never ask about it in a toast that would cover the page.
QUIET_SETTINGS = {"@jupyterlab/apputils-extension/notification.jupyterlab-settings":
                  {"fetchNews": "false", "checkForUpdates": False}}


@contextmanager
def running_lab(workdir: Path, startup_timeout: float = 90) -> Iterator[Lab]:
    """``jupyter lab`` on 127.0.0.1 with a random token, until the block ends.

    It serves ``workdir/notebooks`` and keeps its log, user settings and workspaces in
    ``workdir``. Jupyter's data, config and runtime dirs come from the environment (the
    tests' isolated tmp dirs), so the server sees exactly the kernels the test registered.
    """
    notebooks, settings, workspaces = workdir / "notebooks", workdir / "user-settings", workdir / "workspaces"
    for directory in (notebooks, settings, workspaces):
        directory.mkdir(parents=True, exist_ok=True)
    for name, values in QUIET_SETTINGS.items():
        (settings / name).parent.mkdir(parents=True, exist_ok=True)
        (settings / name).write_text(json.dumps(values), encoding="utf-8")
    port, token = free_port(), uuid.uuid4().hex
    argv = [
        sys.executable, "-m", "jupyterlab", "--no-browser",
        f"--ServerApp.ip={HOST}", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={notebooks}",
        "--ServerApp.open_browser=False",
        "--ServerApp.allow_root=True",  # CI runs as root; harmless otherwise
        f"--LabApp.user_settings_dir={settings}", f"--LabApp.workspaces_dir={workspaces}",
        # nothing that reaches beyond this machine
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.handlers.announcements.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",
    ]
    log = workdir / "jupyter-lab.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    lab = Lab(f"http://{HOST}:{port}", token, process, log)
    try:
        _wait_until_up(lab, startup_timeout)
        yield lab
    finally:
        _stop(lab)


def _message(msg_type: str, content: dict[str, Any], session: str) -> dict[str, Any]:
    """A Jupyter messaging protocol message for the shell channel."""
    return {
        "header": {"msg_id": uuid.uuid4().hex, "msg_type": msg_type, "session": session,
                   "username": "kernelctl-test", "version": "5.3",
                   "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
        "parent_header": {}, "metadata": {}, "content": content, "channel": "shell", "buffers": [],
    }


async def _execute(lab: Lab, kernel_id: str, code: str, timeout: float) -> tuple[str, dict[str, Any]]:
    session = uuid.uuid4().hex
    url = f"ws{lab.url[4:]}/api/kernels/{kernel_id}/channels?session_id={session}&token={lab.token}"
    conn = await asyncio.wait_for(websocket_connect(url), timeout)
    try:
        request = _message("execute_request", {"code": code, "silent": False, "store_history": False,
                                               "user_expressions": {}, "allow_stdin": False,
                                               "stop_on_error": True}, session)
        await conn.write_message(json.dumps(request))
        stdout: list[str] = []
        reply: dict[str, Any] | None = None
        idle = False
        deadline = time.monotonic() + timeout
        # the reply (shell) and the outputs and idle status (iopub) arrive in either order
        while reply is None or not idle:
            raw = await asyncio.wait_for(conn.read_message(), max(deadline - time.monotonic(), 0.01))
            if raw is None:
                raise AssertionError("the kernel websocket closed before the cell finished")
            msg = json.loads(raw)
            if msg.get("parent_header", {}).get("msg_id") != request["header"]["msg_id"]:
                continue
            kind = msg["msg_type"]
            if kind == "stream" and msg["content"]["name"] == "stdout":
                stdout.append(msg["content"]["text"])
            elif kind == "execute_reply":
                reply = msg["content"]
            elif kind == "status" and msg["content"]["execution_state"] == "idle":
                idle = True
        return "".join(stdout), reply
    finally:
        conn.close()


def kernel_execute(lab: Lab, kernel_id: str, code: str, timeout: float = 60) -> tuple[str, dict[str, Any]]:
    """Run ``code`` in the server's kernel ``kernel_id`` over its websocket: (stdout, execute_reply)."""
    return asyncio.run(_execute(lab, kernel_id, code, timeout))


@contextmanager
def chromium_page(user_data_dir: Path, width: int = 1280, height: int = 800) -> Iterator[Any]:
    """A Playwright page in headless Debian Chromium with a fresh profile, closed at the end."""
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(user_data_dir), executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS,
            viewport={"width": width, "height": height}, timeout=60_000,
        )
        try:
            context.set_default_timeout(60_000)  # every wait is bounded
            yield context.pages[0] if context.pages else context.new_page()
        finally:
            context.close()
