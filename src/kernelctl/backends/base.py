"""The installer interface and the diagnosis of failed installs shared by all backends."""

from __future__ import annotations

import errno
import os
import re
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

from kernelctl.errors import KernelctlError

# Variables that would add indexes or links behind kernelctl's back.
_FOREIGN_CONFIG = ("PIP_", "UV_")


@dataclass(frozen=True)
class InstallRequest:
    """What to install into the env whose interpreter is ``python``."""

    python: Path
    requirements: Sequence[str]
    wheelhouses: Sequence[Path]
    requirement_files: Sequence[Path] = field(default_factory=tuple)
    verbose: bool = False


class Backend(Protocol):
    name: str

    def install(self, request: InstallRequest) -> None:
        """Install the request from the wheelhouse only; raise KernelctlError on failure."""


def source_args(request: InstallRequest) -> list[str]:
    """The arguments pip and uv share: quiet unless verbose, the wheelhouse, what to install."""
    argv = [] if request.verbose else ["--quiet"]
    for directory in request.wheelhouses:
        argv += ["--find-links", str(directory)]
    for path in request.requirement_files:
        argv += ["-r", str(path)]
    return argv + list(request.requirements)


def clean_environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The current environment without pip/uv settings that could reach an index."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_FOREIGN_CONFIG)}
    env.update({"PIP_CONFIG_FILE": os.devnull, "PIP_DISABLE_PIP_VERSION_CHECK": "1",
                "PIP_NO_INPUT": "1", "PYTHONNOUSERSITE": "1"})
    if "UV_CACHE_DIR" in os.environ:  # a cache location is not an index: keep it
        env["UV_CACHE_DIR"] = os.environ["UV_CACHE_DIR"]
    env.update(extra or {})
    return env


def run_installer(argv: list[str], request: InstallRequest, env: dict[str, str]) -> None:
    """Run an installer command; turn its failure into a one-line, actionable error."""
    if request.verbose:  # shown on stderr, so that stdout stays clean for --json
        proc = subprocess.run(argv, env=env, stdout=sys.stderr, stderr=subprocess.PIPE, text=True)
        sys.stderr.write(proc.stderr)
    else:
        proc = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if proc.returncode != 0:
        raise diagnose(proc.stdout or proc.stderr or "", request.wheelhouses)


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


def diagnose(output: str, wheelhouses: Sequence[Path]) -> KernelctlError:
    """Explain a failed install in one line, with what the wheelhouse has instead."""
    flat = " ".join(output.split())  # installers wrap long messages to the terminal's width
    if "No space left on device" in flat or "Disk quota exceeded" in flat:
        return disk_full_error()
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


def disk_full_error() -> KernelctlError:
    return KernelctlError(
        "no space left on the device that holds the env",
        "Free some space, or set KERNELCTL_HOME to a filesystem with room (not $SCRATCH, which is purged).",
    )


def is_disk_full(err: OSError) -> bool:
    return err.errno in (errno.ENOSPC, errno.EDQUOT)
