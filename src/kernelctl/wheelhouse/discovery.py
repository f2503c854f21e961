"""Where the wheelhouse is.

Precedence, first found wins:

1. directories given explicitly (``--wheelhouse``, repeatable, in priority order);
2. ``KERNELCTL_WHEELHOUSE`` (``os.pathsep``-separated);
3. pip's own configuration: ``PIP_FIND_LINKS``, then the ``find-links`` of the ``[install]``
   (or ``[global]``) section of the files pip reads, in pip's order: global files, the user
   file (skipped when ``PIP_CONFIG_FILE`` names an existing file), the running interpreter's
   site file, then ``PIP_CONFIG_FILE``. That is how the Alliance publishes its wheelhouse.

Only local directories count: a ``find-links`` URL on another host is not a wheelhouse that
works on a compute node, so it is skipped.
"""

from __future__ import annotations

import configparser
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from kernelctl.errors import KernelctlError, UsageError

NO_WHEELHOUSE_HINT = (
    "Pass --wheelhouse DIR, set KERNELCTL_WHEELHOUSE, or set find-links in pip's configuration "
    "(on a machine with internet, 'kernelctl wheelhouse fetch PKG --dest DIR' fills one)."
)


@dataclass(frozen=True)
class Wheelhouse:
    """The wheelhouse directories in priority order, and where they were configured."""

    dirs: tuple[Path, ...]
    source: str


def pip_config_files(environ: Mapping[str, str]) -> list[Path]:
    """The pip configuration files pip itself reads, lowest precedence first."""
    config_file = environ.get("PIP_CONFIG_FILE")
    xdg_dirs = environ.get("XDG_CONFIG_DIRS", "/etc/xdg").split(os.pathsep)
    files = [Path(d) / "pip" / "pip.conf" for d in xdg_dirs if d] + [Path("/etc/pip.conf")]
    if not (config_file and os.path.exists(config_file)):
        home = Path(environ.get("HOME", os.path.expanduser("~")))
        xdg_home = environ.get("XDG_CONFIG_HOME") or str(home / ".config")
        files += [home / ".pip" / "pip.conf", Path(xdg_home) / "pip" / "pip.conf"]
    files.append(Path(sys.prefix) / "pip.conf")
    if config_file and config_file != os.devnull:
        files.append(Path(config_file))
    return files


def find_links_from_pip_config(
    environ: Mapping[str, str], sections: Sequence[str] = ("install", "global")
) -> list[str]:
    """The ``find-links`` pip would use for ``pip install``, as raw strings."""
    if environ.get("PIP_FIND_LINKS"):
        return environ["PIP_FIND_LINKS"].split()
    found: list[str] = []
    for path in pip_config_files(environ):
        parser = configparser.RawConfigParser()
        try:
            parser.read(path, encoding="utf-8")
        except (configparser.Error, OSError, UnicodeDecodeError):
            continue
        for section in sections:
            for key in ("find-links", "find_links"):
                if parser.has_option(section, key):
                    found = parser.get(section, key).split()
                    break
            else:
                continue
            break
    return found


def local_dir(link: str) -> Path | None:
    """The local directory a find-links entry names, or None for a remote URL."""
    parsed = urlparse(link)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    if parsed.scheme and len(parsed.scheme) > 1:  # http(s), ...; one letter would be a drive
        return None
    return Path(os.path.expanduser(link))


def _checked(dirs: Iterable[Path], source: str) -> Wheelhouse:
    resolved = []
    for d in dirs:
        d = d.absolute()
        if not d.is_dir():
            raise KernelctlError(
                f"wheelhouse directory {d} (from {source}) does not exist or is not a directory",
                "Check the path, or point --wheelhouse at a directory of .whl files.",
            )
        if d not in resolved:
            resolved.append(d)
    return Wheelhouse(tuple(resolved), source)


def discover(
    explicit: Sequence[str | os.PathLike[str]] = (),
    environ: Mapping[str, str] | None = None,
) -> Wheelhouse:
    """Find the wheelhouse by the precedence in this module's docstring.

    Raises :class:`UsageError` when none is configured and :class:`KernelctlError` when a
    configured directory does not exist.
    """
    environ = os.environ if environ is None else environ
    if explicit:
        return _checked((Path(os.path.expanduser(os.fspath(p))) for p in explicit), "--wheelhouse")
    if environ.get("KERNELCTL_WHEELHOUSE"):
        parts = [p for p in environ["KERNELCTL_WHEELHOUSE"].split(os.pathsep) if p]
        return _checked((Path(os.path.expanduser(p)) for p in parts), "KERNELCTL_WHEELHOUSE")
    links = [d for d in map(local_dir, find_links_from_pip_config(environ)) if d is not None]
    if links:
        return _checked(links, "pip configuration (find-links)")
    raise UsageError("no wheelhouse is configured", NO_WHEELHOUSE_HINT)
