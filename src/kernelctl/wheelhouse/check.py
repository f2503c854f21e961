"""Coverage: can a set of requirements be installed from the wheelhouse, on each target?

For each target the requirements are resolved jointly (that is the install pip would do).
When that works, every requirement is ``ok`` (or ``dummy``, when its closure holds a
placeholder wheel). When it does not, each requirement is resolved on its own to say why:

``ok``
    it resolves; with the others it may still conflict (then it is ``conflict``).
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
``dummy``
    the resolution lands on a site placeholder wheel (``+dummy.computecanada``): load the
    module instead.

A requirement whose marker excludes the target is ``ok`` with nothing to install.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kernelctl.wheelhouse.filenames import normalize
from kernelctl.wheelhouse.index import WheelhouseIndex
from kernelctl.wheelhouse.reqfile import RootRequirement
from kernelctl.wheelhouse.resolver import (
    Candidate,
    Requirement,
    ResolutionImpossible,
    ResolutionTooDeep,
    WheelhouseProvider,
    resolve,
)
from kernelctl.wheelhouse.targets import Target

STATUSES = ("ok", "not-found", "no-matching-version", "incompatible", "dependency-missing", "conflict", "dummy")

#: Projects whose dummy wheels stand for a module of another name (wheels_builder/dummy).
MODULE_FOR = {
    "pyarrow": "arrow",
    "opencv-python": "opencv",
    "opencv-contrib-python": "opencv",
    "opencv-python-headless": "opencv",
    "petsc4py": "petsc",
    "pyqt5": "qt",
    "pyqt6": "qt",
}


def module_hint(project: str) -> str:
    """``module load NAME`` for a project provided by a module."""
    return f"module load {MODULE_FOR.get(normalize(project), normalize(project))}"


def _platform_text(target: Target) -> str:
    if target.platform_label != "native":
        return target.platform_label
    plats = target.platforms
    return ", ".join(plats) if len(plats) <= 3 else f"{plats[0]} ... {plats[-1]} (this machine)"


def _versions_text(versions: Sequence[Any], limit: int = 12) -> str:
    shown = [str(v) for v in versions[:limit]]
    more = f" and {len(versions) - limit} more" if len(versions) > limit else ""
    return ", ".join(shown) + more


def why_missing(provider: WheelhouseProvider, req: Requirement) -> tuple[str, str, dict]:
    """Why ``req`` alone has no candidate: ``(status, reason, extra JSON fields)``."""
    index, target = provider.index, provider.target
    wheels = index.wheels(req.project)
    if not wheels:
        misnamed = [p.path for p in index.problems if p.kind == "misnamed"
                    and normalize(p.path.rsplit("/", 1)[-1].partition("-")[0]) == req.project]
        extra = f" (misnamed files: {', '.join(misnamed)})" if misnamed else ""
        return "not-found", f"no project {req.name} in the wheelhouse{extra}", {}
    all_versions = sorted({w.version for w in wheels}, reverse=True)
    if req.exact is not None:
        matching = [v for v in all_versions if v == req.exact]
    else:
        matching = list(req.specifier.filter(all_versions))
    if not matching:
        return ("no-matching-version",
                f"no version of {req.name} matches '{req.specifier or req.exact}'; "
                f"the wheelhouse has {_versions_text(all_versions)}",
                {"available": [str(v) for v in all_versions]})
    allowed = list(provider.allowed_versions(req.project, [req]))
    if not allowed:
        tags = sorted({w.tags for w in wheels if w.version in set(matching)})
        return ("incompatible",
                f"{req.name} {_versions_text(matching, 3)} has no wheel for Python {target.python_str} on "
                f"{_platform_text(target)}; its wheels are tagged {', '.join(tags)}",
                {"tags": tags})
    reasons = []
    for version, _, ws in allowed:
        metas = [(w, index.metadata(index.wheel(d, w, req.project))) for d, w in ws]
        readable = [(w, m) for w, m in metas if m.error is None]
        if not readable:
            reasons.append(f"{req.name} {version}: unreadable wheel ({metas[0][1].error})")
        elif not provider.python_ok(readable[0][1].requires_python):
            reasons.append(f"{req.name} {version} requires Python {readable[0][1].requires_python}")
    detail = "; ".join(reasons[:3]) or f"no usable wheel of {req.name}"
    return "incompatible", f"{detail} (target Python {target.python_full})", {}


def _dummy_in_chain(provider: WheelhouseProvider, candidate: Candidate | None) -> Candidate | None:
    seen = set()
    while candidate is not None and candidate.identifier not in seen:
        seen.add(candidate.identifier)
        if candidate.wheel.is_dummy:
            return candidate
        candidate = provider.introduced_by.get(candidate.identifier)
    return None


def _dummy_reason(candidate: Candidate) -> str:
    return (f"{candidate.name} {candidate.version_text} is a placeholder wheel: "
            f"{module_hint(candidate.name)} instead of installing it")


def diagnose(provider: WheelhouseProvider, error: Exception) -> tuple[str, str, dict]:
    """The status and reason of a failed resolution."""
    if isinstance(error, ResolutionTooDeep):
        return "conflict", "the resolver gave up: too many rounds of backtracking", {}
    causes = list(getattr(error, "causes", []) or [])
    if not causes:
        return "conflict", str(error), {}
    empty = [c for c in causes if not provider.has_candidates(c.requirement)]
    if empty:
        cause = empty[0]
        status, detail, extra = why_missing(provider, cause.requirement)
        if cause.parent is None:
            return status, detail, extra
        dummy = _dummy_in_chain(provider, cause.parent)
        if dummy is not None:
            return "dummy", _dummy_reason(dummy), {}
        chain = " -> ".join(provider.chain(cause.parent) + [cause.requirement.text])
        return "dependency-missing", f"{chain}: {detail}", {"chain": chain, "missing": cause.requirement.text}
    parts = []
    for cause in causes:
        steps = provider.chain(cause.parent) if cause.parent is not None else ["(requested)"]
        parts.append(" -> ".join(steps + [cause.requirement.text]))
    return "conflict", "no version satisfies all of: " + "; ".join(dict.fromkeys(parts)), {}


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
    provider = WheelhouseProvider(index, target)
    entries: list[dict | None] = [None] * len(roots)
    active: list[tuple[int, Requirement]] = []
    for i, root in enumerate(roots):
        marker = root.requirement.marker  # type: ignore[attr-defined]
        if marker is not None and not provider.marker_true(str(marker)):
            entries[i] = _entry(root, "ok", f"not needed on Python {target.python_str}: its marker is false")
        else:
            active.append((i, _to_requirement(provider, root)))

    install: list[dict] = []
    joint_error: Exception | None = None
    resolved = None
    if active:
        try:
            resolved = resolve(provider, [r for _, r in active])
        except (ResolutionImpossible, ResolutionTooDeep) as err:
            joint_error = err

    if resolved is not None:
        dummies = {k for k, c in resolved.mapping.items() if c.wheel.is_dummy}
        for i, req in active:
            cand = resolved.mapping.get(req.identifier)
            hit = sorted(resolved.closure(req.identifier) & dummies) if dummies else []
            if hit:
                entries[i] = _entry(roots[i], "dummy", _dummy_reason(resolved.mapping[hit[0]]), cand)
            else:
                entries[i] = _entry(roots[i], "ok", "", cand)
        install = [{"name": c.name, "version": c.version_text, "file": c.wheel.path}
                   for k, c in sorted(resolved.mapping.items()) if not c.extras]
    elif active:
        alone_ok: list[tuple[int, set[str]]] = []
        for i, req in active:
            solo = provider.fork()
            try:
                single = resolve(solo, [req])
            except (ResolutionImpossible, ResolutionTooDeep) as err:
                status, reason, extra = diagnose(solo, err)
                entries[i] = _entry(roots[i], status, reason, **extra)
                continue
            cand = single.mapping.get(req.identifier)
            dummies = [k for k in single.mapping if single.mapping[k].wheel.is_dummy]
            if dummies:
                entries[i] = _entry(roots[i], "dummy", _dummy_reason(single.mapping[dummies[0]]), cand)
                continue
            projects = {c.project for c in single.mapping.values()}
            alone_ok.append((i, projects))
            entries[i] = _entry(roots[i], "ok", "", cand)
        conflict_error: Exception | None = None
        blamed = provider
        if len(alone_ok) == len(active):
            conflict_error = joint_error  # every requirement works alone: they conflict
        elif len(alone_ok) > 1:
            blamed = provider.fork()
            ok_ids = {j for j, _ in alone_ok}
            try:
                resolve(blamed, [r for i, r in active if i in ok_ids])
            except (ResolutionImpossible, ResolutionTooDeep) as err:
                conflict_error = err
        if conflict_error is not None:
            _, reason, _ = diagnose(blamed, conflict_error)
            involved = set()
            for cause in getattr(conflict_error, "causes", []) or []:
                involved.add(cause.requirement.project)
                if cause.parent is not None:
                    involved.add(cause.parent.project)
            hits = [i for i, projects in alone_ok if projects & involved] or [i for i, _ in alone_ok]
            for i in hits:
                entries[i].update(status="conflict", reason=reason or "conflicts with the other requirements",
                                  version=None, file=None)
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
    "warnings"}`` and ``problems`` lists the misnamed and unreadable wheels met.
    """
    results = [check_target(index, roots, t) for t in targets]
    return {
        "covered": all(r["covered"] for r in results),
        "wheelhouse": list(index.dirs),
        "targets": results,
        "problems": [p._asdict() for p in index.problems],
    }
