"""Installs with uv, several times faster than pip on the same wheelhouse."""

from __future__ import annotations

import shutil
from pathlib import Path

from kernelctl.backends.base import InstallRequest, clean_environment, run_installer


def find_uv() -> Path | None:
    """The uv binary: from the ``uv`` Python package if installed, else from PATH."""
    try:
        from uv import find_uv_bin

        return Path(find_uv_bin())
    except (ImportError, FileNotFoundError):
        found = shutil.which("uv")
        return Path(found) if found else None


class UvBackend:
    name = "uv"

    def __init__(self, uv: Path) -> None:
        self.uv = uv

    def install(self, request: InstallRequest) -> None:
        command = [str(self.uv), "pip", "install", "--python", str(request.python),
                   "--offline", "--no-index", "--no-config"]
        run_installer(command, request, clean_environment())
