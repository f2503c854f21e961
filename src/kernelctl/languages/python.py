"""Python kernels: a virtualenv per generation, filled only from the wheelhouse, ipykernel in it."""

from __future__ import annotations

import os
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kernelctl import bytecode, kernelspec, netguard_config
from kernelctl.backends import Backend, InstallRequest, get_backend
from kernelctl.backends.uv import UvBackend
from kernelctl.background import alongside, import_in_background
from kernelctl.errors import KernelctlError
from kernelctl.interpreter import Interpreter
from kernelctl.launcher import LAUNCHER_NAME
from kernelctl.manifest import Manifest, Options, default_display_name, now
from kernelctl.modules import ModuleSystem, launch_settings
from kernelctl.output import Progress
from kernelctl.requirements import COMMAND_LINE, Requirements, read
from kernelctl.verify import launched, verify_prefix
from kernelctl.venv import (SEEDED, create_virtualenv, installed_distributions, python_of, site_packages,
                            write_pip_config)

if TYPE_CHECKING:
    from kernelctl.build import BuildPlan

LANGUAGE = "python"
KERNEL_PACKAGE = "ipykernel"


def interpreter_of(plan: BuildPlan) -> Interpreter:
    if plan.interpreter is None:
        raise KernelctlError(f"no Python interpreter to build kernel {plan.name!r} on", "Pass --python.")
    return plan.interpreter


def python_argv(prefix: Path, config: dict) -> list[str]:
    """kernel.json's argv for a Python kernel whose launch config is ``config``.

    With modules to load, the launch wrapper, which loads them and then execs
    ``config["exec"]``. Without, ``config["exec"]`` itself: kernel.json's env already puts
    the env first on PATH, so a wrapper would only add the start-up of a second Python.
    Either way the interpreter is the env's, by absolute path: jupyter_client would replace
    a bare "python" with the server's own interpreter.
    """
    if config.get("modules") or config.get("purge"):
        return [str(python_of(prefix)), "-I", "-S", "{resource_dir}/" + LAUNCHER_NAME, "-f", "{connection_file}"]
    return [*config["exec"], "-f", "{connection_file}"]


def kernel_json(plan: BuildPlan, interpreter: Interpreter, prefix: Path, config: dict) -> dict:
    return {
        "argv": python_argv(prefix, config),
        "display_name": plan.options.display_name or default_display_name(plan.name, interpreter.minor),
        "language": plan.options.language,
        "interrupt_mode": "signal",
        "env": {"PATH": f"{prefix / 'bin'}:${{PATH}}", "VIRTUAL_ENV": str(prefix), "PYTHONNOUSERSITE": "1"},
        "metadata": {
            "debugger": True,
            "kernelctl": kernelspec.kernelctl_metadata(plan.name, prefix, plan.location),
        },
    }


def launch_config(prefix: Path, options: Options, module_system: ModuleSystem | None) -> dict:
    """The launcher's config: modules first, then the env's VIRTUAL_ENV and PATH over them."""
    return {
        **launch_settings(module_system, options.modules, options.purge),
        "exec": [str(python_of(prefix)), "-m", "ipykernel_launcher"],
        "env": {"VIRTUAL_ENV": str(prefix)},
        "path": [str(prefix / "bin")],
    }


def _install(plan: BuildPlan, backend: Backend, prefix: Path, requirements: Sequence[str], verbose: bool) -> None:
    backend.install(InstallRequest(python_of(prefix), requirements, plan.wheelhouses,
                                   [c.text for c in plan.constraints], verbose))


def _dist_infos(site: Path) -> set[str]:
    """The ``*.dist-info`` directories in ``site``: one per installed version of a project."""
    return {entry.name for entry in site.iterdir() if entry.name.endswith(".dist-info")}


