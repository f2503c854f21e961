"""kernelctl: offline-aware Jupyter kernels and wheelhouse tools for HPC clusters.

The Python API mirrors the CLI, one function per command::

    import kernelctl
    kernelctl.create("myenv", ["numpy"], wheelhouses=["/path/to/wheels"])
    kernelctl.list_kernels()

Functions are imported on first use, so ``import kernelctl`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_API = {
    "create": "kernelctl.commands.create",
    "install": "kernelctl.commands.install",
    "list_kernels": "kernelctl.commands.list",
    "show": "kernelctl.commands.show",
    "remove": "kernelctl.commands.remove",
    "export": "kernelctl.commands.export",
    "rebuild": "kernelctl.commands.rebuild",
    "doctor": "kernelctl.commands.doctor",
    "set_netguard": "kernelctl.commands.netguard",
    "scan": "kernelctl.commands.scan",
    "run": "kernelctl.commands.run",
    "fetch": "kernelctl.commands.wheelhouse_fetch",
    "list_available": "kernelctl.commands.wheelhouse_avail",
    "check_wheelhouse": "kernelctl.commands.wheelhouse_check",
    "audit_wheelhouse": "kernelctl.commands.wheelhouse_audit",
    "submit": "kernelctl.commands.submit",
    "list_jobs": "kernelctl.commands.jobs",
    "KernelctlError": "kernelctl.errors",
    "UsageError": "kernelctl.errors",
}

__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:
    if name not in _API:
        raise AttributeError(f"module 'kernelctl' has no attribute {name!r}")
    value = getattr(importlib.import_module(_API[name]), name)
    globals()[name] = value
    return value
