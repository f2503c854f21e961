"""Building a kernel: env, install, kernelspec, verification, and the atomic switch.

This is the engine behind ``create`` and ``rebuild``. A kernel is committed in one step at
the very end, by moving its kernelspec into place; until then nothing shows in the
launcher. Each build gets a fresh env *generation* in ``envs/.store/NAME@GEN``, and
``envs/NAME`` is a symlink to the generation in service, so an old env keeps serving its
kernel until the new one has passed verification, and whatever an interrupted build leaves
behind is recognisable and cleaned up by the next command on that name.
"""

from __future__ import annotations

import grp
import os
import secrets
import time
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from kernelctl import julia, kernelspec, netguard_config
from kernelctl.backends import Backend, InstallRequest, get_backend
from kernelctl.backends.uv import UvBackend
from kernelctl.backends.base import disk_full_error, is_disk_full
from kernelctl.errors import KernelctlError, UsageError
from kernelctl.fsutil import point_symlink, remove_tree, share_paths, share_tree
from kernelctl.launcher import CONFIG_NAME, LAUNCHER_NAME, LAUNCHER_SOURCE
from kernelctl.manifest import Manifest, Options, default_display_name
from kernelctl.modules import ModuleSystem, detect, launch_settings
from kernelctl.output import Progress
from kernelctl.location import Location, user_location
from kernelctl.requirements import COMMAND_LINE, Line, RequirementFile
from kernelctl.verify import launched, verify_prefix
from kernelctl.venv import (SEEDED, Interpreter, create_virtualenv, installed_distributions, python_of,
                            site_packages, write_pip_config)

KERNEL_PACKAGE = "ipykernel"


@dataclass
class BuildPlan:
    """Everything needed to build a kernel; a manifest is a plan plus what was installed.

    ``interpreter`` is None for a Julia kernel (no virtualenv). ``module_system`` is the one
    the modules were loaded with for the build; None makes the build find it.
    ``requirements`` and ``constraints`` are vetted lines (:mod:`kernelctl.requirements`).
    ``keep`` holds the versions of an env this build replaces (``kernelctl install``): they
    are installed first, exactly, and ``added`` after them, as an install into that env would.
    """

    name: str
    interpreter: Interpreter | None
    python_requested: str | None
    wheelhouses: list[Path]
    requirements: list[Line]
    constraints: list[Line] = field(default_factory=list)
    requirement_files: list[RequirementFile] = field(default_factory=list)
    keep: dict[str, str] = field(default_factory=dict)
    added: list[Line] = field(default_factory=list)
    options: Options = field(default_factory=Options)
    module_system: ModuleSystem | None = None
    location: Location = field(default_factory=user_location)


def display_name(plan: BuildPlan, interpreter: Interpreter) -> str:
    return plan.options.display_name or default_display_name(plan.name, interpreter.minor)


def generation(name: str, location: Location, path: Path | None) -> Path | None:
    """``path``, resolved, if it is one of ``name``'s env generations in ``location``'s store.

    Everything kernelctl deletes passes through here, so a damaged or edited kernel.json, a
    symlinked prefix or another kernel's spec can never make it delete anything else.
    """
    if path is None:
        return None
    try:
        resolved = path.resolve()
        store = location.store_dir.resolve()
    except (OSError, RuntimeError):
        return None
    if resolved.parent == store and resolved.name.startswith(f"{name}@"):
        return resolved
    return None


def in_service(name: str, location: Location) -> set[Path]:
    """The generations of ``name`` something still uses: the one its kernelspec in
    ``location`` names and the one ``envs/NAME`` points to (they differ only briefly)."""
    spec = kernelspec.read_spec(location.kernels_dir, name)
    named = Path(spec.kernelctl["prefix"]) if spec is not None and spec.kernelctl else None
    link = location.envs_dir / name
    linked = link if link.is_symlink() else None
    return {g for g in (generation(name, location, named), generation(name, location, linked)) if g}


def linked_generation(name: str, location: Location) -> Path | None:
    """The generation ``envs/NAME`` points to, if it is one."""
    link = location.envs_dir / name
    return generation(name, location, link) if link.is_symlink() else None


