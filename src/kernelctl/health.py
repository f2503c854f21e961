"""Judging a kernel's health: the one place ``list``, ``show`` and ``doctor`` ask.

:func:`judge` runs the cheap checks first, from files alone (the kernelctl files, validated;
the env, its interpreter, ipykernel, pip.conf, wheelhouses, modules on the recorded
MODULEPATH): that is all ``list`` and ``show`` do, and they start no process. ``doctor``
passes a :class:`Probe`, which adds the checks that run something: the interpreter's
version (once per interpreter, however many envs share it), and, only where a cheap check
failed, the import that says why and the module command that settles a name the file
lookup did not find.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, Union

from kernelctl import kernelspec
from kernelctl.distinfo import disagreements
from kernelctl.errors import KernelctlError
from kernelctl.kernelfiles import DamagedFile, KernelMetadata, LaunchConfig, kernel_metadata, load
from kernelctl.languages import LANGUAGES
from kernelctl.location import Location
from kernelctl.launcher import CONFIG_NAME, LAUNCHER_NAME
from kernelctl.manifest import Manifest, load_manifest, recreate_fix
from kernelctl.modules import ModuleSystem, available, on_modulepath
from kernelctl.venv import python_of, site_packages

T = TypeVar("T")

_PROBE_TIMEOUT = 60
_VERSION = "import sys; print('.'.join(map(str, sys.version_info[:3])))"
REREGISTER = "kernelctl doctor --fix"


@dataclass(frozen=True)
class Problem:
    check: str  # env, interpreter, stale, packages, offline, kernelspec, modules, wheelhouse
    problem: str
    fix: str


@dataclass(frozen=True)
class Health:
    """What :func:`judge` found: the problems (none: healthy), and the manifest when it reads."""

    problems: list[Problem] = field(default_factory=list)
    manifest: Manifest | None = None
    registered: bool = True

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def status(self) -> str:
        """``ok``, ``unregistered`` (an env whose kernelspec is gone) or ``broken: WHY``."""
        if not self.registered:
            return "unregistered"
        return "ok" if self.ok else f"broken: {self.problems[0].problem}"


@dataclass(frozen=True)
class Unregistered:
    """A kernelctl env whose kernelspec is gone (``envs/NAME`` still points to it)."""

    name: str
    prefix: Path
    location: Location


@dataclass(frozen=True)
class Unreadable:
    """A kernelspec Jupyter finds but cannot load; ``env`` is kernelctl's env of that name, if any."""

    name: str
    resource_dir: Path
    env: Path | None


