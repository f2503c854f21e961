"""AST collection: one cell's imports, assignments, calls and shell findings as events.

:meth:`Collector.analyze` turns a cell (IPython syntax allowed) into an :class:`Analysis`: a
flat, ordered list of events that does not depend on names bound elsewhere, so it can be
cached by the cell's text and replayed against any scope (see :mod:`.replay`). Shell commands,
install magics and ``%%bash`` bodies are checked here already, as their findings need no scope.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import NamedTuple, Union

from .call_index import WATCHED_NAMES
from .policy import PRAGMA
from .rulebook import Context, Rule
from .shell_rules import check_shell
from .transform import (AUTOMAGIC_RE, ESCAPE_RE, INSTALL_MAGICS, NESTED_MAGICS, PYTHON_MAGICS, SHELLS, SYSTEM_MAGICS,
                        URL_MAGICS, fallback_transform, ipython_transform)

# Leaves and markers that never contain a call, import or assignment: not worth visiting.
_LEAVES = frozenset({ast.Name, ast.Constant, ast.Load, ast.Store, ast.Del, ast.alias, ast.arg, ast.arguments,
                     *(c for c in (ast.operator, ast.boolop, ast.unaryop, ast.cmpop) for c in c.__subclasses__())})


# Fields that never hold a node worth visiting (names, flags, ctx/op markers).
_SCALAR_FIELDS = frozenset({"ctx", "op", "ops", "id", "attr", "arg", "name", "names", "module", "level", "asname",
                            "type_comment", "kind", "conversion", "is_async", "simple", "tag", "kwd_attrs", "rest"})
_NODE_FIELDS: dict[type, tuple[str, ...]] = {}


def _walk(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node of ``tree`` that may matter, depth first (like ``ast.walk``, minus leaves)."""
    stack = [tree]
    leaves, node_fields = _LEAVES, _NODE_FIELDS
    while stack:
        node = stack.pop()
        yield node
        kind = type(node)
        fields = node_fields.get(kind)
        if fields is None:
            fields = node_fields[kind] = tuple(f for f in kind._fields if f not in _SCALAR_FIELDS)
        for name in fields:
            child = getattr(node, name, None)
            if type(child) is list:
                if child:
                    stack.extend([c for c in child if type(c) not in leaves and isinstance(c, ast.AST)])
            elif type(child) not in leaves and isinstance(child, ast.AST):
                stack.append(child)


def _may_resolve(func: ast.AST) -> bool:
    """Whether a callee could resolve to a watched name: rooted at a plain name, or ending in
    a name matched on any receiver (``df['a'].rolling(3).mean`` can never match)."""
    if type(func) is ast.Attribute and func.attr in WATCHED_NAMES:
        return True
    while True:
        kind = type(func)
        if kind is ast.Attribute:
            func = func.value
        elif kind is ast.Call:
            func = func.func
        else:
            return kind is ast.Name


def _pragma_lines(source: str) -> frozenset[int]:
    """The 1-based numbers of the lines that carry the pragma."""
    if PRAGMA not in source:  # the usual case: no need to split the cell
        return frozenset()
    return frozenset(i for i, line in enumerate(source.splitlines(), 1) if PRAGMA in line)


def _leading_blank_lines(source: str) -> int:
    """How many lines IPython's cleanup drops from the top (its line numbers start after them)."""
    count = 0
    for line in source.splitlines():
        if line.strip():
            break
        count += 1
    return count


# Events, replayed in order (see replay.replay).


class Import(NamedTuple):
    """``import``/``from ... import``: ``name`` (or ``"*"``) stands for dotted ``target``."""

    name: str
    target: str


class Bind(NamedTuple):
    """An assignment (or ``with ... as``) of expression ``value`` to ``name``."""

    name: str
    value: ast.AST


class CallSite(NamedTuple):
    """A call on cell line ``line`` whose callee may resolve to a watched name."""

    line: int
    node: ast.Call


class Match(NamedTuple):
    """A finding that needs no scope (a shell command, a magic) on cell line ``line``."""

    line: int
    rule: str
    message: str


