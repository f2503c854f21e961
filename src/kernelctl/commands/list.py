"""``kernelctl list``: the kernels kernelctl made, and whether each still works."""

from __future__ import annotations

import argparse
from typing import Any

from kernelctl import kernelspec
from kernelctl.commands.args import add_json_flag, add_parser
from kernelctl.health import Unregistered, judge
from kernelctl.inventory import Found, inventory
from kernelctl.output import format_table, print_json
from kernelctl.slurmkernel.spec import settings as slurm_settings


def _record(found: Found) -> dict[str, Any]:
    health = judge(found.kernel)  # files only: list starts no process
    manifest = health.manifest
    kernel = found.kernel
    spec = kernel.spec if isinstance(kernel, kernelspec.InstalledSpec) else {}
    return {
        "name": found.name,
        "display_name": spec.get("display_name") or (manifest.display_name if manifest else None),
        "language": spec.get("language") or (manifest.options.language if manifest else None),
        "python": manifest.python_version if manifest else None,
        "env": str(found.location.envs_dir / found.name),
        "modules": manifest.options.modules if manifest else [],
        "packages": len(manifest.installed) if manifest else 0,
        "kernelspec": None if isinstance(kernel, Unregistered) else str(kernel.resource_dir),
        "status": health.status,
        "slurm": slurm_settings(spec),  # None for a kernel that starts locally
    }


def list_kernels() -> list[dict[str, Any]]:
    """One record per kernelctl kernel (those whose kernelspec is gone too, as "unregistered"):
    name, display name, language, Python, env, modules, status. Reads files only."""
    found, _ = inventory()
    return [_record(f) for f in found if f.kernelctl]


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_parser(subparsers, "list",
                        "List the kernels kernelctl made, with their Python, modules and status.\n"
                        "A kernel whose kernelspec is gone is 'unregistered': 'kernelctl doctor --fix'\n"
                        "registers it again.",
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
    rows = [(r["name"], r["display_name"], r["python"] or ("?" if r["language"] == "python" else "-"),
             ", ".join(r["modules"]) or "-", r["status"]) for r in records]
    print(format_table(("NAME", "DISPLAY NAME", "PYTHON", "MODULES", "STATUS"), rows))
    return 0
