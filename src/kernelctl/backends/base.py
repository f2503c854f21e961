"""The installer interface and the diagnosis of failed installs shared by all backends."""

from __future__ import annotations

import ctypes
import errno
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

from kernelctl.errors import KernelctlError

# Variables that would add indexes or links behind kernelctl's back.
_FOREIGN_CONFIG = ("PIP_", "UV_")


@dataclass(frozen=True)
class InstallRequest:
    """What to install into the env whose interpreter is ``python``.

    ``requirements`` and ``constraints`` are vetted strings (:mod:`kernelctl.requirements`):
    the installer never reads a user's requirements file itself.
    """

    python: Path
    requirements: Sequence[str]
    wheelhouses: Sequence[Path]
    constraints: Sequence[str] = field(default_factory=tuple)
    verbose: bool = False


class Backend(Protocol):
    name: str

    def install(self, request: InstallRequest) -> None:
        """Install the request from the wheelhouse only; raise KernelctlError on failure."""


def source_args(request: InstallRequest, constraints: Path | None) -> list[str]:
    """The arguments pip and uv share: quiet unless verbose, the wheelhouse, what to install.

    ``constraints`` is the file :func:`constraints_file` wrote for the request, if any.
    """
    argv = [] if request.verbose else ["--quiet"]
    for directory in request.wheelhouses:
        argv += ["--find-links", str(directory)]
    if constraints is not None:
        argv += ["--constraint", str(constraints)]
    return argv + ["--", *request.requirements]


def constraints_file(request: InstallRequest) -> Path | None:
    """Write the request's constraints, one vetted requirement a line, into the env itself
    (so a full disk is the env's, not /tmp's); None without constraints."""
    if not request.constraints:
        return None
    path = request.python.parent.parent / ".kernelctl-constraints.txt"
    path.write_text("".join(f"{c}\n" for c in request.constraints), encoding="utf-8")
    return path


def clean_environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The current environment without pip/uv settings that could reach an index."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_FOREIGN_CONFIG)}
    env.update({"PIP_CONFIG_FILE": os.devnull, "PIP_DISABLE_PIP_VERSION_CHECK": "1",
                "PIP_NO_INPUT": "1", "PYTHONNOUSERSITE": "1"})
    if "UV_CACHE_DIR" in os.environ:  # a cache location is not an index: keep it
        env["UV_CACHE_DIR"] = os.environ["UV_CACHE_DIR"]
    env.update(extra or {})
    return env


_PR_SET_PDEATHSIG = 1
_HELD = {signal.SIGINT, signal.SIGTERM}


def die_with_parent() -> None:
    """For a child process (``preexec_fn``, under :func:`spawning`): be killed when kernelctl
    dies, even by SIGKILL, and take Ctrl-C and SIGTERM again.

    Use it only from a Popen in kernelctl's main thread: the signal fires when the thread
    that started the child ends."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the process group below still covers Ctrl-C
        pass
    release_held()


def release_held() -> None:
    """Take Ctrl-C and SIGTERM again in a thread or child that began under :func:`spawning`."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _HELD)


