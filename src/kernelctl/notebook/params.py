"""Notebook parameters as papermill handles them, so existing notebooks work unchanged.

The first cell tagged ``parameters`` keeps its defaults; a new cell tagged
``injected-parameters`` right after it assigns the values given (an older injected cell
is replaced). With no ``parameters`` cell the injected cell goes first. Values given as
text are typed as papermill types ``-p`` values: ``True``/``False``, ``None``, ints,
floats, else strings.
"""

from __future__ import annotations

import json
import keyword
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kernelctl.errors import UsageError

PARAMETERS_TAG = "parameters"
INJECTED_TAG = "injected-parameters"
# An assignment at the start of a line: ``name = ...``, ``name: T = ...`` or R's ``name <- ...``.
_ASSIGNED = re.compile(r"^([A-Za-z_][\w.]*)\s*(?::[^=\n]*)?(?:=(?!=)|<-)", re.MULTILINE)


def parse_value(text: str) -> Any:
    """A ``-p NAME VALUE`` value typed as papermill types it."""
    if text in ("True", "False"):
        return text == "True"
    if text == "None":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def load_yaml(text: str, origin: str) -> dict[str, Any]:
    """Parameters from YAML (JSON is YAML too); ``origin`` names the source in errors."""
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise UsageError(f"cannot read parameters from {origin}: {err}".splitlines()[0],
                         "Write NAME: VALUE pairs, one a line (YAML) or a JSON object.") from None
    if data is None:
        return {}
    if not isinstance(data, dict) or not all(isinstance(k, str) for k in data):
        raise UsageError(f"parameters in {origin} must be a mapping of names to values",
                         "Write NAME: VALUE pairs, one a line (YAML) or a JSON object.")
    budget = [MAX_VALUES]
    try:
        return {name: _plain(value, budget) for name, value in data.items()}
    except (ValueError, RecursionError):
        raise UsageError(f"the parameters in {origin} expand to more than {MAX_VALUES:,} values, or refer to "
                         "themselves (YAML anchors and aliases)",
                         "Give plain values; a large input belongs in a file the notebook reads.") from None


# Values a parameters file may expand to: YAML aliases can make a few lines stand for billions.
MAX_VALUES = 100_000
_SCALARS = (str, int, float, bool, type(None))


def _plain(value: Any, budget: list[int]) -> Any:
    """``value`` as JSON holds it (the run records the parameters in the output notebook):
    other scalars (YAML dates, sets...) become their text, as :func:`literal` writes them.
    Each value expanded counts against ``budget``; ValueError when it runs out."""
    budget[0] -= 1
    if budget[0] < 0:
        raise ValueError("too many values")
    if isinstance(value, _SCALARS):
        return value
    if isinstance(value, Mapping):
        return {k if isinstance(k, _SCALARS) else str(k): _plain(v, budget) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v, budget) for v in value]
    return str(value)


