"""Parameters as papermill handles them: typing, the injected cell, unknown names (no kernel needed)."""

from __future__ import annotations

import math
from pathlib import Path

import nbformat
import pytest

from kernelctl.errors import UsageError
from kernelctl.notebook import params, state


@pytest.mark.parametrize("text, value", [
    ("True", True), ("False", False), ("None", None), ("42", 42), ("-7", -7), ("0.5", 0.5), ("1e3", 1000.0),
    ("true", "true"), ("007", 7), ("abc", "abc"), ("", ""), ("1.5.2", "1.5.2"),
])
def test_values_are_typed_as_papermill_types_them(text: str, value: object) -> None:
    parsed = params.parse_value(text)
    assert parsed == value and type(parsed) is type(value)


def test_nan_is_a_float_as_in_papermill() -> None:
    assert math.isnan(params.parse_value("nan"))


def test_literals_are_valid_code_in_each_language() -> None:
    value = {"a": [1, 2.5, None, True], "q": 'say "hi" $x'}
    python, r, julia = (params.SYNTAX[name] for name in ("python", "r", "julia"))
    assert eval(params.literal(value, python)) == value
    assert params.literal(float("-inf"), python) == "-float('inf')" and eval(params.literal({3: 1}, python)) == {3: 1}
    assert params.literal(value, r) == 'list("a" = list(1L, 2.5, NULL, TRUE), "q" = "say \\"hi\\" $x")'
    assert params.literal(value, julia) == 'Dict("a" => [1, 2.5, nothing, true], "q" => "say \\"hi\\" \\$x")'


def test_injected_cell_follows_the_parameters_cell_and_replaces_an_old_one() -> None:
    nb = nbformat.v4.new_notebook()
    defaults = nbformat.v4.new_code_cell("alpha = 1\nlabel: str = 'a'\nif alpha == 2:\n    hidden = 3\n")
    defaults.metadata["tags"] = ["parameters"]
    old = nbformat.v4.new_code_cell("alpha = 99")
    old.metadata["tags"] = ["injected-parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell("x"), defaults, old, nbformat.v4.new_code_cell("print(alpha)")]
    warnings = params.inject(nb, {"alpha": 2, "hidden": "x"}, "python")
    assert [c.source for c in nb.cells[1:3]] == [defaults.source, "# Parameters\nalpha = 2\nhidden = 'x'\n"]
    assert nb.cells[2].metadata["tags"] == ["injected-parameters"] and len(nb.cells) == 4
    assert warnings == ["parameter 'hidden' is not in the notebook's parameters cell (it has: alpha, label); "
                        "it is set anyway"]


def test_without_a_parameters_cell_the_values_go_first_with_a_warning() -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x <- 1")]
    (warning,) = params.inject(nb, {"n": 3}, "R")
    assert "no cell tagged 'parameters'" in warning
    assert nb.cells[0].source == "# Parameters\nn <- 3L\n"


def test_bad_names_files_and_languages_are_usage_errors(tmp_path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    with pytest.raises(UsageError, match="not a valid variable name"):
        params.inject(nb, {"a-b": 1}, "python")
    with pytest.raises(UsageError, match="cannot pass parameters to a bash kernel"):
        params.inject(nb, {"a": 1}, "bash")
    (tmp_path / "p.json").write_text('{"a": [1, 2]}')
    assert params.load_file(tmp_path / "p.json") == {"a": [1, 2]}
    with pytest.raises(UsageError, match="cannot read parameters file"):
        params.load_file(tmp_path / "missing.yaml")
    with pytest.raises(UsageError, match="cannot read parameters from -y"):
        params.load_yaml("a: [1", "-y")


def test_resume_plan_reruns_finished_setup_and_parameter_cells_then_continues() -> None:
    nb = nbformat.v4.new_notebook()
    tags = [["setup"], ["parameters"], ["injected-parameters"], [], ["setup"], [], []]
    nb.cells = [nbformat.v4.new_code_cell(f"x{i} = {i}") for i in range(len(tags))]
    for cell, tag, status in zip(nb.cells, tags, ["completed"] * 4 + ["interrupted", "pending", "pending"]):
        cell.metadata["tags"] = tag
        state.mark(cell, status)
    assert state.resume_plan(nb) == ([0, 1, 2], [4, 5, 6])


def test_a_python_keyword_is_not_a_parameter_name_but_is_one_in_r() -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell("x = 1"))
    with pytest.raises(UsageError, match="'class' is not a valid variable name"):
        params.inject(nb, {"class": 1}, "python")
    params.inject(nb, {"class": 1}, "R")
    assert "class <- 1L" in nb.cells[0].source


def test_yaml_values_become_what_json_holds_so_the_output_can_record_them() -> None:
    loaded = params.load_yaml("when: 2024-01-02\nnested: {at: [2024-01-03, 1], tags: !!set {a: null}}\n", "-y")
    assert loaded == {"when": "2024-01-02", "nested": {"at": ["2024-01-03", 1], "tags": "{'a'}"}}
    state.record_settings(nb := nbformat.v4.new_notebook(), {"parameters": loaded})
    assert nbformat.reads(nbformat.writes(nb), as_version=4).metadata.kernelctl.run.parameters == loaded


@pytest.mark.parametrize("text", [
    "a: &a [*a]\n",  # refers to itself
    "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(  # 10^7 values from 7 lines
        f"{n}: &{n} [{', '.join(['*' + p] * 10)}]\n" for p, n in zip("abcdef", "bcdefg")),
])
def test_self_referring_or_exploding_yaml_is_a_usage_error(text: str) -> None:
    with pytest.raises(UsageError, match="expand to more than 100,000 values, or refer to themselves"):
        params.load_yaml(text, "p.yaml")


@pytest.mark.parametrize("damage", [
    {"run": [1, 2]}, {"run": {"source": 5}}, "junk",
    {"run": {"source": "/nb.ipynb", "kernel": ["x"], "parameters": {}, "allow_errors": False}},
    {"run": {"source": "/nb.ipynb", "kernel": "k", "parameters": [1], "allow_errors": False}},
    {"run": {"source": "/nb.ipynb", "kernel": "k", "parameters": {}, "allow_errors": False, "cell_timeout": "x"}},
])
def test_a_damaged_run_record_is_no_run_record(damage: object) -> None:
    """Resuming such a file is the usage error for a notebook kernelctl did not write, not a TypeError."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelctl"] = damage
    assert state.run_settings(nb) == {}
    state.record_settings(good := nbformat.v4.new_notebook(), {"source": "/nb.ipynb", "kernel": "k", "parameters": {},
                                                               "cell_timeout": None, "allow_errors": False,
                                                               "netguard": None})
    assert state.run_settings(good)["kernel"] == "k"


def test_a_damaged_cell_status_counts_as_not_finished() -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("a = 1"), nbformat.v4.new_code_cell("b = 2")]
    state.mark(nb.cells[0], "completed")
    nb.cells[1].metadata["kernelctl"] = "junk"
    assert state.status(nb.cells[1]) == "pending" and state.resume_plan(nb) == ([], [1])
