"""Static check of Python code and IPython cells for code that needs the internet.

A cell is checked in two phases:

1. :meth:`Checker.analyze` turns the raw cell into a flat, ordered list of events (imports,
   assignments, calls, and findings from shell commands) — pure and cached by cell text;
2. :meth:`Checker.check` replays those events against a :class:`Scope`, which carries
   import aliases and string constants from cell to cell (and, inside a kernel, falls back
   to the live ``user_ns``), resolves each callee to a dotted name and applies
   :func:`.rules.check_call`.

Parsing dominates the cost, and most cells need no internet, so :meth:`Checker.check` first
runs a pre-filter over the cell's words: a cell that runs no shell command or checked magic
and holds no trigger of a call rule whose module it names (directly, through an alias or
through the kernel namespace; see :func:`.rules.may_match`) cannot produce a finding, and is
not parsed. Its effect on the scope (imports, constants) is applied later, from the full
analysis, only if a later cell sharing the scope has to be parsed.

In the kernel, :meth:`Checker.check_cell` parses only the statements of a cell that can
matter for a finding (see :func:`_partial_code`). Those findings hold if the whole cell
parses, so the extension shows them once IPython has parsed it.

IPython syntax (``!cmd``, ``%pip``, ``%%bash``, ...) is rewritten with IPython's
``TransformerManager`` when IPython is importable, and with a small stdlib fallback for the
common forms when it is not. Stdlib only otherwise.
"""

from __future__ import annotations

import ast
import bisect
import itertools
import json
import keyword
import re
import sys
import textwrap
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .rules import (CELL_TAG, PLACEHOLDER, PRAGMA, RULES, UNKNOWN, WATCHED_NAMES, WATCHED_TOPS, Call,
                    Context, check_call, check_shell, may_match, trigger_words)


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


# --------------------------------------------------------------- transforming

# Magics whose arguments or body the checker looks into (see Checker._magic_line/_magic_cell).
_INSTALL_MAGICS = ("pip", "conda", "mamba", "micromamba", "uv")
_SYSTEM_MAGICS = ("sx", "system")
_URL_MAGICS = ("load", "run", "loadpy")
_NESTED_MAGICS = ("time", "timeit", "prun", "debug", "capture", "memit", "lprun")
_SHELLS = ("bash", "sh", "zsh", "ksh", "dash")
_PYTHON_MAGICS = ("python", "pypy")  # %%python3, %%pypy, ... as prefixes
_CHECKED_MAGICS = frozenset({*_INSTALL_MAGICS, *_SYSTEM_MAGICS, *_URL_MAGICS, *_NESTED_MAGICS, *_SHELLS, "script"})

# A line that may hold IPython syntax: an escape at the start of a statement or after "x =".
_ESCAPE_RE = re.compile(r"^[ \t]*(?:[\w.,\[\] \t()*]+=[ \t]*)?[!%]", re.M)
_AUTOMAGIC_RE = re.compile(rf"^\s*({'|'.join(_INSTALL_MAGICS)})\s+(\S.*?)\s*$")
_LINE_ESCAPE_RE = re.compile(r"^([ \t]*)(?:([\w.,\[\] \t()*]+?)[ \t]*=[ \t]*)?(!!|!|%)(.*)$")
_transformer: Any = None


def _ipython_transform(source: str) -> str | None:
    """IPython's own cell transformation, or None when IPython is not importable."""
    global _transformer
    if _transformer is None:
        try:
            from IPython.core.inputtransformer2 import TransformerManager
        except Exception:  # IPython missing or broken: use the fallback from now on
            _transformer = False
        else:
            _transformer = TransformerManager()
    if _transformer is False:
        return None
    return _transformer.transform_cell(source)


