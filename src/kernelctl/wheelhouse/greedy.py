"""The greedy first pass of a resolution: resolvelib's own rounds, while nothing is undone.

resolvelib resolves round by round: it takes the unsatisfied identifier the provider
prefers, pins the first of its candidates whose dependencies all still have candidates,
and adds those dependencies to what is required. Most resolutions against a wheelhouse
never reject a candidate, and then all of resolvelib's backtracking bookkeeping (a copy
of the state per round, criteria rebuilt for every new requirement, candidate views) is
pure cost.

:func:`resolve_greedy` takes the same rounds, in the same order (the provider's
preference), over plain dicts and lists, and gives up as soon as resolvelib would do
anything other than pin the first candidate:

* a new requirement leaves its identifier without candidates (resolvelib would reject
  the candidate being pinned and try the next one);
* a new requirement is not met by its identifier's current pin (resolvelib would unpin it);
* the candidate being pinned does not meet a requirement on its own identifier.

So when it answers, its answer is resolvelib's: the same pins, required by the same
parents. When it gives up, the caller runs resolvelib from the start. Each round costs
what the pinned candidate's dependencies cost, so a resolution costs what its closure
costs.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from typing import Any, Protocol


class Provider(Protocol):
    """What :func:`resolve_greedy` needs from a :class:`~kernelctl.wheelhouse.resolver.WheelhouseProvider`."""

    def first_candidate(self, identifier: str, reqs: Sequence[Any]) -> Any | None: ...

    def get_dependencies(self, candidate: Any) -> Sequence[Any]: ...

    def is_satisfied_by(self, requirement: Any, candidate: Any) -> bool: ...

    def static_preference(self, identifier: str, requirements: Sequence[Any]) -> tuple: ...


def resolve_greedy(provider: Provider, roots: Sequence[Any], max_rounds: int
                   ) -> tuple[dict[str, Any], list[tuple[str, Any]]] | None:
    """Resolve ``roots`` without backtracking, or None where resolvelib would backtrack.

    Returns the pins (identifier -> candidate, in pinning order) and every
    ``(identifier, parent)`` that required something (``parent`` None for a root).
    Requirements and candidates are the provider's; an identifier is a requirement's
    ``identifier``.
    """
    required: dict[str, list] = {}  # identifier -> its requirements, in the order added
    best: dict[str, Any] = {}  # identifier -> its first candidate for those requirements
    pins: dict[str, Any] = {}
    parents: list[tuple[str, Any]] = []

    def add(requirement: Any, parent: Any) -> bool:
        identifier = requirement.identifier
        reqs = required.setdefault(identifier, [])
        reqs.append(requirement)
        parents.append((identifier, parent))
        first = provider.first_candidate(identifier, reqs)
        if first is None:
            return False
        best[identifier] = first
        return True

    for root in roots:
        if not add(root, None):
            return None
    # The unsatisfied identifiers, as a heap of (preference, identifier): an entry is stale
    # once its identifier is pinned or its preference changed (the newer entry wins).
    preference = {k: provider.static_preference(k, reqs) for k, reqs in required.items()}
    queue = [(pref, k) for k, pref in preference.items()]
    heapq.heapify(queue)
    for _ in range(max_rounds):
        while queue and (queue[0][1] in pins or preference[queue[0][1]] != queue[0][0]):
            heapq.heappop(queue)
        if not queue:
            return pins, parents
        name = heapq.heappop(queue)[1]
        candidate = best[name]
        touched: dict[str, None] = {}
        for requirement in provider.get_dependencies(candidate):
            if not add(requirement, candidate):
                return None
            touched[requirement.identifier] = None
            pinned = candidate if requirement.identifier == name else pins.get(requirement.identifier)
            if pinned is not None and not provider.is_satisfied_by(requirement, pinned):
                return None
        pins[name] = candidate
        for key in touched:
            if key not in pins:
                pref = provider.static_preference(key, required[key])
                if preference.get(key) != pref:
                    preference[key] = pref
                    heapq.heappush(queue, (pref, key))
    return None
