"""One module per CLI command.

Each module holds the command's Python API (plain functions returning data) and a small
``register(subparsers)`` that wires the CLI to it. :data:`COMMANDS` names them, in the
order ``--help`` lists them, with the one-line summary shown there; :mod:`kernelctl.cli`
imports only the module of the command being run, so every command starts fast, and
starts first what :data:`EARLY` names for it.
"""

COMMANDS = {
    "create": "create a persistent kernel from the wheelhouse",
    "install": "install packages into a kernel, from the wheelhouse",
    "list": "list kernelctl kernels",
    "show": "show one kernel's details",
    "remove": "remove a kernel and its env",
    "export": "print a kernel's pinned requirements",
    "rebuild": "recreate a kernel's env from its manifest",
    "netguard": "show or change a kernel's internet warnings",
    "doctor": "find broken kernels and say how to fix them",
    "wheelhouse": "fill, list and check wheelhouses",
    "scan": "find notebook and script code that needs the internet",
    "run": "run a notebook in a kernel as a batch job, saving as it goes",
    "submit": "run a notebook as a Slurm batch job in a kernel",
    "jobs": "list the Slurm jobs kernelctl submitted, and why they ended",
    "slurm": "run a kernel in its own Slurm job, or locally again",
}

# What a command starts before its module is imported, to run while those imports do, and
# how it is stopped once the command is done if the command did not use it (``module:function``
# pairs, in a light module): create asks the default Python what it is, which takes up to
# 0.1 s through a pyenv or conda shim.
EARLY = {"create": ("kernelctl.interpreter:prefetch", "kernelctl.interpreter:discard_prefetched")}
