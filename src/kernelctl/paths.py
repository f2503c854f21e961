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


def envs_dir() -> Path:
    """Where each kernel's env is reachable by name: ``envs/NAME`` (a link to its generation)."""
    return kernelctl_home() / "envs"


def store_dir() -> Path:
    """Where env generations really live; ``envs/NAME`` points at the one in service."""
    return envs_dir() / ".store"


def locks_dir() -> Path:
    return kernelctl_home() / "locks"