def fallback_transform(source: str) -> str:
    """The common IPython forms rewritten as IPython would, without IPython.

    Handles ``%%magic`` cells, ``!cmd``, ``!!cmd``, ``x = !cmd`` and ``%magic args``
    (also after ``x =``). Line numbers are kept, except that a cell magic becomes one line.
    """
    lines = textwrap.dedent(source.lstrip("\r\n")).splitlines()
    if lines and lines[0].startswith("%%"):
        name, _, line = lines[0][2:].partition(" ")
        body = "\n".join(lines[1:]) + "\n"
        return f"get_ipython().run_cell_magic({name!r}, {line.strip()!r}, {body!r})\n"
    out = []
    for line in lines:
        match = _LINE_ESCAPE_RE.match(line)
        if not match or (match.group(3) == "%" and not re.match(r"[A-Za-z_]", match.group(4))):
            out.append(line)
            continue
        indent, target, escape, rest = match.groups()
        if escape == "%":
            name, _, arg = rest.partition(" ")
            call = f"get_ipython().run_line_magic({name!r}, {arg.strip()!r})"
        elif escape == "!!" or target:
            call = f"get_ipython().getoutput({rest!r})"
        else:
            call = f"get_ipython().system({rest!r})"
        out.append(f"{indent}{target} = {call}" if target else indent + call)
    return "\n".join(out) + "\n"


# ----------------------------------------------------------------- pre-filter

# "!" or "%" that IPython may read as an escape (not the operators != and %=), the name
# after "%" or "%%" (IPython ends it at a space), and the prompts IPython strips first.
_ESCAPE_CHAR_RE = re.compile(r"[!%](?!=)")
_MAGIC_NAME_RE = re.compile(r"%?(\S*)")
_PROMPT_RE = re.compile(r">>>|\.\.\.|In \[\d*\]:|\.{3,}:")
_LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"  # str.splitlines(), as in fallback_transform
# The call IPython writes for a magic whose name is a plain literal.
_MAGIC_CALL_RE = re.compile(r"""get_ipython\(\)\.run_(?:line|cell)_magic\((['"])([^'"\\]*)\1\s*,""")
# Every ASCII byte that cannot be in a name becomes a space; the bytes of UTF-8 sequences stay,
# as any non-ASCII character may be part of a name.
_NOT_NAME_BYTES = bytes(b if b >= 0x80 or chr(b).isalnum() or b == ord("_") else ord(" ") for b in range(256))


def _magic_is_checked(name: str) -> bool:
    """Whether the checker looks into line or cell magic ``name``."""
    return name in _CHECKED_MAGICS or name.startswith(_PYTHON_MAGICS)


def _escapes_may_run(source: str) -> bool:
    """Whether IPython's transformation of ``source`` may run a shell command or a checked magic.

    Errs towards True: any ``!``, and any ``%`` before a checked magic name, that starts a line
    (after indentation or a ``>>>``/``In [n]:`` prompt) or follows an ``=``, is taken as an escape.
    """
    for match in _ESCAPE_CHAR_RE.finditer(source):
        at = match.start()
        line_start = max(source.rfind(c, 0, at) for c in _LINE_BREAKS) + 1
        before = source[line_start:at].strip()
        if before and not before.endswith("=") and not _PROMPT_RE.fullmatch(before):
            continue
        if match.group() == "!" or _magic_is_checked(_MAGIC_NAME_RE.match(source, at + 1).group(1)):
            return True
    return False


def _ipython_calls_may_run(code: str) -> bool:
    """Whether ``code`` may call ``get_ipython()`` for a shell command or a checked magic.

    Every mention of ``get_ipython`` counts unless it is IPython's call of an unchecked magic
    (``%matplotlib inline``, ``%load_ext``, ``%%writefile``, ...).
    """
    start = code.find("get_ipython")
    while start != -1:
        match = _MAGIC_CALL_RE.match(code, start)
        if match is None or _magic_is_checked(match.group(2)):
            return True
        start = code.find("get_ipython", match.end())
    return False


def _words(code: str) -> set[str]:
    """Every name in ``code`` as Python reads it (NFKC-normalized), among other words: numbers,
    the words of strings and comments, runs of non-ASCII characters."""
    if not code.isascii():
        code = unicodedata.normalize("NFKC", code)
    encoded = code.encode("utf-8", "surrogatepass").translate(_NOT_NAME_BYTES)
    return set(encoded.decode("utf-8", "surrogatepass").split())


# ------------------------------------------------------------- partial parse

