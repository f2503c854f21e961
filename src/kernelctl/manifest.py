"""The manifest: a JSON file inside each env, enough to show, export and rebuild it."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from kernelctl import __version__
from kernelctl.errors import KernelctlError
from kernelctl.fsutil import write_json_atomic

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
    def from_dict(cls, data: dict[str, Any]) -> Manifest:
        """The manifest in ``data``; keys this version does not know (a newer kernelctl's) are ignored."""
        known = {f.name for f in fields(cls)}
        options = {k: v for k, v in data.get("options", {}).items() if k in {f.name for f in fields(Options)}}
        return cls(**{**{k: v for k, v in data.items() if k in known}, "options": Options(**options)})

    def save(self) -> None:
        self.updated = now()
        write_json_atomic(Path(self.prefix) / MANIFEST_NAME, self.to_dict())


def load_manifest(prefix: Path) -> Manifest:
    path = prefix / MANIFEST_NAME
    try:
        return Manifest.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise KernelctlError(
            f"{prefix} has no kernelctl manifest ({MANIFEST_NAME})",
            "The env was not made by kernelctl or is damaged; recreate it with 'kernelctl create --force'.",
        ) from None
    except (ValueError, TypeError, AttributeError) as err:
        raise KernelctlError(
            f"the manifest {path} is damaged ({err})",
            "Recreate the kernel with 'kernelctl create NAME --force PKG...'.",
        ) from None
