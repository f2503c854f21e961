"""Which candidates can be installed on a target together with a closure of their own.

A candidate is *viable* when each of its dependencies has at least one viable candidate
(the greatest fixed point: dependency cycles are viable unless something in them is not).
That ignores what two dependencies ask of a third, so it is a necessary condition for
being part of an installation, never a sufficient one, and it is cheap: each candidate's
verdict is computed once per target, best candidate first and only as far as needed, so
a requirement whose newest version is viable costs one walk over its closure.

Resolution uses it in two ways (see :mod:`kernelctl.wheelhouse.check`):

* a requirement with no viable candidate is reported at once with its real status (the
  chain down to the dependency nothing provides: :meth:`Reachability.dead_end`), without
  a resolver exhausting every combination of versions first;
* the resolver is offered only viable candidates, so it never backtracks out of a dead
  end that a version lower down would have avoided: it backtracks only for conflicts
  between requirements. A set that installs only by backing off to older versions is
  resolved as pip and uv resolve it, without their search.

The walk keeps an explicit stack (closures can be thousands of projects deep) and a step
budget: past it, an unvisited candidate counts as viable and the resolver decides, so
hostile dependency graphs cost bounded time.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from kernelctl.wheelhouse.resolver import Candidate, Requirement, WheelhouseProvider

#: Steps (a candidate's dependency looked at) one target may spend before giving up.
STEP_BUDGET = 2_000_000

_Visit = Generator[Candidate, bool, bool]


class Reachability:
    """Viability of candidates for one :class:`WheelhouseProvider` (its target and index)."""

    def __init__(self, provider: WheelhouseProvider, budget: int = STEP_BUDGET) -> None:
        self.provider = provider
        self.budget = budget
        self.steps = 0
        self._viable: dict[Candidate, bool] = {}
        #: candidate -> its first dependency that no viable candidate satisfies
        self._blocked: dict[Candidate, Requirement] = {}

    def _visit(self, candidate: Candidate) -> _Visit:
        """Yield candidates to judge, receive their verdicts; return this one's."""
        for req in self.provider.dependencies(candidate):
            for option in self.provider.candidates(req.project, req.extras, [req]):
                if (yield option):
                    break
            else:
                self._blocked[candidate] = req
                return False
        return True

    def viable(self, candidate: Candidate) -> bool:
        """Whether ``candidate`` has a closure of viable candidates (memoised)."""
        known = self._viable.get(candidate)
        if known is not None:
            return known
        # Each frame: [candidate, its visit, lowest stack position its verdict relied on].
        root_visit = self._visit(candidate)
        stack: list[list[Any]] = [[candidate, root_visit, 0]]
        position = {candidate: 0}
        tentative: list[list[Any]] = []  # [lowest position relied on, candidate]: viable if that one is
        verdict: bool | None = None
        try:
            send = root_visit.send(None)
        except StopIteration as done:
            send, verdict = None, done.value
        while True:
            if verdict is not None:  # the top frame is decided
                frame = stack.pop()
                here = len(stack)
                del position[frame[0]]
                self._settle(frame[0], verdict, frame[2], here, tentative)
                if not stack:
                    return verdict
                parent = stack[-1]
                if verdict and frame[2] < here:
                    parent[2] = min(parent[2], frame[2])
                answer = verdict
            else:
                option = send
                self.steps += 1
                known = self._viable.get(option)
                if known is not None:
                    answer = known
                elif option in position:  # a cycle: viable unless something in it is not
                    stack[-1][2] = min(stack[-1][2], position[option])
                    answer = True
                elif self.steps > self.budget:
                    answer = True  # out of budget: let the resolver find out
                else:
                    position[option] = len(stack)
                    visit = self._visit(option)
                    stack.append([option, visit, len(stack)])
                    try:
                        send = visit.send(None)
                    except StopIteration as done:
                        verdict = done.value
                    continue
            try:
                send = stack[-1][1].send(answer)
                verdict = None
            except StopIteration as done:
                verdict = done.value

    def _settle(self, candidate: Candidate, verdict: bool, low: int, here: int,
                tentative: list[list[Any]]) -> None:
        """Record the verdict of the frame that was at stack position ``here``.

        A verdict of False is final (assuming the frames in progress viable only made
        more things viable). A verdict of True that relied on a frame still in progress
        (``low < here``) holds only if that frame turns out viable too.
        """
        if not verdict:
            for entry in [e for e in tentative if e[0] >= here]:
                tentative.remove(entry)
                del self._viable[entry[1]]  # it relied on this one: judge it again when met
            self._viable[candidate] = False
            return
        self._viable[candidate] = True
        if low < here:
            for entry in tentative:
                if entry[0] >= here:
                    entry[0] = low
            tentative.append([low, candidate])
        else:
            tentative[:] = [e for e in tentative if e[0] < here]

    def first_viable(self, requirement: Requirement) -> Candidate | None:
        """The best viable candidate ``requirement`` accepts, alone."""
        p = self.provider
        return next((c for c in p.candidates(requirement.project, requirement.extras, [requirement])
                     if self.viable(c)), None)

    def dead_end(self, requirement: Requirement) -> tuple[list[Candidate], Requirement]:
        """Why ``requirement`` has no viable candidate: ``(chain, missing)``.

        ``chain`` follows the best candidate down through the first dependency that
        blocks it, to ``missing``, a requirement no candidate satisfies at all (its
        reason is :func:`kernelctl.wheelhouse.diagnosis.why_missing`). ``chain`` is empty
        when ``requirement`` itself is that requirement.
        """
        p = self.provider
        chain: list[Candidate] = []
        req = requirement
        while True:
            best = next(iter(p.candidates(req.project, req.extras, [req])), None)
            if best is None or best in chain or best not in self._blocked:
                return chain, req
            chain.append(best)
            req = self._blocked[best]
