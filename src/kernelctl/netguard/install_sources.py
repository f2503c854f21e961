"""Installer options that point pip or uv away from the wheelhouse: an index, a find-links URL
or a trusted (insecure) host, given on the command line, in the command's environment or with
``pip config set``.

A kernel's ``PIP_NO_INDEX`` and pip.conf cannot forbid these: an explicit ``-f URL`` or
``--trusted-host`` wins over both, so the wheelhouse-only promise holds only if such a
command is caught. Only hosts on the allowlist itself (a site mirror) pass: a loopback or
private host may serve any wheel it likes.

Stdlib only (see :mod:`.policy`).
"""

from __future__ import annotations

from collections.abc import Mapping

from .policy import HostPolicy, url_host
from .rulebook import Rule

INSTALL_SOURCE = Rule("install-source", "pip/uv installs from an explicit index, find-links URL or trusted host",
                      "install from the wheelhouse only: pip download -d $WHEELHOUSE PKG on a login node, then "
                      "pip install --no-index --find-links $WHEELHOUSE PKG (an explicit -i/--index-url, "
                      "--extra-index-url, -f URL or --trusted-host bypasses the wheelhouse)")

# What the value of each option is: an index URL, a find-links location or a host name.
_PIP_OPTIONS = {"--index-url": "index", "--extra-index-url": "index", "--find-links": "links",
                "--trusted-host": "host"}
_UV_OPTIONS = {**_PIP_OPTIONS, "--index": "index", "--default-index": "index", "--allow-insecure-host": "host"}
_SHORT_OPTIONS = {"i": "--index-url", "f": "--find-links"}
# Other short options of pip and uv that take a value: in a cluster (-qr FILE) the rest is theirs.
_SHORT_WITH_VALUE = frozenset("rcetpCPo")
_ENV_OPTIONS = {
    "PIP_INDEX_URL": "index", "PIP_EXTRA_INDEX_URL": "index", "PIP_FIND_LINKS": "links", "PIP_TRUSTED_HOST": "host",
    "UV_INDEX_URL": "index", "UV_EXTRA_INDEX_URL": "index", "UV_INDEX": "index", "UV_DEFAULT_INDEX": "index",
    "UV_FIND_LINKS": "links", "UV_INSECURE_HOST": "host",
}
# pip config keys ("global.find-links", "install.index-url", ...) by their last part.
_CONFIG_KEYS = {name[2:]: kind for name, kind in _PIP_OPTIONS.items()}
_NETWORK_SCHEMES = ("http://", "https://", "ftp://")


def source_options(args: list[str], pip: bool) -> list[tuple[str, str]]:
    """``(option, value)`` for each option in ``args`` that names a package source, with its
    long name. pip (optparse) also takes a long option by a prefix (``--find=URL``) and a short
    one with its value attached or at the end of a cluster (``-qfURL``); uv takes full names."""
    options = _PIP_OPTIONS if pip else _UV_OPTIONS
    found: list[tuple[str, str]] = []
    index = 0
    while index < len(args):
        arg = args[index]
        index += 1
        if arg == "--":
            break
        option, value = None, None
        if arg.startswith("--"):
            name, has_value, attached = arg.partition("=")
            matches = [o for o in options if o == name or (pip and len(name) > 3 and o.startswith(name))]
            option = matches[0] if len(matches) == 1 or name in matches else None
            value = attached if has_value else None
        elif arg.startswith("-") and len(arg) > 1:
            for at, letter in enumerate(arg[1:], 2):
                if letter in _SHORT_OPTIONS:
                    option, value = _SHORT_OPTIONS[letter], arg[at:] or None
                    break
                if letter in _SHORT_WITH_VALUE:
                    break
        if option is None:
            continue
        if value is None:
            value = args[index] if index < len(args) else ""
            index += 1
        found.append((option, value))
    return found


def leaves_wheelhouse(kind: str, value: str, policy: HostPolicy) -> bool:
    """Whether a source of ``kind`` (``index``, ``links`` or ``host``) set to ``value`` lies
    outside the wheelhouse. A find-links path or ``file:`` URL is the wheelhouse's own kind of
    source, and an unknown find-links value may be one; an index is on the network unless it is
    a ``file:`` URL; a trusted host always is. Hosts on the allowlist itself pass."""
    value = value.strip()
    if kind == "host":
        hosts = [host for host in value.replace(",", " ").split() if host]
        return any(not policy.listed(host.rsplit(":", 1)[0] if host.count(":") == 1 else host) for host in hosts)
    urls = value.split() if kind == "links" else [value]
    for url in urls:
        lowered = url.lower()
        if lowered.startswith("file:"):
            continue
        if lowered.startswith(_NETWORK_SCHEMES):
            host = url_host(url)
            if host is None or not policy.listed(host):
                return True
        elif kind == "index" or "://" in url:
            return True  # an unknown or odd index, or a URL of another scheme
    return False


def wheelhouse_bypass(cmd: str, args: list[str], assigned: Mapping[str, str], policy: HostPolicy) -> str | None:
    """The first source in a pip or uv command (``cmd``, its ``args``, the variables
    ``assigned`` in front of it) that lies outside the wheelhouse, as written (``-f URL``,
    ``VAR=URL``, ``config set KEY URL``), or None."""
    sources = [(f"{name}={value}", value, kind) for name, value in assigned.items()
               if (kind := _ENV_OPTIONS.get(name))]
    options = _PIP_OPTIONS if cmd == "pip" else _UV_OPTIONS
    sources += [(f"{option} {value}", value, options[option])
                for option, value in source_options(args, pip=cmd == "pip")]
    if cmd == "pip":
        words = [a for a in args if not a.startswith("-")]
        if words[:2] == ["config", "set"] and len(words) >= 4:
            kind = _CONFIG_KEYS.get(words[2].rsplit(".", 1)[-1])
            if kind:
                sources.append((f"config set {words[2]} {words[3]}", words[3], kind))
    for written, value, kind in sources:
        if leaves_wheelhouse(kind, value, policy):
            return written
    return None
