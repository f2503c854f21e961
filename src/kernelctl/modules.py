"""Lmod and Environment Modules: finding the module system, loading modules, checking them.

Kernels load their modules at every start, in the stdlib-only launcher next to their
kernelspec (see :mod:`kernelctl.launcher.kernelctl_launch`). This module does the
create-time half: it finds the module system in kernelctl's environment, loads the
modules into kernelctl's own environment for the build (so ``--module python/3.11``
supplies the interpreter), records what the launcher needs to run the module command
without the Jupyter server's module variables, and checks later that the modules still
exist. Module names are only ever passed as arguments, never through a shell.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kernelctl.errors import KernelctlError, UsageError
from kernelctl.launcher.kernelctl_launch import ModuleError, load_modules, module_command

LMOD = "lmod"
TCL = "tcl"

# What module names are made of (python/3.11, StdEnv/2023, Python/3.11.3-GCCcore-12.3.0,
# gtk+/3, py-numpy@1.26). Anything else is refused before a module command sees it: Lmod
# 8.6 passes some names to a shell of its own (a name with a quote in it runs code there),
# and a leading "-" would be read as an option.
_MODULE_NAME = re.compile(r"^[A-Za-z0-9_.+@][A-Za-z0-9_.+@/-]*$")


def check_names(names: Sequence[str]) -> list[str]:
    """``names`` as a list, or :class:`UsageError` for the first one no module can have."""
    for name in names:
        if not _MODULE_NAME.match(name):
            raise UsageError(f"{name!r} is not a module name",
                             "Module names use letters, digits and . _ + @ - / only (e.g. scipy-stack/2024a).")
    return list(names)


@dataclass(frozen=True)
class ModuleSystem:
    """How to run the module command: its kind, its argv, and the MODULEPATH to use."""

    kind: str
    command: tuple[str, ...]
    modulepath: str

    @property
    def label(self) -> str:
        return "Lmod" if self.kind == LMOD else "Environment Modules"

    def config(self) -> dict[str, Any]:
        """The ``module_system`` entry of the launch config."""
        return {"kind": self.kind, "command": list(self.command), "modulepath": self.modulepath}

    def missing_program(self) -> str | None:
        """The first absolute path in the command that no longer exists: the command is gone."""
        return next((part for part in self.command if os.path.isabs(part) and not os.path.exists(part)), None)

    @classmethod
    def from_config(cls, data: Mapping[str, Any]) -> ModuleSystem:
        return cls(data["kind"], tuple(data["command"]), data["modulepath"])


def _script_command(path: str) -> tuple[str, ...]:
    """argv that runs the module command script at ``path`` without PATH at launch time.

    A ``#!/usr/bin/env tclsh`` (or ``lua``) script would need its interpreter on the
    kernel's PATH, which the Jupyter server may not have; so the interpreter is resolved
    now and recorded in front of the script.
    """
    try:
        with open(path, "rb") as f:
            first = f.readline(512).decode("utf-8", "replace")
    except OSError:
        return (path,)
    words = first[2:].split() if first.startswith("#!") else []
    if len(words) >= 2 and os.path.basename(words[0]) == "env":
        interpreter = shutil.which(words[1])
        if interpreter:
            return (interpreter, *words[2:], path)
    return (path,)


def detect(environ: Mapping[str, str] | None = None) -> ModuleSystem:
    """The module system of ``environ`` (default: kernelctl's environment).

    Looked for in this order: ``$LMOD_CMD``, ``$MODULES_CMD`` (Environment Modules 4+),
    ``$LMOD_PKG/libexec/lmod``, then ``modulecmd`` on PATH.
    """
    environ = os.environ if environ is None else environ
    candidates = [
        (LMOD, environ.get("LMOD_CMD")),
        (TCL, environ.get("MODULES_CMD")),
        (LMOD, os.path.join(environ["LMOD_PKG"], "libexec", "lmod") if environ.get("LMOD_PKG") else None),
        (TCL, shutil.which("modulecmd", path=environ.get("PATH", os.defpath))),
    ]
    for kind, path in candidates:
        if path and os.path.isfile(path) and os.access(path, os.X_OK):
            return ModuleSystem(kind, _script_command(os.path.abspath(path)), environ.get("MODULEPATH", ""))
    raise KernelctlError(
        "no module system found (no LMOD_CMD, MODULES_CMD or LMOD_PKG, and no modulecmd on PATH)",
        "Run kernelctl where 'module load' works (a login shell on the cluster), or drop --module/--purge.",
    )


def load(system: ModuleSystem, names: Sequence[str], purge: bool,
         environ: Mapping[str, str]) -> dict[str, str]:
    """``environ`` after ``module purge`` (if asked) and ``module load NAMES...``.

    Raises :class:`KernelctlError` with the module system's own message on failure.
    """
    env = dict(environ)
    try:
        load_modules({"module_system": system.config(), "modules": list(names), "purge": purge}, env)
    except ModuleError as err:
        raise KernelctlError(str(err), "Check the name with 'module spider NAME' (or 'module avail'); "
                                       "nothing was created.") from None
    return env


@contextmanager
def loaded(names: Sequence[str], purge: bool,
           system: ModuleSystem | None = None) -> Iterator[ModuleSystem | None]:
    """Load ``names`` into kernelctl's own environment for the duration of the block, with
    ``system`` (a kernel's recorded one, on rebuild) or else the one found in the environment.

    Yields the module system, with MODULEPATH as it is after loading (so a module that
    extends MODULEPATH, such as a compiler in a hierarchy, still finds its dependents at
    launch), or None when there is nothing to load. The environment is restored after.
    """
    if not names and not purge:
        yield None
        return
    check_names(names)
    system = system or detect()
    env = load(system, names, purge, os.environ)
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield ModuleSystem(system.kind, system.command, env.get("MODULEPATH", system.modulepath))
    finally:
        os.environ.clear()
        os.environ.update(saved)


def launch_settings(system: ModuleSystem | None, names: Sequence[str], purge: bool) -> dict[str, Any]:
    """The launch-config keys that make the launcher load ``names`` (none without modules)."""
    if system is None or (not names and not purge):
        return {}
    return {"modules": list(names), "purge": purge, "module_system": system.config()}


def on_modulepath(name: str, modulepath: str) -> bool:
    """Whether a modulefile (or version directory) for ``name`` is on ``modulepath``: a file
    lookup that runs nothing. A partial version (``python/3.11`` for ``python/3.11.5``) counts,
    as both module systems' extended defaults resolve it; an alias does not (see :func:`available`)."""
    for directory in filter(None, modulepath.split(os.pathsep)):
        base = Path(directory) / name
        if base.exists() or base.with_name(base.name + ".lua").exists():
            return True
        try:
            if "/" in name and any(entry.name.startswith(base.name + ".") for entry in os.scandir(base.parent)):
                return True
        except OSError:
            continue
    return False


def available(system: ModuleSystem, name: str) -> bool:
    """Whether the module command of ``system`` finds ``name`` (runs it: for what
    :func:`on_modulepath` cannot answer). Raises :class:`KernelctlError` when the command is gone."""
    env = {**os.environ, "MODULEPATH": system.modulepath}
    try:
        module_command(system.config(), env, ["is-avail", name], f"find module {name}")
    except ModuleError as err:
        if system.missing_program():
            raise KernelctlError(f"the module command is gone ({system.missing_program()})", str(err)) from None
        return False
    return True
