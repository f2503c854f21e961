"""Offline dependency resolution against a wheelhouse index, with resolvelib.

:class:`WheelhouseProvider` is a resolvelib provider that makes the same choices as
``pip install --no-index --find-links``:

* a project's candidates are its wheels whose tags fit the target, one per version
  (the best tag, then the highest build tag, then the highest-priority directory), highest
  version first; local versions sort as PEP 440 says, so ``1.0+computecanada`` is preferred
  to ``1.0``;
* the requirements on a project are combined, and pre-releases are considered only when
  they name one or when nothing else matches (:meth:`packaging.specifiers.SpecifierSet.filter`);
* a version whose preferred wheel has a ``Requires-Python`` excluding the target is
  dropped, and a wheel that cannot be read is skipped for the next one of the same version;
* ``name[extra]`` is its own identifier, pinned to the same version as ``name``; extras a
  wheel does not declare in ``Provides-Extra`` are ignored (pip warns and goes on);
* markers are evaluated for the target.

Metadata is read only for the candidates the resolver visits, so the cost grows with the
size of the dependency closure, not of the wheelhouse.

resolvelib's stock round loop rescans every criterion on every round, which is quadratic
in the closure size (seconds for a 1,000-project closure). :class:`_IncrementalResolution`
runs the same algorithm, pin by pin and with resolvelib's own pinning and backjumping, but
keeps the set of unsatisfied criteria up to date from the criteria each pin changed. It is
used with the resolvelib versions it was written against (1.1, 1.2); others get the stock
resolver, which gives the same result more slowly.
"""

from __future__ import annotations

import functools
import gc
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, NamedTuple

from resolvelib import AbstractProvider, BaseReporter
from resolvelib import __version__ as _RESOLVELIB_VERSION
from resolvelib.resolvers import ResolutionImpossible, ResolutionTooDeep, Resolver

from kernelctl.wheelhouse.index import Wheel, WheelhouseIndex
from kernelctl.wheelhouse.metadata_cache import Dependency
from kernelctl.wheelhouse.targets import Target

__all__ = [
    "Candidate", "Requirement", "Resolved", "ResolutionImpossible", "ResolutionTooDeep",
    "WheelhouseProvider", "resolve",
]

MAX_ROUNDS = 200_000


def identifier_of(project: str, extras: Sequence[str]) -> str:
    """``name`` or ``name[a,b]``: the resolver's key for a project with extras."""
    return f"{project}[{','.join(extras)}]" if extras else project


class Requirement:
    """A requirement as the resolver sees it: a project, its extras, and what versions fit.

    ``exact`` (a :class:`~packaging.version.Version`) pins one version exactly, local part
    included; it ties ``name[extra]`` to the version chosen for ``name``.
    """

    __slots__ = ("project", "extras", "identifier", "specifier", "spec_text", "exact", "text", "name", "is_pin")

    def __init__(self, project: str, extras: Sequence[str], specifier: Any, text: str,
                 name: str | None = None, exact: Any = None, spec_text: str | None = None) -> None:
        self.project = project
        self.extras = tuple(extras)
        self.identifier = identifier_of(project, self.extras)
        self.specifier = specifier
        self.spec_text = str(specifier) if spec_text is None else spec_text
        self.exact = exact
        self.text = text
        self.name = name or project
        #: Whether it names a single version (``==1.2``, ``===1.2`` or an exact pin).
        self.is_pin = exact is not None or (
            "," not in self.spec_text and self.spec_text.startswith("==") and not self.spec_text.endswith("*"))

    def __repr__(self) -> str:
        return f"Requirement({self.text!r})"


class Candidate:
    """One version of a project (with extras, possibly), backed by one wheel."""

    __slots__ = ("project", "extras", "identifier", "version", "wheel", "deps")

    def __init__(self, project: str, extras: tuple[str, ...], version: Any, wheel: Wheel) -> None:
        self.project = project
        self.extras = extras
        self.identifier = identifier_of(project, extras)
        self.version = version
        self.wheel = wheel
        self.deps: list[Requirement] | None = None

    @property
    def name(self) -> str:
        """The project name as the wheel spells it."""
        return self.wheel.name

    def __repr__(self) -> str:
        return f"Candidate({self.identifier} {self.version})"