def _install_and_verify(plan: BuildPlan, backend: Backend, interpreter: Interpreter, prefix: Path,
                        seeds: Sequence[str], staged: Path, verify: bool, progress: Progress,
                        verbose: bool) -> dict[str, str]:
    """Install the plan into the env at ``prefix`` and return what is installed, as the kernel
    staged in ``staged`` reports it when ``verify``.

    A new kernel's verification overlaps the install: once the kernel package is in, the
    kernel starts while the rest installs, and its test cell runs when all is in. If the rest
    replaced any package that was there when the kernel started, that kernel may have loaded
    the old one, so a fresh kernel is started for the test instead.
    Before a kernel starts, the bytecode kept from earlier builds goes into the env, and what
    the verification kernel imported is kept for the next ones (:mod:`kernelctl.bytecode`).
    An install into a copy of a kernel in service (``plan.keep``) puts back its exact
    versions first, then what is added, as an install into that env would.
    """
    site = site_packages(prefix, interpreter.minor)
    kept = [f"{project}=={version}" for project, version in plan.keep.items() if project.lower() not in SEEDED]
    wanted = [KERNEL_PACKAGE, *(r.text for r in plan.requirements)]
    early = verify and not kept and not plan.added
    with ExitStack() as kernels:
        described = ", ".join(dict.fromkeys(wanted + [r.text for r in plan.added]))  # ipykernel once
        before = f"the {len(kept)} packages of the env in service, then " if kept else ""
        with progress.step(f"Installing {before}{described} from the wheelhouse "
                           f"({len(plan.wheelhouses)} dir(s), no index)"):
            # Always there, so that the netguard mode can be switched on later without a
            # rebuild; compiled while the kernel starts, which keeps one CPU busy, not two.
            netguard_config.install_runtime(site, compile=False)
            if verify:  # while the install runs: the kernel is started once it is done
                import_in_background("jupyter_client.manager")
            _install(plan, backend, prefix, [KERNEL_PACKAGE] if early else [*seeds, *wanted, *kept], verbose)
            kernels.enter_context(alongside(netguard_config.compile_runtime, site))
            if early:
                started_with = _dist_infos(site)
                bytecode.restore(site, interpreter.cache_tag, link=not plan.location.shared)
                kernel = kernels.enter_context(launched(staged))
                _install(plan, backend, prefix, [*seeds, *wanted], verbose)
                if not started_with <= _dist_infos(site):
                    kernels.close()
                    early = False
            if plan.added:
                _install(plan, backend, prefix, [r.text for r in plan.added], verbose)
        if not verify:
            return installed_distributions(prefix, plan.name)
        with progress.step("Verifying: starting the kernel and running a cell"):
            if not early:
                bytecode.restore(site, interpreter.cache_tag, link=not plan.location.shared)
                kernel = kernels.enter_context(launched(staged))
            verified = verify_prefix(kernel, prefix, site)
    bytecode.keep(site, interpreter.cache_tag, verified.loaded)
    return verified.installed


def _manifest(plan: BuildPlan, interpreter: Interpreter, prefix: Path) -> Manifest:
    return Manifest(
        name=plan.name, prefix=str(prefix), python_requested=plan.python_requested,
        python_executable=str(interpreter.executable), python_version=interpreter.version,
        wheelhouses=[str(d) for d in plan.wheelhouses],
        requirements=[r.text for r in plan.requirements + plan.added if r.source == COMMAND_LINE],
        requirement_files=[{"path": f.path, "text": f.text} for f in plan.requirement_files],
        requirement_lines=[r.to_dict() for r in plan.requirements + plan.added],
        constraint_lines=[c.to_dict() for c in plan.constraints],
        options=plan.options,
    )


class Python:
    """Python kernels (see :class:`kernelctl.languages.Language`)."""

    name = LANGUAGE
    steps = 3  # virtualenv, kernelspec, install
    env_files: tuple[str, ...] = ()

    def read_packages(self, name: str, packages: Sequence[str],
                      files: Sequence[str | os.PathLike[str]]) -> Requirements:
        return read(packages, files)

    def make_env(self, plan: BuildPlan, prefix: Path, progress: Progress) -> tuple[Backend, list[str]]:
        """Create the virtualenv and its pip.conf; return the backend and the seed packages."""
        interpreter = interpreter_of(plan)
        backend = get_backend(plan.options.backend)
        with progress.step(f"Creating virtualenv (Python {interpreter.version}) in "
                           f"{plan.location.envs_dir / plan.name}"):
            prefix.parent.mkdir(parents=True, exist_ok=True)
            seeds = create_virtualenv(prefix, interpreter, plan.options.system_site_packages,
                                      backend.uv if isinstance(backend, UvBackend) else None)
            write_pip_config(prefix, [str(d) for d in plan.wheelhouses])
        return backend, seeds

    def kernel_files(self, plan: BuildPlan, prefix: Path, system: ModuleSystem | None) -> tuple[dict, dict]:
        config = launch_config(prefix, plan.options, system)
        spec = kernel_json(plan, interpreter_of(plan), prefix, config)
        netguard_config.apply(spec, config, plan.options, plan.wheelhouses)
        spec["argv"] = python_argv(prefix, config)
        return spec, config

    def fill_env(self, plan: BuildPlan, prefix: Path, staged: Path, made: Any, verify: bool,
                 progress: Progress, verbose: bool) -> Manifest:
        backend, seeds = made
        interpreter = interpreter_of(plan)
        manifest = _manifest(plan, interpreter, prefix)
        manifest.installed = _install_and_verify(plan, backend, interpreter, prefix, seeds, staged, verify,
                                                 progress, verbose)
        progress.note(f"{len(manifest.installed)} packages in the env")
        manifest.save()
        return manifest

    def verify(self, staged: Path, prefix: Path, progress: Progress) -> None:
        with progress.step(f"Registering {staged.name!r} again: starting it and running a cell"), \
                launched(staged) as kernel:
            verify_prefix(kernel, prefix)

    def describe(self, manifest: Manifest) -> tuple[str, str]:
        return "python", f"{manifest.python_version} ({manifest.python_executable})"

    def export(self, manifest: Manifest) -> str:
        installed = installed_distributions(Path(manifest.prefix), manifest.name)
        header = [f"# kernelctl export of kernel {manifest.name!r} (Python {manifest.python_version}), {now()}",
                  "# recreate with: kernelctl create NAME -r THIS_FILE"]
        pins = [f"{project}=={version}" for project, version in installed.items() if project.lower() not in SEEDED]
        return "\n".join(header + pins) + "\n"


PYTHON = Python()
