"""Coverage: can a set of requirements be installed from the wheelhouse, on each target?

For each target, the requirements are first resolved together without backtracking
(:func:`~kernelctl.wheelhouse.resolver.resolve_without_backtracking`): when the newest
choices fit, as on a consistent wheelhouse, that is the answer. Otherwise, in three
steps that each cost about what the closure costs:

1. each requirement is judged alone, cheaply (:mod:`kernelctl.wheelhouse.reachability`):
   one that nothing satisfies, or whose every candidate lacks some dependency all the way
   down, is reported with its real status at once;
2. the others are resolved jointly (that is the install pip would do), the resolver being
   offered only candidates with an installable closure, so it backtracks only for real
   conflicts, and a set that installs only with older versions is found as pip finds it;
3. when that fails, or the resolver exceeds :data:`JOINT_ROUNDS` rounds, the set is
   narrowed by bisection (:func:`resolve_narrowing`): the largest part found to resolve is
   kept and each requirement that cannot join it is reported with the resolver's reason.

Statuses:

``ok``
    it installs, together with the other ``ok`` requirements.
``not-found``
    no wheel of that project in the wheelhouse.
``no-matching-version``
    the project is there, but no version matches; the reason lists the versions.
``incompatible``
    matching versions exist, but none has a wheel for the target's Python, ABI and platform
    (the reason lists the tags there are), or their ``Requires-Python`` excludes it.
``dependency-missing``
    a dependency down the line cannot be found; the reason names the chain, e.g.
    ``pandas 2.2.1 -> tzdata>=2022.7``.
``conflict``
    requirements on one project that no version satisfies together.
``too-deep``
    the resolver gave up after :data:`JOINT_ROUNDS` rounds (pip reports
    ``resolution-too-deep``): neither found installable nor shown not to be.
``dummy``
    the resolution lands on a site placeholder wheel (``+dummy.computecanada``): load the
    module instead.

A requirement whose marker excludes the target is ``ok`` with nothing to install.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from kernelctl.wheelhouse.diagnosis import diagnose, dummy_reason, unreachable
from kernelctl.wheelhouse.filenames import normalize
from kernelctl.wheelhouse.index import WheelhouseIndex
from kernelctl.wheelhouse.reachability import Reachability
from kernelctl.wheelhouse.reqfile import RootRequirement
from kernelctl.wheelhouse.resolver import (
    Candidate,
    Requirement,
    Resolved,
    ResolutionImpossible,
    ResolutionTooDeep,
    WheelhouseProvider,
    resolve,
    resolve_without_backtracking,
)
from kernelctl.wheelhouse.targets import Target

STATUSES = ("ok", "not-found", "no-matching-version", "incompatible", "dependency-missing", "conflict",
            "too-deep", "dummy")

#: Rounds the resolver may take for one set before it is narrowed. With only viable
#: candidates offered, a set that resolves takes about one round per project of its
#: closure; this bounds the time (and the resolver's state, which grows per round).
JOINT_ROUNDS = 20_000


class Narrowed(NamedTuple):
    """What :func:`resolve_narrowing` found: the resolution of the requirements at positions
    ``kept`` (None when none), and ``(position, error, provider)`` for each one that could
    not join them (``provider`` holds that attempt's dependency chains)."""

    resolved: Resolved | None
    kept: list[int]
    failed: list[tuple[int, Exception, WheelhouseProvider]]


def resolve_narrowing(provider: WheelhouseProvider, reqs: Sequence[Requirement],
                      max_rounds: int = JOINT_ROUNDS) -> Narrowed:
    """Resolve ``reqs`` together; when that fails, bisect.

    Groups are tried in order, each with the requirements kept so far: a group that
    resolves with them is kept, one that does not is split in two, down to single
    requirements, which are then reported. So one resolution answers when all is well, and
    ``k`` culprits cost about ``2 k log2(len(reqs))`` resolutions, each bounded by
    ``max_rounds``.
    """
    kept: list[int] = []
    resolved: Resolved | None = None
    failed: list[tuple[int, Exception, WheelhouseProvider]] = []
    pending = [list(range(len(reqs)))] if reqs else []
    while pending:
        group = pending.pop()
        trial = provider.fork()
        try:
            resolved = resolve(trial, [reqs[i] for i in kept + group], max_rounds=max_rounds)
        except (ResolutionImpossible, ResolutionTooDeep) as err:
            if len(group) == 1:
                failed.append((group[0], err, trial))
            else:
                half = len(group) // 2
                pending += [group[half:], group[:half]]
            continue
        kept += group
    return Narrowed(resolved, kept, failed)


def _conflicting_roots(provider: WheelhouseProvider, error: Exception) -> set[str]:
    """The identifiers of the requested projects whose closures hold the requirements a
    resolution failure names: the other parties to a conflict, and only those."""
    return {provider.root_of(cause.parent) if cause.parent is not None else cause.requirement.identifier
            for cause in getattr(error, "causes", []) or []}


def _to_requirement(provider: WheelhouseProvider, root: RootRequirement) -> Requirement:
    req = root.requirement
    return Requirement(normalize(req.name), tuple(sorted(normalize(e) for e in req.extras)),
                       provider.specifier(str(req.specifier)), root.text, req.name)


def _entry(root: RootRequirement, status: str, reason: str, cand: Candidate | None = None, **extra) -> dict:
    out = {"requirement": root.text, "status": status, "reason": reason,
           "version": cand.version_text if cand is not None else None,
           "file": cand.wheel.path if cand is not None else None}
    if root.source != "command line":
        out["source"] = root.source
    out.update(extra)
    return out


def check_target(index: WheelhouseIndex, roots: Sequence[RootRequirement], target: Target) -> dict:
    """The coverage report of one target (see :func:`check`)."""
    plain = WheelhouseProvider(index, target)
    entries: list[dict | None] = [None] * len(roots)
    wanted: list[tuple[int, Requirement]] = []
    for i, root in enumerate(roots):
        marker = root.requirement.marker  # type: ignore[attr-defined]
        if marker is not None and not plain.marker_true(str(marker)):
            entries[i] = _entry(root, "ok", f"not needed on Python {target.python_str}: its marker is false")
        else:
            wanted.append((i, _to_requirement(plain, root)))
    # The usual case first: the newest choices fit, and nothing needs undoing.
    fast = resolve_without_backtracking(plain, [r for _, r in wanted]) if wanted else None
    provider = plain
    if fast is not None:
        active, unreached = wanted, 0
        narrowed = Narrowed(fast, list(range(len(active))), [])
    else:
        reach = Reachability(plain)
        provider = plain.with_keep(reach.viable)
        active, unreached = [], 0
        for i, req in wanted:
            if provider.has_candidates(req):
                active.append((i, req))
            else:
                status, reason, extra = unreachable(reach, req)
                entries[i] = _entry(roots[i], status, reason, **extra)
                unreached += 1
        narrowed = resolve_narrowing(provider, [r for _, r in active])
    resolved = narrowed.resolved
    if resolved is not None:
        dummies = {k for k, c in resolved.mapping.items() if c.wheel.is_dummy}
        for pos in narrowed.kept:
            i, req = active[pos]
            cand = resolved.mapping.get(req.identifier)
            hit = sorted(resolved.closure(req.identifier) & dummies) if dummies else []
            reason = dummy_reason(resolved.mapping[hit[0]]) if hit else ""
            entries[i] = _entry(roots[i], "dummy" if hit else "ok", reason, cand)
    for pos, error, trial in narrowed.failed:
        i, _ = active[pos]
        status, reason, extra = diagnose(trial, error)
        entries[i] = _entry(roots[i], status, reason, **extra)
        parties = _conflicting_roots(trial, error) if status == "conflict" else set()
        for other in narrowed.kept:
            j, req = active[other]
            if req.identifier in parties:
                entries[j] = _entry(roots[j], "conflict", reason)
    install = []
    if resolved is not None and not narrowed.failed and not unreached:
        install = [{"name": c.name, "version": c.version_text, "file": c.wheel.path}
                   for k, c in sorted(resolved.mapping.items()) if not c.extras]
    warnings = [f"{name} {version} has no extra '{extra}'" for name, version, extra in sorted(provider.unknown_extras)]
    final = [e for e in entries if e is not None]
    return {
        "python": target.python_str,
        "platform": target.platform_label,
        "covered": all(e["status"] == "ok" for e in final),
        "install": install,
        "requirements": final,
        "warnings": warnings,
    }


def check(index: WheelhouseIndex, roots: Sequence[RootRequirement], targets: Sequence[Target]) -> dict:
    """Whether ``roots`` can be installed from ``index`` on every target, and why not.

    Returns ``{"covered", "wheelhouse", "targets": [...], "problems": [...]}`` where each
    target is ``{"python", "platform", "covered", "install": [{"name", "version", "file"}],
    "requirements": [{"requirement", "status", "reason", "version", "file", ...}],
    "warnings"}`` and ``problems`` lists the unusable entries met
    (:class:`~kernelctl.wheelhouse.index.Problem`: every one the listing shows, and the
    wheels opened that pip could not use).
    """
    results = [check_target(index, roots, t) for t in targets]
    return {
        "covered": all(r["covered"] for r in results),
        "wheelhouse": list(index.dirs),
        "targets": results,
        "problems": [p._asdict() for p in index.problems],
    }