Event = Union[Import, Bind, CallSite, Match]


@dataclass
class Analysis:
    """The scope-independent part of checking one cell (cacheable by its text)."""

    events: list[Event] = field(default_factory=list)
    syntax_error: str | None = None


MAGIC_URL = Rule("magic-url", "%load/%run of a URL",
                 "download the script on a login node and %load/%run the local file")
RULES = (MAGIC_URL,)


class Collector:
    """Collects the events of cells and scripts under one :class:`.rulebook.Context`."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def analyze(self, source: str, transformed: str | None) -> Analysis:
        """The events of ``source`` (IPython syntax allowed); ``transformed`` is IPython's own
        transformation of it when the caller has one."""
        pragma_lines = _pragma_lines(source)
        tree, offset, error = None, 0, None
        if transformed is None and not ESCAPE_RE.search(source):
            try:  # plain Python: no need for IPython's transformation
                tree = ast.parse(source)
            except SyntaxError:
                pass
        if tree is None:
            offset = _leading_blank_lines(source)
            code = transformed
            if code is None:
                code = ipython_transform(source)
                if code is None:
                    code = fallback_transform(source)
            try:
                tree = ast.parse(code)
            except SyntaxError as err:
                automagic = AUTOMAGIC_RE.match(source) if "\n" not in source.strip() else None
                if automagic:  # "pip install x" runs as %pip with automagic on
                    analysis = Analysis()
                    self._magic_line(analysis, automagic.group(1), automagic.group(2), offset + 1, pragma_lines)
                    return analysis
                error = f"line {(err.lineno or 1) + offset}: {err.msg}"
                return Analysis(syntax_error=error)
        analysis = Analysis()
        self.collect(tree, offset, analysis, pragma_lines)
        return analysis

    def analyze_cut(self, source: str, code: str) -> Analysis | None:
        """The events of ``code``, a cut of IPython's transformation of ``source`` that keeps its
        line numbers (see :func:`.partial.partial_code`); None if the cut does not parse."""
        try:
            tree = ast.parse(code)
        except SyntaxError:  # the cell cannot parse either, or the cut was wrong
            return None
        analysis = Analysis()
        self.collect(tree, _leading_blank_lines(source), analysis, _pragma_lines(source))
        return analysis

    def collect(self, tree: ast.AST, offset: int, analysis: Analysis, pragma: frozenset[int]) -> None:
        """Append the events of ``tree`` in source order; ``offset`` is added to its line
        numbers, and calls on ``pragma`` lines are left out."""
        events: list[tuple[tuple[int, int, int], Event]] = []
        for node in _walk(tree):
            kind = type(node)
            if kind is ast.Call:
                line = node.lineno + offset
                end = (node.end_lineno or node.lineno) + offset
                if pragma and any(n in pragma for n in range(line, end + 1)):
                    continue
                func = node.func
                if (type(func) is ast.Attribute and type(func.value) is ast.Call
                        and type(func.value.func) is ast.Name and func.value.func.id == "get_ipython"):
                    sub = Analysis()
                    self._ipython_call(sub, func.attr, node, line, pragma)
                    events.extend(((line, node.col_offset, i), e) for i, e in enumerate(sub.events))
                elif _may_resolve(func):
                    events.append(((line, node.col_offset, 0), CallSite(line, node)))
            elif kind is ast.Import or kind is ast.ImportFrom:
                for alias in node.names:
                    if kind is ast.Import:
                        name = alias.asname or alias.name.split(".", 1)[0]
                        target = alias.name if alias.asname else name
                    elif node.level or not node.module:
                        continue  # relative imports name the user's own modules
                    elif alias.name == "*":
                        name, target = "*", node.module
                    else:
                        name, target = alias.asname or alias.name, f"{node.module}.{alias.name}"
                    events.append(((node.lineno + offset, node.col_offset, 0), Import(name, target)))
            elif kind is ast.Assign or kind is ast.AnnAssign:
                value = node.value
                targets = node.targets if kind is ast.Assign else [node.target]
                if value is None:
                    continue
                for target in targets:
                    if type(target) is ast.Name:
                        key = ((value.end_lineno or value.lineno) + offset, value.end_col_offset or 0, 1)
                        events.append((key, Bind(target.id, value)))
            elif kind is ast.With or kind is ast.AsyncWith:
                for item in node.items:
                    if type(item.optional_vars) is ast.Name:
                        expr = item.context_expr
                        key = ((expr.end_lineno or expr.lineno) + offset, expr.end_col_offset or 0, 1)
                        events.append((key, Bind(item.optional_vars.id, expr)))
        events.sort(key=lambda pair: pair[0])
        analysis.events.extend(event for _, event in events)

    def _ipython_call(self, analysis: Analysis, method: str, node: ast.Call, line: int,
                      pragma: frozenset[int]) -> None:
        """Events for ``get_ipython().system/getoutput/run_line_magic/run_cell_magic(...)``."""
        args = [a.value if type(a) is ast.Constant and isinstance(a.value, str) else None for a in node.args]
        if method in ("system", "getoutput") and args and args[0] is not None:
            self._shell(analysis, args[0], line, pragma, single_line=True)
        elif method == "run_line_magic" and len(args) >= 2 and None not in args[:2]:
            self._magic_line(analysis, args[0], args[1], line, pragma)
        elif method == "run_cell_magic" and len(args) >= 3 and None not in args[:3]:
            self._magic_cell(analysis, args[0], args[1], args[2], line, pragma)

    def _shell(self, analysis: Analysis, command: str, line: int, pragma: frozenset[int],
               single_line: bool = False) -> None:
        """Findings for shell text whose first line is cell line ``line``."""
        for number, rule, message in check_shell(command, self.ctx):
            at = line if single_line else line + number - 1
            if at not in pragma:
                analysis.events.append(Match(at, rule, message))

    def _magic_line(self, analysis: Analysis, name: str, arg: str, line: int, pragma: frozenset[int]) -> None:
        if name in INSTALL_MAGICS:
            self._shell(analysis, f"{name} {arg}", line, pragma, single_line=True)
        elif name in SYSTEM_MAGICS:
            self._shell(analysis, arg, line, pragma, single_line=True)
        elif name in URL_MAGICS:
            urls = [w for w in arg.split() if self.ctx.policy.url_is_remote(w)]
            if urls and line not in pragma:
                analysis.events.append(Match(line, MAGIC_URL.id, f"%{name} fetches code from {urls[0]}"))
        elif name in NESTED_MAGICS:
            self._nested_python(analysis, arg, line - 1, pragma)

    def _magic_cell(self, analysis: Analysis, name: str, line_arg: str, body: str, line: int,
                    pragma: frozenset[int]) -> None:
        interpreter = line_arg.split()[0].rsplit("/", 1)[-1] if name == "script" and line_arg.split() else name
        if interpreter in SHELLS:
            self._shell(analysis, body, line + 1, pragma)
        elif interpreter.startswith(PYTHON_MAGICS) or name in NESTED_MAGICS:
            self._nested_python(analysis, body, line, pragma)

    def _nested_python(self, analysis: Analysis, body: str, line: int, pragma: frozenset[int]) -> None:
        """Recurse into a magic's body; its line 1 is cell line ``line + 1``."""
        shifted = frozenset(n - line for n in pragma if n > line)
        inner = self._analyze_body(body, shifted)
        for event in inner.events:
            kind = type(event)
            analysis.events.append(event._replace(line=event.line + line) if kind is Match or kind is CallSite
                                   else event)

    def _analyze_body(self, body: str, pragma: frozenset[int]) -> Analysis:
        # The body's own pragmas are found again from its text; ``pragma`` adds the
        # enclosing cell's, shifted into the body's numbering.
        inner = self.analyze(body, None)
        if not pragma:
            return inner
        return Analysis([e for e in inner.events if not (type(e) in (Match, CallSite) and e.line in pragma)],
                        inner.syntax_error)
