"""Small filesystem operations that are atomic or careful about links."""

from __future__ import annotations

import grp
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any


def write_atomic(path: Path, text: str, mode: int = 0o644) -> None:
    """Write ``text`` to ``path`` so readers see the old or the new content, never a mix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, data: Any) -> None:
    write_atomic(path, json.dumps(data, indent=2) + "\n")


def point_symlink(link: Path, target: Path) -> None:
    """Make ``link`` a symlink to ``target``, replacing any previous link atomically."""
    tmp = link.with_name(f".{link.name}.link-{os.getpid()}")
    tmp.unlink(missing_ok=True)
    os.symlink(target, tmp)
    os.replace(tmp, link)


def remove_tree(path: Path) -> None:
    """Delete ``path``; if it is a symlink, delete only the link, never what it points to.

    ``shutil.rmtree`` already unlinks symlinks found inside the tree without following them.
    """
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)


def share_tree(root: Path, group: str | None = None) -> None:
    """Let others use ``root`` but not change it.

    Everyone (only ``group``, when given) may read, and execute what the owner may execute
    and every directory; only the owner may write. Symlinks are skipped, not followed.
    """
    gid = grp.getgrnam(group).gr_gid if group is not None else -1
    readable, runnable = (0o040, 0o050) if group is not None else (0o044, 0o055)

    def fix(path: Path) -> None:
        if path.is_symlink():
            return
        mode = path.stat().st_mode
        executable = path.is_dir() or mode & 0o100
        if gid != -1:
            os.chown(path, -1, gid)
        os.chmod(path, (mode & 0o700) | (runnable if executable else readable))

    fix(root)
    for dirpath, dirnames, filenames in os.walk(root):
        for entry in dirnames + filenames:
            fix(Path(dirpath) / entry)


def is_within(path: Path, parent: Path) -> bool:
    """Whether ``path``, with every symlink resolved, lies inside ``parent``."""
    try:
        path.resolve().relative_to(parent.resolve())
    except ValueError:
        return False
    return True
