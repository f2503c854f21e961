"""Build small, real wheel files for tests and benchmarks.

A wheel built here installs with pip and uv like any other: it has a ``.dist-info`` with
METADATA, WHEEL and RECORD (with hashes), and one top-level module that records its own
name and version. Names, versions and tags are taken as given, so tests can reproduce site
conventions: local versions (``1.26.4+computecanada``), ``linux_x86_64`` platform tags,
compressed tag sets (``cp310.cp311``), dotted and mixed-case project names.
"""

from __future__ import annotations

import base64
import hashlib
import re
import struct
import zipfile
import zlib
from collections.abc import Iterable
from pathlib import Path


def _escape(component: str) -> str:
    """The filename form of a name or version (PEP 427): runs of ``-`` become ``_``."""
    return re.sub(r"[-]+", "_", component)


def _module_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", name).lower()


def _record_line(path: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def wheel_filename(name: str, version: str, tag: str = "py3-none-any", build: str | None = None) -> str:
    parts = [_escape(name), _escape(version)] + ([build] if build else []) + [tag]
    return "-".join(parts) + ".whl"


def build_wheel(
    dest: str | Path,
    name: str,
    version: str,
    *,
    tag: str = "py3-none-any",
    requires: Iterable[str] = (),
    requires_python: str | None = None,
    extras: dict[str, Iterable[str]] | None = None,
    build: str | None = None,
    summary: str = "",
    module_source: str | None = None,
) -> Path:
    """Write a wheel into ``dest`` and return its path.

    ``requires`` are Requires-Dist lines (markers allowed); ``extras`` maps an extra's name
    to the requirements it adds. ``module_source`` replaces the default module body.
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    filename = wheel_filename(name, version, tag, build)
    dist_info = f"{_escape(name)}-{_escape(version)}.dist-info"
    module = _module_name(name)

    meta = [f"Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    if summary:
        meta.append(f"Summary: {summary}")
    if requires_python:
        meta.append(f"Requires-Python: {requires_python}")
    meta += [f"Requires-Dist: {r}" for r in requires]
    for extra, reqs in (extras or {}).items():
        meta.append(f"Provides-Extra: {extra}")
        for r in reqs:
            marker = f'extra == "{extra}"'
            meta.append(f"Requires-Dist: {r}; {marker}" if ";" not in r else f"Requires-Dist: {r} and {marker}")
    wheel_meta = ["Wheel-Version: 1.0", "Generator: kernelctl-wheelfactory", "Root-Is-Purelib: " +
                  ("true" if tag.endswith("-none-any") else "false")]
    wheel_meta += [f"Tag: {t}" for t in _expand(tag)]
    if build:
        wheel_meta.append(f"Build: {build}")

    files = {
        f"{module}/__init__.py": (module_source if module_source is not None else
                                  f"NAME = {name!r}\n__version__ = {version!r}\n").encode(),
        f"{dist_info}/METADATA": ("\n".join(meta) + "\n").encode(),
        f"{dist_info}/WHEEL": ("\n".join(wheel_meta) + "\n").encode(),
        f"{dist_info}/top_level.txt": f"{module}\n".encode(),
    }
    record = [_record_line(p, d) for p, d in files.items()] + [f"{dist_info}/RECORD,,"]
    files[f"{dist_info}/RECORD"] = ("\n".join(record) + "\n").encode()

    path = dest / filename
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for arcname, data in files.items():
            zf.writestr(zipfile.ZipInfo(arcname, date_time=(2024, 1, 1, 0, 0, 0)), data)
    return path


def _expand(tag: str) -> list[str]:
    py, abi, plat = tag.split("-")
    return [f"{x}-{y}-{z}" for x in py.split(".") for y in abi.split(".") for z in plat.split(".")]


def build_corrupt_wheel(dest: str | Path, name: str, version: str, tag: str = "py3-none-any") -> Path:
    """A file with a wheel's name whose content is not a zip archive."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    path = dest / wheel_filename(name, version, tag)
    path.write_bytes(b"this is not a zip archive\n" * 8)
    return path


def build_bomb_wheel(dest: str | Path, name: str, version: str, inflated: int = 1 << 30,
                     tag: str = "py3-none-any", claimed: int | None = None) -> Path:
    """A wheel of about ``inflated / 1000`` bytes whose METADATA inflates to ``inflated``
    bytes (a valid header, then zeros): a decompression bomb with honest CRC and sizes,
    unless ``claimed`` gives the (lying) size its headers state.

    Built in about a second for 1 GiB: a 1 MiB block of zeros is deflated once after a full
    flush (so it stands alone) and repeated.
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    head = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\n".encode()
    chunk = bytes(1 << 20)
    count, rest = divmod(max(inflated - len(head), 0), len(chunk))
    deflater = zlib.compressobj(9, zlib.DEFLATED, -15)
    parts = [deflater.compress(head) + deflater.flush(zlib.Z_FULL_FLUSH)]
    block = deflater.compress(chunk) + deflater.flush(zlib.Z_FULL_FLUSH)
    parts += [block] * count + [deflater.compress(bytes(rest)), deflater.flush()]
    crc = zlib.crc32(head)
    for _ in range(count):
        crc = zlib.crc32(chunk, crc)
    crc = zlib.crc32(bytes(rest), crc)
    data = b"".join(parts)
    size = len(head) + count * len(chunk) + rest if claimed is None else claimed
    member = f"{_escape(name)}-{_escape(version)}.dist-info/METADATA".encode()
    local = struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 8, 0, 0x21, crc, len(data), size, len(member), 0)
    central = struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 8, 0, 0x21, crc, len(data), size,
                          len(member), 0, 0, 0, 0, 0, 0)
    body = local + member + data
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 1, 1, len(central) + len(member), len(body), 0)
    path = dest / wheel_filename(name, version, tag)
    path.write_bytes(body + central + member + end)
    return path


def build_wheelhouse(dest: str | Path, wheels: Iterable[dict]) -> Path:
    """Build several wheels into ``dest``; each item holds :func:`build_wheel`'s arguments.

    ``{"name": "pandas", "version": "2.2.1", "tag": "cp311-cp311-linux_x86_64",
    "requires": ["numpy>=1.23"]}``; a ``"corrupt": True`` item is written with
    :func:`build_corrupt_wheel` instead; ``"file_as": (name, version)`` renames the wheel
    to another project's or version's file name (its METADATA then disagrees, as in a
    hand-renamed wheel). Returns ``dest``.
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    for spec in wheels:
        spec = dict(spec)
        if spec.pop("corrupt", False):
            build_corrupt_wheel(dest, spec["name"], spec["version"], spec.get("tag", "py3-none-any"))
        else:
            file_as = spec.pop("file_as", None)
            path = build_wheel(dest, spec.pop("name"), spec.pop("version"), **spec)
            if file_as is not None:
                path.rename(path.with_name(wheel_filename(*file_as, spec.get("tag", "py3-none-any"))))
    return dest
