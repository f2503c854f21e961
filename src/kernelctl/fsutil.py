"""Small filesystem operations that are atomic or careful about links."""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
from collections.abc import Iterable
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


def share_paths(paths: Iterable[Path], gid: int = -1) -> None:
    """Let others use ``paths`` but not change them (each path alone, not what it holds).

    Everyone (only group ``gid``, when given) may read, and execute what the owner may
    execute and every directory; only the owner may write. Symlinks and paths someone else
    owns (``/project``, ``/usr/local``) are left as they are.
    """
    readable, runnable = (0o040, 0o050) if gid != -1 else (0o044, 0o055)
    for path in paths:
        info = path.lstat()
        if stat.S_ISLNK(info.st_mode) or info.st_uid != os.geteuid():
            continue
        executable = stat.S_ISDIR(info.st_mode) or info.st_mode & 0o100
        if gid != -1:
            os.chown(path, -1, gid)
        os.chmod(path, (info.st_mode & 0o700) | (runnable if executable else readable))


def share_tree(root: Path, gid: int = -1) -> None:
    """:func:`share_paths` for ``root`` and everything below it."""
    share_paths([root], gid)
    for dirpath, dirnames, filenames in os.walk(root):
        share_paths((Path(dirpath) / entry for entry in dirnames + filenames), gid)


def is_within(path: Path, parent: Path) -> bool:
    """Whether ``path``, with every symlink resolved, lies inside ``parent``."""
    try:
        path.resolve().relative_to(parent.resolve())
    except ValueError:
        return False
    return True
