"""``kernelctl doctor``: what is broken in the kernels Jupyter can see, what lost its kernelspec,
what interrupted commands left behind, and the command that fixes each (``--fix`` runs the
ones that need no decision: registering kernels again, removing leftovers)."""

from __future__ import annotations

import argparse
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from typing import Any

from kernelctl import kernelspec, leftovers, registration
from kernelctl.commands.args import add_json_flag, add_parser, add_quiet_flag
from kernelctl.errors import KernelctlError
from kernelctl.health import REREGISTER, Health, Probe, Unreadable, judge
from kernelctl.inventory import Found, inventory
from kernelctl.names import validate_name
from kernelctl.output import Progress, print_json
from kernelctl.slurmkernel import orphans as slurm_orphans

_WORKERS = 8


def _record(found: Found, health: Health) -> dict[str, Any]:
    kernel = found.kernel
    if isinstance(kernel, kernelspec.InstalledSpec):
        display, where = kernel.spec.get("display_name"), {"resource_dir": str(kernel.resource_dir)}
    elif isinstance(kernel, Unreadable):
        display, where = None, {"resource_dir": str(kernel.resource_dir)}
    else:
        display = health.manifest.display_name if health.manifest else None
        where = {"resource_dir": None, "env": str(kernel.prefix)}
    return {"name": found.name, "display_name": display if isinstance(display, str) else None,
            "kernelctl": found.kernelctl, **where, "status": health.status.partition(":")[0], "ok": health.ok,
            "problems": [asdict(p) for p in health.problems]}


def diagnose(name: str | None = None, probe: Probe | None = None) -> tuple[dict[str, Any], list[Found],
                                                                          list[leftovers.Leftover]]:
    """The report (``{ok, kernels, leftovers, leftover_bytes}``), the kernels it speaks of (in
    its order) and the leftovers: every kernel Jupyter sees, every env without a kernelspec and
    what interrupted commands left behind (or only what concerns ``name``)."""
    found, locations = inventory()
    debris = [item for location in locations for item in leftovers.find(location)]
    if name is not None:
        validate_name(name)
        found = [f for f in found if f.name == name]
        debris = [item for item in debris if item.name == name]
        if not (found or debris):
            raise KernelctlError(f"no kernel named {name!r}", "Run 'kernelctl list' or 'jupyter kernelspec list'.")
    probe = probe or Probe()
    with ThreadPoolExecutor(_WORKERS) as pool:
        verdicts = list(pool.map(lambda f: judge(f.kernel, probe), found))
    kernels = [_record(f, health) for f, health in zip(found, verdicts)]
    report = {"ok": all(k["ok"] for k in kernels) and not debris, "kernels": kernels,
              "leftovers": [item.to_dict() for item in debris], "leftover_bytes": sum(i.size for i in debris)}
    return report, found, debris


def repair(report: dict[str, Any], found: list[Found], debris: list[leftovers.Leftover],
           progress: Progress) -> list[dict[str, Any]]:
    """Register again every kernel whose fix is :data:`REREGISTER`, then remove the leftovers;
    one record per action, saying whether it worked."""
    todo = [(k["name"], f.location) for k, f in zip(report["kernels"], found)
            if any(p["fix"] == REREGISTER for p in k["problems"])]
    progress.total = len(todo)
    actions = []
    for name, location in todo:
        try:
            path = registration.register_again(name, location, progress)
            actions.append({"action": "register", "kernel": name, "ok": True, "kernelspec": str(path)})
        except KernelctlError as err:
            actions.append({"action": "register", "kernel": name, "ok": False, "error": err.message})
    actions += [{"action": "remove", **{k: v for k, v in result.items() if k != "removed"}, "ok": result["removed"]}
                for result in leftovers.remove(debris)]
    return actions


def doctor(name: str | None = None, fix: bool = False, progress: Progress | None = None) -> dict[str, Any]:
    """Diagnose (and with ``fix``, repair, then diagnose again) every kernel, or ``name``."""
    slurm_jobs = slurm_orphans.JobQuery()  # squeue answers while the kernels are checked
    report, found, debris = diagnose(name, Probe())
    if fix:
        actions = repair(report, found, debris, progress or Progress(enabled=False))
        report = {**diagnose(name, Probe())[0], "fixed": actions}
    # Slurm kernel jobs whose Jupyter server is gone (cancelled with ``fix``)
    report["orphan_jobs"], unasked = slurm_orphans.doctor_report(fix, slurm_jobs)
    if unasked:
        report["slurm_unanswered"] = unasked
    report["ok"] = report["ok"] and all(job["cancelled"] for job in report["orphan_jobs"])
    return report


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_parser(
        subparsers, "doctor",
        "Check every kernel Jupyter can see (kernelctl's and others'): the interpreter exists and\n"
        "runs, the env is intact and current, its modules still exist, its wheelhouse is\n"
        "reachable and its pip stays offline. Also finds kernelctl envs whose kernelspec is\n"
        "gone (after 'rm -r ~/.local/share/jupyter') and what interrupted commands left\n"
        "behind, and Slurm kernel jobs whose Jupyter server is gone. --fix registers such\n"
        "kernels again (checked by starting them, nothing is reinstalled), removes the\n"
        "leftovers and cancels those jobs. Exits 1 when something is still broken.",
        "  kernelctl doctor\n  kernelctl doctor myenv\n  kernelctl doctor --fix\n  kernelctl doctor --json",
    )
    parser.add_argument("name", metavar="NAME", nargs="?", help="check only this kernel")
    parser.add_argument("--fix", action="store_true",
                        help="register kernels whose kernelspec is gone or damaged again, remove leftovers, "
                             "cancel orphan Slurm kernel jobs")
    add_quiet_flag(parser)
    add_json_flag(parser)
    parser.set_defaults(run=run)


def _megabytes(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


def run(args: argparse.Namespace) -> int:
    report = doctor(args.name, args.fix, Progress(enabled=not args.quiet))
    if args.json:
        print_json(report)
        return 0 if report["ok"] else 1
    for action in report.get("fixed", []):
        if action["action"] == "register":
            print(f"registered {action['kernel']} again: {action['kernelspec']}" if action["ok"] else
                  f"could not register {action['kernel']} again: {action['error']}")
        else:
            print(f"removed {action['kind']} {action['path']} ({_megabytes(action['size'])})" if action["ok"] else
                  f"could not remove {action['path']}: {action.get('error', 'it is still there')}")
    labels = {"ok": "ok", "broken": "BROKEN", "unregistered": "UNREG"}
    for record in report["kernels"]:
        origin = "" if record["kernelctl"] is not False else "  (not kernelctl's)"
        print(f"{labels[record['status']]:<7} {record['name']:<20} {record['display_name']}{origin}")
        for p in record["problems"]:
            print(f"        {p['check']}: {p['problem']}\n        fix: {p['fix']}")
    if report["leftovers"]:
        print(f"left behind by interrupted commands ({_megabytes(report['leftover_bytes'])}):")
        for item in report["leftovers"]:
            print(f"        {item['kind']:<10} {item['path']}  ({item['kernel']}, {_megabytes(item['size'])})")
        print(f"        fix: {REREGISTER}")
    for line in slurm_orphans.describe(report["orphan_jobs"]):
        print(line)
    if "slurm_unanswered" in report:
        print(f"note: {report['slurm_unanswered']} (run 'kernelctl doctor' again once Slurm answers)")
    if not report["kernels"]:
        print("Jupyter sees no kernels.")
    return 0 if report["ok"] else 1
