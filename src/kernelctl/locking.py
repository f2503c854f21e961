"""Per-kernel-name locks, so two commands never build or change the same kernel at once."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager

from kernelctl.errors import KernelctlError
from kernelctl.fsutil import NotOursError, open_own_file, own_dir
from kernelctl.location import Location


@contextmanager
def name_lock(name: str, location: Location) -> Iterator[None]:
    """Hold an exclusive lock on ``name``; fail fast if another process holds it.

    The lock is an ``flock`` on ``locks/NAME.lock`` in the kernel's location: the kernel releases it when the holder
    exits, even on SIGKILL, so a crashed ``create`` never leaves a stale lock behind. Every command that writes
    or deletes takes it first, so this is where the location's directories are checked to be kernelctl's own
    (:meth:`Location.check_dirs`), and the lock file is never opened through a link.
    """
    directory = location.locks_dir
    hint = ("A shared kernel is changed by its owner; ask them, or make your own copy "
            f"with 'kernelctl create NAME -r <(kernelctl export {name})'.")
    try:
        location.check_dirs()
        location.home.mkdir(parents=True, exist_ok=True)
        fd = open_own_file(own_dir(directory) / f"{name}.lock")
    except PermissionError:
        raise KernelctlError(f"you may not change kernel {name!r}: {directory} is not writable for you",
                             hint) from None
    except NotOursError as err:
        if err.owner is None or not location.shared:
            raise
        raise KernelctlError(f"you may not change kernel {name!r}: {err.path} belongs to {err.owner}", hint) from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "another process"
            raise KernelctlError(
                f"kernel {name!r} is being changed by another kernelctl command (pid {holder})",
                "Wait for it to finish, then run your command again.",
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)
