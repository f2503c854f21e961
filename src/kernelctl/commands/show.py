"""``kernelctl show``: everything about one kernel."""

from __future__ import annotations

import argparse
from typing import Any

from kernelctl import languages
from kernelctl.commands.args import add_json_flag, add_parser
from kernelctl.commands.common import find_kernel
from kernelctl.health import judge
from kernelctl.manifest import Manifest
from kernelctl.output import print_json
from kernelctl.slurmkernel.spec import settings as slurm_settings


def show(name: str) -> dict[str, Any]:
    """The kernel's manifest, kernelspec location, kernel.json, launch config, and its status
    (as ``list`` judges it) with the part of it that concerns modules."""
    kernel = find_kernel(name)
    health = judge(kernel.spec)
    modules = [p.problem for p in health.problems if p.check == "modules"]
    return {**kernel.manifest.to_dict(), "kernelspec": str(kernel.spec.resource_dir), "kernel_json": kernel.spec.spec,
            "launch": kernel.launch_config(), "status": health.status,
            "module_status": f"broken: {modules[0]}" if modules else "ok",
            "slurm": slurm_settings(kernel.spec.spec)}


def _modules_line(info: dict[str, Any]) -> str:
    """The modules, in load order, and the module system the kernel loads them with."""
    options, system = info["options"], info["launch"].get("module_system")
    names = ", ".join(options["modules"]) or "-"
    if options["purge"]:
        names = f"module purge, then {names}"
    if system is None:
        return names
    kind = "Lmod" if system["kind"] == "lmod" else "Environment Modules"
    return f"{names} ({kind}: {' '.join(system['command'])}; MODULEPATH={system['modulepath']})"


def _slurm_line(slurm: dict[str, Any] | None) -> str:
    if slurm is None:
        return "no (starts where Jupyter runs)"
    return f"own job: {' '.join(slurm['options']) or '(site defaults)'}; queue wait up to {slurm['queue_wait']:.0f} s"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_parser(subparsers, "show",
                        "Show how kernel NAME was made and what its env holds.",
                        "  kernelctl show myenv\n  kernelctl show myenv --json")
    parser.add_argument("name", metavar="NAME")
    add_json_flag(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    info = show(args.name)
    if args.json:
        print_json(info)
        return 0
    options = info["options"]
    label, runtime = languages.get(options["language"]).describe(Manifest.from_dict(info))
    lines = [
        f"name:          {info['name']}",
        f"display name:  {info['kernel_json'].get('display_name')}",
        f"language:      {options['language']}",
        f"{label + ':':<15}{runtime}",
        f"env:           {info['prefix']}",
        f"kernelspec:    {info['kernelspec']}",
        f"wheelhouses:   {', '.join(info['wheelhouses']) or '-'}",
        f"requirements:  {' '.join(info['requirements']) or '-'}"
        + "".join(f" -r {f['path']}" for f in info["requirement_files"]),
        f"modules:       {_modules_line(info)}",
        f"module status: {info['module_status']}",
        f"status:        {info['status']}",
        f"netguard:      {options['netguard']}",
        f"slurm:         {_slurm_line(info['slurm'])}",
        f"created:       {info['created']} (updated {info['updated']})",
        f"packages ({len(info['installed'])}):",
    ]
    lines += [f"  {n}=={v}" for n, v in info["installed"].items()]
    print("\n".join(lines))
    return 0