class WheelhouseProvider(AbstractProvider):
    """A resolvelib provider over a :class:`WheelhouseIndex` for one :class:`Target`."""

    def __init__(self, index: WheelhouseIndex, target: Target) -> None:
        self.index = index
        self.target = target
        self.depth: dict[str, int] = {}
        #: identifier -> the candidate whose dependency first brought it in (None for roots)
        self.introduced_by: dict[str, Candidate | None] = {}
        #: (project, extra) pairs asked for but not declared by the wheel
        self.unknown_extras: set[tuple[str, str, str]] = set()
        self._versions: dict[str, list] = {}
        self._candidates: dict[tuple[str, Any], Candidate | None] = {}
        self._specs: dict[str, Any] = {}
        self._markers: dict[tuple[str, str], bool] = {}
        self._requires_python: dict[str, bool] = {}
        self._allowed: dict[tuple[str, str], list] = {}

    # -- building blocks -------------------------------------------------------------

    def specifier(self, text: str):
        """A :class:`~packaging.specifiers.SpecifierSet`, parsed once per distinct string."""
        try:
            return self._specs[text]
        except KeyError:
            from packaging.specifiers import SpecifierSet

            spec = self._specs[text] = SpecifierSet(text)
            return spec

    def marker_true(self, marker: str, extra: str = "") -> bool:
        """Whether a marker holds on the target (with ``extra`` set as pip sets it)."""
        key = (marker, extra)
        try:
            return self._markers[key]
        except KeyError:
            from packaging.markers import Marker

            env = dict(self.target.environment)
            env["extra"] = extra
            value = self._markers[key] = bool(Marker(marker).evaluate(env))
            return value

    def python_ok(self, requires_python: str | None) -> bool:
        """Whether the target's Python satisfies a ``Requires-Python`` value."""
        if not requires_python:
            return True
        try:
            return self._requires_python[requires_python]
        except KeyError:
            from packaging.version import Version

            ok = self._requires_python[requires_python] = self.specifier(requires_python).contains(
                Version(self.target.python_full), prereleases=True)
            return ok

    def requirement_from_dependency(self, dep: Dependency) -> Requirement:
        text = f"{dep.name}{_extras(dep.extras)}{dep.specifier}"
        return Requirement(dep.project, dep.extras, self.specifier(dep.specifier), text, dep.name,
                           spec_text=dep.specifier)

    def versions(self, project: str) -> list[tuple[Any, list[Wheel]]]:
        """``(version, wheels)`` of the target-compatible wheels, highest version first.

        Each version's wheels are in pip's order of preference: best tag first, then the
        highest build tag, then directory priority.
        """
        try:
            return self._versions[project]
        except KeyError:
            pass
        by_version: dict[Any, list[tuple[int, Wheel]]] = {}
        rank = self.target.tag_priority
        for wheel in self.index.wheels(project, lambda tags: rank(tags) is not None):
            priority = rank(wheel.tags)
            if priority is None:
                continue
            try:
                version = wheel.version
            except ValueError:
                continue
            by_version.setdefault(version, []).append((priority, wheel))
        result = []
        for version in sorted(by_version, reverse=True):
            group = sorted(by_version[version], key=lambda pw: pw[1].build, reverse=True)
            group.sort(key=lambda pw: pw[0])
            result.append((version, [w for _, w in group]))
        self._versions[project] = result
        return result

    def candidate(self, project: str, extras: tuple[str, ...], version: Any,
                  wheels: list[Wheel]) -> Candidate | None:
        """The candidate for one version, or None when no wheel of it is usable here."""
        key = (identifier_of(project, extras), version)
        try:
            return self._candidates[key]
        except KeyError:
            pass
        found = None
        for wheel in wheels:
            meta = self.index.metadata(wheel)
            if meta.error is not None:
                continue  # pip skips an invalid wheel and tries the next one of that version
            if self.python_ok(meta.requires_python):
                found = Candidate(project, extras, version, wheel)
            break  # like pip: the version's preferred wheel decides
        self._candidates[key] = found
        return found

    # -- resolvelib protocol ---------------------------------------------------------

    def identify(self, requirement_or_candidate: Requirement | Candidate) -> str:
        return requirement_or_candidate.identifier

    def static_preference(self, identifier: str, information: Iterable[Any]) -> tuple:
        """The part of :meth:`get_preference` that does not depend on backtracking."""
        pinned = any(info.requirement.is_pin for info in information)
        return (not pinned, self.depth.get(identifier, 0), identifier)

    def get_preference(self, identifier, resolutions, candidates, information, backtrack_causes) -> tuple:
        causes = set()
        for cause in backtrack_causes:
            causes.add(cause.requirement.identifier)
            if cause.parent is not None:
                causes.add(cause.parent.identifier)
        return (identifier not in causes,) + self.static_preference(identifier, information[identifier])

    def find_matches(self, identifier, requirements, incompatibilities):
        return self.matches(identifier, list(requirements[identifier]), incompatibilities[identifier])

    def matches(self, identifier: str, reqs: list[Requirement], incompatibilities: Iterable[Candidate]):
        """:meth:`find_matches` over plain lists: a factory of the candidates, best first."""
        bad = {id(c) for c in incompatibilities}
        project, _, extras = identifier.partition("[")
        extras_t = tuple(extras.rstrip("]").split(",")) if extras else ()
        allowed = self.allowed_versions(project, reqs)
        return functools.partial(self._iter_matches, project, extras_t, allowed, bad)

    def allowed_versions(self, project: str, reqs: Sequence[Requirement]) -> list[tuple[Any, list[Wheel]]]:
        """The ``(version, wheels)`` every one of ``reqs`` accepts, as pip filters them."""
        versions = self.versions(project)
        exact = [r.exact for r in reqs if r.exact is not None]
        if exact:  # an exact pin (name[extra] -> name): no pre-release filtering, like pip
            return [(v, w) for v, w in versions
                    if all(v == e for e in exact)
                    and all(r.specifier.contains(v, prereleases=True) for r in reqs if r.exact is None)]
        texts = sorted({r.spec_text for r in reqs} - {""})
        key = (project, ",".join(texts))
        try:
            return self._allowed[key]
        except KeyError:
            pass
        if not texts:  # no specifier: final releases, or pre-releases when there is nothing else
            finals = [(v, w) for v, w in versions if not v.is_prerelease]
            result = finals or versions
        else:
            combined = self.specifier(key[1])
            keep = set(combined.filter([v for v, _ in versions]))
            result = [(v, w) for v, w in versions if v in keep]
        self._allowed[key] = result
        return result

    def _iter_matches(self, project, extras, allowed, bad) -> Iterator[Candidate]:
        for version, wheels in allowed:
            cand = self.candidate(project, extras, version, wheels)
            if cand is not None and id(cand) not in bad:
                yield cand

    def is_satisfied_by(self, requirement: Requirement, candidate: Candidate) -> bool:
        if requirement.exact is not None:
            return candidate.version == requirement.exact
        return requirement.specifier.contains(candidate.version, prereleases=True)

    def get_dependencies(self, candidate: Candidate) -> list[Requirement]:
        deps = candidate.deps
        if deps is None:
            deps = candidate.deps = self._dependencies(candidate)
        depth = self.depth.get(candidate.identifier, 0) + 1
        for req in deps:
            if self.depth.get(req.identifier, depth + 1) > depth:
                self.depth[req.identifier] = depth
            self.introduced_by.setdefault(req.identifier, candidate)
        return deps

    def _dependencies(self, candidate: Candidate) -> list[Requirement]:
        meta = self.index.metadata(candidate.wheel)
        deps: list[Requirement] = []
        extras: tuple[str, ...] = ("",)
        if candidate.extras:
            from packaging.specifiers import SpecifierSet

            deps.append(Requirement(candidate.project, (), SpecifierSet(),
                                    f"{candidate.name}=={candidate.version}", candidate.name,
                                    exact=candidate.version))
            valid = tuple(e for e in candidate.extras if e in meta.provides_extra)
            for e in candidate.extras:
                if e not in meta.provides_extra:
                    self.unknown_extras.add((candidate.name, str(candidate.version), e))
            extras = valid or ("",)
        for dep in meta.requires_dist:
            if dep.marker is not None and not any(self.marker_true(dep.marker, e) for e in extras):
                continue
            deps.append(self.requirement_from_dependency(dep))
        return deps

    def has_candidates(self, requirement: Requirement) -> bool:
        """Whether ``requirement`` alone has at least one usable candidate here."""
        allowed = self.allowed_versions(requirement.project, [requirement])
        return next(self._iter_matches(requirement.project, requirement.extras, allowed, set()), None) is not None

    def fork(self) -> "WheelhouseProvider":
        """A provider for another resolution on the same target, sharing every cache."""
        other = WheelhouseProvider(self.index, self.target)
        for name in ("_versions", "_candidates", "_specs", "_markers", "_requires_python", "_allowed"):
            setattr(other, name, getattr(self, name))
        other.unknown_extras = self.unknown_extras
        return other

    def add_roots(self, roots: Iterable[Requirement]) -> None:
        """Record root requirements (depth 0, no parent) before resolving."""
        for r in roots:
            self.depth[r.identifier] = 0
            self.introduced_by[r.identifier] = None

    def chain(self, candidate: Candidate | None) -> list[str]:
        """``["pandas 2.2.1", "numpy 1.26.4"]``: how a candidate was reached from a root."""
        steps: list[str] = []
        seen: set[str] = set()
        while candidate is not None and candidate.identifier not in seen:
            seen.add(candidate.identifier)
            steps.append(f"{candidate.name}{_extras(candidate.extras)} {candidate.version}")
            candidate = self.introduced_by.get(candidate.identifier)
        return steps[::-1]


