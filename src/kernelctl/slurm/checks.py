"""What ``kernelctl submit`` checks on the login node before a job waits in a queue: the
kernel exists and is healthy, and the parameters exist (the notebook parsing and netguard's
scan are the run's own checks). Each mistake caught here costs seconds, not a queue wait."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from kernelctl.commands.common import Kernel
from kernelctl.errors import KernelctlError, UsageError


def check_parameters(nb: Any, path: Path, given: Iterable[str]) -> None:
    """Refuse parameters the notebook's ``parameters`` cell does not assign (``kernelctl
    run`` only warns: by the time a job runs, a typo has cost a queue wait)."""
    from kernelctl.notebook.params import declared_names, parameters_cell

    given = list(dict.fromkeys(given))
    if not given:
        return
    at = parameters_cell(nb.cells)
    if at is None:
        raise UsageError(f"{path.name} has no cell tagged 'parameters' to give {', '.join(given)} to",
                         "Tag the cell that sets the defaults 'parameters' (JupyterLab: the property inspector, "
                         "gear icon), then submit again.")
    known = declared_names(nb.cells[at].source)
    unknown = [name for name in given if name not in known]
    if unknown:
        raise UsageError(f"{path.name} has no parameter {', '.join(unknown)}",
                         f"Its 'parameters' cell defines: {', '.join(known) or 'nothing'}.")


def healthy_kernel(name: str | None, nb: Any, path: Path) -> Kernel:
    """The kernel the run would use (``name``, else the notebook's), refused with doctor's
    fix when something in it is broken."""
    from kernelctl.health import Probe, judge
    from kernelctl.notebook.kernel import resolve

    kernel = resolve(name, nb, path)
    problems = judge(kernel.spec, Probe()).problems
    if problems:
        first = problems[0]
        raise KernelctlError(f"kernel {kernel.spec.name!r} is broken: {first.check}: {first.problem}",
                             f"Fix it first: {first.fix}")
    return kernel
