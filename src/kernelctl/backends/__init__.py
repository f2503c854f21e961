"""Installers behind one small interface: pip (always present in an env) and uv (faster).

Both install **only** from the wheelhouse: ``--no-index`` plus the wheelhouse directories as
find-links, with the user's and site's pip/uv configuration switched off, so that what is
installed depends on the command line alone.
"""

from __future__ import annotations

import os

from kernelctl.backends.base import Backend, InstallRequest
from kernelctl.backends.pip import PipBackend
from kernelctl.backends.uv import UvBackend, find_uv
from kernelctl.errors import UsageError

BACKENDS = ("auto", "pip", "uv")

__all__ = ["Backend", "InstallRequest", "get_backend", "BACKENDS"]


def get_backend(name: str | None = None) -> Backend:
    """The installer called ``name`` (``auto``: uv when available, else pip).

    ``KERNELCTL_BACKEND`` says what ``auto`` (or no name) means.
    """
    if name in (None, "auto"):
        name = os.environ.get("KERNELCTL_BACKEND") or "auto"
    if name not in BACKENDS:
        raise UsageError(f"unknown installer backend {name!r}", f"Choose one of: {', '.join(BACKENDS)}.")
    uv = find_uv()
    if name == "uv" and uv is None:
        raise UsageError("the uv backend was asked for but uv is not installed",
                         "Install it with 'pip install --no-index uv' or use --backend pip.")
    if name in ("uv", "auto") and uv is not None:
        return UvBackend(uv)
    return PipBackend()