def _extras(extras: Sequence[str]) -> str:
    return f"[{','.join(extras)}]" if extras else ""


class Resolved(NamedTuple):
    """A successful resolution: the pins, and the dependency edges between them.

    ``graph`` maps an identifier (``None`` for the root) to the identifiers it requires.
    """

    mapping: dict[str, Candidate]
    graph: dict[str | None, set[str]]

    def closure(self, identifier: str) -> set[str]:
        """Every identifier reachable from ``identifier`` (itself included)."""
        seen = {identifier}
        todo = [identifier]
        while todo:
            for child in self.graph.get(todo.pop(), ()):
                if child not in seen:
                    seen.add(child)
                    todo.append(child)
        return seen


def _graph(mapping: dict[str, Candidate], criteria: dict[str, Any]) -> Resolved:
    pins = {id(c): k for k, c in mapping.items()}
    edges: dict[str | None, set[str]] = {}
    for key, criterion in criteria.items():
        for info in criterion.information:
            parent = info.parent
            if parent is None:
                edges.setdefault(None, set()).add(key)
            elif id(parent) in pins:
                edges.setdefault(pins[id(parent)], set()).add(key)
    connected: set[str] = set()
    todo = list(edges.get(None, ()))
    while todo:
        key = todo.pop()
        if key in connected or key not in mapping:
            continue
        connected.add(key)
        todo.extend(edges.get(key, ()))
    graph = {k: {c for c in v if c in connected} for k, v in edges.items() if k is None or k in connected}
    return Resolved({k: v for k, v in mapping.items() if k in connected}, graph)


