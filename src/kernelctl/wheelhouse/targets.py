"""Install targets: the Python version and platform a requirement set is checked for.

A :class:`Target` answers three questions the way pip does for the same target:

* which wheel tags are installable, and in which order of preference
  (:meth:`Target.tag_priority`; pip's ``--python-version``/``--platform`` rules);
* which Python version ``Requires-Python`` is checked against
  (:attr:`Target.python_full`: the running interpreter's full version when the target is
  the running Python, else ``X.Y`` as pip uses for ``--python-version X.Y``);
* how environment markers evaluate (:attr:`Target.environment`: this machine's marker
  environment with the target's ``python_version`` and ``python_full_version``).

The default platform list is what pip on this machine accepts
(:func:`packaging.tags.platform_tags`), which on the Alliance clusters is only
``linux_x86_64``: their ``_manylinux`` module turns manylinux off.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from functools import cached_property

from kernelctl.errors import UsageError


def running_python() -> str:
    """``X.Y`` of the running interpreter."""
    return f"{sys.version_info[0]}.{sys.version_info[1]}"


def parse_python(text: str) -> tuple[int, int]:
    """``"3.11"`` (or ``"311"``, ``"3.11.4"``) as ``(3, 11)``; :class:`UsageError` if not a version."""
    raw = text.strip()
    if raw.isdigit() and len(raw) >= 2:
        parts = [raw[0], raw[1:]]
    else:
        parts = raw.split(".")
    try:
        major, minor = int(parts[0]), int(parts[1])
    except (IndexError, ValueError):
        raise UsageError(f"not a Python version: {text!r}", "Give the version as X.Y, e.g. --python 3.11.") from None
    if major != 3:
        raise UsageError(f"unsupported Python version: {text!r}", "Give a Python 3 version, e.g. --python 3.11.")
    return major, minor


def default_platforms() -> list[str]:
    """The platform tags pip on this machine accepts, most specific first."""
    from packaging import tags

    return list(tags.platform_tags())


def expand_platform(platform: str) -> list[str]:
    """The platform tags pip accepts for ``--platform PLATFORM`` (its own expansion rules).

    ``manylinux2014_*`` also accepts ``manylinux2010_*`` and ``manylinux1_*``, and
    ``manylinux2010_*`` accepts ``manylinux1_*``; any other tag is taken alone, so
    ``--platform linux_x86_64`` accepts ``linux_x86_64`` wheels plus pure (``any``) ones.
    """
    prefix, _, arch = platform.partition("_")
    if prefix == "manylinux2014":
        return [platform, f"manylinux2010_{arch}", f"manylinux1_{arch}"]
    if prefix == "manylinux2010":
        return [platform, f"manylinux1_{arch}"]
    return [platform]


@dataclass(frozen=True)
class Target:
    """A CPython ``X.Y`` on a list of platform tags (most specific first)."""

    python: tuple[int, int]
    platforms: tuple[str, ...]
    platform_label: str = "native"
    _tag_cache: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def python_str(self) -> str:
        """``"3.11"``."""
        return f"{self.python[0]}.{self.python[1]}"

    @property
    def is_running(self) -> bool:
        """Whether this is the running interpreter's version (pip needs no ``--python-version``)."""
        return self.python == sys.version_info[:2]

    @property
    def python_full(self) -> str:
        """The version ``Requires-Python`` is checked against, as pip does for this target."""
        if self.is_running:
            return ".".join(map(str, sys.version_info[:3]))
        return self.python_str

    @cached_property
    def priorities(self) -> dict:
        """Every installable :class:`packaging.tags.Tag` mapped to its rank (0 is best)."""
        from packaging import tags

        if self.is_running and self.platform_label == "native":
            ordered = list(tags.sys_tags())
        else:
            ordered = list(tags.cpython_tags(self.python, platforms=self.platforms))
            ordered += list(tags.compatible_tags(self.python, f"cp{self.python[0]}{self.python[1]}",
                                                 self.platforms))
        ranks: dict = {}
        for rank, tag in enumerate(ordered):
            ranks.setdefault(tag, rank)
        return ranks

    def tag_priority(self, tags: str) -> int | None:
        """Rank of the best installable tag in a compressed tag triple, None if none is.

        ``tags`` is the file-name form, e.g. ``cp310.cp311-abi3-linux_x86_64``.
        """
        try:
            return self._tag_cache[tags]
        except KeyError:
            pass
        from packaging.tags import parse_tag

        ranks = self.priorities
        try:
            found = [ranks[t] for t in parse_tag(tags) if t in ranks]
        except ValueError:
            found = []
        best = min(found) if found else None
        self._tag_cache[tags] = best
        return best

    @cached_property
    def environment(self) -> dict[str, str]:
        """The marker environment for this target."""
        from packaging.markers import default_environment

        env = dict(default_environment())
        if not self.is_running:
            env["python_version"] = self.python_str
            env["python_full_version"] = f"{self.python_str}.0"
            env["implementation_version"] = f"{self.python_str}.0"
        return env

    def label(self) -> str:
        """``3.11`` or ``3.11/linux_x86_64``, for messages."""
        return self.python_str if self.platform_label == "native" else f"{self.python_str}/{self.platform_label}"


def make_targets(pythons: list[str] | None = None, platforms: list[str] | None = None) -> list[Target]:
    """Targets for each ``X.Y`` in ``pythons`` (default: the running one) on ``platforms``.

    ``platforms`` are pip ``--platform`` values; without any, this machine's platform tags.
    """
    versions: list[tuple[int, int]] = []
    for text in pythons or [running_python()]:
        version = parse_python(text)
        if version not in versions:
            versions.append(version)
    if platforms:
        expanded: list[str] = []
        for p in platforms:
            for tag in expand_platform(p.strip()):
                if tag and tag not in expanded:
                    expanded.append(tag)
        label = ",".join(p.strip() for p in platforms)
    else:
        expanded, label = default_platforms(), "native"
    return [Target(v, tuple(expanded), label) for v in versions]