def running_from(prefix: Path) -> bool:
    """Whether some process was started from the env at ``prefix``: a kernel started before
    the switch to a newer generation runs from the old one until it is restarted."""
    needle = os.fsencode(prefix) + b"/"
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/cmdline", "rb") as cmdline:
                    if needle in cmdline.read():
                        return True
            except OSError:  # gone meanwhile, or not ours to read
                continue
    return False


def clean_leftovers(name: str, location: Location) -> None:
    """Remove what interrupted commands on ``name`` left behind, and old generations no
    kernel runs from any more (call under the name lock)."""
    keep = in_service(name, location)
    for candidate in location.store_dir.glob(f"{name}@*"):
        if generation(name, location, candidate) not in keep and not running_from(candidate):
            remove_tree(candidate)
    link = location.envs_dir / name
    if link.is_symlink() and not link.exists():
        link.unlink()
    kernelspec.clean_stale_staging(location.kernels_dir, name)


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
        "display_name": display_name(plan, interpreter),
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


def _module_system(plan: BuildPlan) -> ModuleSystem | None:
    """The module system the kernel's launcher will run, when it has modules to load."""
    if not plan.options.modules and not plan.options.purge:
        return None
    return plan.module_system or detect()


def _recorded_logo(options: Options) -> Path | None:
    """The user's logo, while its file exists (a rebuild falls back to kernelctl's own)."""
    return Path(options.logo) if options.logo and Path(options.logo).is_file() else None