@contextmanager
def spawning() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM while starting a child with a ``preexec_fn``: CPython runs its
    at-fork hooks then and drops an exception raised in one, so a KeyboardInterrupt arriving
    at that moment would be lost. A signal held meanwhile is raised when the block ends."""
    saved = signal.pthread_sigmask(signal.SIG_BLOCK, _HELD)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, saved)


def run_child(argv: list[str], env: dict[str, str], **kwargs) -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
    """Run ``argv`` in its own process group, so that nothing it started outlives kernelctl:
    the group is killed on any exception here (Ctrl-C, SIGTERM turned into one), and the
    child is killed by the kernel if kernelctl itself is killed."""
    with spawning():
        proc = subprocess.Popen(argv, env=env, text=True, start_new_session=True,
                                preexec_fn=die_with_parent, **kwargs)
    try:
        stdout, stderr = proc.communicate()
    except BaseException:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
        raise
    return subprocess.CompletedProcess(argv, proc.returncode, stdout, stderr)


def run_installer(command: list[str], request: InstallRequest, env: dict[str, str]) -> None:
    """Run the installer ``command`` on ``request``; turn its failure into a one-line, actionable error."""
    constraints = constraints_file(request)
    argv = command + source_args(request, constraints)
    try:
        if request.verbose:  # shown on stderr, so that stdout stays clean for --json
            proc = run_child(argv, env, stdout=sys.stderr, stderr=subprocess.PIPE)
            sys.stderr.write(proc.stderr)
        else:
            proc = run_child(argv, env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    finally:
        if constraints is not None:
            constraints.unlink(missing_ok=True)
    if proc.returncode != 0:
        raise diagnose(proc.stdout or proc.stderr or "", request.wheelhouses, request.python.parent.parent)


_MISSING_PATTERNS = (
    re.compile(r"No matching distribution found for (?P<req>\S+)"),
    re.compile(r"and you require (?P<req>[^\s,]+), we can conclude"),
    re.compile(r"Because (?P<req>\S+?) was not found in the provided package locations"),
    re.compile(r"Because there is no version of (?P<req>\S+?) (?:and|we)"),
    re.compile(r"Because only (?:\S+ )*?(?P<req>[A-Za-z0-9][A-Za-z0-9._-]*)\S* (?:is|are) available and"),
)
_CORRUPT_PATTERNS = (
    re.compile(r"Wheel '[^']+' located at (?P<path>\S+\.whl) is invalid"),
    re.compile(r"Because (?P<name>[A-Za-z0-9._-]+)==(?P<version>\S+) has an invalid package format"),
    re.compile(r"BadZipFile|not a zip file"),
)


def wheels_for(project: str, wheelhouses: Sequence[Path]) -> list[str]:
    """Filenames in the wheelhouse that belong to ``project`` (PEP 503 name match)."""
    wanted = canonicalize_name(project)
    found = []
    for directory in wheelhouses:
        try:
            names = os.listdir(directory)
        except OSError:
            continue
        for filename in names:
            if not filename.endswith(".whl"):
                continue
            try:
                name = parse_wheel_filename(filename)[0]
            except InvalidWheelFilename:
                continue
            if name == wanted:
                found.append(filename)
    return sorted(found)


def _project_of(requirement: str) -> str:
    return re.split(r"[<>=!~;\[ (@]", requirement, maxsplit=1)[0]


def diagnose(output: str, wheelhouses: Sequence[Path], prefix: Path) -> KernelctlError:
    """Explain a failed install into the env at ``prefix`` in one line, with what the wheelhouse has instead."""
    flat = " ".join(output.split())  # installers wrap long messages to the terminal's width
    if "No space left on device" in flat or "Disk quota exceeded" in flat:
        return disk_full_error(prefix)
    for pattern in _CORRUPT_PATTERNS:
        match = pattern.search(flat)
        if not match:
            continue
        groups = match.groupdict()
        path = groups.get("path")
        if not path and groups.get("name"):
            candidates = [f for f in wheels_for(groups["name"], wheelhouses)
                          if f"-{groups['version']}-" in f]
            path = candidates[0] if candidates else groups["name"]
        return KernelctlError(
            f"corrupt wheel in the wheelhouse: {path or 'see the installer output with -v'}",
            "Remove or replace that file (if it is the site's wheelhouse, tell the site's support).",
        )
    for pattern in _MISSING_PATTERNS:
        match = pattern.search(flat)
        if not match:
            continue
        requirement = match.group("req").rstrip(",.")
        project = _project_of(requirement)
        have = wheels_for(project, wheelhouses)
        if have:
            listing = ", ".join(have[-6:]) + (f" (and {len(have) - 6} more)" if len(have) > 6 else "")
            hint = f"The wheelhouse has for {project}: {listing}. Pick a version and Python those wheels fit."
        else:
            hint = (f"The wheelhouse has no wheels for {project}: check the name, load a module that "
                    f"provides it, or add its wheel to a personal wheelhouse ('kernelctl wheelhouse fetch').")
        return KernelctlError(f"the wheelhouse cannot satisfy {requirement!r}", hint)
    last = [line.strip() for line in output.strip().splitlines() if line.strip()][-1:] or ["(no output)"]
    return KernelctlError(f"installing from the wheelhouse failed: {last[0]}",
                          "Run the command again with -v to see the installer's full output.")


def disk_full_error(path: Path, jupyter: bool = False) -> KernelctlError:
    """The error for a full disk (or quota) at ``path``: the env's, or the Jupyter data dir's."""
    if jupyter:
        return KernelctlError(f"no space left on the device that holds the Jupyter data dir ({path})",
                              "Free some space there (or your quota), or set JUPYTER_DATA_DIR to a filesystem "
                              "with room.")
    return KernelctlError(
        f"no space left on the device that holds the env ({path})",
        "Free some space (or your quota), or set KERNELCTL_HOME to a filesystem with room (not $SCRATCH, "
        "which is purged).",
    )


def is_disk_full(err: OSError) -> bool:
    return err.errno in (errno.ENOSPC, errno.EDQUOT)
