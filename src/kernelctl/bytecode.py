"""Bytecode of a kernel's start-up modules, kept from one env build for the next.

uv installs a wheel by hard-linking the files it unpacked into its cache, so the ipykernel
of every env built from one cache is the same file on disk. A fresh env has no bytecode:
its first kernel start compiles the ~350 modules it imports (over half of that start's
time), and a kernel that cannot write to its env (a shared one, or run under
``PYTHONDONTWRITEBYTECODE``) compiles them again at every start.

So the verification kernel writes bytecode for what it imports, :func:`keep` copies the
``.pyc`` of each hard-linked source into the cache, keyed by that source file's identity
(device, inode, mtime, size), and the next build's :func:`restore` puts each whose source
is still that same file into the new env before its kernel starts. Python checks every
``.pyc`` against its source's mtime and size before using it, so an entry that no longer
fits is ignored, never run.

The cache is ``CACHE/bytecode/TAG`` (:func:`kernelctl.paths.cache_root`, TAG the
interpreter's ``sys.implementation.cache_tag``). Bytecode from it runs in every kernel, so
it is used only through directories opened without following links and found to be the
user's own and writable by nobody else, and only entries that are plain files of the user's
that nobody else can write. The cache is an optimisation: nothing wrong with it (unsafe,
unreadable, full, garbled) ever fails a build; the kernel then compiles its modules itself,
as it would without kernelctl.
"""

from __future__ import annotations

import json
import os
import stat
import struct
import time
from collections.abc import Iterable
from pathlib import Path

from kernelctl.paths import cache_root

INDEX = "index.json"
TEMP_PREFIX = ".tmp-"
STALE_TEMP_SECONDS = 3600
_NOT_OURS = stat.S_IWGRP | stat.S_IWOTH

# Defined in the verification kernel, then called by LOADED_EXPRESSION: one string, since
# IPython shortens a displayed list of over 1000 items, and a module whose attributes raise
# must not fail the test cell.
LOADED_CODE = """
def _kernelctl_loaded(prefix):
    found = []
    for module in list(sys.modules.values()):
        try:
            path = module.__file__
        except Exception:
            continue
        if isinstance(path, str) and path.startswith(prefix) and path.endswith('.py'):
            found.append(path[len(prefix):])
    return '\\n'.join(sorted(found))
"""


def loaded_expression(site: Path) -> str:
    """A Python expression that, in a kernel that ran :data:`LOADED_CODE`, gives the ``.py``
    files under ``site`` (its site-packages) it has imported, relative to ``site``, one a line."""
    return f"_kernelctl_loaded({str(site) + os.sep!r})"


def restore(site: Path, tag: str, *, link: bool = True, root: Path | None = None) -> int:
    """Put the cached bytecode of every source in ``site`` that is the very file it was
    compiled from into its ``__pycache__``; return how many were put there.

    With ``link``, each is a hard link to the cache entry (a copy where a link cannot be
    made). A shared kernel gets copies, whose modes and group the build then sets without
    touching the user's cache. (Plain strings and ``os`` calls: this runs for hundreds of
    files between the install and the kernel's start.)
    """
    try:
        with _CacheDir(root, tag, create=False) as cache:
            return _restore(cache, site, tag, link) if cache.fd is not None else 0
    except Exception:  # never fail a build over the cache (see the module docstring)
        return 0


def keep(site: Path, tag: str, loaded: Iterable[str], root: Path | None = None) -> int:
    """Copy into the cache the bytecode that ``site``'s kernel wrote for ``loaded`` (paths
    relative to ``site``), for each source hard-linked from an installer's cache (a file
    only this env has cannot be the same file in another) whose bytecode was compiled from
    it; return how many entries the cache holds for them. Entries no source names any more
    are removed."""
    try:
        with _CacheDir(root, tag, create=True) as cache:
            return _keep(cache, site, tag, loaded) if cache.fd is not None else 0
    except Exception:  # never fail a build over the cache
        return 0


