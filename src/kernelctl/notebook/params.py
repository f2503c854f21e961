"""Notebook parameters as papermill handles them, so existing notebooks work unchanged.

The first cell tagged ``parameters`` keeps its defaults; a new cell tagged
``injected-parameters`` right after it assigns the values given (an older injected cell
is replaced). With no ``parameters`` cell the injected cell goes first. Values given as
text are typed as papermill types ``-p`` values: ``True``/``False``, ``None``, ints,
floats, else strings.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
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
    return data


def load_file(path: Path) -> dict[str, Any]:
    """Parameters from a ``.yaml``/``.yml`` or ``.json`` file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise UsageError(f"cannot read parameters file {path}: {err.strerror or err}",
                         "Pass an existing YAML or JSON file with -f.") from None
    return load_yaml(text, str(path))


def python_literal(value: Any) -> str:
    """``value`` as Python source."""
    if isinstance(value, float) and not math.isfinite(value):
        return f"float({str(value)!r})"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{python_literal(k)}: {python_literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(python_literal(v) for v in value) + "]"
    if value is None or isinstance(value, (bool, int, float, str)):
        return repr(value)
    return repr(str(value))  # dates from YAML and the like: as papermill does, their text


def r_literal(value: Any) -> str:
    """``value`` as R source."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, Mapping):
        return "list(" + ", ".join(f"{json.dumps(str(k))} = {r_literal(v)}" for k, v in value.items()) + ")"
    if isinstance(value, (list, tuple)):
        return "list(" + ", ".join(r_literal(v) for v in value) + ")"
    if isinstance(value, int):
        return f"{value}L" if abs(value) < 2**31 else repr(float(value))
    if isinstance(value, float):
        return "NaN" if math.isnan(value) else ("Inf" if value > 0 else "-Inf") if math.isinf(value) else repr(value)
    return json.dumps(str(value))


def julia_literal(value: Any) -> str:
    """``value`` as Julia source."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return "Dict(" + ", ".join(f"{json.dumps(str(k))} => {julia_literal(v)}" for k, v in value.items()) + ")"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(julia_literal(v) for v in value) + "]"
    if isinstance(value, float):
        return "NaN" if math.isnan(value) else ("Inf" if value > 0 else "-Inf") if math.isinf(value) else repr(value)
    if isinstance(value, int):
        return str(value)
    return json.dumps(str(value)).replace("$", "\\$")  # "$x" would interpolate in Julia


_LITERALS = {"python": python_literal, "r": r_literal, "julia": julia_literal}


def injected_source(parameters: Mapping[str, Any], language: str) -> str:
    """The injected cell's code: one assignment a line, in the kernel's ``language``."""
    literal = _LITERALS.get(language.lower())
    if literal is None:
        raise UsageError(f"cannot pass parameters to a {language} kernel",
                         "Parameters work with Python, R and Julia kernels.")
    assign = " <- " if language.lower() == "r" else " = "
    return "# Parameters\n" + "".join(f"{name}{assign}{literal(value)}\n" for name, value in parameters.items())


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
        if not name.isidentifier():
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
