"""``kernelctl install`` is all or nothing (issue 13): a full disk, kill -9 or Ctrl-C leaves the
env and its manifest exactly as they were; the installer dies with kernelctl; a shared
kernel stays shared after install and netguard changes under the owner's umask 077."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import time
from pathlib import Path

import pytest
from kernelhelpers import CLI, assert_user_error, kernelctl, kernelctl_json, run_in_kernel

from conftest import require_system
from test_shared import shared_prefix  # noqa: F401 (a fixture)


def env_state(name: str) -> tuple[str, dict[str, str], dict[str, str]]:
    """The env in service, its manifest's packages, and what its Python really imports as installed."""
    shown = kernelctl_json("show", name)
    python = Path(shown["prefix"]) / "bin" / "python"
    probe = "import json, importlib.metadata as m; print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))"
    real = json.loads(subprocess.run([str(python), "-I", "-c", probe], capture_output=True, text=True,
                                     check=True).stdout)
    return shown["prefix"], shown["installed"], real


def store_entries() -> list[Path]:
    return sorted((Path(os.environ["KERNELCTL_HOME"]) / "envs" / ".store").iterdir())


@pytest.mark.system
def test_full_disk_during_install_changes_nothing_and_names_the_env_device(real_wheelhouse: Path,
                                                                          tmp_path: Path) -> None:
    """KERNELCTL_HOME on a tmpfs with room for the env but not for a second one with numpy."""
    probe = kernelctl("--version", check=False, prefix=["unshare", "-rm"])
    require_system(probe.returncode == 0, "needs unprivileged user and mount namespaces ('unshare -rm')")
    small = tmp_path / "small"
    small.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    cli = " ".join(CLI)
    script = f"""
mount -t tmpfs -o size=400m tmpfs "$0" || exit 90
export KERNELCTL_HOME="$0"
{cli} create tight --wheelhouse {real_wheelhouse} -q --no-verify || exit 91
used=$(df -k --output=used "$0" | tail -1)
mount -o remount,size=$((used + 8192))k "$0" || exit 92
{cli} show tight --json > {out}/before.json
{cli} install tight numpy --no-verify > {out}/install.out 2> {out}/install.err
echo $? > {out}/install.rc
{cli} show tight --json > {out}/after.json
ls "$0/envs/.store" > {out}/store.txt
"$0/envs/tight/bin/python" -I -c 'import numpy' 2> {out}/import.err
mount -o remount,size=400m "$0"
{cli} install tight numpy -q --no-verify || exit 93
"$0/envs/tight/bin/python" -I -c 'import numpy; print(numpy.__version__)' > {out}/later.out || exit 94
"""
    proc = subprocess.run(["unshare", "-rm", "sh", "-c", script, str(small)], capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr
    err = (out / "install.err").read_text()
    assert (out / "install.rc").read_text().strip() == "1", err
    assert_user_error(subprocess.CompletedProcess([], 1, "", err), 1, "no space left", "the env", "KERNELCTL_HOME")
    before, after = json.loads((out / "before.json").read_text()), json.loads((out / "after.json").read_text())
    assert after["prefix"] == before["prefix"] and after["installed"] == before["installed"]
    assert after["requirements"] == before["requirements"] == []
    assert (out / "store.txt").read_text().split() == [Path(before["prefix"]).name]  # nothing half-made left
    assert "ModuleNotFoundError" in (out / "import.err").read_text()  # no half-unpacked numpy
    assert (out / "later.out").read_text().strip()  # a later install works normally


@pytest.mark.system
def test_full_jupyter_data_dir_is_named_as_such(real_wheelhouse: Path, tmp_path: Path) -> None:
    probe = kernelctl("--version", check=False, prefix=["unshare", "-rm"])
    require_system(probe.returncode == 0, "needs unprivileged user and mount namespaces ('unshare -rm')")
    data = tmp_path / "jd"
    data.mkdir()
    script = 'mount -t tmpfs -o size=4k tmpfs "$0" && dd if=/dev/zero of="$0/fill" bs=4k count=1 2>/dev/null; exec "$@"'
    proc = kernelctl("create", "nojd", "--wheelhouse", str(real_wheelhouse), "--no-verify", check=False,
                     prefix=["env", f"JUPYTER_DATA_DIR={data}", "unshare", "-rm", "sh", "-c", script, str(data)])
    assert_user_error(proc, 1, "no space left", "Jupyter data dir", "JUPYTER_DATA_DIR")
    assert not any(Path(os.environ["KERNELCTL_HOME"], "envs", ".store").glob("nojd@*"))


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid``."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        return "State:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False


def start_install(name: str, *packages: str) -> subprocess.Popen[str]:
    return subprocess.Popen([*CLI, "install", name, *packages, "--no-verify"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def wait_for_installer(proc: subprocess.Popen[str]) -> set[int]:
    """Wait until the install step has started its installer; return kernelctl's descendants."""
    assert proc.stderr is not None
    for line in proc.stderr:
        if "Installing" in line:
            break
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = {pid for pid in descendants(proc.pid)
                 if b"install" in Path(f"/proc/{pid}/cmdline").read_bytes()}
        if found:
            return found
        time.sleep(0.02)
    raise AssertionError("no installer process appeared")


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["kill-9", "ctrl-c"])
def test_killed_install_leaves_the_env_as_it_was_and_no_installer_running(real_wheelhouse: Path,
                                                                          sig: int) -> None:
    kernelctl("create", "victim", "--wheelhouse", str(real_wheelhouse), "--backend", "pip", "-q", "--no-verify")
    before = env_state("victim")
    proc = start_install("victim", "numpy")
    installers = wait_for_installer(proc)
    os.kill(proc.pid, sig)  # kernelctl alone, not its process group: its children must follow it
    proc.wait(timeout=60)
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in installers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(alive(pid) for pid in installers), "the installer outlived kernelctl"
    assert env_state("victim") == before  # the same env, the manifest matching it
    if sig == signal.SIGINT:
        assert proc.returncode == 130 and "Traceback" not in proc.stderr.read()
    kernelctl("install", "victim", "numpy", "-q")  # a later install cleans up and works, verified
    assert len(store_entries()) == 1
    prefix, installed, real = env_state("victim")
    assert installed == real and "numpy" in real
    out, _ = run_in_kernel("victim", "import numpy, sys; print(sys.prefix)")
    assert out.strip() == prefix


def test_install_keeps_the_versions_in_service_and_the_env_history(real_wheelhouse: Path, tmp_path: Path) -> None:
    from wheelfactory import build_wheel

    site = tmp_path / "site"
    build_wheel(site, "tinyfixture", "1.0")
    wheelhouses = ["--wheelhouse", str(real_wheelhouse), "--wheelhouse", str(site)]
    kernelctl("create", "keep", "tinyfixture", *wheelhouses, "-q", "--no-verify")
    build_wheel(site, "tinyfixture", "2.0")  # newer in the wheelhouse now: install must not upgrade it
    kernelctl("install", "keep", "tzdata", "-q", "--no-verify")
    _, installed, real = env_state("keep")
    assert installed == real and real["tinyfixture"] == "1.0" and "tzdata" in real
    assert kernelctl_json("show", "keep")["requirements"] == ["tinyfixture", "tzdata"]


def unreadable_by_others(root: Path) -> list[Path]:
    bad = []
    for dirpath, dirnames, filenames in os.walk(root):
        for entry in [Path(dirpath)] + [Path(dirpath) / n for n in dirnames + filenames]:
            mode = entry.lstat().st_mode
            if stat.S_ISLNK(mode):
                continue
            if not mode & stat.S_IROTH or (stat.S_ISDIR(mode) and not mode & stat.S_IXOTH) \
                    or mode & (stat.S_IWGRP | stat.S_IWOTH):
                bad.append(entry)
    return bad


def test_install_and_netguard_changes_keep_a_shared_kernel_shared_under_umask_077(
        real_wheelhouse: Path, shared_prefix: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    umask_077 = ["sh", "-c", 'umask 077 && exec "$@"', "sh"]
    kernelctl("create", "strict", "--prefix", str(shared_prefix), "--wheelhouse", str(real_wheelhouse),
              "-q", "--no-verify", prefix=umask_077)
    monkeypatch.setenv("JUPYTER_PATH", str(shared_prefix / "share" / "jupyter"))
    kernelctl("install", "strict", "numpy", "-q", "--no-verify", prefix=umask_077)
    kernelctl("netguard", "strict", "--mode", "block", prefix=umask_077)
    prefix = Path(kernelctl_json("show", "strict")["prefix"])
    assert (prefix / "lib").is_dir() and any(prefix.rglob("numpy/__init__.py"))
    assert unreadable_by_others(prefix) == []
    assert unreadable_by_others(shared_prefix / "share" / "jupyter" / "kernels" / "strict") == []


def test_a_running_kernel_keeps_its_env_until_it_stops(real_wheelhouse: Path) -> None:
    """install switches the kernel to a new env; a notebook's kernel started before keeps
    importing from the old one, which goes only once no process runs from it."""
    from jupyter_client.manager import start_new_kernel

    kernelctl("create", "busy", "--wheelhouse", str(real_wheelhouse), "-q", "--no-verify")
    old = Path(kernelctl_json("show", "busy")["prefix"])
    km, kc = start_new_kernel(kernel_name="busy", startup_timeout=120)
    try:
        kernelctl("install", "busy", "numpy", "-q", "--no-verify")
        assert Path(kernelctl_json("show", "busy")["prefix"]) != old
        reply = kc.execute_interactive("import json, tzdata, sys; print(sys.prefix)", timeout=60)
        assert reply["content"]["status"] == "ok" and old.is_dir()
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    kernelctl("install", "busy", "tzdata", "-q", "--no-verify")
    assert len(store_entries()) == 1 and not old.exists()
