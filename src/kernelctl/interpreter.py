"""The Python an env is built on: which one a request names, and what it is.

Asking an interpreter what it is means starting it, which takes from 10 ms (a plain binary)
to 100 ms (a pyenv or conda shim, a cold network file system). :func:`prefetch` starts that
question for the default interpreter before a command has even imported its modules;
:func:`find_interpreter` takes the answer when it asks about the same executable in the same
environment, and asks afresh otherwise.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

from kernelctl.errors import UsageError

_VERSION_SPEC = re.compile(r"^\d+\.\d+$")

# Run with -I -S: neither the user's environment nor site-packages can change the answer,
# and without site (and json) the probe takes a quarter of the time.
_PROBE = ("import sys; print(repr([sys.executable, '.'.join(map(str, sys.version_info[:3])), "
          "getattr(getattr(sys, 'implementation', None), 'cache_tag', None) or '']))")
_TIMEOUT = 60


class Interpreter(NamedTuple):
    """A Python to build envs on. ``cache_tag`` is its ``sys.implementation.cache_tag``
    (names its bytecode files), empty when unknown."""

    executable: Path
    version: str
    cache_tag: str = ""

    @property
    def minor(self) -> str:
        return ".".join(self.version.split(".")[:2])


class _Probe(NamedTuple):
    """A probe started ahead of time, and what it was started for."""

    candidate: str
    environ: dict[str, str]
    process: subprocess.Popen


_prefetched: _Probe | None = None


def candidate(spec: str | None) -> str:
    """The executable ``spec`` names: a path, ``pythonX.Y`` on PATH for ``X.Y``, and without
    ``spec`` ``python3`` on PATH (what ``module load python`` provides), else the interpreter
    running kernelctl."""
    if spec is None:
        return shutil.which("python3") or sys.executable
    if _VERSION_SPEC.match(spec):
        found = shutil.which(f"python{spec}")
        if found is None:
            raise UsageError(f"no python{spec} interpreter on PATH",
                             f"Load one first (e.g. 'module load python/{spec}') or pass --python /path/to/python.")
        return found
    found = shutil.which(spec) or spec
    if not os.path.isfile(found) or not os.access(found, os.X_OK):
        raise UsageError(f"interpreter {spec!r} does not exist or is not executable",
                         "Pass --python X.Y or the full path of a Python interpreter.")
    return found


def _start(executable: str) -> subprocess.Popen[str]:
    return subprocess.Popen([executable, "-I", "-S", "-c", _PROBE], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def _answer(process: subprocess.Popen[str]) -> str:
    """What a probe printed; one that takes too long (or is interrupted) is killed and reaped."""
    try:
        return process.communicate(timeout=_TIMEOUT)[0]
    except BaseException:
        _stop(process)
        raise


def _stop(process: subprocess.Popen[str]) -> None:
    process.kill()
    process.communicate()


def prefetch() -> None:
    """Start asking the default interpreter (``candidate(None)``) what it is, for a later
    :func:`find_interpreter`. Nothing happens if it cannot be started, or if one was started."""
    global _prefetched
    if _prefetched is not None:
        return
    executable = candidate(None)
    try:
        _prefetched = _Probe(executable, dict(os.environ), _start(executable))
    except OSError:
        pass


def _take_prefetched(executable: str) -> subprocess.Popen[str] | None:
    """The prefetched probe if it asked ``executable`` in the present environment (a module
    loaded since may have changed what a shim on PATH runs); otherwise None, and any
    prefetched probe is stopped."""
    global _prefetched
    probe, _prefetched = _prefetched, None
    if probe is None:
        return None
    if probe.candidate == executable and probe.environ == os.environ:
        return probe.process
    _stop(probe.process)
    return None


def find_interpreter(spec: str | None) -> Interpreter:
    """The Python to build an env on, as :func:`candidate` finds it, checked by running it."""
    executable = candidate(spec)
    try:
        found, version, cache_tag = ast.literal_eval(_answer(_take_prefetched(executable) or _start(executable)).strip())
    except (OSError, ValueError, TypeError, SyntaxError, subprocess.TimeoutExpired):
        raise UsageError(f"{executable} did not run as a Python interpreter",
                         "Pass --python with a working Python 3 interpreter.") from None
    if tuple(int(p) for p in version.split(".")[:2]) < (3, 8):
        raise UsageError(f"{executable} is Python {version}; kernels need Python 3.8 or newer",
                         "Pass --python with a newer interpreter (e.g. --python 3.11).")
    return Interpreter(Path(found), version, cache_tag)
