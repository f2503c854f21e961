"""Kernelspecs: what kernelctl writes for Jupyter, and how it swaps them in safely.

Lookup, listing and removal go through jupyter_client's :class:`KernelSpecManager`, so
kernelctl sees exactly the kernels Jupyter sees (``JUPYTER_DATA_DIR``, ``JUPYTER_PATH``).
Installing does not use ``KernelSpecManager.install_kernel_spec``: that deletes the old
directory and copies the new one file by file, so a crash in between leaves a launcher entry
with missing files. Instead the spec is written in a staging directory next to the
destination and moved in with ``rename``, or, when replacing, file by file with
``os.replace`` and kernel.json last, so every instant shows a complete, working spec.

Every spec carries the kernelctl logo of its language (``kernelspecs/LANGUAGE/`` at the
repo root, shipped in the package as ``kernelctl/kernelspecs``), or the user's own.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kernelctl.errors import KernelctlError, UsageError
from kernelctl.fsutil import check_own_dir, own_dir, read_small_text, remove_tree, write_atomic
from kernelctl.location import STAGING, Location
from kernelctl.manifest import MANIFEST_NAME

if TYPE_CHECKING:
    from jupyter_client.kernelspec import KernelSpecManager

TEMPLATES = Path(__file__).with_name("kernelspecs")
LOGO_FILES = ("logo-32x32.png", "logo-64x64.png", "logo-svg.svg")
# What a user's logo becomes, by its extension. Jupyter cannot resize without extra
# dependencies, and JupyterLab shows the 64x64 PNG, scaled, when there is no SVG.
USER_LOGO_NAMES = {".png": "logo-64x64.png", ".svg": "logo-svg.svg"}


def spec_manager() -> KernelSpecManager:
    # Imported here: jupyter_client takes a tenth of a second to import, which a build
    # spends in the background while it installs (see kernelctl.background).
    from jupyter_client.kernelspec import KernelSpecManager

    return KernelSpecManager()



@dataclass(frozen=True)
class InstalledSpec:
    """A kernelspec Jupyter can see."""

    name: str
    resource_dir: Path
    spec: dict[str, Any]

    @property
    def kernelctl(self) -> dict[str, Any] | None:
        """kernelctl's metadata, or None for a kernel kernelctl did not make (or whose
        kernel.json is too damaged to say where its env is)."""
        meta = self.spec.get("metadata") if isinstance(self.spec, dict) else None
        value = meta.get("kernelctl") if isinstance(meta, dict) else None
        return value if isinstance(value, dict) and isinstance(value.get("prefix"), str) else None


def find_spec(name: str) -> InstalledSpec | None:
    """The kernelspec Jupyter would launch for ``name``, if any."""
    try:
        resource_dir = spec_manager().find_kernel_specs()[name]
    except KeyError:
        return None
    found = read_spec(Path(resource_dir).parent, Path(resource_dir).name)  # Jupyter lowercases names
    return InstalledSpec(name, Path(resource_dir), found.spec if found else {})


def spec_json(data: dict[str, Any]) -> str:
    """How kernelctl writes kernel.json and the launch config: readable, one key a line."""
    return json.dumps(data, indent=1) + "\n"


def read_spec(kernels_dir: Path, name: str) -> InstalledSpec | None:
    """The spec ``name`` in ``kernels_dir`` itself, whether or not Jupyter's path includes it."""
    resource_dir = kernels_dir / name
    try:
        spec = json.loads(read_small_text(resource_dir / "kernel.json"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, RecursionError):  # damaged: no kernelctl metadata to trust
        spec = {}
    return InstalledSpec(name, resource_dir, spec if isinstance(spec, dict) else {})


def name_holder(name: str, location: Location) -> Path | None:
    """Another kernelspec that Jupyter would start for ``name`` even once ``name`` is in
    ``location``: one whose directory name is ``name`` but for case (Jupyter lowercases the
    names it finds) in ``location``'s kernels dir, or, for a personal kernel, one of the name
    in any case in a directory that comes before it on Jupyter's path.
    """
    # KernelSpecManager's kernel_dirs but for the IPython dir it adds last (after any kernels
    # dir a Location has), without importing jupyter_client, which a build needs only later.
    from jupyter_core.paths import jupyter_path

    dirs = [Path(d) for d in jupyter_path("kernels")]
    ahead = [] if location.shared or location.kernels_dir not in dirs else dirs[:dirs.index(location.kernels_dir)]
    for directory in [*ahead, location.kernels_dir]:
        try:
            entries = os.listdir(directory)
        except OSError:
            continue
        for entry in entries:
            found = directory / entry
            if entry.lower() == name and found != location.kernels_dir / name and (found / "kernel.json").is_file():
                return found
    return None


def check_name_free(name: str, location: Location) -> None:
    """Refuse ``name`` when :func:`name_holder` finds a kernelspec that would take its place."""
    holder = name_holder(name, location)
    if holder is not None:
        raise KernelctlError(
            f"Jupyter would not start a new kernel {name!r}: {holder} holds that name "
            "(Jupyter matches kernel names case-insensitively, first on its path wins)",
            f"Choose another name, or move {holder} out of the way first.")


def kernelctl_metadata(name: str, prefix: Path, location: Location) -> dict[str, Any]:
    """kernel.json's ``metadata.kernelctl``: enough to find the env, its manifest and location."""
    return {"name": name, "env": str(location.envs_dir / name), "prefix": str(prefix),
            "manifest": str(prefix / MANIFEST_NAME), "home": str(location.home), "shared": location.shared}


def all_specs() -> list[InstalledSpec]:
    """Every kernelspec Jupyter can see, sorted by name."""
    found = []
    for name, info in sorted(spec_manager().get_all_specs().items()):
        found.append(InstalledSpec(name, Path(info["resource_dir"]), info["spec"]))
    return found


def unreadable_specs() -> dict[str, Path]:
    """Kernelspecs Jupyter finds but cannot load (a kernel.json that is not valid JSON, ...),
    which it leaves out of its listings without a word."""
    manager = spec_manager()
    loaded = manager.get_all_specs()
    return {name: Path(path) for name, path in manager.find_kernel_specs().items() if name not in loaded}


def logo_files(language: str = "python", logo: Path | None = None) -> dict[str, Path]:
    """The logo files of a spec, as file name -> source path.

    Without ``logo``, kernelctl's mark for ``language``. With it, the user's file alone, by
    extension: a ``.png`` (square; Jupyter scales it) as ``logo-64x64.png``, an ``.svg`` as
    ``logo-svg.svg``. kernelctl's own logos are then left out, because JupyterLab prefers the
    SVG to the PNG and other front ends the PNGs, and a kernel should not show two different
    logos depending on where it is looked at.
    """
    if logo is None:
        templates = TEMPLATES / language
        if not templates.is_dir():
            raise ValueError(f"no kernelspec template for language {language!r} in {TEMPLATES}")
        return {filename: templates / filename for filename in LOGO_FILES}
    target = USER_LOGO_NAMES.get(logo.suffix.lower())
    if target is None:
        raise UsageError(f"cannot use {logo} as a kernel logo: it must be a .png or an .svg file",
                         "Pass a square PNG (64x64 looks sharpest) or an SVG.")
    if not logo.is_file():
        raise UsageError(f"logo file not found: {logo}")
    return {target: logo}


def stage(kernels_dir: Path, name: str, kernel_json: dict[str, Any], files: dict[str, Path | str],
          language: str = "python", logo: Path | None = None) -> Path:
    """Write a complete spec for ``name`` into a fresh staging dir; return the spec dir.

    The staging dir lives under ``kernels_dir/.kernelctl-staging/`` (same filesystem, so the
    final move is a rename). Jupyter skips it: ``.kernelctl-staging`` holds no kernel.json.
    ``files`` maps a file name to a source path to copy or to text to write. The logos come
    from :func:`logo_files` (``language``'s kernelctl mark, or ``logo``) and are checked
    before anything is written.
    """
    files = {**logo_files(language, logo), **files}
    kernels_dir.mkdir(parents=True, exist_ok=True)
    attempt = own_dir(kernels_dir / STAGING) / secrets.token_hex(6)
    try:
        attempt.mkdir()
        spec_dir = attempt / name
        spec_dir.mkdir()
        for filename, content in files.items():
            if isinstance(content, Path):
                shutil.copyfile(content, spec_dir / filename)
            else:
                (spec_dir / filename).write_text(content, encoding="utf-8")
        (spec_dir / "kernel.json").write_text(spec_json(kernel_json), encoding="utf-8")
    except BaseException:  # a full disk, or Ctrl-C half-way: the caller has no staged spec to discard
        shutil.rmtree(attempt, ignore_errors=True)
        raise
    return spec_dir


def commit(staged: Path, kernels_dir: Path) -> Path:
    """Move a staged spec into place atomically; return its final directory."""
    final = kernels_dir / staged.name
    check_own_dir(final, owned=False)  # replacing a spec of any owner, but never through a link
    try:
        os.rename(staged, final)
    except OSError:
        if not final.is_dir():
            raise
        # Replace in place: each file atomically, kernel.json last, so that at any instant
        # the spec on disk is either the old or the new complete one.
        names = sorted(p.name for p in staged.iterdir() if p.name != "kernel.json") + ["kernel.json"]
        for filename in names:
            os.replace(staged / filename, final / filename)
        for leftover in final.iterdir():
            if leftover.name not in names:
                remove_tree(leftover)
    discard_staging(staged)
    return final


def discard_staging(staged: Path) -> None:
    """Remove a staging dir (the per-attempt directory holding ``staged``)."""
    remove_tree(staged.parent)
    try:
        staged.parent.parent.rmdir()  # .kernelctl-staging itself, once empty
    except OSError:
        pass


def clean_stale_staging(kernels_dir: Path, name: str) -> None:
    """Remove staging dirs for ``name`` left by an interrupted command (call under the lock)."""
    if not check_own_dir(kernels_dir / STAGING):
        return
    for leftover in (kernels_dir / STAGING).glob(f"*/{name}"):
        discard_staging(leftover)


def update_kernel_json(resource_dir: Path, spec: dict[str, Any]) -> None:
    write_atomic(resource_dir / "kernel.json", spec_json(spec))


def remove(spec: InstalledSpec) -> None:
    """Remove ``spec``'s directory (only the link, if it is one): the very spec that was
    checked, not whatever Jupyter's case-insensitive lookup of its name finds now."""
    remove_tree(spec.resource_dir)