def _restore(cache: _CacheDir, site: Path, tag: str, link: bool) -> int:
    made: set[str] = set()
    placed = 0
    for relative, key in cache.read_index().items():
        found = _source(site, relative)
        if found is None or _identity(found[1]) != key:
            continue
        target = _pyc_path(found[0], tag)
        directory = os.path.dirname(target)
        try:
            if directory not in made:
                os.makedirs(directory, exist_ok=True)
                made.add(directory)
            cache.place(f"{key}.pyc", target, link)
        except OSError:  # an entry pruned meanwhile or unsafe, or bytecode already there: the kernel copes
            continue
        placed += 1
    return placed


def _keep(cache: _CacheDir, site: Path, tag: str, loaded: Iterable[str]) -> int:
    index = cache.read_index()
    before = dict(index)
    kept = 0
    for relative in loaded:
        found = _source(site, relative) if isinstance(relative, str) else None
        if found is None or found[1].st_nlink < 2:
            continue
        key = _identity(found[1])
        if index.get(relative) != key and not cache.holds(f"{key}.pyc"):
            pyc = _pyc_path(found[0], tag)
            if not _compiled_from(pyc, found[1]) or not cache.copy_in(pyc, f"{key}.pyc"):
                continue
        index[relative] = key
        kept += 1
    if index != before:
        cache.write_index(index)
    return kept


def _source(site: Path, relative: str) -> tuple[str, os.stat_result] | None:
    """``site/relative`` and its status when ``relative`` is a plain relative ``.py`` path
    naming a regular file there (never a path leading out of ``site``, whatever the index says)."""
    parts = relative.split("/")
    if not relative.endswith(".py") or "" in parts or ".." in parts or "." in parts or "\0" in relative:
        return None
    path = os.path.join(site, relative)
    try:
        info = os.lstat(path)
    except (OSError, ValueError):
        return None
    return (path, info) if stat.S_ISREG(info.st_mode) else None


def _identity(info: os.stat_result) -> str:
    """What makes a source the same file: a hard link to it has the same identity, a copy
    or a replacement does not."""
    return f"{info.st_dev:x}-{info.st_ino:x}-{info.st_mtime_ns:x}-{info.st_size:x}"


def _pyc_path(source: str, tag: str) -> str:
    """Where the import system looks for ``source``'s bytecode (``importlib.util.cache_from_source``
    for an interpreter whose cache tag is ``tag``, which need not be the one running kernelctl)."""
    directory, name = os.path.split(source)
    return os.path.join(directory, "__pycache__", f"{name[:-3]}.{tag}.pyc")


def _compiled_from(pyc: str, source: os.stat_result) -> bool:
    """Whether the timestamp-validated ``pyc`` records ``source``'s mtime and size (its
    header: magic, flags, mtime, size) and was written after it, as the kernel that just
    imported it writes it."""
    try:
        with open(pyc, "rb") as file:
            header = file.read(16)
            written = os.fstat(file.fileno()).st_mtime
    except OSError:
        return False
    if len(header) < 16:
        return False
    flags, mtime, size = struct.unpack("<III", header[4:16])
    return (flags == 0 and mtime == int(source.st_mtime) & 0xFFFFFFFF
            and size == source.st_size & 0xFFFFFFFF and written >= source.st_mtime)


