"""``kernelctl wheelhouse fetch``: fill a personal wheelhouse (the one command that uses the network)."""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from kernelctl.commands.args import add_parser, add_quiet_flag
from kernelctl.errors import KernelctlError, UsageError
from kernelctl.requirements import read


def fetch(requirements: Sequence[str], *, dest: str | os.PathLike[str],
          requirement_files: Sequence[str | os.PathLike[str]] = (), pythons: Sequence[str] = (),
          platform: str | None = None, quiet: bool = False) -> list[str]:
    """Download wheels (binary only) for the requirements and their dependencies into ``dest``.

    Runs ``pip download`` once per target Python; returns the wheel files now in ``dest``.
    """
    if not requirements and not requirement_files:
        raise UsageError("nothing to fetch", "Name requirements or pass -r FILE.")
    read(requirements, requirement_files, offline=False)  # fail early on a bad requirement or a missing file
    if importlib.util.find_spec("pip") is None:
        raise KernelctlError("pip is not installed next to kernelctl", "Install pip into kernelctl's environment.")
    target = Path(dest).expanduser()
    target.mkdir(parents=True, exist_ok=True)
    for python in pythons or [None]:
        argv = [sys.executable, "-m", "pip", "download", "--only-binary=:all:", "--dest", str(target),
                "--progress-bar", "off", "--disable-pip-version-check"]
        if quiet:
            argv.append("--quiet")
        if python:
            argv += ["--python-version", python]
        if platform:
            argv += ["--platform", platform]
        for path in requirement_files:
            argv += ["-r", os.fspath(path)]
        argv += list(requirements)
        label = f"Python {python}" if python else "this Python"
        print(f"Fetching wheels for {label}{f' on {platform}' if platform else ''} into {target} ...",
              file=sys.stderr, flush=True)
        proc = subprocess.run(argv, stderr=subprocess.PIPE, text=True)
        if proc.returncode != 0:
            lines = [line for line in proc.stderr.strip().splitlines() if line.startswith("ERROR")] or \
                proc.stderr.strip().splitlines()[-1:] or ["(no output)"]
            raise KernelctlError(f"pip download failed: {lines[-1]}",
                                 "This command needs the internet: run it on a login node or a laptop, "
                                 "and check the requirement names.")
    return sorted(p.name for p in target.glob("*.whl"))


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_parser(
        subparsers, "fetch",
        summary="download wheels into a personal wheelhouse (needs internet)",
        description="Download wheels for the requirements and all their dependencies into DIR with\n"
        "'pip download --only-binary=:all:'. Run it where there is internet (a login node,\n"
        "a laptop), then use DIR with 'kernelctl create --wheelhouse DIR' on compute nodes.",
        examples="  kernelctl wheelhouse fetch ipykernel numpy --dest ~/wheelhouse\n"
        "  kernelctl wheelhouse fetch -r requirements.txt --dest ~/wheelhouse --python 3.11 --python 3.12\n"
        "  kernelctl wheelhouse fetch torch --dest ~/wheelhouse --python 3.11 --platform manylinux2014_x86_64",
    )
    parser.add_argument("requirements", metavar="REQ", nargs="*", default=[])
    parser.add_argument("-r", "--requirement", metavar="FILE", action="append", default=[])
    parser.add_argument("--dest", "-d", metavar="DIR", required=True, help="the wheelhouse directory to fill")
    parser.add_argument("--python", metavar="X.Y", action="append", default=[],
                        help="fetch for this Python version (repeatable; default: the running one)")
    parser.add_argument("--platform", metavar="TAG", help="fetch for this platform tag (e.g. manylinux2014_x86_64)")
    add_quiet_flag(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    files = fetch(args.requirements, dest=args.dest, requirement_files=args.requirement, pythons=args.python,
                  platform=args.platform, quiet=args.quiet)
    print(f"{len(files)} wheels in {Path(args.dest).expanduser()}")
    return 0