def load_file(path: Path) -> dict[str, Any]:
    """Parameters from a ``.yaml``/``.yml`` or ``.json`` file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise UsageError(f"cannot read parameters file {path}: {err.strerror or err}",
                         "Pass an existing YAML or JSON file with -f.") from None
    return load_yaml(text, str(path))


@dataclass(frozen=True)
class Syntax:
    """How a language writes the values parameters can hold, and an assignment."""

    null: str
    true: str
    false: str
    sequence: str  # around the items, e.g. "[{}]"
    mapping: str   # around the pairs
    pair: str      # one pair, from {key} and {value}
    nan: str
    inf: str
    assign: str
    integer: Callable[[int], str] = str
    string: Callable[[str], str] = json.dumps
    key: Callable[[Any], str] = lambda k: json.dumps(str(k))


def _julia_string(text: str) -> str:
    return json.dumps(text).replace("$", "\\$")  # "$x" would interpolate in Julia


def _r_integer(value: int) -> str:
    return f"{value}L" if abs(value) < 2**31 else repr(float(value))  # R integers are 32-bit


SYNTAX = {
    "python": Syntax("None", "True", "False", "[{}]", "{{{}}}", "{key}: {value}", "float('nan')", "float('inf')",
                     " = ", string=repr, key=lambda k: literal(k, SYNTAX["python"])),
    "r": Syntax("NULL", "TRUE", "FALSE", "list({})", "list({})", "{key} = {value}", "NaN", "Inf", " <- ",
                integer=_r_integer),
    "julia": Syntax("nothing", "true", "false", "[{}]", "Dict({})", "{key} => {value}", "NaN", "Inf", " = ",
                    string=_julia_string),
}


def literal(value: Any, syntax: Syntax) -> str:
    """``value`` (what JSON or YAML can hold) as source code in ``syntax``'s language."""
    if value is None:
        return syntax.null
    if isinstance(value, bool):
        return syntax.true if value else syntax.false
    if isinstance(value, int):
        return syntax.integer(value)
    if isinstance(value, float):
        if math.isnan(value):
            return syntax.nan
        return (syntax.inf if value > 0 else "-" + syntax.inf) if math.isinf(value) else repr(value)
    if isinstance(value, Mapping):
        pairs = (syntax.pair.format(key=syntax.key(k), value=literal(v, syntax)) for k, v in value.items())
        return syntax.mapping.format(", ".join(pairs))
    if isinstance(value, (list, tuple)):
        return syntax.sequence.format(", ".join(literal(v, syntax) for v in value))
    return syntax.string(str(value))  # dates from YAML and the like: their text, as papermill does


def injected_source(parameters: Mapping[str, Any], language: str) -> str:
    """The injected cell's code: one assignment a line, in the kernel's ``language``."""
    syntax = SYNTAX.get(language.lower())
    if syntax is None:
        raise UsageError(f"cannot pass parameters to a {language} kernel",
                         "Parameters work with Python, R and Julia kernels.")
    return "# Parameters\n" + "".join(f"{name}{syntax.assign}{literal(value, syntax)}\n"
                                      for name, value in parameters.items())


def _tags(cell: Mapping[str, Any]) -> list[str]:
    return list((cell.get("metadata") or {}).get("tags") or [])


def declared_names(source: str) -> list[str]:
    """The names a parameters cell assigns at top level, in order."""
    return list(dict.fromkeys(_ASSIGNED.findall(source)))


def parameters_cell(cells: list[Any]) -> int | None:
    """The index of the first cell tagged ``parameters``."""
    return next((i for i, c in enumerate(cells) if PARAMETERS_TAG in _tags(c)), None)


def inject(nb: Any, parameters: Mapping[str, Any], language: str) -> list[str]:
    """Put the ``injected-parameters`` cell into ``nb`` (an nbformat notebook, changed in
    place); return warnings for the user (unknown names, no ``parameters`` cell)."""
    import nbformat

    if not parameters:
        return []
    for name in parameters:
        if not name.isidentifier() or (language.lower() == "python" and keyword.iskeyword(name)):
            raise UsageError(f"parameter name {name!r} is not a valid variable name",
                             "Name parameters as the notebook's parameters cell does, e.g. -p alpha 0.5.")
    nb.cells = [c for c in nb.cells if INJECTED_TAG not in _tags(c)]
    cell = nbformat.v4.new_code_cell(injected_source(parameters, language))
    cell.metadata["tags"] = [INJECTED_TAG]
    at = parameters_cell(nb.cells)
    if at is None:
        nb.cells.insert(0, cell)
        return ["the notebook has no cell tagged 'parameters': the parameters were injected at the top "
                "(tag the cell holding the defaults 'parameters' to put them after it)"]
    nb.cells.insert(at + 1, cell)
    known = declared_names(nb.cells[at].source)
    return [f"parameter {name!r} is not in the notebook's parameters cell (it has: {', '.join(known) or 'none'}); "
            "it is set anyway" for name in parameters if name not in known]
