"""Reading kernelctl's own files, validated: a damaged one is one line with its fix, never a traceback.

kernelctl keeps three kinds of files per kernel: the manifest in its env (``kernelctl.json``),
``metadata.kernelctl`` in its ``kernel.json``, and the launch config next to the kernelspec.
Anyone can edit, truncate or damage them, so every read goes through here: the file is read
with a size cap, parsed (deep nesting counts as damage, not a crash), and checked against
the dataclass that describes it, field by field and type by type. What comes back is fully
typed; what fails is a :class:`DamagedFile` naming the file, the first bad field and the
command that repairs it. Keys this version does not know (a newer kernelctl's) are ignored.
"""

from __future__ import annotations

import dataclasses
import json
import os
import stat
import types
import typing
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

from kernelctl.errors import KernelctlError

# Generous: a manifest keeps the text of its -r files; anything bigger is not ours.
MAX_BYTES = 16 * 1024 * 1024

T = TypeVar("T")


class DamagedFile(KernelctlError):
    """One of kernelctl's files cannot be used: ``path``, ``reason``, and ``fix`` (a command)."""

    def __init__(self, path: Path, reason: str, fix: str) -> None:
        super().__init__(f"{path} is damaged: {reason}", f"Fix: {fix}")
        self.path = path
        self.reason = reason
        self.fix = fix


class SchemaError(ValueError):
    """Data that does not have the shape of the dataclass it should fill (``where``: the key path)."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"{where}: {reason}" if where else reason)


def read_json(path: Path, fix: str) -> Any:
    """The JSON in ``path``, read with a size cap; :class:`DamagedFile` when it is not JSON.

    Only a regular file is read (a FIFO would block, a device never end).
    ``FileNotFoundError`` is left to the caller, for whom a missing file means something else.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise
    except OSError as err:
        raise DamagedFile(path, f"it cannot be read ({err.strerror})", fix) from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise DamagedFile(path, "it is not a regular file", fix)
    with os.fdopen(fd, "rb") as f:
        raw = f.read(MAX_BYTES + 1)
    if len(raw) > MAX_BYTES:
        raise DamagedFile(path, f"it is over {MAX_BYTES // 2**20} MB, far larger than kernelctl writes", fix)
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise DamagedFile(path, "it is not UTF-8 text", fix) from None
    except RecursionError:
        raise DamagedFile(path, "it is nested too deeply", fix) from None
    except ValueError as err:
        raise DamagedFile(path, f"it is not valid JSON ({err})", fix) from None


def load(cls: type[T], path: Path, fix: str) -> T:
    """``path`` read as the dataclass ``cls``, or :class:`DamagedFile`."""
    return _conformed(cls, read_json(path, fix), path, fix)


def load_checked(cls: type, path: Path, fix: str) -> Any:
    """``path``'s JSON as written (with any keys a newer kernelctl added), once it has passed
    as the dataclass ``cls``; :class:`DamagedFile` otherwise."""
    data = read_json(path, fix)
    _conformed(cls, data, path, fix)
    return data


def _conformed(cls: type[T], data: Any, path: Path, fix: str) -> T:
    try:
        return conform(cls, data)
    except SchemaError as err:
        raise DamagedFile(path, str(err), fix) from None


def conform(cls: type[T], data: Any, where: str = "") -> T:
    """The dataclass ``cls`` filled from the JSON object ``data``, every field type-checked.

    Missing fields take their default (:class:`SchemaError` when they have none); unknown
    keys are ignored.
    """
    if not isinstance(data, dict):
        raise SchemaError(where, f"expected an object, found {_kind(data)}")
    values = {}
    for item in dataclasses.fields(cls):  # type: ignore[arg-type]
        key = f"{where}.{item.name}" if where else item.name
        if item.name in data:
            values[item.name] = _check(_hints(cls)[item.name], data[item.name], key)
        elif item.default is dataclasses.MISSING and item.default_factory is dataclasses.MISSING:
            raise SchemaError(key, "missing")
    return cls(**values)


@lru_cache(maxsize=None)
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _check(hint: Any, value: Any, where: str) -> Any:
    """``value`` if it has the type ``hint`` (dataclasses are built), else :class:`SchemaError`."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if dataclasses.is_dataclass(hint):
        return conform(hint, value, where)  # type: ignore[arg-type]
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        [inner] = [a for a in args if a is not type(None)]
        return _check(inner, value, where)
    if origin is list:
        if not isinstance(value, list):
            raise SchemaError(where, f"expected a list, found {_kind(value)}")
        return [_check(args[0], v, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise SchemaError(where, f"expected an object, found {_kind(value)}")
        return {k: _check(args[1], v, f"{where}.{k}") for k, v in value.items()}
    # bool is an int to Python but not to a schema: 'schema: true' is damage.
    if not isinstance(value, hint) or (hint is int and isinstance(value, bool)):
        raise SchemaError(where, f"expected {_NAMES.get(hint, hint.__name__)}, found {_kind(value)}")
    if isinstance(value, str) and "\0" in value:  # no name, path or version has one; the OS refuses them
        raise SchemaError(where, "contains a NUL character")
    return value


_NAMES = {str: "a string", int: "an integer", bool: "true or false", float: "a number"}
_KINDS = {dict: "an object", list: "a list", str: "a string", bool: "true or false", int: "a number",
          float: "a number", type(None): "null"}


def _kind(value: Any) -> str:
    return _KINDS.get(type(value), type(value).__name__)


@dataclasses.dataclass(frozen=True)
class KernelMetadata:
    """``metadata.kernelctl`` in a kernelctl kernel's kernel.json (see :func:`kernelspec.kernelctl_metadata`)."""

    name: str
    prefix: str
    env: str | None = None
    manifest: str | None = None
    home: str | None = None
    shared: bool = False


@dataclasses.dataclass(frozen=True)
class RecordedModuleSystem:
    kind: str
    command: list[str]
    modulepath: str


@dataclasses.dataclass(frozen=True)
class LaunchConfig:
    """The launcher's config next to a kernelspec (what :mod:`kernelctl.launcher.kernelctl_launch` reads)."""

    exec: list[str]
    env: dict[str, str] = dataclasses.field(default_factory=dict)
    path: list[str] = dataclasses.field(default_factory=list)
    prepend: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    modules: list[str] = dataclasses.field(default_factory=list)
    purge: bool = False
    module_system: RecordedModuleSystem | None = None


def kernel_metadata(spec: dict[str, Any], path: Path, fix: str) -> KernelMetadata | None:
    """kernelctl's metadata in the kernel.json ``spec`` (read from ``path``): None when the
    kernel is not kernelctl's (no ``metadata.kernelctl``), :class:`DamagedFile` when it is
    but the metadata is not usable."""
    meta = spec.get("metadata") if isinstance(spec, dict) else None
    if not isinstance(meta, dict) or "kernelctl" not in meta:
        return None
    try:
        return conform(KernelMetadata, meta["kernelctl"], "metadata.kernelctl")
    except SchemaError as err:
        raise DamagedFile(path, str(err), fix) from None
