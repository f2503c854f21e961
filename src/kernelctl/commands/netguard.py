"""``kernelctl netguard``: show or change a kernel's netguard mode and allowlist."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from typing import Any

from kernelctl import kernelspec, netguard_config
from kernelctl.build import share_written
from kernelctl.commands.args import add_allow_option, add_json_flag, add_parser
from kernelctl.languages.python import python_argv
from kernelctl.commands.common import find_kernel, find_python_kernel, locked
from kernelctl.languages import r
from kernelctl.errors import UsageError
from kernelctl.fsutil import write_atomic
from kernelctl.launcher import CONFIG_NAME
from kernelctl.manifest import MANIFEST_NAME
from kernelctl.output import print_json
from kernelctl.venv import site_packages


def set_netguard(name: str, mode: str | None = None, allow: Sequence[str] | None = None) -> dict[str, Any]:
    """Change kernel ``name``'s netguard mode and/or allowlist (None keeps it); return the settings.

    The launch config is rewritten before kernel.json, each atomically, so a kernel starting
    meanwhile gets the old settings or the new ones. Running kernels keep theirs until restarted.
    """
    with locked(name):
        kernel = find_kernel(name)
        if kernel.manifest.options.language != r.LANGUAGE:
            kernel = find_python_kernel(name, "guard")
        manifest = kernel.manifest
        if mode is not None or allow is not None:
            manifest.options.netguard = mode or manifest.options.netguard
            manifest.options.netguard_allow = list(allow) if allow is not None else manifest.options.netguard_allow
            spec = dict(kernel.spec.spec)
            written = [kernel.spec.resource_dir / "kernel.json", kernel.prefix / MANIFEST_NAME]
            if manifest.options.language == r.LANGUAGE:
                # An R kernel's profile hook reads the mode and allowlist from kernel.json's env.
                spec["env"] = r.netguard_env(spec.get("env", {}), manifest.options)
            else:
                config_path = kernel.spec.resource_dir / CONFIG_NAME
                config = json.loads(config_path.read_text(encoding="utf-8"))
                netguard_config.apply(spec, config, manifest.options, manifest.wheelhouses)
                spec["argv"] = python_argv(kernel.prefix, config)
                runtime = netguard_config.install_runtime(site_packages(kernel.prefix, manifest.python_minor))
                write_atomic(config_path, kernelspec.spec_json(config))
                written += [runtime, config_path]
            kernelspec.update_kernel_json(kernel.spec.resource_dir, spec)
            manifest.save()
            share_written(kernel.location, manifest.options.group, written)
    return {"name": name, "mode": manifest.options.netguard, "allow": manifest.options.netguard_allow}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_parser(
        subparsers, "netguard",
        "Show kernel NAME's netguard settings, or change them. In 'warn' mode the kernel prints\n"
        "a line when a cell's code needs the internet; in 'block' mode connections fail at once\n"
        "instead of hanging; 'off' disables both. Restart the kernel for a change to apply.",
        "  kernelctl netguard myenv\n  kernelctl netguard myenv --mode block\n"
        "  kernelctl netguard myenv --allow .alliancecan.ca --allow 10.0.0.0/8\n"
        "  kernelctl netguard myenv --clear-allow",
    )
    parser.add_argument("name", metavar="NAME")
    parser.add_argument("--mode", choices=netguard_config.MODES)
    add_allow_option(parser, "replace the allowlist with these hosts, '.domain' suffixes or CIDRs")
    parser.add_argument("--clear-allow", action="store_true", help="empty the allowlist")
    add_json_flag(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.allow and args.clear_allow:
        raise UsageError("--allow and --clear-allow contradict each other", "Use one of them.")
    allow = [] if args.clear_allow else args.allow
    settings = set_netguard(args.name, args.mode, allow)
    if args.json:
        print_json(settings)
    else:
        print(f"netguard for {args.name!r}: {settings['mode']}; allowed: {', '.join(settings['allow']) or 'none'}")
        if args.mode or allow is not None:
            print("Restart the kernel (Kernel > Restart) for the change to apply.")
    return 0
