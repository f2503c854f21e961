"""netguard: warn before notebook code reaches for the internet on an offline compute node.

This package is stdlib-only and uses relative imports only, because kernelctl copies it
into each kernel's virtualenv as the top-level package ``kernelctl_netguard`` (kernelctl
itself is not installed there). The kernel loads it with ``--ext kernelctl_netguard``.

* :func:`load_ipython_extension` / :func:`unload_ipython_extension`: the IPython extension
  (static check before each cell, runtime guard while it runs; see :mod:`.extension`);
* :func:`install_runtime`: copy this package into a kernel environment's site-packages;
* :func:`kernel_settings`: the ipykernel argv and kernel.json ``env`` for a netguard mode.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .policy import ALLOW_ENV, HostPolicy

RUNTIME_NAME = "kernelctl_netguard"
MODES = ("warn", "block", "off")

# Installs stay on the wheelhouse whatever the mode.
_INSTALL_ENV = {
    "PIP_NO_INDEX": "1",
    "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    "UV_OFFLINE": "1",
    "UV_NO_INDEX": "1",
    "CONDA_OFFLINE": "true",
}
# Offline switches of common libraries, set with the guard (HF ones are read at import time,
# which is why they belong in kernel.json rather than in a cell).
_LIBRARY_ENV = {
    "HF_HUB_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_EVALUATE_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "WANDB_MODE": "offline",
    "NEPTUNE_MODE": "offline",
    "YOLO_OFFLINE": "1",
    "DO_NOT_TRACK": "1",
    "GRADIO_ANALYTICS_ENABLED": "False",
}


def load_ipython_extension(ip: Any) -> None:
    """IPython entry point (``--ext kernelctl_netguard`` or ``%load_ext``)."""
    from .extension import load

    load(ip)


def unload_ipython_extension(ip: Any) -> None:
    """IPython entry point for ``%unload_ext``."""
    from .extension import unload

    unload(ip)


def install_runtime(site_packages: Path, compile: bool = True) -> Path:
    """Copy this package's ``.py`` files to ``site_packages/kernelctl_netguard/`` and return that path.

    The copy is written to a temporary directory next to the target and renamed into place,
    so a kernel starting meanwhile sees either the old copy or the new one, never half of one.
    It is byte-compiled there by the environment's own interpreter (see :func:`_compile`),
    unless ``compile`` is false: a build compiles it later, with :func:`compile_runtime`,
    while the kernel starts.
    """
    site_packages = Path(site_packages)
    target = site_packages / RUNTIME_NAME
    staging = Path(tempfile.mkdtemp(prefix=f".{RUNTIME_NAME}-", dir=site_packages))
    try:
        for source in sorted(Path(__file__).resolve().parent.glob("*.py")):
            shutil.copy2(source, staging / source.name)
        os.chmod(staging, 0o755)  # mkdtemp makes it 0700; kernels may run as group members
        if compile:
            _compile(staging, site_packages, target)
        if target.exists():
            retired = Path(tempfile.mkdtemp(prefix=f".{RUNTIME_NAME}-old-", dir=site_packages))
            os.replace(target, retired / RUNTIME_NAME)
            os.replace(staging, target)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def compile_runtime(site_packages: Path) -> None:
    """Byte-compile the runtime :func:`install_runtime` put into ``site_packages``, in place
    (a kernel importing it meanwhile reads whole files: the compiler replaces each atomically)."""
    target = Path(site_packages) / RUNTIME_NAME
    _compile(target, Path(site_packages), target)


def _compile(directory: Path, site_packages: Path, target: Path) -> None:
    """Byte-compile ``directory`` with the interpreter of the environment that holds
    ``site_packages`` (``PREFIX/lib/pythonX.Y/site-packages``), recording ``target`` as the
    files' path. Otherwise every kernel start compiles the package again wherever it cannot
    write ``__pycache__`` (a shared environment, PYTHONDONTWRITEBYTECODE): tens of ms. Without
    that interpreter, or if it fails, the kernel compiles at import as before."""
    python = site_packages.parent.parent.parent / "bin" / "python"
    if not python.exists():
        return
    try:
        subprocess.run([str(python), "-m", "compileall", "-q", "-d", str(target), str(directory)],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return
    cache = directory / "__pycache__"
    if cache.is_dir():
        os.chmod(cache, 0o755)
        for compiled in cache.iterdir():
            os.chmod(compiled, 0o644)


def kernel_settings(mode: str, wheelhouse_dirs: Sequence[str],
                    allow: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    """The extra ipykernel argv and the kernel.json ``env`` entries for netguard ``mode``.

    ``mode`` is ``warn``, ``block`` or ``off``. ``wheelhouse_dirs`` become ``PIP_FIND_LINKS``
    (space-separated, so the paths may not contain whitespace) and ``UV_FIND_LINKS``;
    ``allow`` entries (host names, ``.domain`` suffixes, CIDRs) become
    ``KERNELCTL_NETGUARD_ALLOW``. With ``off`` the extension is not loaded and only the
    offline-install variables are set. Raises ValueError for a bad mode, path or entry.
    """
    if mode not in MODES:
        raise ValueError(f"netguard mode must be one of {', '.join(MODES)}, not {mode!r}")
    dirs = [str(d) for d in wheelhouse_dirs]
    for directory in dirs:
        if not directory or any(c.isspace() or c == "," for c in directory):
            raise ValueError(f"wheelhouse path unusable in PIP_FIND_LINKS (whitespace or comma): {directory!r}")
    entries = [str(a).strip() for a in allow if str(a).strip()]
    HostPolicy(entries)  # raises ValueError on an entry that is not a host, suffix or CIDR
    env = dict(_INSTALL_ENV)
    if dirs:
        env["PIP_FIND_LINKS"] = " ".join(dirs)
        env["UV_FIND_LINKS"] = ",".join(dirs)
    if mode == "off":
        return [], env
    env.update(_LIBRARY_ENV)
    env["KERNELCTL_NETGUARD"] = mode
    if entries:
        # jupyter_client expands ${VAR} in kernel.json's env from the server's environment, so
        # a site-wide list there is kept, not replaced; unset, the placeholder stays and
        # HostPolicy.from_env skips it as a malformed entry.
        env[ALLOW_ENV] = ",".join([*entries, "${%s}" % ALLOW_ENV])
    return ["--ext", RUNTIME_NAME], env
