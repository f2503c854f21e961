"""Where kernelctl keeps its files."""

from __future__ import annotations

import os
from pathlib import Path


def kernelctl_home() -> Path:
    """``$KERNELCTL_HOME``, else ``$XDG_DATA_HOME/kernelctl`` (``~/.local/share/kernelctl``)."""
    if os.environ.get("KERNELCTL_HOME"):
        return Path(os.environ["KERNELCTL_HOME"]).expanduser().absolute()
    data_home = os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share")
    return Path(data_home).absolute() / "kernelctl"


def cache_root(environ: dict[str, str] | None = None) -> Path:
    """The kernelctl cache directory (``KERNELCTL_CACHE_DIR``, else the XDG cache)."""
    env = os.environ if environ is None else environ
    if env.get("KERNELCTL_CACHE_DIR"):
        return Path(env["KERNELCTL_CACHE_DIR"])
    base = env.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "kernelctl"
