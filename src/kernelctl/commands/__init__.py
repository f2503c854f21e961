"""One module per CLI command.

Each module holds the command's Python API (plain functions returning data) and a small
``register(subparsers)`` that wires the CLI to it. :mod:`kernelctl.cli` imports the
modules named in :data:`COMMANDS`, in this order, which is the order ``--help`` lists.
"""

COMMANDS = (
    "create",
    "install",
    "list",
    "show",
    "remove",
    "export",
    "rebuild",
    "netguard",
    "doctor",
    "wheelhouse",
    "scan",
)
