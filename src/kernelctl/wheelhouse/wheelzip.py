"""One member of a wheel, read straight from the zip archive's central directory.

:class:`zipfile.ZipFile` builds a :class:`~zipfile.ZipInfo` object for every member and
a file object for the one read: for a wheel whose METADATA is all that is wanted, that
is most of the cost of reading it. :func:`read_member` reads the end-of-archive record,
walks the central directory's names, and reads and checks the one member chosen.

It handles the archives wheels are: one disk, no ZIP64, members stored or deflated, not
encrypted. Anything else, or anything inconsistent (a bad signature, a truncated record,
a CRC that does not match), raises :class:`Unsupported`, and the caller reads the wheel
with :mod:`zipfile` (:func:`read_member_zipfile`), which then decides whether it is
readable.

Both readers are bounded: a member larger than ``limit`` once inflated (a decompression
bomb: a 1 MB wheel can inflate to gigabytes) raises :class:`TooLarge` after at most
``limit`` bytes were produced, whatever its header claims. Both take an open file
descriptor: :func:`open_regular` opens without blocking and refuses anything but a
regular file, so a FIFO put in a wheel's place never hangs a read.
"""

from __future__ import annotations

import errno
import os
import stat
import struct
import zlib
from collections.abc import Callable

_EOCD = struct.Struct("<4s4H2LH")  # end of central directory record
_CENTRAL = struct.Struct("<4s4B4HL2L5H2L")  # central directory file header
_LOCAL = struct.Struct("<4s2B4HL2L2H")  # local file header
_MAX_COMMENT = 0xFFFF


class Unsupported(Exception):
    """The archive is not one :func:`read_member` reads; use :func:`read_member_zipfile`."""


class TooLarge(ValueError):
    """The member inflates to more than the limit."""


