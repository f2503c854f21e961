"""Building the virtualenv itself: creation, the env's pip configuration, what it holds."""

from __future__ import annotations

import email.parser
import errno
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

from kernelctl.errors import KernelctlError, UsageError
from kernelctl.fsutil import write_atomic
from kernelctl.interpreter import Interpreter

# Installed with the env itself, not from the wheelhouse (and left out of exports, as pip freeze does).
SEEDED = frozenset({"pip", "setuptools", "wheel"})

def create_virtualenv(prefix: Path, interpreter: Interpreter, system_site_packages: bool,
                      uv: Path | None = None) -> list[str]:
    """Create a virtualenv at ``prefix``, never downloading anything; return the seed wheels
    that the first install into it must add.

    With ``uv``, uv makes the env (in a fraction of virtualenv's time) and pip comes with the
    first install, from the wheel bundled with virtualenv: users run pip in the env (``%pip``).
    Without, virtualenv's API makes it, pip seeded from that same bundled wheel.
    """
    if uv is not None:
        argv = [str(uv), "venv", "--python", str(interpreter.executable), "--no-config", "--offline",
                "--quiet", *(["--system-site-packages"] if system_site_packages else []), str(prefix)]
        proc = subprocess.run(argv, capture_output=True, text=True)
        if proc.returncode != 0:
            if "No space left on device" in proc.stderr or "Disk quota exceeded" in proc.stderr:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(prefix))
            last = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
            raise KernelctlError(f"uv could not create {prefix}: {last}",
                                 "Check that the interpreter works and the directory is writable, "
                                 "or use --backend pip.")
        return [_bundled_pip(interpreter)]
    from virtualenv import cli_run

    args = [str(prefix), "--python", str(interpreter.executable), "--no-download",
            "--no-periodic-update", "--no-setuptools", "--quiet"]
    if system_site_packages:
        args.append("--system-site-packages")
    try:
        cli_run(args, setup_logging=False)
    except OSError:
        raise
    except Exception as err:  # virtualenv reports its own failures as assorted exceptions
        raise KernelctlError(f"virtualenv could not create {prefix}: {err}",
                             "Check that the interpreter works and the directory is writable.") from None
    return []


def _bundled_pip(interpreter: Interpreter) -> str:
    """The newest pip wheel bundled with virtualenv that supports ``interpreter``'s Python.

    Found by reading the wheels' metadata rather than importing virtualenv (a sixth of a
    second that every uv build would pay).
    """
    from packaging.specifiers import SpecifierSet
    from packaging.version import Version

    spec = importlib.util.find_spec("virtualenv")
    packages = list(spec.submodule_search_locations or []) if spec else []
    candidates = []
    for wheel in (w for p in packages for w in (Path(p) / "seed" / "wheels" / "embed").glob("pip-*.whl")):
        with zipfile.ZipFile(wheel) as archive:
            metadata = next((n for n in archive.namelist() if n.endswith(".dist-info/METADATA")), None)
            headers = email.parser.BytesHeaderParser().parsebytes(archive.read(metadata)) if metadata else {}
        if interpreter.version in SpecifierSet(headers.get("Requires-Python") or ""):
            candidates.append((Version(wheel.name.split("-")[1]), wheel))
    if not candidates:
        raise KernelctlError(f"virtualenv bundles no pip wheel for Python {interpreter.version}",
                             "Use --backend pip, or upgrade virtualenv next to kernelctl.")
    return str(max(candidates)[1])


def python_of(prefix: Path) -> Path:
    return prefix / "bin" / "python"


def site_packages(prefix: Path, minor: str) -> Path:
    return prefix / "lib" / f"python{minor}" / "site-packages"


def write_pip_config(prefix: Path, wheelhouses: list[str]) -> None:
    """Make ``pip install`` inside the env (and ``!pip``/``%pip`` in its kernel) offline.

    pip reads ``$VIRTUAL_ENV/pip.conf`` after the global and user files, so these settings win
    over them; the ``[install]`` section is repeated because a section-specific value in an
    earlier file would otherwise beat a ``[global]`` one here.
    """
    links = "".join(f"\n    {d}" for d in wheelhouses)
    body = f"no-index = true\nfind-links ={links}\n"
    text = ("# Written by kernelctl: installs in this env come only from the wheelhouse.\n"
            f"[global]\n{body}disable-pip-version-check = true\n\n[install]\n{body}\n[download]\n{body}")
    write_atomic(prefix / "pip.conf", text)


# What is installed where it is evaluated, ``{project name: version}``: the env's site-packages
# (and the base's, with --system-site-packages), not PYTHONPATH. An expression, so that a kernel
# being verified can answer it too.
INSTALLED_EXPRESSION = ("{d.metadata['Name']: d.version for d in __import__('importlib.metadata').metadata"
                        ".distributions(path=__import__('site').getsitepackages())}")


def by_name(installed: dict[str, str]) -> dict[str, str]:
    """``installed`` sorted by project name, as manifests keep it."""
    return dict(sorted(installed.items(), key=lambda kv: kv[0].lower()))


def installed_distributions(prefix: Path, name: str) -> dict[str, str]:
    """``{project name: version}`` of everything installed in the env."""
    proc = subprocess.run([str(python_of(prefix)), "-I", "-c", f"import json; print(json.dumps({INSTALLED_EXPRESSION}))"],
                          capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        raise KernelctlError(f"the env's Python at {python_of(prefix)} does not run",
                             f"Rebuild the kernel with 'kernelctl rebuild {name}'.")
    return by_name(json.loads(proc.stdout))
