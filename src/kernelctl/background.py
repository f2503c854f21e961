"""Work done in a thread while a build waits on a child process.

A build spends much of its time waiting on children (the installs, the verification
kernel), which leaves kernelctl's own interpreter idle. Two things use that time: importing
jupyter_client (a tenth of a second) while a Python or R build installs, as it is needed
only to start the kernel after that (:func:`import_in_background`), and byte-compiling the
netguard runtime while a Python verification kernel starts (:func:`alongside`).
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Generic, TypeVar

from kernelctl.backends.base import release_held, spawning

T = TypeVar("T")


def import_in_background(*modules: str) -> None:
    """Start importing ``modules`` in a thread. The main thread's own import of one of them
    later waits for the thread's, as Python's import lock makes it, and raises any error itself."""
    # Not a daemon: an interpreter exiting waits for it rather than cut an import short.
    threading.Thread(target=_import_all, args=(modules,), name="kernelctl-import").start()


def _import_all(modules: tuple[str, ...]) -> None:
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:  # the main thread's own import will say what is wrong
            return


class Task(Generic[T]):
    """``function(*args)`` in a thread of its own; see :func:`alongside`."""

    def __init__(self, function: Callable[..., T], *args: Any) -> None:
        self._function, self._args = function, args
        self._value: T | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="kernelctl-task")

    def start(self) -> None:
        """Start the thread (Ctrl-C cannot cut in half-way); where no thread can be made
        (a login node's process limit), run the function here and now."""
        try:
            with spawning():
                self._thread.start()
        except RuntimeError:
            self._call()

    def _run(self) -> None:
        release_held()  # inherited from start(); the children the task runs must take both signals
        self._call()

    def _call(self) -> None:
        try:
            self._value = self._function(*self._args)
        except BaseException as err:  # handed to the main thread by result()
            self._error = err

    def wait(self) -> None:
        """Wait for the task to end (if it started), whatever it did. Ctrl-C and SIGTERM are
        held meanwhile; one that comes anyway (between two waits) is raised once it has ended."""
        interrupted: BaseException | None = None
        while self._thread.is_alive():
            try:
                with spawning():
                    self._thread.join()
            except BaseException as err:
                interrupted = interrupted or err
        if interrupted is not None:
            raise interrupted

    def result(self) -> T:
        """Wait for the task; return its value or raise its exception."""
        self.wait()
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]


@contextmanager
def alongside(function: Callable[..., T], *args: Any) -> Iterator[Task[T]]:
    """Run ``function(*args)`` in a thread while the block runs; the block ends only once the
    thread has, however it ends, so that a build cleaned up after Ctrl-C or SIGTERM never
    races its own task in the directories it removes. ``result()`` then gives its value."""
    task = Task(function, *args)
    try:
        task.start()
        yield task
    finally:
        task.wait()