def open_regular(path: str | os.PathLike[str]) -> int:
    """A read-only descriptor of ``path`` (links followed), which must be a regular file.

    Opened non-blocking, so a FIFO does not wait for a writer; :class:`OSError` for
    anything that is not a regular file.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise OSError(errno.EINVAL, f"not a regular file ({file_kind(mode)})")
    except BaseException:
        os.close(fd)
        raise
    return fd


def file_kind(mode: int) -> str:
    """``FIFO``, ``directory``, ...: what a non-regular file is, in words."""
    for test, kind in ((stat.S_ISFIFO, "FIFO"), (stat.S_ISDIR, "directory"), (stat.S_ISCHR, "character device"),
                       (stat.S_ISBLK, "block device"), (stat.S_ISSOCK, "socket")):
        if test(mode):
            return kind
    return "regular file" if stat.S_ISREG(mode) else "special file"


def inflate(data: bytes, limit: int) -> bytes:
    """Raw deflate ``data``, producing at most ``limit`` bytes (:class:`TooLarge` beyond)."""
    inflater = zlib.decompressobj(-15)
    out = inflater.decompress(data, limit)
    if inflater.unconsumed_tail:
        raise TooLarge(f"inflates to more than {limit:,} bytes")
    return out


def read_member(fd: int, choose: Callable[[list[str]], str | None], limit: int) -> bytes | None:
    """The content of the member ``choose(names)`` picks, or None when it picks none.

    ``names`` are every member's name, in archive order, decoded as :mod:`zipfile` decodes
    them. Raises :class:`OSError` when the file cannot be read, :class:`TooLarge` when the
    member is larger than ``limit``, :class:`Unsupported` when :mod:`zipfile` should read it.
    """
    size = os.fstat(fd).st_size
    tail_start = max(0, size - _EOCD.size - _MAX_COMMENT)
    tail = os.pread(fd, size - tail_start, tail_start)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or at + _EOCD.size > len(tail):
        raise Unsupported("no end of central directory record")
    _, disk, cd_disk, _, count, cd_size, cd_offset, _ = _EOCD.unpack_from(tail, at)
    if disk or cd_disk or count == 0xFFFF or cd_offset == 0xFFFFFFFF or cd_size == 0xFFFFFFFF:
        raise Unsupported("multi-disk or ZIP64 archive")
    if cd_offset + cd_size != tail_start + at:
        raise Unsupported("data before the archive, or a central directory out of place")
    if cd_offset >= tail_start:
        directory = tail[cd_offset - tail_start:at]
    else:
        directory = os.pread(fd, cd_size, cd_offset)
    entries = _central_entries(directory, count)
    name = choose([e[0] for e in entries])
    if name is None:
        return None
    raw_name, flags, method, crc, compressed, uncompressed, offset = {e[0]: e[1:] for e in entries}[name]
    if uncompressed > limit or compressed > limit + limit // 64 + 1024:  # deflate never shrinks much
        raise TooLarge(f"is {max(uncompressed, compressed):,} bytes once inflated, more than {limit:,}")
    if offset + compressed > size:
        raise Unsupported("a member past the end of the file")
    if flags & 0x61 or method not in (0, 8):
        raise Unsupported("encrypted, patched, or compressed other than by deflate")
    if offset + _LOCAL.size + len(raw_name) <= len(tail) + tail_start and offset >= tail_start:
        header = tail[offset - tail_start:offset - tail_start + _LOCAL.size + len(raw_name)]
    else:
        header = os.pread(fd, _LOCAL.size + len(raw_name), offset)
    if len(header) != _LOCAL.size + len(raw_name):
        raise Unsupported("truncated local header")
    fields = _LOCAL.unpack_from(header)
    if fields[0] != b"PK\x03\x04" or fields[10] != len(raw_name) or header[_LOCAL.size:] != raw_name:
        raise Unsupported("bad local header")
    start = offset + _LOCAL.size + fields[10] + fields[11]
    if start >= tail_start:
        data = tail[start - tail_start:start - tail_start + compressed]
    else:
        data = os.pread(fd, compressed, start)
    if len(data) != compressed:
        raise Unsupported("truncated member")
    if method == 8:
        try:
            data = inflate(data, limit)
        except zlib.error:
            raise Unsupported("bad deflate data") from None
    if len(data) != uncompressed or zlib.crc32(data) != crc:
        raise Unsupported("bad CRC-32 or size")
    return data


def _central_entries(directory: bytes, count: int) -> list[tuple[str, bytes, int, int, int, int, int, int]]:
    """``(name, raw name, flags, method, crc, compressed size, size, local header offset)``
    per member."""
    entries = []
    pos = 0
    unpack = _CENTRAL.unpack_from
    for _ in range(count):
        if pos + _CENTRAL.size > len(directory):
            raise Unsupported("truncated central directory")
        (signature, _, _, _, _, flags, method, _, _, crc, compressed, uncompressed,
         name_len, extra_len, comment_len, _, _, _, offset) = unpack(directory, pos)
        if signature != b"PK\x01\x02":
            raise Unsupported("bad central directory record")
        start = pos + _CENTRAL.size
        raw = directory[start:start + name_len]
        if compressed == 0xFFFFFFFF or uncompressed == 0xFFFFFFFF or offset == 0xFFFFFFFF:
            raise Unsupported("ZIP64 member")
        if b"\x00" in raw:
            raise Unsupported("a member name with a NUL byte")
        try:
            name = raw.decode("utf-8" if flags & 0x800 else "cp437")
        except UnicodeDecodeError:
            raise Unsupported("a member name that is not UTF-8") from None
        entries.append((name, raw, flags, method, crc, compressed, uncompressed, offset))
        pos = start + name_len + extra_len + comment_len
    if pos != len(directory):
        raise Unsupported("central directory size mismatch")
    return entries


def read_member_zipfile(fd: int, choose: Callable[[list[str]], str | None], limit: int) -> bytes | None:
    """:func:`read_member` done by :mod:`zipfile`, for the archives that reads no faster;
    zipfile's errors come out as :class:`ValueError`, the limit holds as there."""
    import zipfile

    try:
        with os.fdopen(os.dup(fd), "rb") as fh, zipfile.ZipFile(fh) as zf:
            member = choose(zf.namelist())
            if member is None:
                return None
            with zf.open(member) as stream:
                data = stream.read(limit + 1)  # zipfile inflates no more than asked for
    except (zipfile.BadZipFile, zipfile.LargeZipFile, KeyError, EOFError, NotImplementedError,
            RuntimeError) as err:
        raise ValueError(err) from None
    if len(data) > limit:
        raise TooLarge(f"inflates to more than {limit:,} bytes")
    return data
