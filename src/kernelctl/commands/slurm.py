"""``kernelctl slurm``: make a kernel run in its own Slurm job, change its Slurm options, or
make it local again."""

from __future__ import annotations

import argparse
import math
from typing import Any

from kernelctl import kernelspec
from kernelctl.commands.args import add_json_flag, add_parser
from kernelctl.commands.common import find_kernelctl_spec, locked
from kernelctl.errors import UsageError
from kernelctl.output import print_json
from kernelctl.slurmkernel import options as slurm_options
from kernelctl.slurmkernel import spec as slurm_spec


def check_wait(seconds: float) -> float:
    # nan and inf would be written into kernel.json as NaN/Infinity, which is not JSON to a browser
    if not 0 < seconds < math.inf:
        raise UsageError(f"--slurm-wait must be a positive number of seconds, not {seconds:g}",
                         "Give the longest queue wait to accept, e.g. --slurm-wait 600.")
    return seconds


def set_slurm(name: str, options: str | None, queue_wait: float | None = None) -> dict[str, Any]:
    """Make kernel ``name`` a Slurm kernel with ``options`` (a string of sbatch options, checked
    before anything changes), or a local kernel when ``options`` is None; its settings after."""
    parsed = slurm_options.parse(options) if options is not None else None
    with locked(name) as spec:
        current = slurm_spec.settings(spec.spec)
        if parsed is None:
            new = slurm_spec.disable(spec.spec)
        else:
            wait = check_wait(queue_wait) if queue_wait is not None else (current or {}).get("queue_wait",
                                                                                            slurm_spec.DEFAULT_WAIT)
            new = slurm_spec.enable(spec.spec, parsed, wait)
        kernelspec.update_kernel_json(spec.resource_dir, new)
    return describe(name, new)


def describe(name: str, kernel_json: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "display_name": kernel_json.get("display_name"), "slurm": slurm_spec.settings(kernel_json)}


def add_create_options(parser: argparse.ArgumentParser) -> None:
    """``kernelctl create``'s --slurm and --slurm-wait."""
    parser.add_argument("--slurm", metavar="OPTIONS",
                        help="run the kernel in its own Slurm job with these sbatch options (one quoted string, "
                             "e.g. --slurm='--time=2:00:00 --cpus-per-task=8'); see 'kernelctl slurm --help'")
    parser.add_argument("--slurm-wait", metavar="SECONDS", type=float,
                        help=f"longest queue wait of the kernel's job (default {slurm_spec.DEFAULT_WAIT:.0f})")


def check_create_options(args: argparse.Namespace) -> None:
    """Check create's Slurm options before the env is built: a typo costs a second."""
    if args.slurm_wait is not None and args.slurm is None:
        raise UsageError("--slurm-wait needs --slurm", "Give the kernel's Slurm options with --slurm.")
    if args.slurm is not None:
        slurm_options.parse(args.slurm)
        if args.slurm_wait is not None:
            check_wait(args.slurm_wait)


def apply_create_options(args: argparse.Namespace) -> str | None:
    """After create: make the new kernel a Slurm kernel; its display name then, if it is one."""
    if args.slurm is None:
        return None
    return set_slurm(args.name, args.slurm, args.slurm_wait)["display_name"]


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_parser(
        subparsers, "slurm",
        "Run kernel NAME in a Slurm job of its own: starting it (from JupyterLab, jupyter console,\n"
        "nbclient or kernelctl run) queues one job with these salloc/sbatch options, and the kernel\n"
        "runs on the allocated node. Shutting it down cancels the job. Without OPTIONS, show them.",
        "  kernelctl slurm myenv '--time=2:00:00 --cpus-per-task=8 --mem=32G'\n"
        "  kernelctl slurm myenv '--time=1:00:00 --gres=gpu:1 --account=def-x' --slurm-wait 900\n"
        "  kernelctl slurm myenv\n"
        "  kernelctl slurm myenv --off\n"
        "  kernelctl slurm myenv -- --time=30      (one option alone goes after --)")
    parser.add_argument("name", metavar="NAME")
    parser.add_argument("options", metavar="OPTIONS", nargs="?",
                        help="sbatch options in one quoted string: --time --cpus-per-task --mem --mem-per-cpu --gres "
                             "--gpus --account --partition --qos --constraint --reservation ...")
    parser.add_argument("--off", action="store_true", help="run the kernel locally again")
    parser.add_argument("--slurm-wait", metavar="SECONDS", type=float,
                        help=f"longest wait in the queue before the start fails and the job is cancelled "
                             f"(default {slurm_spec.DEFAULT_WAIT:.0f})")
    add_json_flag(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.off and args.options is not None:
        raise UsageError("--off and OPTIONS contradict each other", "Give either the Slurm options or --off.")
    if args.off or args.options is not None or args.slurm_wait is not None:
        if args.slurm_wait is not None and args.options is None and not args.off:
            current = slurm_spec.settings(find_kernelctl_spec(args.name).spec)
            if current is None:
                raise UsageError(f"kernel {args.name!r} does not run on Slurm", "Give its Slurm options first.")
            args.options = " ".join(current["options"])
        info = set_slurm(args.name, None if args.off else args.options, args.slurm_wait)
    else:
        spec = find_kernelctl_spec(args.name)
        info = describe(args.name, spec.spec)
    if args.json:
        print_json(info)
        return 0
    slurm = info["slurm"]
    if slurm is None:
        print(f"{args.name!r} runs locally (\"{info['display_name']}\").")
    else:
        print(f"{args.name!r} runs in its own Slurm job (\"{info['display_name']}\"): "
              f"{' '.join(slurm['options']) or '(site defaults)'}; queue wait up to {slurm['queue_wait']:.0f} s.")
    return 0
