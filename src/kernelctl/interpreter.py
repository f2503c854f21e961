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
import signal
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
    # A session of its own, so that _stop reaches what a wrapper script started too.
    return subprocess.Popen([executable, "-I", "-S", "-c", _PROBE], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            errors="replace", start_new_session=True)


def _answer(process: subprocess.Popen[str]) -> str:
    """What a probe printed; one that takes too long (or is interrupted) is killed and reaped."""
    try:
        return process.communicate(timeout=_TIMEOUT)[0]
    except BaseException:
        _stop(process)
        raise


def _stop(process: subprocess.Popen[str]) -> None:
    """Kill a probe and all it started (a wrapper's python may hold its output open), and reap it."""
    if process.poll() is None:  # not reaped: its pid is still its group's, no other's
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except OSError:
            process.kill()
    process.wait()
    process.stdout.close()  # type: ignore[union-attr]


def discard_prefetched() -> None:
    """Stop a prefetched probe that no :func:`find_interpreter` took (a usage error, an R
    kernel, ``--python``): it is not left running behind the command."""
    global _prefetched
    probe, _prefetched = _prefetched, None
    if probe is not None:
        _stop(probe.process)


def prefetch() -> None:
    """Start asking the default interpreter (``candidate(None)``) what it is, for a later
    :func:`find_interpreter`; :func:`discard_prefetched` stops it if none comes. Nothing
    happens if it cannot be started, or if one was started."""
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
    probe = _prefetched
    if probe is not None and probe.candidate == executable and probe.environ == os.environ:
        _prefetched = None
        return probe.process
    discard_prefetched()
    return None


def find_interpreter(spec: str | None) -> Interpreter:
    """The Python to build an env on, as :func:`candidate` finds it, checked by running it."""
    executable = candidate(spec)
    try:
        answer = _answer(_take_prefetched(executable) or _start(executable))
        found, version, cache_tag = ast.literal_eval(answer.strip())
    except (OSError, ValueError, TypeError, SyntaxError, subprocess.TimeoutExpired):
        raise UsageError(f"{executable} did not run as a Python interpreter",
                         "Pass --python with a working Python 3 interpreter.") from None
    if tuple(int(p) for p in version.split(".")[:2]) < (3, 8):
        raise UsageError(f"{executable} is Python {version}; kernels need Python 3.8 or newer",
                         "Pass --python with a newer interpreter (e.g. --python 3.11).")
    return Interpreter(Path(found), version, cache_tag)
