"""netguard in a kernelspec: the extension's argv and the offline environment.

The same function writes them when a kernel is built and rewrites them when the mode or
allowlist changes later, so both paths always agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kernelctl.errors import UsageError
from kernelctl.manifest import Options
from kernelctl.netguard import MODES, RUNTIME_NAME, compile_runtime, install_runtime, kernel_settings
from kernelctl.netguard.policy import ALLOW_ENV

__all__ = ["MODES", "apply", "compile_runtime", "install_runtime", "validate"]


def validate(options: Options, wheelhouses: Sequence[str | Path]) -> tuple[list[str], dict[str, str]]:
    """The netguard argv and env for ``options``, or a usage error naming the bad value."""
    try:
        return kernel_settings(options.netguard, [str(d) for d in wheelhouses], options.netguard_allow)
    except ValueError as err:
        raise UsageError(f"netguard: {err}",
                         "Allow entries are host names, '.domain' suffixes or CIDRs, e.g. '.alliancecan.ca'.") from None


def _managed_env_keys(wheelhouses: Sequence[str]) -> set[str]:
    keys = {ALLOW_ENV}
    for mode in MODES:
        keys |= set(kernel_settings(mode, wheelhouses, [])[1])
    return keys


def apply(kernel_json: dict[str, Any], launch_config: dict[str, Any], options: Options,
          wheelhouses: Sequence[str | Path]) -> None:
    """Set netguard's env in ``kernel_json`` and its extension argv in ``launch_config``,
    replacing whatever netguard settings they held before."""
    dirs = [str(d) for d in wheelhouses]
    argv, env = validate(options, dirs)
    managed = _managed_env_keys(dirs)
    kept = {k: v for k, v in kernel_json.get("env", {}).items() if k not in managed}
    kernel_json["env"] = {**kept, **env}
    command = list(launch_config["exec"])
    while RUNTIME_NAME in command:
        at = command.index(RUNTIME_NAME)
        del command[at - 1:at + 1]  # the "--ext" before it, and the name
    launch_config["exec"] = command + argv