# Text the segmentation below does not handle: statements or strings spanning lines other than
# inside brackets, line breaks other than "\n", and "*" imports (they bind every name).
_PARTIAL_REFUSED = ("'''", '"""', "\\\n", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x00")
_STAR_IMPORT_RE = re.compile(r"import[\s(]*\*")
# A one-line string (without its prefix) or a comment, and where an f-string may start.
_STRING_OR_COMMENT_RE = re.compile(r"""'[^'\\\n]*(?:\\.[^'\\\n]*)*'|"[^"\\\n]*(?:\\.[^"\\\n]*)*"|#.*""")
_F_STRING_STARTS = [f + r + q for f in "fF" for r in ("", "r", "R") for q in "'\""]
# Bracket bytes as "(" or ")", newlines kept, everything else deleted.
_BRACKETS = bytes.maketrans(b"([{)]}", b"((()))")
_NOT_BRACKETS = bytes(b for b in range(128) if b not in b"([{)]}\n")
# Column-0 lines that continue the statement above them.
_CLAUSE_RE = re.compile(r"(?:else|elif|except|finally)\b")
# What follows a name that may be assigned to: "=" (not "=="), or ":" of an annotation.
_ASSIGNED_RE = re.compile(r"[\s)]*(?::|=(?!=))")
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


def _is_f_string(code: str, match: re.Match[str]) -> bool:
    return "f" in code[max(match.start() - 2, 0):match.start()].lower()


def _code_part(code: str) -> str:
    """``code`` without comments and plain strings; f-strings stay (their fields are code)."""
    return _STRING_OR_COMMENT_RE.sub(lambda m: m.group() if m.group()[0] != "#" and _is_f_string(code, m) else "",
                                     code)


def _statement_starts(code: str, lines: list[str]) -> list[int] | None:
    """The indices of the ``lines`` of ``code`` that start a top-level statement (a decorated
    definition and the ``else``/``except``/... clauses of a compound statement belong to the
    statement above).

    Assumes valid ASCII Python without the text of :data:`_PARTIAL_REFUSED`, so only brackets
    make a statement span lines; None when the code does not lex as that assumption says.
    """
    # From Python 3.12 an f-string may nest its own quote, which the regular expression would
    # take for its end; before, such code does not parse (the caller then drops the findings).
    for start in _F_STRING_STARTS if sys.version_info >= (3, 12) else ():
        at = code.find(start)
        while at != -1:
            string = _STRING_OR_COMMENT_RE.match(code, at + len(start) - 1)
            if string is not None and string.group().count("{") != string.group().count("}"):
                return None
            at = code.find(start, at + 1)
    bare = _STRING_OR_COMMENT_RE.sub("", code)
    if "'" in bare or '"' in bare:
        return None
    starts: list[int] = []
    depth = 0
    decorated = False
    for index, (line, brackets) in enumerate(zip(lines, bare.encode("ascii").translate(_BRACKETS, _NOT_BRACKETS)
                                                  .split(b"\n"))):
        if depth == 0 and line and line[0] not in " \t#":
            if not decorated and not (line[0] in "ef" and _CLAUSE_RE.match(line)):
                starts.append(index)
            decorated = line[0] == "@"
        if brackets:
            depth += 2 * brackets.count(b"(") - len(brackets)
            if depth < 0:
                return None
    return starts if depth == 0 else None


class _Segments:
    """Code cut into groups of top-level statements, and where names occur in it as code."""

    def __init__(self, code: str, lines: list[str], starts: list[int]) -> None:
        self.code = code
        self.line_offsets = list(itertools.accumulate((len(line) + 1 for line in lines), initial=0))
        self.bounds = [self.line_offsets[i] for i in starts] + [len(code) + 1]
        self.lines = starts + [len(lines)]
        # Segments with an import or "as": any name in them may be bound there.
        self._binding = {segment for word in ("import", "as") for segment, _, _ in self.occurrences(word)}

    def of(self, position: int) -> int:
        """The segment holding ``position`` (-1: comments and blank lines before the first)."""
        return bisect.bisect_right(self.bounds, position) - 1

    def names(self, index: int) -> set[str]:
        """The names in a segment's code."""
        text = _code_part(self.code[self.bounds[index]:self.bounds[index + 1]])
        return {word for word in _words(text) if word.isidentifier() and not keyword.iskeyword(word)}

    def occurrences(self, name: str, segment: int | None = None) -> Iterator[tuple[int, int, int]]:
        """(segment, start, end) of each occurrence of ``name`` as a whole word, in the whole
        code or in one segment (some may be in strings or comments: see :meth:`in_code`)."""
        code, size = self.code, len(name)
        start, stop = (0, len(code)) if segment is None else (self.bounds[segment], self.bounds[segment + 1])
        at = code.find(name, start, stop)
        while at != -1:
            end = at + size
            if (at == 0 or code[at - 1] not in _NAME_CHARS) and (end == len(code) or code[end] not in _NAME_CHARS):
                yield (self.of(at) if segment is None else segment), at, end
            at = code.find(name, end, stop)

    def in_code(self, position: int) -> bool:
        """Whether ``position`` is outside comments and plain strings (f-strings hold code)."""
        line = bisect.bisect_right(self.line_offsets, position) - 1
        for match in _STRING_OR_COMMENT_RE.finditer(self.code, self.line_offsets[line], self.line_offsets[line + 1]):
            if match.start() > position:
                return True
            if match.end() > position:
                return match.group()[0] != "#" and _is_f_string(self.code, match)
        return True

    def may_bind(self, segment: int, at: int, end: int) -> bool:
        """Whether the name at ``at:end`` may be bound there by an import, ``as``, assignment or
        annotated assignment. Not for ``name=``/``name:`` right after ``(`` or ``,``: such a
        name is a keyword argument, a parameter or a dict key, never an assignment target."""
        code = self.code
        if segment not in self._binding:
            assigned = _ASSIGNED_RE.match(code, end)
            if assigned is None:
                return False
            if ")" not in assigned.group():
                before = at - 1
                while before >= 0 and code[before] in " \t\n":
                    before -= 1
                if before >= 0 and code[before] in "(,":
                    return False
        return self.in_code(at)


# Above this, the name search below (quadratic in the worst case) costs more than a whole parse.
_PARTIAL_MAX_LINES = 1000


def _partial_code(code: str, parts: set[str], expansions: list[tuple[str, str]]) -> str | None:
    """``code`` with only the top-level statements that can matter for a finding kept, the
    others blanked (line numbers stay); None if that cannot be worked out from the text.

    Kept: every statement holding a trigger word (:func:`.rules.trigger_words` of ``parts``)
    or a name that may stand for a callee holding one (bound by a kept statement, or through
    ``expansions``), and every statement that may bind a name of a kept statement. So each
    call kept resolves as in the whole cell, and each call that can match is kept — provided
    the whole cell parses, which the caller must make sure of.
    """
    if (code.count("\n") > _PARTIAL_MAX_LINES or not code.isascii() or any(text in code for text in _PARTIAL_REFUSED)
            or _STAR_IMPORT_RE.search(code)):
        return None
    triggers = trigger_words(parts)
    if triggers is None:
        return None
    lines = code.split("\n")
    starts = _statement_starts(code, lines)
    if not starts:
        return None
    segments = _Segments(code, lines, starts)
    callee_names = [name for name in triggers if name.isidentifier()]
    callee_names += [word for word, dotted in expansions
                     if not triggers.isdisjoint(part.rstrip("()") for part in dotted.split("."))]
    seen = set(callee_names)
    needed: list[str] = []  # names whose binding statements must be kept
    needed_seen: set[str] = set()
    kept: set[int] = set()
    calling: set[int] = set()  # kept for a callee name: the names they bind are callee names too

    def keep(segment: int) -> set[str]:
        kept.add(segment)
        names = segments.names(segment)
        needed.extend(names - needed_seen)
        needed_seen.update(names)
        return names

    while callee_names or needed:
        if callee_names:  # statements that may call through the name, and the names they bind
            for segment, at, _ in segments.occurrences(callee_names.pop()):
                if segment >= 0 and segment not in calling and segments.in_code(at):
                    calling.add(segment)
                    names = keep(segment) if segment not in kept else segments.names(segment)
                    bound = [name for name in names - seen if any(
                        segments.may_bind(segment, at, end) for _, at, end in segments.occurrences(name, segment))]
                    seen.update(bound)
                    callee_names += bound
        else:  # statements that may bind a name a kept statement uses
            for segment, at, end in segments.occurrences(needed.pop()):
                if segment >= 0 and segment not in kept and segments.may_bind(segment, at, end):
                    keep(segment)
    out = [""] * len(lines)
    for segment in kept:
        first, last = segments.lines[segment], segments.lines[segment + 1]
        out[first:last] = lines[first:last]
    return "\n".join(out)


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


# ------------------------------------------------------------------- analysis

# Event kinds, replayed in order by Checker.check.
_IMPORT, _BIND, _CALL, _HIT = range(4)


@dataclass
class Analysis:
    """The alias-independent part of checking one cell (cacheable by its text)."""

    events: list[tuple] = field(default_factory=list)
    syntax_error: str | None = None


class Checker:
    """Checks cells and scripts; one instance per context, caching analyses by cell text."""

    def __init__(self, ctx: Context | None = None, cache_size: int = 512) -> None:
        self.ctx = ctx or Context()
        # Keyed by (source, transformed), and with a third item for partial analyses.
        self._cache: dict[tuple, Analysis] = {}
        self._cache_size = cache_size

    # -- phase 1
    def analyze(self, source: str, transformed: str | None = None) -> Analysis:
        """Parse ``source`` (IPython syntax allowed) into events; ``transformed`` is IPython's
        own transformation of it when the caller already has one."""
        key = (source, transformed)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        analysis = self._analyze(source, transformed)
        self._store(key, analysis)
        return analysis

    def _store(self, key: tuple, analysis: Analysis) -> None:
        if len(self._cache) >= self._cache_size:
            self._cache.pop(next(iter(self._cache)))
        self._cache[key] = analysis

    def _analyze(self, source: str, transformed: str | None) -> Analysis:
        pragma_lines = _pragma_lines(source)
        tree, offset, error = None, 0, None
        if transformed is None and not _ESCAPE_RE.search(source):
            try:  # plain Python: no need for IPython's transformation
                tree = ast.parse(source)
            except SyntaxError:
                pass
        if tree is None:
            offset = _leading_blank_lines(source)
            code = transformed
            if code is None:
                code = _ipython_transform(source)
                if code is None:
                    code = fallback_transform(source)
            try:
                tree = ast.parse(code)
            except SyntaxError as err:
                automagic = _AUTOMAGIC_RE.match(source) if "\n" not in source.strip() else None
                if automagic:  # "pip install x" runs as %pip with automagic on
                    analysis = Analysis()
                    self._magic_line(analysis, automagic.group(1), automagic.group(2), offset + 1, pragma_lines)
                    return analysis
                error = f"line {(err.lineno or 1) + offset}: {err.msg}"
                return Analysis(syntax_error=error)
        analysis = Analysis()
        self._collect(tree, offset, analysis, pragma_lines)
        return analysis

    def _collect(self, tree: ast.AST, offset: int, analysis: Analysis, pragma: frozenset[int]) -> None:
        events: list[tuple] = []
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
                    events.append(((line, node.col_offset, 0), (_CALL, line, node)))
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
                    events.append(((node.lineno + offset, node.col_offset, 0), (_IMPORT, name, target)))
            elif kind is ast.Assign or kind is ast.AnnAssign:
                value = node.value
                targets = node.targets if kind is ast.Assign else [node.target]
                if value is None:
                    continue
                for target in targets:
                    if type(target) is ast.Name:
                        key = ((value.end_lineno or value.lineno) + offset, value.end_col_offset or 0, 1)
                        events.append((key, (_BIND, target.id, value)))
            elif kind is ast.With or kind is ast.AsyncWith:
                for item in node.items:
                    if type(item.optional_vars) is ast.Name:
                        expr = item.context_expr
                        key = ((expr.end_lineno or expr.lineno) + offset, expr.end_col_offset or 0, 1)
                        events.append((key, (_BIND, item.optional_vars.id, expr)))
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
                analysis.events.append((_HIT, at, rule, message))

    def _magic_line(self, analysis: Analysis, name: str, arg: str, line: int, pragma: frozenset[int]) -> None:
        if name in _INSTALL_MAGICS:
            self._shell(analysis, f"{name} {arg}", line, pragma, single_line=True)
        elif name in _SYSTEM_MAGICS:
            self._shell(analysis, arg, line, pragma, single_line=True)
        elif name in _URL_MAGICS:
            urls = [w for w in arg.split() if self.ctx.policy.url_is_remote(w)]
            if urls and line not in pragma:
                analysis.events.append((_HIT, line, "magic-url", f"%{name} fetches code from {urls[0]}"))
        elif name in _NESTED_MAGICS:
            self._nested_python(analysis, arg, line - 1, pragma)

    def _magic_cell(self, analysis: Analysis, name: str, line_arg: str, body: str, line: int,
                    pragma: frozenset[int]) -> None:
        interpreter = line_arg.split()[0].rsplit("/", 1)[-1] if name == "script" and line_arg.split() else name
        if interpreter in _SHELLS:
            self._shell(analysis, body, line + 1, pragma)
        elif interpreter.startswith(_PYTHON_MAGICS) or name in _NESTED_MAGICS:
            self._nested_python(analysis, body, line, pragma)

    def _nested_python(self, analysis: Analysis, body: str, line: int, pragma: frozenset[int]) -> None:
        """Recurse into a magic's body; its line 1 is cell line ``line + 1``."""
        shifted = frozenset(n - line for n in pragma if n > line)
        inner = self._analyze_body(body, shifted)
        for event in inner.events:
            if event[0] == _HIT:
                analysis.events.append((_HIT, event[1] + line, event[2], event[3]))
            elif event[0] == _CALL:
                analysis.events.append((_CALL, event[1] + line, event[2]))
            else:
                analysis.events.append(event)

    def _analyze_body(self, body: str, pragma: frozenset[int]) -> Analysis:
        # The body's own pragmas are found again from its text; ``pragma`` adds the
        # enclosing cell's, shifted into the body's numbering.
        inner = self._analyze(body, None)
        if not pragma:
            return inner
        return Analysis([e for e in inner.events if not (e[0] in (_HIT, _CALL) and e[1] in pragma)],
                        inner.syntax_error)

    def _analyze_partial(self, source: str, transformed: str, parts: set[str],
                         expansions: list[tuple[str, str]]) -> Analysis | None:
        """The analysis of the statements of ``transformed`` that can matter (see
        :func:`_partial_code`), or None; its findings are those of the whole cell if the
        whole cell parses."""
        code = _partial_code(transformed, parts, expansions)
        if code is None:
            return None
        try:
            tree = ast.parse(code)
        except SyntaxError:  # the cell cannot parse either, or the cut was wrong: check it whole
            return None
        analysis = Analysis()
        pragma_lines = _pragma_lines(source)
        self._collect(tree, _leading_blank_lines(source), analysis, pragma_lines)
        return analysis

    # -- phase 2
    def check_cell(self, source: str, transformed: str | None, lookup: Lookup | None) -> tuple[list[Finding], bool]:
        """Findings for one kernel cell checked on a scope of its own (names from earlier cells
        come through ``lookup``), and whether they stand whatever the rest of the cell holds.

        Given IPython's ``transformed`` text, a cell the pre-filter passes has only its
        statements that can matter parsed (see :func:`_partial_code`). Its findings (not
        final: False) are the full check's if the whole cell parses, and the full check finds
        nothing in a cell that does not parse; so the caller shows them only once it knows
        that the cell parses.
        """
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
                return self._replay(self.analyze(source, transformed), scope, report=True), True
            self._store(key, analysis)
        findings = self._replay(analysis, scope, report=True)
        return findings, not findings

    def check(self, source: str, scope: Scope | None = None, transformed: str | None = None) -> list[Finding]:
        """Findings for one cell or script, updating ``scope`` with the names it binds."""
        scope = scope if scope is not None else Scope()
        analysis = self._cache.get((source, transformed))
        if analysis is None:  # else a re-run of a parsed cell: replaying is exact and as cheap
            words = self._clean_words(source, transformed, scope)
            if words is not None:
                scope.pending.append((source, transformed))
                scope.pending_words |= words
                return []
            analysis = self.analyze(source, transformed)
        self._settle(scope)
        return self._replay(analysis, scope, report=True)

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
        code = source if transformed is None else transformed
        if (_ipython_calls_may_run(code) or (transformed is None and _escapes_may_run(source))
                or ("\n" not in source.strip() and _AUTOMAGIC_RE.match(source))):
            return None
        words = _words(code)
        # A name stands for its alias, or for its kernel value once the cell rebinds it.
        expansions = [(word, scope.aliases[word]) for word in words & scope.aliases.keys()]
        if scope.lookup is not None:
            expansions += [(word, dotted) for word in words if (dotted := scope.lookup(word)[0]) is not None]
        parts = words | scope.pending_words
        for dotted in [*(dotted for _, dotted in expansions), *scope.stars]:
            parts.update(part.rstrip("()") for part in dotted.split("."))
        return parts, expansions

    def _settle(self, scope: Scope) -> None:
        """Apply the imports and assignments of the scope's pending cells, in order."""
        pending, scope.pending, scope.pending_words = scope.pending, [], set()
        for source, transformed in pending:
            self._replay(self.analyze(source, transformed), scope, report=False)

    def _replay(self, analysis: Analysis, scope: Scope, report: bool) -> list[Finding]:
        """Apply a cell's imports and assignments to ``scope``; with ``report``, also return
        the findings of its calls and shell commands (which bind no names)."""
        resolver = _Resolver(scope)
        findings: list[Finding] = []
        for event in analysis.events:
            kind = event[0]
            if kind == _IMPORT:
                if event[1] == "*":
                    scope.stars.append(event[2])
                else:
                    scope.aliases[event[1]] = event[2]
                    scope.consts.pop(event[1], None)
            elif kind == _BIND:
                resolver.bind(event[1], event[2])
            elif not report:
                continue
            elif kind == _HIT:
                findings.append(Finding(event[2], event[1], event[3], RULES[event[2]].hint))
            else:
                call = resolver.call(event[2])
                hit = check_call(call, self.ctx) if call is not None else None
                if hit:
                    findings.append(Finding(hit[0], event[1], hit[1], RULES[hit[0]].hint))
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


# ---------------------------------------------------------------- files

CellFinding = tuple["int | None", Finding]


def notebook_cells(notebook: dict) -> list[dict]:
    """The cells of an nbformat 4 (or legacy 3) notebook."""
    if "cells" in notebook:
        cells = notebook["cells"]
    elif "worksheets" in notebook:
        cells = [c for ws in notebook["worksheets"] for c in ws.get("cells", [])]
    else:
        raise ValueError("not a Jupyter notebook (no 'cells')")
    if not isinstance(cells, list):
        raise ValueError("not a Jupyter notebook ('cells' is not a list)")
    return cells


def check_notebook(notebook: dict, checker: Checker, scope: Scope | None = None) -> list[CellFinding]:
    """Findings per code cell of a parsed notebook; the cell index counts every cell."""
    language = ((notebook.get("metadata") or {}).get("kernelspec") or {}).get("language", "python")
    if not str(language).lower().startswith("python"):
        return []
    scope = scope if scope is not None else Scope()
    results: list[CellFinding] = []
    for index, cell in enumerate(notebook_cells(notebook)):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", cell.get("input", ""))
        if isinstance(source, list):
            source = "".join(source)
        if not isinstance(source, str) or not source.strip():
            continue
        findings = checker.check(source, scope)  # run even when tagged: later cells need its imports
        tags = (cell.get("metadata") or {}).get("tags") or []
        if CELL_TAG not in tags:
            results.extend((index, f) for f in findings)
    return results


def check_file(path: Path, checker: Checker) -> list[CellFinding]:
    """Findings in a notebook (``.ipynb``) or Python script; raises ValueError/OSError when unreadable."""
    text = path.read_text(encoding="utf-8")
    checker.ctx.base_dir = str(path.parent)  # relative model paths are relative to the file
    if path.suffix == ".ipynb":
        try:
            notebook = json.loads(text)
        except json.JSONDecodeError as err:
            raise ValueError(f"not valid JSON: {err}") from None
        if not isinstance(notebook, dict):
            raise ValueError("not a Jupyter notebook")
        return check_notebook(notebook, checker)
    analysis = checker.analyze(text)
    if analysis.syntax_error:
        raise ValueError(f"syntax error, {analysis.syntax_error}")
    return [(None, f) for f in checker.check(text)]


def check_source(source: str, ctx: Context | None = None, scope: Scope | None = None) -> list[Finding]:
    """Convenience: findings in one piece of source (a script or an IPython cell)."""
    return Checker(ctx).check(source, scope)


def iter_findings(cells: Iterable[str], checker: Checker | None = None) -> list[list[Finding]]:
    """Findings for a sequence of cells sharing one scope, as a notebook would run them."""
    checker = checker or Checker()
    scope = Scope()
    return [checker.check(cell, scope) for cell in cells]
