"""Kernel names."""

from __future__ import annotations

import re

from kernelctl.errors import UsageError

_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")

NAME_RULE = (
    "use 1-64 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit "
    "(for example 'myenv' or 'course-2025')"
)


def validate_name(name: str) -> str:
    """Return ``name`` if it is a valid kernelctl kernel name, else raise :class:`UsageError`.

    The rule is Jupyter's kernel-name rule (which lowercases names it finds) made strict, so
    the kernelspec, the env directory and the launcher entry always agree. The whole name
    must match: no trailing newline or other control character slips through.
    """
    if not _NAME.fullmatch(name):
        raise UsageError(f"invalid kernel name {name!r}", f"Kernel names must {NAME_RULE}.")
    return name
