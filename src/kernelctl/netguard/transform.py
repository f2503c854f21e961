"""IPython syntax as Python: ``!cmd``, ``%pip``, ``%%bash`` and friends rewritten into the calls
IPython runs (``get_ipython().system(...)``, ``run_line_magic``, ``run_cell_magic``).

IPython's own ``TransformerManager`` is used when IPython is importable, a small stdlib
fallback for the common forms when it is not. Also the magic names the checker looks into.
"""

from __future__ import annotations

import re
import textwrap
from typing import Any

# Magics whose arguments or body the checker looks into (see collect.Collector).
INSTALL_MAGICS = ("pip", "conda", "mamba", "micromamba", "uv")
SYSTEM_MAGICS = ("sx", "system")
URL_MAGICS = ("load", "run", "loadpy")
NESTED_MAGICS = ("time", "timeit", "prun", "debug", "capture", "memit", "lprun")
SHELLS = ("bash", "sh", "zsh", "ksh", "dash")
PYTHON_MAGICS = ("python", "pypy")  # %%python3, %%pypy, ... as prefixes
CHECKED_MAGICS = frozenset({*INSTALL_MAGICS, *SYSTEM_MAGICS, *URL_MAGICS, *NESTED_MAGICS, *SHELLS, "script"})

# A line that may hold IPython syntax: an escape at the start of a statement or after "x =".
ESCAPE_RE = re.compile(r"^[ \t]*(?:[\w.,\[\] \t()*]+=[ \t]*)?[!%]", re.M)
AUTOMAGIC_RE = re.compile(rf"^\s*({'|'.join(INSTALL_MAGICS)})\s+(\S.*?)\s*$")
_LINEESCAPE_RE = re.compile(r"^([ \t]*)(?:([\w.,\[\] \t()*]+?)[ \t]*=[ \t]*)?(!!|!|%)(.*)$")
_transformer: Any = None


def ipython_transform(source: str) -> str | None:
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
        match = _LINEESCAPE_RE.match(line)
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

