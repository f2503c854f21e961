"""Finding a kernelctl kernel (and its lock) by name, for the commands that act on one."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kernelctl import kernelspec
from kernelctl.errors import KernelctlError, UsageError
from kernelctl.fsutil import check_own_dir
from kernelctl.health import REREGISTER
from kernelctl.inventory import live_env
from kernelctl.kernelfiles import DamagedFile, LaunchConfig, kernel_metadata, load_checked, read_json
from kernelctl.launcher import CONFIG_NAME
from kernelctl.location import Location, location_of, user_location
from kernelctl.locking import name_lock
from kernelctl.manifest import Manifest, load_manifest
from kernelctl.names import validate_name


@dataclass(frozen=True)
class Kernel:
    """A kernel kernelctl made: its kernelspec and the manifest of its env."""

    spec: kernelspec.InstalledSpec
    manifest: Manifest

    @property
    def prefix(self) -> Path:
        return Path(self.manifest.prefix)

    @property
    def location(self) -> Location:
        return location_of(self.spec.resource_dir, self.spec.kernelctl or {})

    def launch_config(self) -> dict[str, Any]:
        """The launcher's config next to the kernelspec, validated ({} when there is none;
        :class:`DamagedFile` when it is damaged)."""
        try:
            return load_checked(LaunchConfig, self.spec.resource_dir / CONFIG_NAME, REREGISTER)
        except FileNotFoundError:
            return {}


def find_kernelctl_spec(name: str) -> kernelspec.InstalledSpec:
    """The kernelspec of the kernelctl kernel ``name``, or an error saying what to do instead."""
    validate_name(name)
    spec = kernelspec.find_spec(name)
    if spec is None:
        if live_env(name, user_location()):
            raise KernelctlError(f"kernel {name!r} has an env but no kernelspec (the Jupyter data dir was deleted?)",
                                 f"Fix: {REREGISTER} (registers it again from its manifest)")
        raise KernelctlError(f"no kernel named {name!r}", "Run 'kernelctl list' to see your kernels "
                             "(a shared kernel is found when its share/jupyter is on JUPYTER_PATH).")
    path = spec.resource_dir / "kernel.json"
    if not spec.spec and not isinstance(read_json(path, REREGISTER), dict):  # read_json says if it is not JSON
        raise DamagedFile(path, "it is not a JSON object", REREGISTER)
    if kernel_metadata(spec.spec, path, REREGISTER) is None:
        raise KernelctlError(
            f"kernel {name!r} ({spec.resource_dir}) was not made by kernelctl",
            "Manage it with 'jupyter kernelspec', or replace it with 'kernelctl create NAME --force'.",
        )
    return spec


def find_kernel(name: str) -> Kernel:
    """The kernelctl kernel called ``name`` with its manifest."""
    spec = find_kernelctl_spec(name)
    prefix = Path(spec.kernelctl["prefix"])  # type: ignore[index]
    if not prefix.is_dir():
        raise KernelctlError(f"the env of kernel {name!r} is missing ({prefix})",
                             f"Run 'kernelctl remove {name} --yes' and create it again.")
    return Kernel(spec, load_manifest(prefix, name))


def find_python_kernel(name: str, action: str) -> Kernel:
    """Like :func:`find_kernel`, for commands that work on a Python env (``action`` says which)."""
    kernel = find_kernel(name)
    language = kernel.manifest.options.language
    if language != "python":
        raise UsageError(f"kernel {name!r} is a {language} kernel: it has no Python env to {action}",
                         "Choose a Python kernel ('kernelctl list' shows them).")
    return kernel


@contextmanager
def locked(name: str) -> Iterator[kernelspec.InstalledSpec]:
    """Hold kernel ``name``'s lock (in its own location) and yield its kernelspec, read under it
    and checked to be a directory of the user's, not a link (kernelctl makes neither)."""
    spec = find_kernelctl_spec(name)
    with name_lock(name, location_of(spec.resource_dir, spec.kernelctl or {})):
        spec = find_kernelctl_spec(name)
        check_own_dir(spec.resource_dir)
        yield spec
