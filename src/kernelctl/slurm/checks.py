"""What ``kernelctl submit`` checks on the login node before a job waits in a queue: the
kernel exists and is healthy, the notebook parses, the parameters exist, and what
netguard's scan finds. Each mistake caught here costs seconds instead of a queue wait."""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from kernelctl.commands.common import Kernel, find_kernel
from kernelctl.errors import KernelctlError, UsageError

PARAMETERS_TAG = "parameters"


def load_notebook(path: Path) -> Any:
    """The notebook at ``path`` (an nbformat node), or an error saying why it cannot run."""
    import nbformat

    if not path.is_file():
        raise UsageError(f"no notebook at {path}", "Pass the path of an .ipynb file.")
    try:
        return nbformat.read(path, as_version=4)
    except (OSError, ValueError, KeyError, AttributeError, TypeError) as err:  # JSON and schema errors
        raise KernelctlError(f"{path} is not a readable notebook: {err}",
                             "Open it in JupyterLab and save it again, or restore it from a backup.") from None


def notebook_kernel(notebook: Any) -> str | None:
    """The kernel the notebook was written in (``metadata.kernelspec.name``)."""
    name = (notebook.get("metadata") or {}).get("kernelspec", {}).get("name")
    return name if isinstance(name, str) and name else None


def parameter_names(notebook: Any) -> set[str] | None:
    """Names assigned at the top level of the cell tagged ``parameters``, or None when the
    notebook has no such cell (or it is not Python)."""
    for cell in notebook.cells:
        if cell.cell_type == "code" and PARAMETERS_TAG in cell.get("metadata", {}).get("tags", []):
            try:
                tree = ast.parse(cell.source)
            except SyntaxError:
                return None
            names: set[str] = set()
            for node in tree.body:
                targets = node.targets if isinstance(node, ast.Assign) else \
                    [node.target] if isinstance(node, (ast.AnnAssign, ast.AugAssign)) else []
                for target in targets:
                    names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
            return names
    return None


def check_parameters(notebook: Any, path: Path, given: Iterable[str]) -> None:
    """Refuse parameters the notebook's ``parameters`` cell does not define."""
    given = list(dict.fromkeys(given))
    if not given:
        return
    known = parameter_names(notebook)
    if known is None:
        raise UsageError(f"{path.name} has no cell tagged 'parameters' to give {', '.join(given)} to",
                         "Tag the cell that sets the defaults 'parameters' (JupyterLab: the property inspector, "
                         "gear icon), then submit again.")
    unknown = [name for name in given if name not in known]
    if unknown:
        raise UsageError(f"{path.name} has no parameter {', '.join(unknown)}",
                         f"Its 'parameters' cell defines: {', '.join(sorted(known)) or 'nothing'}.")


def healthy_kernel(name: str) -> Kernel:
    """The kernel ``name``, refused with doctor's fix when something in it is broken."""
    from kernelctl.commands.doctor import check_kernelctl

    kernel = find_kernel(name)
    problems = check_kernelctl(kernel.spec)
    if problems:
        first = problems[0]
        raise KernelctlError(f"kernel {name!r} is broken: {first.check}: {first.problem}", f"Fix it first: {first.fix}")
    return kernel
