"""Julia kernels: IJulia started by the launch wrapper after loading modules, offline.

A Julia kernel has no virtualenv and installs nothing: Julia and IJulia come from modules
(on the Alliance clusters, ``ijulia-kernel``, which puts a depot holding IJulia on
JULIA_DEPOT_PATH). kernelctl writes a kernelspec whose launcher loads the modules and then
execs ``julia -i --color=yes --project=PROJECT -e START {connection_file}``, found on the
PATH the modules made. ``START`` imports IJulia and runs its kernel the way IJulia's own
kernelspec does (``IJulia.run_kernel()`` in current releases, IJulia's ``kernel.jl`` in
older ones), so the kernel.jl path need not be known when the kernel is created, where no
julia may be at hand. Pkg is kept offline (``JULIA_PKG_OFFLINE=true``, no package server).

The launcher is run by ``python3``, which jupyter_client replaces by the Jupyter server's
own interpreter: the stdlib-only launcher needs no particular Python, and the kernel then
depends on neither kernelctl's Python nor any env.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kernelctl import kernelspec
from kernelctl.launcher import LAUNCHER_NAME
from kernelctl.manifest import Manifest, Options
from kernelctl.errors import UsageError
from kernelctl.modules import ModuleSystem, launch_settings
from kernelctl.output import Progress
from kernelctl.requirements import Requirements
from kernelctl.verify import run_cell

if TYPE_CHECKING:
    from kernelctl.build import BuildPlan

LANGUAGE = "julia"
DEFAULT_PROJECT = "@."  # IJulia's default: the Project.toml nearest the notebook, else the default env
OFFLINE_ENV = {"JULIA_PKG_OFFLINE": "true", "JULIA_PKG_SERVER": ""}
IJULIA_START = ('import IJulia; isdefined(IJulia, :run_kernel) ? IJulia.run_kernel() : '
                'include(joinpath(dirname(pathof(IJulia)), "kernel.jl"))')
PROBE = "print(VERSION)"


@dataclass(frozen=True)
class JuliaSettings:
    """Where the kernel's Julia looks for packages.

    ``project`` is passed as ``--project`` (a directory or ``@.``); ``depot``, when set, goes
    first on JULIA_DEPOT_PATH, before what the modules put there.
    """

    project: str = DEFAULT_PROJECT
    depot: str | None = None


def default_display_name(name: str) -> str:
    return f"Julia ({name})"


def settings_of(options: Options) -> JuliaSettings:
    """The Julia settings recorded in a kernel's options (the manifest)."""
    return JuliaSettings(options.julia_project or DEFAULT_PROJECT, options.julia_depot)


def write_manifest(plan: BuildPlan, prefix: Path) -> Manifest:
    """Make the kernel's generation directory, which holds only its manifest."""
    prefix.mkdir(parents=True)
    manifest = Manifest(
        name=plan.name, prefix=str(prefix), python_requested=None, python_executable="", python_version="",
        wheelhouses=[], requirements=[], requirement_files=[], options=plan.options,
    )
    manifest.save()
    return manifest


def kernel_json(plan: BuildPlan, prefix: Path, settings: JuliaSettings) -> dict[str, Any]:
    return {
        "argv": ["python3", "-I", "-S", "{resource_dir}/" + LAUNCHER_NAME, "{connection_file}"],
        "display_name": plan.options.display_name or default_display_name(plan.name),
        "language": LANGUAGE,
        "interrupt_mode": "signal",
        "env": {},
        "metadata": {
            "kernelctl": kernelspec.kernelctl_metadata(plan.name, prefix, plan.location),
        },
    }


def launch_config(plan: BuildPlan, settings: JuliaSettings, system: ModuleSystem | None) -> dict[str, Any]:
    config: dict[str, Any] = launch_settings(system, plan.options.modules, plan.options.purge)
    config.update({
        "env": dict(OFFLINE_ENV),
        "exec": ["julia", "-i", "--color=yes", f"--project={settings.project}", "-e", IJULIA_START],
    })
    if settings.depot:
        config["prepend"] = {"JULIA_DEPOT_PATH": [settings.depot]}
    return config


def real_julia() -> str | None:
    """The julia on PATH when it is a working Julia (it answers ``--version``), else None."""
    julia = shutil.which("julia")
    if julia is None:
        return None
    try:
        out = subprocess.run([julia, "--version"], capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    return julia if out.startswith("julia version") else None


def check_kernel(staged: Path, progress: Progress) -> None:
    """Start the kernel and run a cell when a real Julia is on PATH; otherwise say why not."""
    if real_julia() is None:
        progress.note("Verification skipped: no working julia on PATH (after loading the modules), "
                      "so the kernel was not started to check it.")
        return
    with progress.step("Verifying: starting the Julia kernel and running a cell"):
        run_cell(staged, PROBE, timeout=300.0)  # Julia's first start compiles for a while


class Julia:
    """Julia kernels (see :class:`kernelctl.languages.Language`): the generation holds only the manifest."""

    name = LANGUAGE
    steps = 1  # the kernelspec
    env_files: tuple[str, ...] = ()

    def read_packages(self, name: str, packages: Sequence[str],
                      files: Sequence[str | os.PathLike[str]]) -> Requirements:
        if packages or files:
            raise UsageError(f"kernel {name!r} is a julia kernel: it has no Python env to install into",
                             "Add Julia packages to its --julia-project with Pkg, on a login node.")
        return Requirements()

    def make_env(self, plan: BuildPlan, prefix: Path, progress: Progress) -> Manifest:
        return write_manifest(plan, prefix)

    def kernel_files(self, plan: BuildPlan, prefix: Path, system: ModuleSystem | None) -> tuple[dict, dict]:
        settings = settings_of(plan.options)
        return kernel_json(plan, prefix, settings), launch_config(plan, settings, system)

    def fill_env(self, plan: BuildPlan, prefix: Path, staged: Path, made: Any, verify: bool,
                 progress: Progress, verbose: bool) -> Manifest:
        if verify:
            check_kernel(staged, progress)
        return made

    def verify(self, staged: Path, prefix: Path, progress: Progress) -> None:
        check_kernel(staged, progress)

    def describe(self, manifest: Manifest) -> tuple[str, str]:
        options = manifest.options
        return "julia", (f"project {options.julia_project or DEFAULT_PROJECT}, depot "
                         f"{options.julia_depot or '(as the modules set it)'}")


    def export(self, manifest: Manifest) -> str:
        raise UsageError(f"kernel {manifest.name!r} is a julia kernel: it has no Python env to export",
                         "Its packages are those of its --julia-project (Project.toml/Manifest.toml).")


JULIA = Julia()
