"""Static check of Python code and IPython cells for code that needs the internet.

A cell is checked in two phases:

1. analysis (:mod:`.collect`) turns the raw cell into a flat, ordered list of events
   (imports, assignments, calls, and findings from shell commands) — pure and cached here
   by cell text;
2. replay (:mod:`.replay`) applies those events to a :class:`.replay.Scope`, which carries
   import aliases and string constants from cell to cell, and checks each call.

Parsing dominates the cost, and most cells need no internet, so :meth:`Checker.check` first
runs the pre-filter (:mod:`.prefilter`) over the cell's words: a cell that runs no shell
command or checked magic and holds no trigger of a call rule whose module it names
(directly, through an alias or through the kernel namespace; see
:func:`.call_index.may_match`) cannot produce a finding, and is not parsed. Its effect on the
scope (imports, constants) is applied later, from the full analysis, only if a later cell
sharing the scope has to be parsed.

In the kernel, :meth:`Checker.check_cell` parses only the statements of a cell that can
matter for a finding (see :mod:`.partial`). Those findings hold if the whole cell parses, so
the extension shows them once IPython has parsed it.

Stdlib only (IPython is used when importable; see :mod:`.transform`).
"""

from __future__ import annotations

from .call_index import may_match
from .collect import Analysis, Collector
from .partial import partial_code
from .prefilter import commands_may_run, words
from .replay import Finding, Lookup, Scope, replay
from .rulebook import Context

__all__ = ["Checker", "Finding", "Scope", "Unscannable"]


class Unscannable(ValueError):
    """Code that exhausts Python's parser or the checker's recursion (200,000 ``-`` signs,
    3,000 nested lambdas): it cannot be checked, and Python cannot compile it either."""


def _unscannable(error: RecursionError | MemoryError) -> Unscannable:
    return Unscannable(f"too deeply nested for Python's parser ({type(error).__name__})")


class Checker:
    """Checks cells and scripts; one instance per context, caching analyses by cell text."""

    def __init__(self, ctx: Context | None = None, cache_size: int = 512) -> None:
        self.ctx = ctx or Context()
        self._collector = Collector(self.ctx)
        # Keyed by (source, transformed), and with a third item for partial analyses.
        self._cache: dict[tuple, Analysis] = {}
        self._cache_size = cache_size

    # -- phase 1
    def analyze(self, source: str, transformed: str | None = None) -> Analysis:
        """Parse ``source`` (IPython syntax allowed) into events; ``transformed`` is IPython's
        own transformation of it when the caller already has one."""
        try:
            key = (source, transformed)
            cached = self._cache.get(key)
            if cached is not None:
                return cached
            analysis = self._collector.analyze(source, transformed)
            self._store(key, analysis)
            return analysis
        except (RecursionError, MemoryError) as error:
            raise _unscannable(error) from None

    def _store(self, key: tuple, analysis: Analysis) -> None:
        if len(self._cache) >= self._cache_size:
            self._cache.pop(next(iter(self._cache)))
        self._cache[key] = analysis

    def _analyze_partial(self, source: str, transformed: str, parts: set[str],
                         expansions: list[tuple[str, str]]) -> Analysis | None:
        """The analysis of the statements of ``transformed`` that can matter (see
        :func:`.partial.partial_code`), or None; its findings are those of the whole cell if
        the whole cell parses."""
        code = partial_code(transformed, parts, expansions)
        return None if code is None else self._collector.analyze_cut(source, code)

    # -- phase 2
    def check_cell(self, source: str, transformed: str | None, lookup: Lookup | None) -> tuple[list[Finding], bool]:
        """Findings for one kernel cell checked on a scope of its own (names from earlier cells
        come through ``lookup``), and whether they stand whatever the rest of the cell holds.

        Given IPython's ``transformed`` text, a cell the pre-filter passes has only its
        statements that can matter parsed (see :func:`.partial.partial_code`). Its findings (not
        final: False) are the full check's if the whole cell parses, and the full check finds
        nothing in a cell that does not parse; so the caller shows them only once it knows
        that the cell parses.
        """
        try:
            scope = Scope(lookup=lookup)
            if transformed is None or (source, transformed) in self._cache:
                return self.check(source, scope, transformed), True
            key = (source, transformed, "partial")
            analysis = self._cache.get(key)
            if analysis is None:
                found = self._parts(source, transformed, scope)
                if found is not None and not may_match(found[0]):
                    return [], True
                if found is not None:
                    analysis = self._analyze_partial(source, transformed, *found)
                if analysis is None:
                    return replay(self.analyze(source, transformed), scope, self.ctx, report=True), True
                self._store(key, analysis)
            findings = replay(analysis, scope, self.ctx, report=True)
            return findings, not findings
        except (RecursionError, MemoryError) as error:
            raise _unscannable(error) from None

    def check(self, source: str, scope: Scope | None = None, transformed: str | None = None) -> list[Finding]:
        """Findings for one cell or script, updating ``scope`` with the names it binds."""
        try:
            scope = scope if scope is not None else Scope()
            analysis = self._cache.get((source, transformed))
            if analysis is None:  # else a re-run of a parsed cell: replaying is exact and as cheap
                clean = self._clean_words(source, transformed, scope)
                if clean is not None:
                    scope.pending.append((source, transformed))
                    scope.pending_words |= clean
                    return []
                analysis = self.analyze(source, transformed)
            self._settle(scope)
            return replay(analysis, scope, self.ctx, report=True)
        except (RecursionError, MemoryError) as error:
            raise _unscannable(error) from None

    def _clean_words(self, source: str, transformed: str | None, scope: Scope) -> set[str] | None:
        """The pre-filter: None if the cell may have a finding; otherwise the names that the
        cell's calls, imports and aliases can be made of, given ``scope``.

        A finding needs a shell command or checked magic, or a call that a rule is consulted
        for. Every part of a callee is a name in the cell, a part of what one of those names
        stands for before the cell (alias, kernel namespace, ``*`` import), or a name of a
        pending cell; every keyword is a name in the cell. If no rule is triggered by the
        union of those, no call can match.
        """
        found = self._parts(source, transformed, scope)
        return None if found is None or may_match(found[0]) else found[0]

    def _parts(self, source: str, transformed: str | None,
               scope: Scope) -> tuple[set[str], list[tuple[str, str]]] | None:
        """None if the cell may run a shell command or checked magic; otherwise the names its
        calls can be made of (see :meth:`_clean_words`) and what the cell's own names stand
        for before it runs."""
        if commands_may_run(source, transformed):
            return None
        names = words(source if transformed is None else transformed)
        # A name stands for its alias, or for its kernel value once the cell rebinds it.
        expansions = [(word, scope.aliases[word]) for word in names & scope.aliases.keys()]
        if scope.lookup is not None:
            expansions += [(word, dotted) for word in names if (dotted := scope.lookup(word)[0]) is not None]
        parts = names | scope.pending_words
        for dotted in [*(dotted for _, dotted in expansions), *scope.stars]:
            parts.update(part.rstrip("()") for part in dotted.split("."))
        return parts, expansions

    def _settle(self, scope: Scope) -> None:
        """Apply the imports and assignments of the scope's pending cells, in order."""
        pending, scope.pending, scope.pending_words = scope.pending, [], set()
        for source, transformed in pending:
            replay(self.analyze(source, transformed), scope, self.ctx, report=False)

