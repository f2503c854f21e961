"""``kernelctl list``: the kernels kernelctl made, and whether each still works."""

from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path
from typing import Any

from kernelctl import kernelspec
from kernelctl.commands.args import add_json_flag, add_parser
from kernelctl.errors import KernelctlError
from kernelctl.manifest import load_manifest
from kernelctl.modules import recorded_missing
from kernelctl.output import format_table, print_json
from kernelctl.slurmkernel.spec import settings as slurm_settings


def module_status(spec: kernelspec.InstalledSpec) -> str | None:
    """Why the kernel's modules would not load (a module or the module command is gone), or None.

    Uses the module system recorded in the kernel's launch config, as the kernel will.
    """
    try:
        gone = recorded_missing(spec.resource_dir)
    except KernelctlError as err:
        return f"broken: {err.message}"
    if gone:
        return f"broken: module{'s' if len(gone) > 1 else ''} not found: {', '.join(gone)}"
    return None


def kernel_status(spec: kernelspec.InstalledSpec) -> tuple[str, dict[str, Any]]:
    """``("ok" | "broken: why", manifest dict or {})`` from files alone, without starting anything."""
    prefix = Path(spec.kernelctl["prefix"])  # type: ignore[index]
    argv0 = (spec.spec.get("argv") or [""])[0]
    if not prefix.is_dir():
        return f"broken: env missing ({prefix})", {}
    try:
        manifest = load_manifest(prefix).to_dict()
    except KernelctlError as err:
        return f"broken: {err.message}", {}
    # A bare "python3" (Julia kernels) is the Jupyter server's own interpreter.
    if not os.access(argv0, os.X_OK) and not (os.sep not in argv0 and shutil.which(argv0)):
        return f"broken: interpreter missing ({argv0})", manifest
    return module_status(spec) or "ok", manifest


def list_kernels() -> list[dict[str, Any]]:
    """One record per kernelctl kernel: name, display name, language, Python, env, modules, status."""
    records = []
    for spec in kernelspec.all_specs():
        if spec.kernelctl is None:
            continue
        status, manifest = kernel_status(spec)
        records.append({
            "name": spec.name,
            "display_name": spec.spec.get("display_name"),
            "language": spec.spec.get("language"),
            "python": manifest.get("python_version"),
            "env": spec.kernelctl.get("env"),
            "modules": manifest.get("options", {}).get("modules", []),
            "packages": len(manifest.get("installed", {})),
            "kernelspec": str(spec.resource_dir),
            "status": status,
            "slurm": slurm_settings(spec.spec),  # None for a kernel that starts locally
        })
    return records


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_parser(subparsers, "list",
                        "List the kernels kernelctl made, with their Python, modules and status.",
                        "  kernelctl list\n  kernelctl list --json")
    add_json_flag(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    records = list_kernels()
    if args.json:
        print_json(records)
        return 0
    if not records:
        print("No kernelctl kernels yet. Create one with 'kernelctl create NAME [PKG...]'.")
        return 0
    rows = [(r["name"], r["display_name"], r["python"] or ("-" if r["language"] == "julia" else "?"),
             ", ".join(r["modules"]) or "-", r["status"]) for r in records]
    print(format_table(("NAME", "DISPLAY NAME", "PYTHON", "MODULES", "STATUS"), rows))
    return 0