def _new_generation(name: str, location: Location) -> Path:
    return location.store_dir / f"{name}@{time.strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(3)}"


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
    An install into a copy of a kernel in service (``plan.keep``) puts back its exact
    versions first, then what is added, as an install into that env would.
    """
    site = site_packages(prefix, interpreter.minor)
    kept = [f"{project}=={version}" for project, version in plan.keep.items() if project.lower() not in SEEDED]
    wanted = [KERNEL_PACKAGE, *(r.text for r in plan.requirements)]
    early = verify and not kept and not plan.added
    with ExitStack() as kernels:
        described = ", ".join(wanted + [r.text for r in plan.added])
        before = f"the {len(kept)} packages of the env in service, then " if kept else ""
        with progress.step(f"Installing {before}{described} from the wheelhouse "
                           f"({len(plan.wheelhouses)} dir(s), no index)"):
            # Always there, so that the netguard mode can be switched on later without a rebuild.
            netguard_config.install_runtime(site)
            if early:
                _install(plan, backend, prefix, [*seeds, KERNEL_PACKAGE], verbose)
                started_with = _dist_infos(site)
                kernel = kernels.enter_context(launched(staged))
                _install(plan, backend, prefix, wanted, verbose)
                if not started_with <= _dist_infos(site):
                    kernels.close()
                    early = False
            else:
                _install(plan, backend, prefix, [*seeds, *wanted, *kept], verbose)
            if plan.added:
                _install(plan, backend, prefix, [r.text for r in plan.added], verbose)
        if not verify:
            return installed_distributions(prefix, plan.name)
        with progress.step("Verifying: starting the kernel and running a cell"):
            if not early:
                kernel = kernels.enter_context(launched(staged))
            return verify_prefix(kernel, prefix)


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


def _stage(plan: BuildPlan, spec: dict, config: dict) -> Path:
    """Write the kernelspec into the staging area; a full Jupyter data dir is named as such."""
    try:
        return kernelspec.stage(plan.location.kernels_dir, plan.name, spec, {
            LAUNCHER_NAME: LAUNCHER_SOURCE,
            CONFIG_NAME: kernelspec.spec_json(config),
        }, language=plan.options.language, logo=_recorded_logo(plan.options))
    except OSError as err:
        if is_disk_full(err):  # not necessarily the device that holds the env
            raise disk_full_error(plan.location.kernels_dir, jupyter=True) from None
        raise


def build(plan: BuildPlan, *, verify: bool = True, progress: Progress | None = None,
          verbose: bool = False) -> Manifest:
    """Build the kernel described by ``plan`` and put it in service (call under the name lock).

    A shared kernel is built under a umask that lets its readers in, whatever the caller's.
    """
    if not plan.location.shared:
        return _build(plan, verify, progress, verbose)
    group_id(plan.options.group)  # a recorded group that has since gone stops us before any work
    saved = os.umask(0o027 if plan.options.group else 0o022)
    try:
        return _build(plan, verify, progress, verbose)
    finally:
        os.umask(saved)


def group_id(group: str | None) -> int:
    """The id of ``group`` (-1 for none), or an error saying it does not exist."""
    if group is None:
        return -1
    try:
        return grp.getgrnam(group).gr_gid
    except KeyError:
        raise UsageError(f"no such group {group!r}", "Use a group listed by 'id' or 'getent group'.") from None


def _build(plan: BuildPlan, verify: bool, progress: Progress | None, verbose: bool) -> Manifest:
    """The build itself. On any failure, including Ctrl-C, everything this build made is removed and the kernel in
    service before (if any) is untouched.
    """
    progress = progress or Progress(enabled=False)
    # A Julia kernel has no env to create and install into: one step, plus verification.
    progress.total = (1 if plan.options.language == julia.LANGUAGE else 3) + int(verify)
    prefix = _new_generation(plan.name, plan.location)
    staged: Path | None = None
    kernels_dir = plan.location.kernels_dir
    module_system = _module_system(plan)
    try:
        if plan.options.language == julia.LANGUAGE:
            settings = julia.settings_of(plan.options)
            manifest = julia.write_manifest(plan, prefix)
            spec = julia.kernel_json(plan, prefix, settings)
            config = julia.launch_config(plan, settings, module_system)
            with progress.step("Writing the kernelspec"):
                staged = _stage(plan, spec, config)
            if verify:
                julia.verify(staged, progress)
        elif plan.interpreter is None:
            raise KernelctlError(f"no Python interpreter to build kernel {plan.name!r} on", "Pass --python.")
        else:
            interpreter = plan.interpreter
            backend = get_backend(plan.options.backend)
            with progress.step(f"Creating virtualenv (Python {interpreter.version}) in "
                               f"{plan.location.envs_dir / plan.name}"):
                prefix.parent.mkdir(parents=True, exist_ok=True)
                seeds = create_virtualenv(prefix, interpreter, plan.options.system_site_packages,
                                          backend.uv if isinstance(backend, UvBackend) else None)
                write_pip_config(prefix, [str(d) for d in plan.wheelhouses])
            config = launch_config(prefix, plan.options, module_system)
            spec = kernel_json(plan, interpreter, prefix, config)
            netguard_config.apply(spec, config, plan.options, plan.wheelhouses)
            spec["argv"] = python_argv(prefix, config)
            with progress.step("Writing the kernelspec"):
                staged = _stage(plan, spec, config)
            manifest = _manifest(plan, interpreter, prefix)
            manifest.installed = _install_and_verify(plan, backend, interpreter, prefix, seeds, staged, verify,
                                                     progress, verbose)
            progress.note(f"{len(manifest.installed)} packages in the env")
            manifest.save()
        if plan.location.shared:
            gid = group_id(plan.options.group)
            share_paths(plan.location.shared_dirs(), gid)
            share_tree(prefix, gid)
            share_tree(staged, gid)
        previous = in_service(plan.name, plan.location)
        kernelspec.commit(staged, kernels_dir)  # the commit point: the launcher shows it now
        staged = None
    except OSError as err:
        _discard(prefix, staged)
        if is_disk_full(err):
            raise disk_full_error(plan.location.store_dir) from None
        raise KernelctlError(f"cannot build the env: {err}",
                             "Check that KERNELCTL_HOME and the Jupyter data dir are writable.") from None
    except BaseException:
        _discard(prefix, staged)
        raise
    # Committed: from here on the new env is in service and must never be discarded.
    point_symlink(plan.location.envs_dir / plan.name, prefix)
    for old in previous - {prefix.resolve()}:
        if not running_from(old):  # else the next command on the name removes it, once unused
            remove_tree(old)
    return manifest


def share_written(location: Location, group: str | None, paths: Sequence[Path]) -> None:
    """Give ``paths`` (and what directories among them hold), just written into a shared
    kernel, the modes and group that ``build`` gives a shared kernel; nothing for a user's own."""
    if not location.shared:
        return
    gid = group_id(group)
    for path in paths:
        if path.is_dir():
            share_tree(path, gid)
        else:
            share_paths([path], gid)


def _discard(prefix: Path, staged: Path | None) -> None:
    if staged is not None:
        kernelspec.discard_staging(staged)
    remove_tree(prefix)

