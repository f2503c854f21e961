"""Replay: a cell's events applied, in order, to the names bound so far.

A :class:`Scope` carries import aliases and string constants from cell to cell (and, inside
a kernel, falls back to the live ``user_ns`` through its ``lookup``). :func:`replay` applies a
cell's imports and assignments to it, resolves each call's callee to a dotted name, evaluates
its arguments as far as it statically can and applies :func:`.call_index.check_call`.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass, field

from .call_index import WATCHED_NAMES, WATCHED_TOPS, check_call
from .catalogue import RULES
from .collect import Analysis, Bind, Import, Match
from .rulebook import PLACEHOLDER, UNKNOWN, Call, Context


@dataclass(frozen=True)
class Finding:
    """One piece of code that needs the internet; ``line`` is 1-based within the cell or file."""

    rule: str
    line: int
    message: str
    hint: str


# Resolves a name the cell did not bind itself (kernel: look in user_ns). Returns the
# dotted name it stands for (or None) and its value if it is a plain constant (or UNKNOWN).
Lookup = Callable[[str], "tuple[str | None, object]"]


@dataclass
class Scope:
    """Names bound by code already seen: import aliases, instances and string constants.

    ``lookup`` must give the same answers for as long as the scope is used (the kernel
    extension makes a new scope for each cell), because the effect of a cell the pre-filter
    did not parse is worked out later.
    """

    aliases: dict[str, str] = field(default_factory=dict)
    consts: dict[str, object] = field(default_factory=dict)
    stars: list[str] = field(default_factory=list)
    lookup: Lookup | None = None
    # Cells (source, transformed) found clean without being parsed, whose imports and
    # assignments are not applied yet, and every name they could bind or point an alias to.
    pending: list[tuple[str, str | None]] = field(default_factory=list)
    pending_words: set[str] = field(default_factory=set)


def replay(analysis: Analysis, scope: Scope, ctx: Context, report: bool) -> list[Finding]:
    """Apply a cell's imports and assignments to ``scope``; with ``report``, also return
    the findings of its calls and shell commands (which bind no names)."""
    resolver = _Resolver(scope)
    findings: list[Finding] = []
    for event in analysis.events:
        kind = type(event)
        if kind is Import:
            if event.name == "*":
                scope.stars.append(event.target)
            else:
                scope.aliases[event.name] = event.target
                scope.consts.pop(event.name, None)
        elif kind is Bind:
            resolver.bind(event.name, event.value)
        elif not report:
            continue
        elif kind is Match:
            findings.append(Finding(event.rule, event.line, event.message, RULES[event.rule].hint))
        else:
            call = resolver.call(event.node)
            hit = check_call(call, ctx) if call is not None else None
            if hit:
                findings.append(Finding(hit[0], event.line, hit[1], RULES[hit[0]].hint))
    return findings


class _Resolver:
    """Resolves callees to dotted names and evaluates arguments against a :class:`Scope`."""

    def __init__(self, scope: Scope) -> None:
        self.scope = scope
        self._looked_up: dict[str, tuple[str | None, object]] = {}

    def _lookup(self, name: str) -> tuple[str | None, object]:
        if self.scope.lookup is None:
            return None, UNKNOWN
        if name not in self._looked_up:
            self._looked_up[name] = self.scope.lookup(name)
        return self._looked_up[name]

    def root(self, name: str) -> str | None:
        dotted = self.scope.aliases.get(name)
        if dotted is not None:
            return dotted
        if name in self.scope.consts:
            return None
        dotted = self._lookup(name)[0]
        if dotted is not None:
            return dotted
        for module in self.scope.stars:
            if module.split(".", 1)[0] in WATCHED_TOPS:
                return f"{module}.{name}"
        return None

    def dotted(self, node: ast.AST) -> tuple[str, ...] | None:
        """``node`` as dotted parts; ``"?"`` stands for an unresolvable root."""
        kind = type(node)
        if kind is ast.Name:
            root = self.root(node.id)
            return tuple(root.split(".")) if root else ("?",)
        if kind is ast.Attribute:
            base = self.dotted(node.value)
            return base + (node.attr,) if base else None
        if kind is ast.Call:
            base = self.dotted(node.func)
            return base[:-1] + (base[-1] + "()",) if base else None
        return None

    def call(self, node: ast.Call) -> Call | None:
        parts = self.dotted(node.func)
        if not parts or (parts[0] not in WATCHED_TOPS and parts[-1] not in WATCHED_NAMES):
            return None
        args = [self.value(a) for a in node.args if type(a) is not ast.Starred]
        kwargs = {k.arg: self.value(k.value) for k in node.keywords if k.arg}
        return Call(parts, args, kwargs)

    def value(self, node: ast.AST) -> object:
        kind = type(node)
        if kind is ast.Constant:
            return node.value
        if kind is ast.Name:
            if node.id in self.scope.consts:
                return self.scope.consts[node.id]
            return UNKNOWN if node.id in self.scope.aliases else self._lookup(node.id)[1]
        if kind is ast.JoinedStr:
            return "".join(_as_text(self.value(v.value if type(v) is ast.FormattedValue else v))
                           for v in node.values)
        if kind is ast.BinOp and type(node.op) is ast.Add:
            left, right = self.value(node.left), self.value(node.right)
            if isinstance(left, str) or isinstance(right, str):
                return _as_text(left) + _as_text(right)
            return UNKNOWN
        if kind is ast.List or kind is ast.Tuple:
            return [self.value(e) for e in node.elts]
        if kind is ast.Attribute and node.attr == "executable" and type(node.value) is ast.Name \
                and self.root(node.value.id) == "sys":
            return "python"
        return UNKNOWN

    def bind(self, name: str, value: ast.AST) -> None:
        scope = self.scope
        scope.aliases.pop(name, None)
        scope.consts.pop(name, None)
        self._looked_up.pop(name, None)
        kind = type(value)
        if kind is ast.Constant and isinstance(value.value, (str, bool, int, float, type(None))):
            scope.consts[name] = value.value
        elif kind is ast.JoinedStr or kind is ast.BinOp:
            evaluated = self.value(value)
            if isinstance(evaluated, str):
                scope.consts[name] = evaluated
        elif kind in (ast.Name, ast.Attribute, ast.Call):
            parts = self.dotted(value)
            if parts and parts[0] in WATCHED_TOPS:
                scope.aliases[name] = ".".join(parts)
            elif kind is ast.Name and value.id in scope.consts:
                scope.consts[name] = scope.consts[value.id]


def _as_text(value: object) -> str:
    return value if isinstance(value, str) else (str(value) if isinstance(value, (int, float)) else PLACEHOLDER)

