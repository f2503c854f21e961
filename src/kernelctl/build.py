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
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from kernelctl import kernelspec, languages
from kernelctl.backends.base import disk_full_error, is_disk_full
from kernelctl.envstore import in_service, new_generation, running_from
from kernelctl.errors import KernelctlError, UsageError
from kernelctl.fsutil import point_symlink, remove_tree, share_paths, share_tree
from kernelctl.interpreter import Interpreter
from kernelctl.launcher import CONFIG_NAME, LAUNCHER_NAME, LAUNCHER_SOURCE
from kernelctl.location import Location, user_location
from kernelctl.manifest import Manifest, Options
from kernelctl.modules import ModuleSystem, detect
from kernelctl.output import Progress
from kernelctl.requirements import Line, RequirementFile

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


def _module_system(plan: BuildPlan) -> ModuleSystem | None:
    """The module system the kernel's launcher will run, when it has modules to load."""
    if not plan.options.modules and not plan.options.purge:
        return None
    return plan.module_system or detect()


def _recorded_logo(options: Options) -> Path | None:
    """The user's logo, while its file exists (a rebuild falls back to kernelctl's own)."""
    return Path(options.logo) if options.logo and Path(options.logo).is_file() else None


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
    language = languages.get(plan.options.language)
    progress.total = language.steps + int(verify)
    prefix = new_generation(plan.name, plan.location)
    staged: Path | None = None
    kernels_dir = plan.location.kernels_dir
    module_system = _module_system(plan)
    try:
        made = language.make_env(plan, prefix, progress)
        spec, config = language.kernel_files(plan, prefix, module_system)
        with progress.step("Writing the kernelspec"):
            staged = _stage(plan, spec, config)
        manifest = language.fill_env(plan, prefix, staged, made, verify, progress, verbose)
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

