"""Small filesystem operations that are atomic or careful about links."""

from __future__ import annotations

import errno
import json
import os
import pwd
import shutil
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from kernelctl.errors import KernelctlError


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


class NotOursError(KernelctlError):
    """A path kernelctl would write or delete in is a link, not what it should be, or not the
    user's (``owner`` then says whose)."""

    def __init__(self, path: Path, why: str, owner: str | None = None) -> None:
        super().__init__(f"refusing to use {path}: {why}",
                         "kernelctl only writes and deletes in files and directories it made itself; move that "
                         "one out of the way (or ask its owner to), then run the command again.")
        self.path = path
        self.owner = owner


def _foreign(path: Path, uid: int) -> NotOursError:
    owner = _user_name(uid)
    return NotOursError(path, f"it belongs to {owner}, not to you", owner)


def _user_name(uid: int) -> str:
    try:
        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except KeyError:
        return f"uid {uid}"


def check_own_dir(path: Path, *, owned: bool = True) -> bool:
    """Whether ``path`` exists; raise if it is not a real directory of ours.

    A symlink (which would redirect kernelctl's writes and deletes to its target), anything
    but a directory and, with ``owned``, a directory someone else owns are refused, so a
    planted link in a shared or group-writable tree can never make kernelctl touch other files.
    """
    try:
        info = path.lstat()
    except FileNotFoundError:
        return False
    except NotADirectoryError:
        raise KernelctlError(f"cannot use {path}: a path above it is a file, not a directory",
                             "KERNELCTL_HOME, JUPYTER_DATA_DIR and --prefix must name directories (or nothing "
                             "yet); point them elsewhere or move that file.") from None
    if stat.S_ISLNK(info.st_mode):
        raise NotOursError(path, f"it is a symbolic link (to {os.readlink(path)})")
    if not stat.S_ISDIR(info.st_mode):
        raise NotOursError(path, "it is not a directory")
    if owned and info.st_uid != os.geteuid():
        raise _foreign(path, info.st_uid)
    return True


def own_dir(path: Path) -> Path:
    """``path``, made if missing (its parent must exist) and checked by :func:`check_own_dir`."""
    try:
        path.mkdir()
    except FileExistsError:
        pass
    check_own_dir(path)
    return path


def open_own_file(path: Path) -> int:
    """Open (or create) the regular file ``path`` of ours for reading and writing, never
    through a symlink (``O_NOFOLLOW``) nor into a file someone else owns or links elsewhere."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, 0o644)
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise NotOursError(path, f"it is a symbolic link (to {os.readlink(path)})") from None
        if err.errno == errno.EISDIR:
            raise NotOursError(path, "it is a directory") from None
        raise
    info = os.fstat(fd)
    problem = (NotOursError(path, "it is not a regular file") if not stat.S_ISREG(info.st_mode)
               else _foreign(path, info.st_uid) if info.st_uid != os.geteuid()
               else NotOursError(path, "it has other hard links") if info.st_nlink != 1 else None)
    if problem:
        os.close(fd)
        raise problem
    return fd


def read_small_text(path: Path, max_bytes: int = 1 << 20) -> str:
    """The UTF-8 text of the regular file ``path``; ValueError if it is anything else (a FIFO
    that would block, a device, a file over ``max_bytes``, not UTF-8), OSError if unreadable."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ValueError(f"{path} is not a regular file")
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ValueError(f"{path} is larger than {max_bytes} bytes")
    return data.decode("utf-8")


def is_within(path: Path, parent: Path) -> bool:
    """Whether ``path``, with every symlink resolved, lies inside ``parent``."""
    try:
        path.resolve().relative_to(parent.resolve())
    except ValueError:
        return False
    return True