class Probe:
    """The checks that run a process, for ``doctor``: each answered once per key, safely
    from many threads (the first asker runs it, the others wait for its answer)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._answers: dict[Any, Future[Any]] = {}

    def _once(self, key: Any, compute: Callable[[], T]) -> T:
        with self._lock:
            future = self._answers.get(key)
            mine = future is None
            if mine:
                future = self._answers[key] = Future()
        assert future is not None
        if mine:
            try:
                future.set_result(compute())
            except BaseException as err:
                future.set_exception(err)
        return future.result()

    def version(self, python: Path) -> tuple[bool, str]:
        """(runs, its X.Y.Z or error) for the interpreter ``python`` (a venv's link resolved,
        so every env on one interpreter shares the answer)."""
        real = os.path.realpath(python)
        return self._once(("version", real), lambda: _runs([real, "-I", "-c", _VERSION]))

    def imports(self, python: Path | str, module: str) -> tuple[bool, str]:
        return self._once(("import", str(python), module), lambda: _runs([str(python), "-I", "-c", f"import {module}"]))

    def module_available(self, system: ModuleSystem, name: str) -> bool:
        return self._once(("module", system, name), lambda: available(system, name))


def _runs(argv: list[str]) -> tuple[bool, str]:
    """Run ``argv``; return (succeeded, its output's or error's last line)."""
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=_PROBE_TIMEOUT, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as err:
        return False, str(err)
    text = (proc.stdout if proc.returncode == 0 else proc.stderr).strip().splitlines()
    return proc.returncode == 0, text[-1] if text else ""


Kernel = Union[kernelspec.InstalledSpec, Unregistered, Unreadable]


def judge(kernel: Kernel, probe: Probe | None = None) -> Health:
    """The health of ``kernel``: a kernelspec Jupyter sees (kernelctl's or another's), one it
    cannot load, or a kernelctl env without one. Files only, unless ``probe`` is given."""
    if isinstance(kernel, Unregistered):
        return _judge_unregistered(kernel)
    if isinstance(kernel, Unreadable):
        fix = (REREGISTER if kernel.env else
               f"jupyter kernelspec remove {kernel.name}, or recreate it with kernelctl create {kernel.name} --force")
        return Health([Problem("kernelspec", f"{kernel.resource_dir / 'kernel.json'} cannot be read "
                               "(not valid JSON?)", fix)])
    try:
        meta = kernel_metadata(kernel.spec, kernel.resource_dir / "kernel.json", REREGISTER)
    except DamagedFile as err:
        return Health([Problem("kernelspec", err.message, err.fix)])
    if meta is None:
        return Health(_foreign(kernel, probe))
    return _judge_kernelctl(kernel, meta, probe)


def doctor_problems(spec: kernelspec.InstalledSpec) -> list[Problem]:
    """What ``kernelctl doctor`` finds wrong with one kernel, for the commands that are about
    to start it (``run``, ``submit``): every check, those that run a process included."""
    return judge(spec, Probe()).problems


def _judge_unregistered(kernel: Unregistered) -> Health:
    try:
        manifest = load_manifest(kernel.prefix, kernel.name)
    except KernelctlError as err:
        return Health([Problem("env", err.message, recreate_fix(kernel.name))], registered=False)
    return Health([Problem("kernelspec", f"the env {kernel.prefix} has no kernelspec (the Jupyter data dir "
                           "was deleted?)", REREGISTER)], manifest, registered=False)


def _foreign(spec: kernelspec.InstalledSpec, probe: Probe | None) -> list[Problem]:
    """A kernel kernelctl did not make: does its interpreter exist and, for ipykernel, run it?"""
    argv = spec.spec.get("argv") or []
    remove = f"jupyter kernelspec remove {spec.name}"
    if not argv or not all(isinstance(a, str) for a in argv):
        return [Problem("kernelspec", "kernel.json has no usable argv", remove)]
    program = argv[0]
    if program in ("python", "python3") or program.startswith("python3."):
        return []  # jupyter_client runs these with the server's own interpreter
    if not (os.path.isabs(program) and os.access(program, os.X_OK)) and not shutil.which(program):
        return [Problem("interpreter", f"{program} does not exist", remove)]
    if probe is not None and ("ipykernel_launcher" in argv or "ipykernel" in argv):
        ok, detail = probe.imports(program, "ipykernel")
        if not ok:
            return [Problem("interpreter", f"{program} cannot import ipykernel: {detail}",
                            f"{program} -m pip install --no-index ipykernel, or {remove}")]
    return []


def _judge_kernelctl(spec: kernelspec.InstalledSpec, meta: KernelMetadata, probe: Probe | None) -> Health:
    name = spec.name
    prefix = Path(meta.prefix)
    if not prefix.is_dir():
        return Health([Problem("env", f"the env {prefix} is gone (a $SCRATCH purge or a manual delete?)",
                               f"kernelctl remove {name} --yes && kernelctl create {name} ...")])
    try:
        manifest = load_manifest(prefix, name)
    except KernelctlError as err:
        return Health([Problem("env", err.message, recreate_fix(name))])
    problems = [Problem("kernelspec", f"{f} is missing from {spec.resource_dir}", REREGISTER)
                for f in (LAUNCHER_NAME, CONFIG_NAME) if not (spec.resource_dir / f).is_file()]
    config = None
    if not problems:
        try:
            config = load(LaunchConfig, spec.resource_dir / CONFIG_NAME, REREGISTER)
        except DamagedFile as err:
            problems.append(Problem("kernelspec", err.message, err.fix))
    if manifest.options.language == "python":
        problems += _python_env(spec, prefix, manifest, probe)
    language = LANGUAGES.get(manifest.options.language)  # None: a newer kernelctl's language
    problems += [Problem("env", f"{prefix / f} is missing: the env is incomplete", f"kernelctl rebuild {name}")
                 for f in (language.env_files if language else ()) if not (prefix / f).exists()]
    if config is not None:
        problems += _modules(name, config, manifest, probe)
    missing = [d for d in manifest.wheelhouses if not Path(d).is_dir()]
    if missing:
        problems.append(Problem("wheelhouse", f"wheelhouse directory not reachable: {', '.join(missing)}",
                                f"kernelctl rebuild {name} --wheelhouse DIR (a wheelhouse that exists)"))
    return Health(problems, manifest)


def _python_env(spec: kernelspec.InstalledSpec, prefix: Path, manifest: Manifest,
                probe: Probe | None) -> list[Problem]:
    rebuild = f"kernelctl rebuild {spec.name}"
    python = python_of(prefix)
    argv = spec.spec.get("argv")
    argv0 = argv[0] if isinstance(argv, list) and argv and isinstance(argv[0], str) else str(python)
    for program in dict.fromkeys([str(python), argv0]):
        if not os.access(program, os.X_OK):
            return [Problem("interpreter", f"the env's Python {program} does not exist: the Python it was built on "
                            f"({manifest.python_executable}) has probably changed or gone", rebuild)]
    problems = []
    if probe is not None:
        runs, version = probe.version(python)
        if not runs:
            return [Problem("interpreter", f"the env's Python does not run ({version or 'no output'}); the Python "
                            f"it was built on ({manifest.python_executable}) has probably changed", rebuild)]
        if version != manifest.python_version:
            problems.append(Problem("stale", f"the env was built on Python {manifest.python_version} but its "
                                    f"interpreter is now {version}: the cluster's Python changed", rebuild))
    site = site_packages(prefix, manifest.python_minor)
    if probe is not None:
        # doctor only: one small read per package, so list stays at a few files per kernel
        differ = disagreements(manifest.installed, site)
        if differ:
            more = f" (and {len(differ) - 1} more)" if len(differ) > 1 else ""
            problems.append(Problem("packages", f"the env differs from its manifest: {differ[0]}{more}", rebuild))
    if not (site / "ipykernel" / "__init__.py").is_file():
        # With --system-site-packages it may come from the interpreter's own packages: only
        # running it can tell, so doctor asks and list gives it the benefit of the doubt.
        runs, detail = (probe.imports(python, "ipykernel") if probe else
                        (manifest.options.system_site_packages, "it is not in the env"))
        if not runs:
            problems.append(Problem("interpreter", f"ipykernel does not import: {detail}", rebuild))
    pip_conf = prefix / "pip.conf"
    try:
        offline = "no-index = true" in pip_conf.read_text(encoding="utf-8", errors="replace")
    except OSError:
        offline = False
    if not offline:
        problems.append(Problem("offline", f"{pip_conf} does not keep pip offline (no-index)", rebuild))
    return problems


def _modules(name: str, config: LaunchConfig, manifest: Manifest, probe: Probe | None) -> list[Problem]:
    """The kernel's modules, checked with the module system its launcher will use: a file
    lookup on the recorded MODULEPATH; with ``probe``, the module command for what it misses."""
    if not config.modules or config.module_system is None:
        return []
    recorded = config.module_system
    system = ModuleSystem(recorded.kind, tuple(recorded.command), recorded.modulepath)
    elsewhere = f"Run kernelctl where 'module load' works, then kernelctl rebuild {name}"
    if system.missing_program():
        return [Problem("modules", f"the module command is gone ({system.missing_program()})", elsewhere)]
    unfound = [m for m in config.modules if not on_modulepath(m, system.modulepath)]
    if probe is not None:
        try:
            unfound = [m for m in unfound if not probe.module_available(system, m)]
        except KernelctlError as err:
            return [Problem("modules", err.message, elsewhere)]

    def recreate(gone: str) -> str:
        kept = " ".join(f"--module {'NEW' if m == gone else m}" for m in manifest.options.modules)
        return (f"module spider {gone.split('/')[0]}  # then, with its replacement as NEW: "
                f"kernelctl create {name} --force {kept} -r <(kernelctl export {name})")

    return [Problem("modules", f"module not found: {m}", recreate(m)) for m in unfound]