class _Abort(Exception):
    """The optimistic pass met a rejected candidate: resolve again with backjumping."""


def _fast_resolution_class():
    major_minor = tuple(int(p) for p in _RESOLVELIB_VERSION.split(".")[:2] if p.isdigit())
    if major_minor not in ((1, 1), (1, 2)):
        return None
    try:
        from resolvelib.resolvers.criterion import Criterion
        from resolvelib.resolvers.exceptions import RequirementsConflicted
        from resolvelib.resolvers.resolution import Resolution
        from resolvelib.structs import RequirementInformation, build_iter_view
    except ImportError:
        return None

    class _IncrementalResolution(Resolution):
        """resolvelib's Resolution with an incrementally maintained set of unsatisfied names."""

        _touched: list[str]

        def _add_to_criteria(self, criteria, requirement, parent):
            """resolvelib's ``_add_to_criteria`` without the generic mapping views (same result)."""
            identifier = requirement.identifier
            criterion = criteria.get(identifier)
            if criterion:
                incompatibilities = list(criterion.incompatibilities)
                information = list(criterion.information)
                information.append(RequirementInformation(requirement, parent))
            else:
                incompatibilities = []
                information = [RequirementInformation(requirement, parent)]
            matches = self._p.matches(identifier, [i.requirement for i in information], incompatibilities)
            criterion = Criterion(candidates=build_iter_view(matches), information=information,
                                  incompatibilities=incompatibilities)
            if not criterion.candidates:
                raise RequirementsConflicted(criterion)
            criteria[identifier] = criterion

        def _get_updated_criteria(self, candidate):
            criteria = self.state.criteria.copy()
            touched = []
            for requirement in self._p.get_dependencies(candidate=candidate):
                self._add_to_criteria(criteria, requirement, parent=candidate)
                touched.append(requirement.identifier)
            self._touched = touched
            return criteria

        def resolve_optimistic(self, requirements, max_rounds):
            """The same rounds as :meth:`resolve` while no candidate is ever rejected.

            Only a rejection needs the per-round state history (for backjumping), so until one
            happens a single state is updated in place: no O(closure) copy per round. On the
            first rejection this raises :class:`_Abort`, and the caller resolves again with
            :meth:`resolve`, which retraces the same rounds and goes on with backjumping.
            """
            import collections

            from resolvelib.resolvers import RequirementsConflicted
            from resolvelib.structs import State

            self._states = [State(mapping=collections.OrderedDict(), criteria={}, backtrack_causes=[])]
            state = self.state
            criteria, mapping = state.criteria, state.mapping
            provider = self._p
            try:
                for r in requirements:
                    self._add_to_criteria(criteria, r, parent=None)
            except RequirementsConflicted:
                raise _Abort from None
            unsat = set(criteria)
            pref = {k: provider.static_preference(k, c.information) for k, c in criteria.items()}
            for _ in range(max_rounds):
                if not unsat:
                    return state
                name = min(unsat, key=pref.__getitem__) if len(unsat) > 1 else next(iter(unsat))
                criterion = criteria[name]
                candidate = next(iter(criterion.candidates))
                touched = {name}
                try:
                    for requirement in provider.get_dependencies(candidate=candidate):
                        self._add_to_criteria(criteria, requirement, parent=candidate)
                        touched.add(requirement.identifier)
                except RequirementsConflicted:
                    raise _Abort from None
                if not all(provider.is_satisfied_by(r, candidate) for r in criterion.iter_requirement()):
                    raise _Abort
                satisfied_before = {k for k in touched if k in pref and k not in unsat}
                mapping.pop(name, None)
                mapping[name] = candidate
                newly_unsatisfied = set()
                unsat.discard(name)
                for key in touched:
                    c = criteria[key]
                    pref[key] = provider.static_preference(key, c.information)
                    if self._is_current_pin_satisfying(key, c):
                        unsat.discard(key)
                    else:
                        unsat.add(key)
                        if key in satisfied_before:
                            newly_unsatisfied.add(key)
                if newly_unsatisfied:
                    self._remove_information_from_criteria(criteria, newly_unsatisfied)
                    unsat = {k for k, c in criteria.items() if not self._is_current_pin_satisfying(k, c)}
                    pref = {k: provider.static_preference(k, c.information) for k, c in criteria.items()}
            raise ResolutionTooDeep(max_rounds)

        def resolve(self, requirements, max_rounds):  # noqa: C901 - mirrors resolvelib's loop
            import collections

            from resolvelib.structs import State

            if self._states:
                raise RuntimeError("already resolved")
            self._r.starting()
            self._states = [State(mapping=collections.OrderedDict(), criteria={}, backtrack_causes=[])]
            for r in requirements:
                try:
                    self._add_to_criteria(self.state.criteria, r, parent=None)
                except Exception as e:  # RequirementsConflicted
                    if hasattr(e, "criterion"):
                        raise ResolutionImpossible(e.criterion.information) from e
                    raise
            self._push_new_state()

            provider = self._p
            unsat: set | None = None
            pref: dict = {}
            optimistic_rounds_cutoff = None
            optimistic_start = None
            ratio = lambda: getattr(self, "_optimistic_backjumping_ratio", 0.0)  # noqa: E731

            for round_index in range(max_rounds):
                self._r.starting_round(index=round_index)
                if ratio() and getattr(self, "_save_states", None) is not None:
                    if optimistic_start is None:
                        optimistic_start = round_index
                        optimistic_rounds_cutoff = int((max_rounds - round_index) * ratio())
                        if optimistic_rounds_cutoff <= 0:
                            self._rollback_states()
                            unsat = None
                            continue
                    elif optimistic_rounds_cutoff is not None:
                        if round_index - optimistic_start >= optimistic_rounds_cutoff:
                            self._rollback_states()
                            unsat = None
                            continue

                state = self.state
                if unsat is None:
                    unsat = {k for k, c in state.criteria.items() if not self._is_current_pin_satisfying(k, c)}
                    pref = {k: provider.static_preference(k, c.information) for k, c in state.criteria.items()}
                if not unsat:
                    self._r.ending(state=state)
                    return state

                if len(unsat) > 1:
                    if state.backtrack_causes:
                        causes = set()
                        for cause in state.backtrack_causes:
                            causes.add(cause.requirement.identifier)
                            if cause.parent is not None:
                                causes.add(cause.parent.identifier)
                        name = min(unsat, key=lambda n: (n not in causes, pref[n]))
                    else:
                        name = min(unsat, key=pref.__getitem__)
                else:
                    name = next(iter(unsat))

                satisfied_before = None
                self._touched = []
                failure_criterion = self._attempt_to_pin_criterion(name)
                if failure_criterion:
                    causes_info = self._extract_causes(failure_criterion)
                    self._r.resolving_conflicts(causes=causes_info)
                    saved = getattr(self, "_save_states", None)
                    try:
                        success = self._backjump(causes_info)
                    except ResolutionImpossible:
                        if ratio() and getattr(self, "_save_states", None):
                            failed_optimistic = True
                        else:
                            raise
                    else:
                        failed_optimistic = bool(not success and ratio() and getattr(self, "_save_states", None))
                    del saved
                    if failed_optimistic and getattr(self, "_save_states", None):
                        self._rollback_states()
                    else:
                        self.state.backtrack_causes[:] = causes_info
                        if not success:
                            raise ResolutionImpossible(self.state.backtrack_causes)
                    unsat = None
                else:
                    state = self.state
                    criteria = state.criteria
                    touched = set(self._touched)
                    touched.add(name)
                    satisfied_before = {k for k in touched if k in pref and k not in unsat and k != name}
                    newly_unsatisfied = set()
                    unsat.discard(name)
                    for key in touched:
                        criterion = criteria[key]
                        pref[key] = provider.static_preference(key, criterion.information)
                        if self._is_current_pin_satisfying(key, criterion):
                            unsat.discard(key)
                        else:
                            unsat.add(key)
                            if key in satisfied_before:
                                newly_unsatisfied.add(key)
                    if newly_unsatisfied:
                        self._remove_information_from_criteria(criteria, newly_unsatisfied)
                        unsat = None
                    self._push_new_state()
                self._r.ending_round(index=round_index, state=self.state)
            raise ResolutionTooDeep(max_rounds)

    return _IncrementalResolution


_FAST = _fast_resolution_class()


def resolve(provider: WheelhouseProvider, requirements: Sequence[Requirement], *,
            max_rounds: int = MAX_ROUNDS, stock: bool = False) -> Resolved:
    """Resolve ``requirements``; raise :class:`ResolutionImpossible` or :class:`ResolutionTooDeep`.

    ``stock=True`` forces resolvelib's own round loop (for comparison in tests).
    """
    provider.add_roots(requirements)
    gc_was_enabled = gc.isenabled()
    gc.disable()  # resolution allocates many small, short-lived objects and no cycles worth collecting
    try:
        if _FAST is not None and not stock:
            try:
                state = _FAST(provider, BaseReporter()).resolve_optimistic(requirements, max_rounds)
            except _Abort:
                state = _FAST(provider, BaseReporter()).resolve(requirements, max_rounds=max_rounds)
            return _graph(dict(state.mapping), state.criteria)
        result = Resolver(provider, BaseReporter()).resolve(requirements, max_rounds=max_rounds)
        return _graph(dict(result.mapping), result.criteria)
    finally:
        if gc_was_enabled:
            gc.enable()
