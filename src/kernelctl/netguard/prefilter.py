"""The pre-filter's text tests: whether a cell may run a shell command or a checked magic,
and the words its calls can be made of — all without parsing it.

Parsing dominates the cost of a check and most cells need no internet, so the checker first
looks at a cell's words (see :meth:`.checker.Checker.check`).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from .transform import AUTOMAGIC_RE, CHECKED_MAGICS, PYTHON_MAGICS
from .watched import WATCHED_WORDS

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


def magic_is_checked(name: str) -> bool:
    """Whether the checker looks into line or cell magic ``name``."""
    return name in CHECKED_MAGICS or name.startswith(PYTHON_MAGICS)


def escapes_may_run(source: str) -> bool:
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
        if match.group() == "!" or magic_is_checked(_MAGIC_NAME_RE.match(source, at + 1).group(1)):
            return True
    return False


def ipython_calls_may_run(code: str) -> bool:
    """Whether ``code`` may call ``get_ipython()`` for a shell command or a checked magic.

    Every mention of ``get_ipython`` counts unless it is IPython's call of an unchecked magic
    (``%matplotlib inline``, ``%load_ext``, ``%%writefile``, ...).
    """
    start = code.find("get_ipython")
    while start != -1:
        match = _MAGIC_CALL_RE.match(code, start)
        if match is None or magic_is_checked(match.group(2)):
            return True
        start = code.find("get_ipython", match.end())
    return False


def commands_may_run(source: str, transformed: str | None) -> bool:
    """Whether a cell may run a shell command or a checked magic, given its ``source`` and,
    when known, IPython's ``transformed`` text of it (without it, escapes are looked for in
    the source; a one-line ``pip install x`` counts, as automagic may run it)."""
    code = source if transformed is None else transformed
    return (ipython_calls_may_run(code) or (transformed is None and escapes_may_run(source))
            or ("\n" not in source.strip() and AUTOMAGIC_RE.match(source) is not None))


def worth_checking(source: str, transformed: str | None, watched_value: Callable[[str], bool]) -> bool:
    """Whether a kernel cell, checked on a scope of its own, can have any finding.

    False when it runs no shell command or checked magic and none of its words is a watched
    module or call name (:data:`.watched.WATCHED_WORDS`) or names a kernel value that
    ``watched_value`` says stands for one: then no rule can fire (see
    :func:`.call_index.may_match`), and the checker need not even be imported.
    """
    if commands_may_run(source, transformed):
        return True
    names = words(source if transformed is None else transformed)
    return not WATCHED_WORDS.isdisjoint(names) or any(map(watched_value, names))


def words(code: str) -> set[str]:
    """Every name in ``code`` as Python reads it (NFKC-normalized), among other words: numbers,
    the words of strings and comments, runs of non-ASCII characters."""
    if not code.isascii():
        import unicodedata  # a C extension kernels do not load otherwise: only for non-ASCII cells

        code = unicodedata.normalize("NFKC", code)
    encoded = code.encode("utf-8", "surrogatepass").translate(_NOT_NAME_BYTES)
    return set(encoded.decode("utf-8", "surrogatepass").split())

