"""Bytecode of a kernel's start-up modules, kept from one env build for the next.

uv installs a wheel by hard-linking the files it unpacked into its cache, so the ipykernel
of every env built from one cache is the same file on disk. A fresh env has no bytecode:
its first kernel start compiles the ~350 modules it imports (over half of that start's
time), and a kernel that cannot write to its env (a shared one, or run under
``PYTHONDONTWRITEBYTECODE``) compiles them again at every start.

So the verification kernel writes bytecode for what it imports, :func:`keep` copies the
``.pyc`` of each hard-linked source into the cache, keyed by that source file's identity
(device, inode, mtime, size), and the next build's :func:`restore` copies each whose source
is still that same file into the new env before its kernel starts. Python checks every
``.pyc`` against its source's mtime and size before using it, so an entry that no longer
fits is ignored, never run.

The cache is ``CACHE/bytecode/TAG`` (:func:`kernelctl.paths.cache_root`, TAG the
interpreter's ``sys.implementation.cache_tag``). Bytecode from it runs in every kernel, so
it is used only when those directories are the user's own and nobody else can write to
them. A cache that cannot be used, read or written never fails a build: the kernel then
compiles its modules itself, as it would without kernelctl.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

from kernelctl.paths import cache_root

INDEX = "index.json"
TEMP_PREFIX = ".tmp-"
STALE_TEMP_SECONDS = 3600


def loaded_expression(site: Path) -> str:
    """A Python expression that, in a kernel, lists the ``.py`` files under ``site`` (its
    site-packages) that it has imported, relative to ``site``."""
    prefix = str(site) + os.sep
    return (f"sorted(f[{len(prefix)}:] for f in (getattr(m, '__file__', None) for m in list(sys.modules.values())) "
            f"if isinstance(f, str) and f.startswith({prefix!r}) and f.endswith('.py'))")


def restore(site: Path, tag: str, *, link: bool = True, root: Path | None = None) -> int:
    """Put the cached bytecode of every source in ``site`` that is the very file it was
    compiled from into its ``__pycache__``; return how many were put there.

    With ``link``, each is a hard link to the cache entry (a copy where a link cannot be
    made). A shared kernel gets copies, whose modes and group the build then sets without
    touching the user's cache. (Plain strings and ``os`` calls: this runs for hundreds of
    files between the install and the kernel's start.)
    """
    cache = _cache_dir(root, tag, create=False)
    if cache is None:
        return 0
    made: set[str] = set()
    placed = 0
    for relative, key in _read_index(cache).items():
        found = _source(site, relative)
        if found is None or _identity(found[1]) != key:
            continue
        target = _pyc_path(found[0], tag)
        try:
            directory = os.path.dirname(target)
            if directory not in made:
                os.makedirs(directory, exist_ok=True)
                made.add(directory)
            _place(os.path.join(cache, f"{key}.pyc"), target, link)
        except OSError:  # an entry pruned meanwhile, or bytecode already there: the kernel copes
            continue
        placed += 1
    return placed


def _place(entry: str, target: str, link: bool) -> None:
    if link:
        try:
            os.link(entry, target)
            return
        except FileExistsError:
            raise
        except OSError:  # another file system, or links not allowed: copy
            pass
    with open(entry, "rb") as source, open(target, "xb") as out:
        shutil.copyfileobj(source, out)


def keep(site: Path, tag: str, loaded: Iterable[str], root: Path | None = None) -> int:
    """Copy into the cache the bytecode that ``site``'s kernel wrote for ``loaded`` (paths
    relative to ``site``), for each source hard-linked from an installer's cache (a file
    only this env has cannot be the same file in another); return how many entries the
    cache holds for them. Entries no source names any more are removed."""
    cache = _cache_dir(root, tag, create=True)
    if cache is None:
        return 0
    index = _read_index(cache)
    before = dict(index)
    kept = 0
    for relative in loaded:
        found = _source(site, relative)
        if found is None or found[1].st_nlink < 2:
            continue
        key = _identity(found[1])
        entry = os.path.join(cache, f"{key}.pyc")
        if index.get(relative) != key and not os.path.exists(entry) and \
                not _copy_in(_pyc_path(found[0], tag), entry):
            continue
        index[relative] = key
        kept += 1
    if index != before:
        _write_index(cache, index)
    return kept


def _source(site: Path, relative: str) -> tuple[str, os.stat_result] | None:
    """``site/relative`` and its status when ``relative`` is a plain relative ``.py`` path
    naming a regular file there (never a path leading out of ``site``, whatever the index says)."""
    parts = relative.split("/")
    if not relative.endswith(".py") or "" in parts or ".." in parts or "." in parts:
        return None
    path = os.path.join(site, relative)
    try:
        info = os.lstat(path)
    except OSError:
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


def _copy_in(pyc: str, entry: str) -> bool:
    """Copy ``pyc`` to ``entry`` whole or not at all (a build reading the cache meanwhile
    never sees half a file)."""
    try:
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(entry), prefix=TEMP_PREFIX)
    except OSError:
        return False
    try:
        with os.fdopen(fd, "wb") as out, open(pyc, "rb") as source:
            shutil.copyfileobj(source, out)
            os.fchmod(out.fileno(), 0o644)  # an env's link to it is read like any bytecode there
        os.replace(tmp, entry)
        return True
    except OSError:
        Path(tmp).unlink(missing_ok=True)
        return False


def _cache_dir(root: Path | None, tag: str, *, create: bool) -> Path | None:
    """``ROOT/bytecode/TAG`` when it is safe to use (see the module docstring), else None."""
    if not tag or "/" in tag or tag.startswith("."):
        return None
    base = (root or cache_root()) / "bytecode"
    cache = base / tag
    try:
        if create:
            cache.mkdir(mode=0o700, parents=True, exist_ok=True)
        return cache if all(_private_dir(d) for d in (base, cache)) else None
    except OSError:
        return None


def _private_dir(path: Path) -> bool:
    info = path.lstat()
    return (stat.S_ISDIR(info.st_mode) and info.st_uid == os.geteuid()
            and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH))


def _read_index(cache: Path) -> dict[str, str]:
    try:
        index = json.loads((cache / INDEX).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(index, dict):
        return {}
    return {k: v for k, v in index.items() if isinstance(k, str) and isinstance(v, str)}


def _write_index(cache: Path, index: dict[str, str]) -> None:
    """Replace the index, then remove the entries it no longer names (and what a killed
    build left half-written long ago)."""
    try:
        fd, tmp = tempfile.mkstemp(dir=cache, prefix=TEMP_PREFIX)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(index, out, sort_keys=True)
        os.replace(tmp, cache / INDEX)
        named = {f"{key}.pyc" for key in index.values()}
        stale = time.time() - STALE_TEMP_SECONDS
        for entry in cache.iterdir():
            if (entry.suffix == ".pyc" and entry.name not in named) or \
                    (entry.name.startswith(TEMP_PREFIX) and entry.lstat().st_mtime < stale):
                entry.unlink(missing_ok=True)
    except OSError:
        return
