"""Why a requirement cannot be installed from the wheelhouse: its status and a reason.

Each function returns ``(status, reason, extra JSON fields)`` with a status of
:data:`kernelctl.wheelhouse.check.STATUSES`. A requirement is judged in this order:
nothing satisfies it alone (:func:`why_missing`); none of its candidates has an
installable closure (:func:`unreachable`, a dependency chain); or the resolver failed
on the set it belongs to (:func:`diagnose`, a conflict or a resolver that gave up).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kernelctl.wheelhouse.filenames import normalize
from kernelctl.wheelhouse.reachability import Reachability
from kernelctl.wheelhouse.resolver import Candidate, Requirement, ResolutionTooDeep, WheelhouseProvider
from kernelctl.wheelhouse.targets import Target

Verdict = tuple[str, str, dict]

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


def dummy_reason(candidate: Candidate) -> str:
    """The reason given for a requirement that lands on a placeholder wheel."""
    return (f"{candidate.name} {candidate.version_text} is a placeholder wheel: "
            f"{module_hint(candidate.name)} instead of installing it")


def label(candidate: Candidate) -> str:
    """``pandas 2.2.1`` or ``dask[array] 2024.1.0``: a candidate in a chain."""
    extras = f"[{','.join(candidate.extras)}]" if candidate.extras else ""
    return f"{candidate.name}{extras} {candidate.version_text}"


def _platform_text(target: Target) -> str:
    if target.platform_label != "native":
        return target.platform_label
    plats = target.platforms
    return ", ".join(plats) if len(plats) <= 3 else f"{plats[0]} ... {plats[-1]} (this machine)"


def _versions_text(versions: Sequence[Any], limit: int = 12) -> str:
    shown = [str(v) for v in versions[:limit]]
    more = f" and {len(versions) - limit} more" if len(versions) > limit else ""
    return ", ".join(shown) + more


def why_missing(provider: WheelhouseProvider, req: Requirement) -> Verdict:
    """Why ``req`` alone has no candidate at all."""
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
            reasons.append(f"{req.name} {version}: unusable wheel ({metas[0][1].error})")
        elif not provider.python_ok(readable[0][1].requires_python):
            reasons.append(f"{req.name} {version} requires Python {readable[0][1].requires_python}")
    detail = "; ".join(reasons[:3]) or f"no usable wheel of {req.name}"
    return "incompatible", f"{detail} (target Python {target.python_full})", {}


def unreachable(reach: Reachability, req: Requirement) -> Verdict:
    """Why ``req`` has no candidate whose closure is installable: what it lacks, or the
    chain to the dependency nothing provides (``dummy`` when the chain holds a placeholder)."""
    chain, missing = reach.dead_end(req)
    status, detail, extra = why_missing(reach.provider, missing)
    if not chain:
        return status, detail, extra
    dummy = next((c for c in chain if c.wheel.is_dummy), None)
    if dummy is not None:
        return "dummy", dummy_reason(dummy), {}
    text = " -> ".join([label(c) for c in chain] + [missing.text])
    return "dependency-missing", f"{text}: {detail}", {"chain": text, "missing": missing.text}


def diagnose(provider: WheelhouseProvider, error: Exception) -> Verdict:
    """The status and reason of a failed resolution of requirements that are each reachable."""
    if isinstance(error, ResolutionTooDeep):
        return ("too-deep", f"the resolver gave up after {error.round_count:,} rounds of backtracking without "
                "finding a combination of versions (pip would report resolution-too-deep); pin some versions "
                "to narrow the search", {})
    causes = list(getattr(error, "causes", []) or [])
    if not causes:
        return "conflict", str(error), {}
    empty = [c for c in causes if not provider.has_candidates(c.requirement)]
    if empty:  # only when reachability ran out of budget and guessed
        cause = empty[0]
        status, detail, extra = why_missing(provider, cause.requirement)
        if cause.parent is None:
            return status, detail, extra
        chain = " -> ".join(provider.chain(cause.parent) + [cause.requirement.text])
        return "dependency-missing", f"{chain}: {detail}", {"chain": chain, "missing": cause.requirement.text}
    parts = []
    for cause in causes:
        steps = provider.chain(cause.parent) if cause.parent is not None else ["(requested)"]
        parts.append(" -> ".join(steps + [cause.requirement.text]))
    return "conflict", "no version satisfies all of: " + "; ".join(dict.fromkeys(parts)), {}
