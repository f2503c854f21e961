"""A Slurm kernel's kernel.json: ``metadata.kernel_provisioner`` selects the kernelctl-slurm
provisioner with the kernel's Slurm options, and the display name says it runs on Slurm
("Python 3.11 (myenv, Slurm 8 cores)"). Pure functions on the kernel.json dict."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from kernelctl.slurmkernel.options import summary

PROVISIONER = "kernelctl-slurm"
DEFAULT_WAIT = 300.0


def settings(kernel_json: dict[str, Any]) -> dict[str, Any] | None:
    """``{"options": [...], "queue_wait": seconds}`` of a Slurm kernel, None for other kernels."""
    meta = kernel_json.get("metadata") if isinstance(kernel_json.get("metadata"), dict) else {}
    provisioner = meta.get("kernel_provisioner") if isinstance(meta, dict) else None
    if not isinstance(provisioner, dict) or provisioner.get("provisioner_name") != PROVISIONER:
        return None
    config = provisioner.get("config") or {}
    return {"options": list(config.get("options", [])), "queue_wait": float(config.get("queue_wait", DEFAULT_WAIT))}


def _with_label(display_name: str, label: str) -> str:
    if display_name.endswith(")") and "(" in display_name:
        return f"{display_name[:-1]}, {label})"
    return f"{display_name} ({label})"


def _without_label(display_name: str, label: str) -> str:
    for suffix, replacement in ((f", {label})", ")"), (f" ({label})", "")):
        if display_name.endswith(suffix):
            return display_name[: -len(suffix)] + replacement
    return display_name


def disable(kernel_json: dict[str, Any]) -> dict[str, Any]:
    """``kernel_json`` as a kernel that starts on this machine again."""
    spec = copy.deepcopy(kernel_json)
    current = settings(spec)
    if current is None:
        return spec
    spec["display_name"] = _without_label(spec.get("display_name", ""), summary(current["options"]))
    del spec["metadata"]["kernel_provisioner"]
    return spec


def enable(kernel_json: dict[str, Any], options: Sequence[str], queue_wait: float = DEFAULT_WAIT) -> dict[str, Any]:
    """``kernel_json`` as a Slurm kernel with checked, normalised ``options``."""
    spec = disable(kernel_json)
    spec.setdefault("metadata", {})["kernel_provisioner"] = {
        "provisioner_name": PROVISIONER, "config": {"options": list(options), "queue_wait": float(queue_wait)}}
    spec["display_name"] = _with_label(spec.get("display_name", ""), summary(options))
    return spec
