"""Parameter sweeps: ``--sweep alpha=0.1,0.2 --sweep n=10,20`` becomes the product of the
values, one combination per Slurm array task and one output notebook per combination."""

from __future__ import annotations

import itertools
import math
import re
import string
from collections.abc import Sequence
from pathlib import Path

from kernelctl.errors import UsageError

Combination = dict[str, str]

# Slurm's MaxArraySize is 1001 unless a site raises it; beyond this no site's array is useful.
MAX_COMBINATIONS = 10_000
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Characters that would make a file name awkward to type or split a path.
_UNSAFE = re.compile(r"[^A-Za-z0-9._+=-]+")


def parse_sweep(value: str) -> tuple[str, list[str]]:
    """``"alpha=0.1,0.2"`` -> ``("alpha", ["0.1", "0.2"])``."""
    name, sep, values = value.partition("=")
    items = [v.strip() for v in values.split(",")] if sep else []
    if not _NAME.fullmatch(name.strip()) or not items or not all(items):
        raise UsageError(f"--sweep {value!r} is not NAME=V1,V2,...",
                         "Give each swept parameter as --sweep NAME=V1,V2 (e.g. --sweep alpha=0.1,0.2).")
    if len(set(items)) != len(items):
        raise UsageError(f"--sweep {value!r} repeats a value", "List each value once.")
    return name.strip(), items


def combinations(sweeps: Sequence[str]) -> list[Combination]:
    """Every combination of the swept values, first sweep varying slowest."""
    parsed = [parse_sweep(s) for s in sweeps]
    names = [name for name, _ in parsed]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise UsageError(f"--sweep names {', '.join(repeated)} more than once",
                         "Give all values of a parameter in one --sweep NAME=V1,V2,...")
    count = math.prod(len(values) for _, values in parsed)
    if count > MAX_COMBINATIONS:  # checked before building them: a million took a minute and 2 GB
        raise UsageError(f"--sweep gives {count:,} combinations, more than the {MAX_COMBINATIONS:,} one job array "
                         "may hold", "Sweep fewer values, or split the sweep over several submits.")
    return [dict(zip(names, values)) for values in itertools.product(*(v for _, v in parsed))]


def label(combination: Combination) -> str:
    """A file-name-safe label saying which combination this is: ``alpha=0.1-n=10``."""
    return "-".join(f"{name}={_UNSAFE.sub('_', value)}" for name, value in combination.items())


def template_fields(template: str) -> set[str]:
    """The ``{name}`` fields in an output path template."""
    hint = "Write fields as {name} and a literal brace as {{ or }}."
    try:
        parsed = [(field, spec, conversion) for _, field, spec, conversion in string.Formatter().parse(template)
                  if field is not None]
    except ValueError as err:
        raise UsageError(f"-o {template!r} is not a valid template: {err}", hint) from None
    # a format spec or conversion ({n:>999999999}, {n!r}) could blow up or quote a file name
    if any(spec or conversion for _, spec, conversion in parsed):
        raise UsageError(f"-o {template!r} has a field with a format or conversion", hint)
    return {field for field, _, _ in parsed}


def sweep_outputs(template: Path | None, default: Path, combos: Sequence[Combination]) -> list[Path]:
    """One output path per combination, all distinct.

    ``template`` (``-o``) may hold ``{name}`` fields, filled with each combination's values;
    without ``-o``, ``default`` (the single-run output) gets the combination's label
    before its ``.out.ipynb``/``.ipynb`` suffix.
    """
    if template is None:
        stem, suffix = (default.name[:-len(".out.ipynb")], ".out.ipynb") if default.name.endswith(".out.ipynb") \
            else (default.stem, default.suffix)
        outputs = [default.with_name(f"{stem}-{label(c)}{suffix}") for c in combos]
    else:
        fields = template_fields(str(template))
        unknown = sorted(fields - set(combos[0]))
        if unknown:
            raise UsageError(f"-o {str(template)!r} names {', '.join(unknown)}, which is not swept",
                             f"Use only the swept names in fields: {', '.join('{' + n + '}' for n in combos[0])}.")
        outputs = [Path(str(template).format(**{k: _UNSAFE.sub('_', v) for k, v in c.items()})) for c in combos]
    if len(set(outputs)) != len(outputs):
        raise UsageError(f"-o {template} gives several combinations the same output notebook",
                         "Put every swept name in -o as a field, e.g. -o 'out/run-{alpha}-{n}.ipynb'.")
    return outputs
