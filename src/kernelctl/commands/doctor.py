"""``kernelctl doctor``: what is broken in the kernels Jupyter can see, and the command that fixes it."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from kernelctl import kernelspec
from kernelctl.commands.args import add_json_flag, add_parser
from kernelctl.errors import KernelctlError
from kernelctl.launcher import CONFIG_NAME, LAUNCHER_NAME
from kernelctl.manifest import Manifest, load_manifest
from kernelctl.names import validate_name
from kernelctl.output import print_json
from kernelctl.slurmkernel import orphans as slurm_orphans

_PROBE_TIMEOUT = 60
_VERSION = "import sys; print('.'.join(map(str, sys.version_info[:3])))"


@dataclass(frozen=True)
class Problem:
    check: str
    problem: str
    fix: str


def _runs(argv: list[str]) -> tuple[bool, str]:
    """Run ``argv``; return (succeeded, its output or error's last line)."""
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=_PROBE_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as err:
        return False, str(err)
    text = (proc.stdout if proc.returncode == 0 else proc.stderr).strip().splitlines()
    return proc.returncode == 0, text[-1] if text else ""


def check_foreign(spec: kernelspec.InstalledSpec) -> list[Problem]:
    """A kernel kernelctl did not make: does its interpreter exist and, for ipykernel, run it?"""
    argv = spec.spec.get("argv") or []
    remove = f"jupyter kernelspec remove {spec.name}"
    if not argv:
        return [Problem("kernelspec", "kernel.json has no argv", remove)]
    program = argv[0]
    if program in ("python", "python3") or program.startswith("python3."):
        return []  # jupyter_client runs these with the server's own interpreter
    if not (os.path.isabs(program) and os.access(program, os.X_OK)) and not shutil.which(program):
        return [Problem("interpreter", f"{program} does not exist", remove)]
    if "ipykernel_launcher" in argv or "ipykernel" in argv:
        ok, detail = _runs([program, "-c", "import ipykernel"])
        if not ok:
            return [Problem("interpreter", f"{program} cannot import ipykernel: {detail}",
                            f"{program} -m pip install --no-index ipykernel, or {remove}")]
    return []


def check_kernelctl(spec: kernelspec.InstalledSpec) -> list[Problem]:
    """A kernelctl kernel: env, interpreter, staleness, modules, wheelhouse, offline pip."""
    name = spec.name
    meta = spec.kernelctl or {}
    prefix = Path(meta.get("prefix", ""))
    recreate = f"kernelctl remove {name} --yes && kernelctl create {name} ..."
    rebuild = f"kernelctl rebuild {name}"
    if not prefix.is_dir():
        return [Problem("env", f"the env {prefix} is gone (a $SCRATCH purge or a manual delete?)", recreate)]
    try:
        manifest = load_manifest(prefix)
    except KernelctlError as err:
        return [Problem("env", err.message, recreate)]
    problems = [Problem("kernelspec", f"{f} is missing from {spec.resource_dir}", rebuild)
                for f in (LAUNCHER_NAME, CONFIG_NAME) if not (spec.resource_dir / f).is_file()]
    if manifest.options.language == "python":
        problems += _check_python_env(name, prefix, manifest)
    problems += _check_modules(spec, manifest)
    missing_dirs = [d for d in manifest.wheelhouses if not Path(d).is_dir()]
    if missing_dirs:
        problems.append(Problem("wheelhouse", f"wheelhouse directory not reachable: {', '.join(missing_dirs)}",
                                f"kernelctl rebuild {name} --wheelhouse DIR (a wheelhouse that exists)"))
    return problems


def _check_python_env(name: str, prefix: Path, manifest: Manifest) -> list[Problem]:
    rebuild = f"kernelctl rebuild {name}"
    python = prefix / "bin" / "python"
    ok, version = _runs([str(python), "-I", "-c", _VERSION])
    if not ok:
        return [Problem("interpreter", f"the env's Python does not run ({version or 'no output'}); the Python "
                        f"it was built on ({manifest.python_executable}) has probably changed or gone", rebuild)]
    problems = []
    if version != manifest.python_version:
        problems.append(Problem("stale", f"the env was built on Python {manifest.python_version} but its "
                                f"interpreter is now {version}: the cluster's Python changed", rebuild))
    ok, detail = _runs([str(python), "-I", "-c", "import ipykernel"])
    if not ok:
        problems.append(Problem("interpreter", f"ipykernel does not import: {detail}", rebuild))
    pip_conf = prefix / "pip.conf"
    if not pip_conf.is_file() or "no-index = true" not in pip_conf.read_text(encoding="utf-8", errors="replace"):
        problems.append(Problem("offline", f"{pip_conf} does not keep pip offline (no-index)", rebuild))
    return problems


def _check_modules(spec: kernelspec.InstalledSpec, manifest: Manifest) -> list[Problem]:
    if not manifest.options.modules:
        return []
    from kernelctl.modules import recorded_missing

    try:
        gone = recorded_missing(spec.resource_dir)
    except KernelctlError as err:
        return [Problem("modules", err.message, "Run kernelctl where 'module load' works, then "
                                                f"kernelctl rebuild {spec.name}")]

    def recreate(missing_module: str) -> str:
        kept = " ".join(f"--module {'NEW' if m == missing_module else m}" for m in manifest.options.modules)
        return (f"module spider {missing_module.split('/')[0]}  # then, with its replacement as NEW: "
                f"kernelctl create {spec.name} --force {kept} -r <(kernelctl export {spec.name})")

    return [Problem("modules", f"module {m} no longer exists", recreate(m)) for m in gone]


def doctor(name: str | None = None) -> list[dict[str, Any]]:
    """One record per kernelspec Jupyter can see (or just ``name``), with its problems."""
    specs = kernelspec.all_specs()
    if name is not None:
        validate_name(name)
        specs = [s for s in specs if s.name == name]
        if not specs and name not in kernelspec.unreadable_specs():
            raise KernelctlError(f"no kernel named {name!r}", "Run 'kernelctl list' or 'jupyter kernelspec list'.")
    report = [{"name": broken, "display_name": None, "kernelctl": None, "resource_dir": str(path), "ok": False,
               "problems": [asdict(Problem("kernelspec", f"{path / 'kernel.json'} cannot be read (not valid JSON?)",
                                           f"jupyter kernelspec remove {broken}, or recreate it with kernelctl "
                                           f"create {broken} --force"))]}
              for broken, path in sorted(kernelspec.unreadable_specs().items()) if name in (None, broken)]
    for spec in specs:
        made_here = spec.kernelctl is not None
        problems = check_kernelctl(spec) if made_here else check_foreign(spec)
        report.append({"name": spec.name, "display_name": spec.spec.get("display_name"), "kernelctl": made_here,
                       "resource_dir": str(spec.resource_dir), "ok": not problems,
                       "problems": [asdict(p) for p in problems]})
    return report


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_parser(
        subparsers, "doctor",
        "Check every kernel Jupyter can see (kernelctl's and others'): the interpreter exists and\n"
        "runs, the env is intact and current, its modules still exist, its wheelhouse is\n"
        "reachable and its pip stays offline. Exits 1 when something is broken.",
        "  kernelctl doctor\n  kernelctl doctor myenv\n  kernelctl doctor --json\n"
        "  kernelctl doctor --fix    (cancel Slurm kernel jobs whose Jupyter server is gone)",
    )
    parser.add_argument("name", metavar="NAME", nargs="?", help="check only this kernel")
    parser.add_argument("--fix", action="store_true", help="cancel Slurm kernels' jobs whose server is gone")
    add_json_flag(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    report = doctor(args.name)
    jobs_ok, job_lines, jobs = slurm_orphans.doctor_report(args.fix)  # Slurm kernel jobs left by a dead server
    healthy = all(r["ok"] for r in report) and jobs_ok
    if args.json:
        print_json({"ok": healthy, "kernels": report, "orphan_jobs": jobs})
        return 0 if healthy else 1
    for record in report:
        origin = "" if record["kernelctl"] else "  (not kernelctl's)"
        print(f"{'ok' if record['ok'] else 'BROKEN':<7} {record['name']:<20} {record['display_name']}{origin}")
        for p in record["problems"]:
            print(f"        {p['check']}: {p['problem']}\n        fix: {p['fix']}")
    for line in job_lines:
        print(line)
    if not report:
        print("Jupyter sees no kernels.")
    return 0 if healthy else 1
