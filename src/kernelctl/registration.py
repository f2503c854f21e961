"""Kernels come back: writing a kernelspec again from its env's manifest, verified.

Deleting the Jupyter data dir (the usual fix for a JupyterLab that hangs at start-up:
``rm -r ~/.local/share/jupyter ~/.jupyter``) removes every kernelspec but leaves
kernelctl's envs, each with its manifest and its ``envs/NAME`` link. From the manifest
alone kernelctl can write the kernelspec again, exactly as ``create`` writes it, start it
to check that it runs a cell, and move it into place: no reinstall. A kernelspec that is
there but damaged (kernel.json or the launch config) is replaced the same way.
"""

from __future__ import annotations

from pathlib import Path

from kernelctl import build, kernelspec, languages, modules
from kernelctl.errors import KernelctlError
from kernelctl.fsutil import share_paths, share_tree
from kernelctl.inventory import live_env
from kernelctl.kernelfiles import DamagedFile, kernel_metadata
from kernelctl.launcher import CONFIG_NAME, LAUNCHER_NAME, LAUNCHER_SOURCE
from kernelctl.location import Location
from kernelctl.locking import name_lock
from kernelctl.manifest import load_manifest
from kernelctl.output import Progress
from kernelctl.interpreter import Interpreter


def _replaceable(existing: kernelspec.InstalledSpec | None) -> bool:
    """Whether re-registering may replace the kernelspec ``existing``: none, or kernelctl's and damaged."""
    if existing is None:
        return True
    try:
        return kernel_metadata(existing.spec, existing.resource_dir / "kernel.json", "") is not None or not existing.spec
    except DamagedFile:
        return True


def register_again(name: str, location: Location, progress: Progress | None = None, verify: bool = True) -> Path:
    """Write kernel ``name``'s kernelspec from its env's manifest, start it and run a cell
    (unless not ``verify``), and move it into place; return its directory. Nothing is installed.

    Replaces only a missing kernelspec or a damaged one of kernelctl's, never another's.
    """
    progress = progress or Progress(enabled=False)
    kernels_dir = location.kernels_dir
    with name_lock(name, location):
        prefix = live_env(name, location)
        if prefix is None:
            raise KernelctlError(f"kernel {name!r} has no env to register (no {location.envs_dir / name})",
                                 f"Create it again: kernelctl create {name} PKG...")
        if not _replaceable(kernelspec.read_spec(kernels_dir, name)):
            raise KernelctlError(f"a kernelspec {name!r} that kernelctl did not make is in {kernels_dir}",
                                 f"Remove it first ('jupyter kernelspec remove {name}') if the env should have the name.")
        manifest = load_manifest(prefix, name)
        options = manifest.options
        kernelspec.clean_stale_staging(kernels_dir, name)
        # Loading the modules gives MODULEPATH as the launcher must see it (a hierarchy may extend it).
        with modules.loaded(options.modules, options.purge) as system:
            language = languages.get(options.language)
            interpreter = Interpreter(Path(manifest.python_executable), manifest.python_version) \
                if manifest.python_executable else None
            plan = build.BuildPlan(
                name=name, interpreter=interpreter, python_requested=manifest.python_requested,
                wheelhouses=[Path(d) for d in manifest.wheelhouses], requirements=list(manifest.requirements),
                options=options, module_system=system, location=location)
            spec, config = language.kernel_files(plan, prefix, system)
        logo = Path(options.logo) if options.logo and Path(options.logo).is_file() else None
        staged = kernelspec.stage(kernels_dir, name, spec, {LAUNCHER_NAME: LAUNCHER_SOURCE,
                                                          CONFIG_NAME: kernelspec.spec_json(config)},
                                  language=options.language, logo=logo)
        try:
            if verify:
                language.verify(staged, prefix, progress)
            if location.shared:
                gid = build.group_id(options.group)
                share_paths(location.shared_dirs(), gid)
                share_tree(staged, gid)
            return kernelspec.commit(staged, kernels_dir)
        except BaseException:
            kernelspec.discard_staging(staged)
            raise
