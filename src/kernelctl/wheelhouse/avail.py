"""What the wheelhouse holds, by name pattern: kernelctl's ``avail_wheels``.

A pattern is a project name, possibly with ``*``/``?`` globs, possibly followed by a
version specifier: ``numpy``, ``*cdf*``, ``'numpy>=1.26'``, ``numpy==1.26.*``. Names match
insensitively to case and to ``-``/``_``/``.`` (PEP 503), so ``backports-functools-lru-cache``
finds ``backports.functools_lru_cache``. By default only the newest version of each project
is listed (every wheel of it); ``all_versions`` lists them all.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence
from typing import NamedTuple

from kernelctl.errors import UsageError
from kernelctl.wheelhouse.filenames import public_and_local, split_tags
from kernelctl.wheelhouse.index import Wheel, WheelhouseIndex
from kernelctl.wheelhouse.targets import Target

_PATTERN = re.compile(r"^\s*([A-Za-z0-9._*?\[\]-]+)\s*(.*)$")


class Pattern(NamedTuple):
    """A name glob (normalised) and a specifier (``None`` for any version)."""

    text: str
    glob: str
    specifier: object


def parse_pattern(text: str) -> Pattern:
    """``"NumPy>=1.2"`` as a :class:`Pattern`; :class:`UsageError` when it is not one."""
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    match = _PATTERN.match(text)
    if not match or not match.group(1).strip("*?"):
        raise UsageError(f"not a name pattern: {text!r}", "Give a name, a glob such as '*cdf*', or 'name>=1.0'.")
    name, rest = match.groups()
    glob = re.sub(r"[-_.]+", "-", name).lower()
    spec = None
    if rest.strip():
        try:
            spec = SpecifierSet(rest.strip())
        except InvalidSpecifier:
            raise UsageError(f"invalid version specifier in {text!r}", "Write it as pip does, e.g. 'numpy>=1.26'.") from None
    return Pattern(text, glob, spec)


def _row(wheel: Wheel) -> dict:
    public, local = public_and_local(wheel.version_str)
    python, abi, platform = split_tags(wheel.tags)
    return {"name": wheel.name, "version": public, "local": local, "python": ",".join(python),
            "abi": ",".join(abi), "platform": ",".join(platform), "file": wheel.path}


def avail(index: WheelhouseIndex, patterns: Sequence[str] = (), targets: Sequence[Target] = (),
          all_versions: bool = False) -> tuple[list[dict], list[str]]:
    """The wheels matching ``patterns`` (all when empty): ``(rows, patterns that matched nothing)``.

    ``targets`` keeps only wheels installable on at least one of them. Rows are dicts with
    ``name, version, local, python, abi, platform, file`` and come sorted by name (case
    insensitive), newest version first, then python tag.
    """
    parsed = [parse_pattern(p) for p in patterns]
    projects = index.projects()
    selected: dict[str, list[Pattern]] = {}
    unmatched: list[str] = []
    for pat in parsed:
        if any(c in pat.glob for c in "*?["):
            hits = fnmatch.filter(projects, pat.glob)
        else:
            hits = [pat.glob] if pat.glob in index else []
        for project in hits:
            selected.setdefault(project, []).append(pat)
        if not hits:
            unmatched.append(pat.text)
    if not parsed:
        selected = {p: [] for p in projects}

    rows: list[dict] = []
    found_for: set[str] = set()
    for project in sorted(selected):
        wheels = []
        for w in index.wheels(project):
            if targets and not any(t.tag_priority(w.tags) is not None for t in targets):
                continue
            pats = selected[project]
            if pats and not any(p.specifier is None or p.specifier.contains(w.version, prereleases=True)
                                for p in pats):
                continue
            wheels.append(w)
        if not wheels:
            continue
        found_for.update(p.text for p in selected[project])
        if not all_versions:
            newest = max(w.version for w in wheels)
            wheels = [w for w in wheels if w.version == newest]
        wheels.sort(key=lambda w: (w.version, w.tags), reverse=True)
        rows.extend(_row(w) for w in wheels)
    rows.sort(key=lambda r: r["name"].lower())  # stable: keeps newest-first within a project
    unmatched += [p.text for p in parsed if p.text not in found_for and p.text not in unmatched]
    return rows, unmatched
