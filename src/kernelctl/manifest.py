"""The manifest: a JSON file inside each env, enough to show, export and rebuild it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from kernelctl import __version__
from kernelctl.errors import KernelctlError
from kernelctl.fsutil import write_json_atomic
from kernelctl.kernelfiles import conform, load

MANIFEST_NAME = "kernelctl.json"
SCHEMA = 1


def default_display_name(name: str, python_minor: str) -> str:
    """What the launcher shows unless told otherwise: the language, its version, the kernel."""
    return f"Python {python_minor} ({name})"


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass
class Options:
    """How the kernel was asked for, beyond its requirements."""

    display_name: str | None = None
    system_site_packages: bool = False
    language: str = "python"
    netguard: str = "warn"
    netguard_allow: list[str] = field(default_factory=list)
    modules: list[str] = field(default_factory=list)
    purge: bool = False
    backend: str = "auto"
    logo: str | None = None
    group: str | None = None
    julia_project: str | None = None
    julia_depot: str | None = None
    r_repos: list[str] = field(default_factory=list)


@dataclass
class Manifest:
    name: str
    prefix: str
    python_requested: str | None
    python_executable: str
    python_version: str
    wheelhouses: list[str]
    requirements: list[str]
    requirement_files: list[dict[str, str]]
    options: Options
    # The vetted requirement and constraint lines, ``{text, source}``, that rebuild installs;
    # None in manifests written before they were recorded (rebuild reads requirement_files).
    requirement_lines: list[dict[str, str]] | None = None
    constraint_lines: list[dict[str, str]] = field(default_factory=list)
    installed: dict[str, str] = field(default_factory=dict)
    # A language's runtime when it is not Python ("R 4.2.2 (/usr/lib/R)"); "" for Python and Julia.
    runtime: str = ""
    created: str = field(default_factory=now)
    updated: str = field(default_factory=now)
    kernelctl_version: str = __version__
    schema: int = SCHEMA

    @property
    def python_minor(self) -> str:
        return ".".join(self.python_version.split(".")[:2])

    @property
    def display_name(self) -> str:
        return self.options.display_name or default_display_name(self.name, self.python_minor)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> Manifest:
        """The manifest in ``data``, every field type-checked (:class:`kernelfiles.SchemaError`
        otherwise); keys this version does not know (a newer kernelctl's) are ignored."""
        return conform(cls, data)

    def save(self) -> None:
        self.updated = now()
        write_json_atomic(Path(self.prefix) / MANIFEST_NAME, self.to_dict())


def recreate_fix(name: str) -> str:
    """The fix for a kernel whose manifest is lost: only a new build brings one back."""
    return f"kernelctl create {name} --force PKG... (rebuild and export need the manifest)"


def load_manifest(prefix: Path, name: str) -> Manifest:
    """The manifest of kernel ``name``'s env at ``prefix``, validated (see :mod:`kernelctl.kernelfiles`)."""
    path = prefix / MANIFEST_NAME
    try:
        return load(Manifest, path, recreate_fix(name))
    except FileNotFoundError:
        raise KernelctlError(f"{prefix} has no kernelctl manifest ({MANIFEST_NAME})",
                             f"Fix: {recreate_fix(name)}") from None
