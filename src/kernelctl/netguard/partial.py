"""The partial parse: the statements of a cell that can matter for a finding, cut from its text.

In the kernel, a cell that the pre-filter cannot pass is usually long analysis code with one
line that needs the internet. :func:`partial_code` keeps the top-level statements that can
call a rule's trigger and those that can bind the names they use, blanking the rest, so only
those are parsed. Their findings are the whole cell's if the whole cell parses (the extension
shows them once IPython has parsed the cell).
"""

from __future__ import annotations

import bisect
import itertools
import keyword
import re
import sys
from collections.abc import Iterator

from .call_index import trigger_words
from .prefilter import words

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
        return {word for word in words(text) if word.isidentifier() and not keyword.iskeyword(word)}

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


def partial_code(code: str, parts: set[str], expansions: list[tuple[str, str]]) -> str | None:
    """``code`` with only the top-level statements that can matter for a finding kept, the
    others blanked (line numbers stay); None if that cannot be worked out from the text.

    Kept: every statement holding a trigger word (:func:`.call_index.trigger_words` of ``parts``)
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

