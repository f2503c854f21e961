"""Copy every command's real ``--help`` into the docs that show it whole.

The docs show ``$ kernelctl COMMAND --help`` blocks; tests/test_docs.py checks that each
one that elides nothing (no ``...`` line) is exactly what the command prints at 80 columns.
This script rewrites those blocks from the commands themselves, so after a change to an
option only the prose needs writing by hand::

    .venv/bin/python docs/refresh_help.py          # rewrite the blocks in docs/*.md
    .venv/bin/python docs/refresh_help.py --check  # list stale blocks, exit 1 if any
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
HELP_BLOCK = re.compile(r"(```console\n\$ ((?:jupyter )?kernelctl [^\n]*--help)\n)(.*?)(```)", re.S)


def real_help(command: str) -> str:
    """What ``command`` prints, run with this interpreter's kernelctl at 80 columns."""
    words = command.split()[1:] if command.startswith("jupyter ") else command.split()
    env = {**os.environ, "COLUMNS": "80"}
    proc = subprocess.run([sys.executable, "-m", "kernelctl", *words[1:]], capture_output=True, text=True,
                          env=env, check=True)
    return proc.stdout.rstrip() + "\n"


def refresh(text: str) -> tuple[str, list[str]]:
    """``text`` with every whole ``--help`` block made true, and the commands whose block changed."""
    changed: list[str] = []

    def replace(match: re.Match[str]) -> str:
        head, command, shown, fence = match.groups()
        if any(line.strip() == "..." for line in shown.splitlines()):
            return match.group(0)  # an excerpt, on purpose
        new = real_help(command)
        if new != shown:
            changed.append(command)
        return head + new + fence

    return HELP_BLOCK.sub(replace, text), changed


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = False
    for doc in sorted(DOCS.glob("*.md")):
        text = doc.read_text(encoding="utf-8")
        new, changed = refresh(text)
        for command in changed:
            print(f"{doc.name}: {command}")
        if changed and not check:
            doc.write_text(new, encoding="utf-8")
        stale = stale or bool(changed)
    return 1 if check and stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