class _CacheDir:
    """``ROOT/bytecode/TAG``, opened without following links and checked, or (``fd`` None)
    not to be used. Every later step works relative to the open directory, so renaming or
    replacing anything on its path after the check changes nothing."""

    def __init__(self, root: Path | None, tag: str, *, create: bool) -> None:
        self.fd: int | None = None
        if not tag or "/" in tag or tag.startswith(".") or "\0" in tag:
            return
        base = (root or cache_root()) / "bytecode"
        if create:
            base.parent.mkdir(parents=True, exist_ok=True)
            for directory in (base, base / tag):
                try:
                    directory.mkdir(mode=0o700)  # private whatever the umask lets a group do
                except FileExistsError:
                    pass
        base_fd = _open_private_dir(str(base))
        if base_fd is None:
            return
        try:
            self.fd = _open_private_dir(tag, base_fd)
        finally:
            os.close(base_fd)

    def __enter__(self) -> _CacheDir:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            os.close(self.fd)

    def read_index(self) -> dict[str, str]:
        try:
            fd = os.open(INDEX, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=self.fd)
            with os.fdopen(fd, encoding="utf-8") as file:
                index = json.load(file)
        except (OSError, ValueError, RecursionError):
            return {}
        if not isinstance(index, dict):
            return {}
        return {k: v for k, v in index.items() if isinstance(k, str) and isinstance(v, str)}

    def holds(self, entry: str) -> bool:
        try:
            os.stat(entry, dir_fd=self.fd, follow_symlinks=False)
            return True
        except OSError:
            return False

    def place(self, entry: str, target: str, link: bool) -> None:
        """Put ``entry`` at ``target``, a new file: a link to it, or a copy that is whole or
        not there at all. Raises OSError for an entry that is not a plain, private file."""
        fd = os.open(entry, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=self.fd)
        with os.fdopen(fd, "rb") as source:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & _NOT_OURS:
                raise PermissionError(f"unsafe cache entry {entry}")
            if link:
                try:
                    os.link(entry, target, src_dir_fd=self.fd, follow_symlinks=False)
                    return
                except FileExistsError:
                    raise
                except OSError:  # another file system, or links not allowed: copy
                    pass
            with open(target, "xb") as out:
                try:
                    out.write(source.read())
                except BaseException:  # a full disk half-way: a short .pyc would fail the import
                    out.close()
                    os.unlink(target)
                    raise

    def copy_in(self, pyc: str, entry: str) -> bool:
        """Copy ``pyc`` to ``entry`` whole or not at all (a build reading the cache meanwhile
        never sees half a file)."""
        temp = f"{TEMP_PREFIX}{os.getpid()}-{entry}"
        try:
            with open(pyc, "rb") as source:
                data = source.read()
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644, dir_fd=self.fd)
        except OSError:
            return False
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                os.fchmod(out.fileno(), 0o644)  # an env's link to it is read like any bytecode there
            os.replace(temp, entry, src_dir_fd=self.fd, dst_dir_fd=self.fd)
            return True
        except OSError:
            _unlink(temp, self.fd)
            return False

    def write_index(self, index: dict[str, str]) -> None:
        """Replace the index, then remove the entries it no longer names (and what a killed
        build left half-written long ago)."""
        temp = f"{TEMP_PREFIX}{os.getpid()}-{INDEX}"
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600, dir_fd=self.fd)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(index, out, sort_keys=True)
            os.replace(temp, INDEX, src_dir_fd=self.fd, dst_dir_fd=self.fd)
        except OSError:
            _unlink(temp, self.fd)
            return
        named = {f"{key}.pyc" for key in index.values()}
        stale = time.time() - STALE_TEMP_SECONDS
        for name in os.listdir(self.fd):
            try:
                if name.startswith(TEMP_PREFIX):  # another build's may be in the making
                    unused = os.stat(name, dir_fd=self.fd, follow_symlinks=False).st_mtime < stale
                else:
                    unused = name.endswith(".pyc") and name not in named
                if unused:
                    os.unlink(name, dir_fd=self.fd)
            except OSError:
                continue


def _open_private_dir(path: str, dir_fd: int | None = None) -> int | None:
    """An open descriptor of the directory ``path`` (never through a link) when it is the
    user's and nobody else may write to it; else None."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=dir_fd)
    except OSError:
        return None
    info = os.fstat(fd)
    if info.st_uid != os.geteuid() or info.st_mode & _NOT_OURS:
        os.close(fd)
        return None
    return fd


def _unlink(name: str, dir_fd: int | None) -> None:
    try:
        os.unlink(name, dir_fd=dir_fd)
    except OSError:
        pass
