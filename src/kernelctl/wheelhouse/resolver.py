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
  dropped; a wheel whose METADATA names another project or version is discarded for the
  next one of the same version; a wheel that cannot be read as one (not a zip, no or
  several ``.dist-info``, METADATA past the size limit) ends the candidates there, as pip
  stops with "is invalid" when it reaches one;
* ``name[extra]`` is its own identifier, pinned to the same version as ``name``; extras a
  wheel does not declare in ``Provides-Extra`` are ignored (pip warns and goes on);
* markers are evaluated for the target.

Everything is computed lazily and memoised per target: a project's versions come from the
index's cached release tables (no file name or version is parsed on a warm run), a
:class:`~packaging.version.Version` is built only when a specifier has to be checked, and
candidates are produced best first, only as far as the resolver looks. Metadata is read
only for the candidates visited, so the cost grows with the size of the dependency
closure, not of the wheelhouse.

:func:`resolve` first runs :func:`kernelctl.wheelhouse.greedy.resolve_greedy`, which takes
resolvelib's rounds without its backtracking bookkeeping and gives up at the first choice
that would need undoing; only then does resolvelib itself run. resolvelib's stock round
loop rescans every criterion on every round, which is quadratic in the closure size, so
:class:`_IncrementalResolution` runs the same algorithm, pin by pin and with resolvelib's
own pinning and backjumping, keeping the set of unsatisfied criteria up to date from the
criteria each pin changed. It is used with the resolvelib versions it was written against
(1.1, 1.2); others get the stock resolver, which gives the same result more slowly.
"""

from __future__ import annotations

import contextlib
import functools
import gc
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, NamedTuple

from resolvelib import AbstractProvider, BaseReporter
from resolvelib import __version__ as _RESOLVELIB_VERSION
from resolvelib.resolvers import ResolutionImpossible, ResolutionTooDeep, Resolver

from kernelctl.wheelhouse.greedy import resolve_greedy
from kernelctl.wheelhouse.index import Wheel, WheelhouseIndex, version_of
from kernelctl.wheelhouse.wheelmeta import Dependency
from kernelctl.wheelhouse.targets import Target

__all__ = [
    "Candidate", "Requirement", "Resolved", "ResolutionImpossible", "ResolutionTooDeep",
    "WheelhouseProvider", "resolve",
]

MAX_ROUNDS = 200_000

#: What :meth:`WheelhouseProvider.candidate` returns for a version whose preferred wheel
#: is unreadable: pip stops with an error on it, so it ends the candidates of a requirement.
INVALID = object()

#: A version of a project that has wheels for the target: ``(version, is_prerelease,
#: wheels)``, ``version`` being the normalised version string and ``wheels`` the
#: ``(directory index, (file name, build tag, tags))`` of its installable files, best first.
Available = tuple[str, bool, list[tuple[int, tuple[str, tuple, str]]]]


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
    """One version of a project (with extras, possibly), backed by one wheel.

    ``version_text`` is the normalised version (``str(version)``); :attr:`version` parses
    it only when asked.
    """

    __slots__ = ("project", "extras", "identifier", "version_text", "wheel", "deps")

    def __init__(self, project: str, extras: tuple[str, ...], version_text: str, wheel: Wheel) -> None:
        self.project = project
        self.extras = extras
        self.identifier = identifier_of(project, extras)
        self.version_text = version_text
        self.wheel = wheel
        self.deps: list[Requirement] | None = None

    @property
    def version(self):
        """The :class:`packaging.version.Version`."""
        return version_of(self.version_text)

    @property
    def name(self) -> str:
        """The project name as the wheel spells it."""
        return self.wheel.name

    def __repr__(self) -> str:
        return f"Candidate({self.identifier} {self.version_text})"


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
        self._versions: dict[str, list[Available]] = {}
        self._candidates: dict[tuple[str, str], Candidate | None] = {}
        self._first: dict[tuple, Candidate | None] = {}
        self._specs: dict[str, Any] = {}
        self._markers: dict[tuple[str, str], bool] = {}
        self._requires_python: dict[str, bool] = {}
        #: When set, the resolver is offered only the candidates it keeps (see
        #: :mod:`kernelctl.wheelhouse.reachability`).
        self.keep: Callable[[Candidate], bool] | None = None

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
            ok = self._requires_python[requires_python] = self.specifier(requires_python).contains(
                version_of(self.target.python_full), prereleases=True)
            return ok

    def requirement_from_dependency(self, dep: Dependency) -> Requirement:
        text = f"{dep.name}{_extras(dep.extras)}{dep.specifier}"
        return Requirement(dep.project, dep.extras, self.specifier(dep.specifier), text, dep.name,
                           spec_text=dep.specifier)

    def versions(self, project: str) -> list[Available]:
        """``(version, is_prerelease, wheels)`` of the target-compatible wheels, highest first.

        Each version's wheels are in pip's order of preference: best tag first, then the
        highest build tag, then directory priority.
        """
        try:
            return self._versions[project]
        except KeyError:
            pass
        rank = self.target.tag_priority
        result = []
        for text, pre, dirs in self.index.releases(project):
            if len(dirs) == 1 and len(dirs[0][1]) == 1:  # one file, as for most pure projects
                if rank(dirs[0][1][0][2]) is not None:
                    result.append((text, pre, [(dirs[0][0], dirs[0][1][0])]))
                continue
            ranked = [(r, d, f) for d, files in dirs for f in files if (r := rank(f[2])) is not None]
            if not ranked:
                continue
            if len(ranked) > 1:
                ranked.sort(key=lambda rdf: rdf[2][1], reverse=True)
                ranked.sort(key=lambda rdf: rdf[0])
            result.append((text, pre, [(d, f) for _, d, f in ranked]))
        self._versions[project] = result
        return result

    def allowed_versions(self, project: str, reqs: Sequence[Requirement]) -> Iterator[Available]:
        """The versions every one of ``reqs`` accepts, as pip filters them, best first (lazily)."""
        versions = self.versions(project)
        exact = [r.exact for r in reqs if r.exact is not None]
        if exact:  # an exact pin (name[extra] -> name): no pre-release filtering, like pip
            return (entry for entry in versions
                    if all(version_of(entry[0]) == e for e in exact)
                    and all(_accepts(r, version_of(entry[0])) for r in reqs if r.exact is None))
        texts = sorted({r.spec_text for r in reqs} - {""})
        if not texts:  # no specifier: final releases, or pre-releases when there is nothing else
            finals = [entry for entry in versions if not entry[1]]
            return iter(finals or versions)
        specifier = self.specifier(",".join(texts))
        if any(entry[1] for entry in versions):
            return _filtered(specifier, versions)
        # Final releases only: filter keeps exactly those the specifier contains, so check
        # them one by one, as far as the caller looks.
        return (entry for entry in versions if specifier.contains(version_of(entry[0])))

    def candidate(self, project: str, extras: tuple[str, ...], version: Available) -> Candidate | None | object:
        """The candidate for one version, None when no wheel of it is usable here, or
        :data:`INVALID` when its preferred wheel is one pip stops at."""
        text, _, wheels = version
        key = (identifier_of(project, extras), text)
        try:
            return self._candidates[key]
        except KeyError:
            pass
        found = None
        for dir_index, file in wheels:
            wheel = self.index.wheel(dir_index, file, project)
            meta = self.index.metadata(wheel)
            if meta.error is not None:
                if self.index.discarded(wheel):
                    continue  # pip discards it and tries the next wheel of that version
                found = INVALID  # pip fails on a wheel it cannot open as one ("is invalid")
                break
            if self.python_ok(meta.requires_python):
                found = Candidate(project, extras, text, wheel)
            break  # like pip: the version's preferred wheel decides
        self._candidates[key] = found
        return found

    def candidates(self, project: str, extras: tuple[str, ...], reqs: Sequence[Requirement],
                   bad: frozenset[int] = frozenset(), keep: Callable[[Candidate], bool] | None = None
                   ) -> Iterator[Candidate]:
        """The candidates every one of ``reqs`` accepts, best first, skipping ids in ``bad``
        and, with ``keep``, those it refuses."""
        for version in self.allowed_versions(project, reqs):
            cand = self.candidate(project, extras, version)
            if cand is INVALID:
                return  # pip stops there: no older version is reached through it
            if cand is not None and id(cand) not in bad and (keep is None or keep(cand)):
                yield cand

    def first_candidate(self, identifier: str, reqs: Sequence[Requirement]) -> Candidate | None:
        """The best candidate of ``identifier`` that every one of ``reqs`` accepts.

        Memoised on what decides it: the specifiers and exact pins of ``reqs``.
        """
        if len(reqs) == 1:
            key: tuple = (identifier, reqs[0].spec_text, reqs[0].exact)
        else:
            key = (identifier, frozenset([r.spec_text for r in reqs]), frozenset([r.exact for r in reqs]))
        try:
            return self._first[key]
        except KeyError:
            req = reqs[0]
            found = self._first[key] = next(self.candidates(req.project, req.extras, reqs, keep=self.keep), None)
            return found

    # -- resolvelib protocol ---------------------------------------------------------

    def identify(self, requirement_or_candidate: Requirement | Candidate) -> str:
        return requirement_or_candidate.identifier

    def static_preference(self, identifier: str, requirements: Iterable[Requirement]) -> tuple:
        """The part of :meth:`get_preference` that does not depend on backtracking.

        Pinned (``==``) requirements first, then the shallowest in the dependency tree, then
        by name.
        """
        pinned = any(r.is_pin for r in requirements)
        return (not pinned, self.depth.get(identifier, 0), identifier)

    def get_preference(self, identifier, resolutions, candidates, information, backtrack_causes) -> tuple:
        causes = set()
        for cause in backtrack_causes:
            causes.add(cause.requirement.identifier)
            if cause.parent is not None:
                causes.add(cause.parent.identifier)
        return (identifier not in causes,) + self.static_preference(
            identifier, (i.requirement for i in information[identifier]))

    def find_matches(self, identifier, requirements, incompatibilities):
        return self.matches(identifier, list(requirements[identifier]), incompatibilities[identifier])

    def matches(self, identifier: str, reqs: list[Requirement], incompatibilities: Iterable[Candidate]):
        """:meth:`find_matches` over plain lists: a factory of the candidates, best first."""
        bad = frozenset(id(c) for c in incompatibilities)
        project, _, extras = identifier.partition("[")
        extras_t = tuple(extras.rstrip("]").split(",")) if extras else ()
        return functools.partial(self.candidates, project, extras_t, reqs, bad, self.keep)

    def is_satisfied_by(self, requirement: Requirement, candidate: Candidate) -> bool:
        return _accepts(requirement, candidate.version)

    def dependencies(self, candidate: Candidate) -> list[Requirement]:
        """What ``candidate`` requires on the target (markers evaluated), read once."""
        deps = candidate.deps
        if deps is None:
            deps = candidate.deps = self._dependencies(candidate)
        return deps

    def get_dependencies(self, candidate: Candidate) -> list[Requirement]:
        deps = self.dependencies(candidate)
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
            deps.append(Requirement(candidate.project, (), self.specifier(""),
                                    f"{candidate.name}=={candidate.version_text}", candidate.name,
                                    exact=candidate.version))
            valid = tuple(e for e in candidate.extras if e in meta.provides_extra)
            for e in candidate.extras:
                if e not in meta.provides_extra:
                    self.unknown_extras.add((candidate.name, candidate.version_text, e))
            extras = valid or ("",)
        for dep in meta.requires_dist:
            if dep.marker is not None and not any(self.marker_true(dep.marker, e) for e in extras):
                continue
            deps.append(self.requirement_from_dependency(dep))
        return deps

    def has_candidates(self, requirement: Requirement) -> bool:
        """Whether ``requirement`` alone has at least one usable candidate here."""
        return self.first_candidate(requirement.identifier, [requirement]) is not None

    def with_keep(self, keep: Callable[[Candidate], bool]) -> "WheelhouseProvider":
        """A provider for the same target offering only the candidates ``keep`` keeps; it
        shares the caches that do not depend on that (versions, candidates, parsing)."""
        other = WheelhouseProvider(self.index, self.target)
        for name in ("_versions", "_candidates", "_specs", "_markers", "_requires_python"):
            setattr(other, name, getattr(self, name))
        other.unknown_extras = self.unknown_extras
        other.keep = keep
        return other

    def fork(self) -> "WheelhouseProvider":
        """A provider for another resolution on the same target, sharing every cache."""
        other = WheelhouseProvider(self.index, self.target)
        for name in ("_versions", "_candidates", "_first", "_specs", "_markers", "_requires_python", "keep"):
            setattr(other, name, getattr(self, name))
        other.unknown_extras = self.unknown_extras
        return other

    def add_roots(self, roots: Iterable[Requirement]) -> None:
        """Start a resolution: forget earlier depths and parents, record the roots (depth 0)."""
        self.depth.clear()
        self.introduced_by.clear()
        for r in roots:
            self.depth[r.identifier] = 0
            self.introduced_by[r.identifier] = None

    def root_of(self, candidate: Candidate) -> str:
        """The identifier of the requested project whose closure brought ``candidate`` in."""
        seen: set[str] = set()
        while candidate.identifier not in seen:
            seen.add(candidate.identifier)
            parent = self.introduced_by.get(candidate.identifier)
            if parent is None:
                break
            candidate = parent
        return candidate.identifier

    def chain(self, candidate: Candidate | None) -> list[str]:
        """``["pandas 2.2.1", "numpy 1.26.4"]``: how a candidate was reached from a root."""
        steps: list[str] = []
        seen: set[str] = set()
        while candidate is not None and candidate.identifier not in seen:
            seen.add(candidate.identifier)
            steps.append(f"{candidate.name}{_extras(candidate.extras)} {candidate.version_text}")
            candidate = self.introduced_by.get(candidate.identifier)
        return steps[::-1]


def _accepts(requirement: Requirement, version: Any) -> bool:
    """Whether a :class:`~packaging.version.Version` meets ``requirement`` (pre-releases too)."""
    if requirement.exact is not None:
        return version == requirement.exact
    return not requirement.spec_text or requirement.specifier.contains(version, prereleases=True)


def _filtered(specifier, versions: list[Available]) -> Iterator[Available]:
    """``specifier.filter`` over ``versions``, lazily: each Version is built only when reached."""
    entries: dict = {}

    def parsed() -> Iterator:
        for entry in versions:
            version = version_of(entry[0])
            entries[version] = entry
            yield version

    for version in specifier.filter(parsed()):
        yield entries[version]


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


def _graph(mapping: dict[str, Candidate], parents: Iterable[tuple[str, Candidate | None]]) -> Resolved:
    """The :class:`Resolved` of a final mapping, from every ``(identifier, parent)`` that
    required something (``None`` for a root); pins no longer reachable from a root drop."""
    pins = {id(c): k for k, c in mapping.items()}
    edges: dict[str | None, set[str]] = {}
    for key, parent in parents:
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


def _criteria_parents(criteria: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    for key, criterion in criteria.items():
        for info in criterion.information:
            yield key, info.parent


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
                    pref = {k: provider.static_preference(k, c.iter_requirement()) for k, c in state.criteria.items()}
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
                    try:
                        success = self._backjump(causes_info)
                    except ResolutionImpossible:
                        if ratio() and getattr(self, "_save_states", None):
                            failed_optimistic = True
                        else:
                            raise
                    else:
                        failed_optimistic = bool(not success and ratio() and getattr(self, "_save_states", None))
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
                        pref[key] = provider.static_preference(key, criterion.iter_requirement())
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


def resolve_without_backtracking(provider: WheelhouseProvider, requirements: Sequence[Requirement]
                                 ) -> Resolved | None:
    """The greedy pass of :func:`resolve` alone: its answer, or None where it gives up."""
    with collector_paused():
        provider.add_roots(requirements)
        greedy = resolve_greedy(provider, requirements, MAX_ROUNDS)
        return None if greedy is None else _graph(*greedy)


def resolve(provider: WheelhouseProvider, requirements: Sequence[Requirement], *,
            max_rounds: int = MAX_ROUNDS, stock: bool = False) -> Resolved:
    """Resolve ``requirements``; raise :class:`ResolutionImpossible` or :class:`ResolutionTooDeep`.

    The greedy pass answers when it can (its answer is resolvelib's); otherwise resolvelib
    resolves from scratch. ``stock=True`` runs resolvelib's own round loop only (for
    comparison in tests).
    """
    with collector_paused():
        if not stock:
            provider.add_roots(requirements)
            greedy = resolve_greedy(provider, requirements, max_rounds)
            if greedy is not None:
                return _graph(*greedy)
        provider.add_roots(requirements)
        if _FAST is not None and not stock:
            state = _FAST(provider, BaseReporter()).resolve(requirements, max_rounds=max_rounds)
            return _graph(dict(state.mapping), _criteria_parents(state.criteria))
        result = Resolver(provider, BaseReporter()).resolve(requirements, max_rounds=max_rounds)
        return _graph(dict(result.mapping), _criteria_parents(result.criteria))


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector (restoring its state after).

    Loading the caches and resolving create many long-lived small objects and no cycles
    worth collecting; with the collector on, each few hundred allocations trigger a
    collection that walks them all again (a fifth of a warm check's time).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
