"""Which hosts count as "the internet": loopback, cluster-internal and allowlisted hosts do not.

Shared by the static checker (a URL in code) and the runtime guard (a host or an IP
address seen by an audit hook). Stdlib only: this package is copied into kernel
environments where kernelctl itself is not installed.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

ALLOW_ENV = "KERNELCTL_NETGUARD_ALLOW"
# What exempts code from netguard: a comment on a line (the whole cell, for the runtime
# guard), or a tag on a notebook cell.
PRAGMA = "kernelctl: allow-net"
CELL_TAG = "kernelctl-allow-net"

# Never the internet: loopback, RFC 1918, carrier-grade NAT (some clusters number their
# nodes there), link-local and IPv6 unique-local addresses.
_PRIVATE_NETS = tuple(
    ipaddress.ip_network(n)
    for n in ("127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
              "100.64.0.0/10", "169.254.0.0/16", "0.0.0.0/32",
              "::1/128", "::/128", "fc00::/7", "fe80::/10")
)
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback",
                             "localhost6", "localhost6.localdomain6"})
# The numbers-and-dots forms the C library's inet_aton (and so getaddrinfo) also reads: 127.1,
# 0x7f.0.1, 0177.0.0.1 and the dotless 16843009 or 0x01010101.
_INET_ATON_RE = re.compile(r"(?:0x[0-9a-f]*|[0-9]+)(?:\.(?:0x[0-9a-f]*|[0-9]+)){0,3}", re.I)
# Reserved or conventional suffixes that never name an internet host.
_LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".localdomain", ".home.arpa")
_SCHEME_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
# URL schemes whose "host" is reached over the network.
REMOTE_SCHEMES = frozenset({
    "http", "https", "ftp", "ftps", "sftp", "ssh", "git", "git+https", "git+ssh", "git+http",
    "s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "adl", "hf", "ws", "wss", "rsync",
    "docker", "oras", "library", "shub",
})
# Schemes that address object stores by bucket name, not by host name.
_BUCKET_SCHEMES = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "adl", "hf",
                             "docker", "oras", "library", "shub"})


def split_allow(text: str) -> list[str]:
    """Split an allowlist string (commas and/or whitespace) into its entries."""
    return [item for item in re.split(r"[\s,]+", text.strip()) if item]


class HostPolicy:
    """Decides whether a host, IP address or URL is reachable without the internet.

    Allowlist entries are host names (``pypi.site.ca``), domain suffixes starting with a
    dot (``.alliancecan.ca`` matches ``alliancecan.ca`` and every name under it) and
    CIDR networks or single addresses (``10.0.0.0/8``, ``206.12.0.1``).
    """

    def __init__(self, allow: Iterable[str] = ()) -> None:
        self.hosts: set[str] = set()
        self.suffixes: list[str] = []
        self.networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for entry in allow:
            entry = entry.strip().lower()
            if not entry:
                continue
            if entry.startswith("."):
                self.suffixes.append(entry)
                continue
            try:
                self.networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                if not re.fullmatch(r"[a-z0-9_.-]+", entry):
                    raise ValueError(f"not a host name, .domain suffix or CIDR network: {entry!r}") from None
                self.hosts.add(entry.rstrip("."))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> HostPolicy:
        """The policy configured by ``KERNELCTL_NETGUARD_ALLOW``; bad entries are skipped."""
        environ = os.environ if environ is None else environ
        good = []
        for entry in split_allow(environ.get(ALLOW_ENV, "")):
            try:
                cls([entry])
            except ValueError:
                continue
            good.append(entry)
        return cls(good)

    def allowed(self, host: str | bytes | None) -> bool:
        """True when ``host`` (a name or an IP address) is not on the internet."""
        if host is None:
            return True
        if isinstance(host, bytes):
            host = host.decode("ascii", "replace")  # IDNA-encoded names are ASCII
        host = host.strip().strip("[]").lower().rstrip(".")
        if not host:
            return True
        address = _ip(host)
        if address is not None:
            if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
                address = address.ipv4_mapped
            return any(address in net for net in _PRIVATE_NETS) or any(
                address in net for net in self.networks)
        if host in _LOOPBACK_NAMES or "." not in host or host.endswith(_LOCAL_SUFFIXES):
            # Single-label names (node123, login01) are cluster-internal.
            return True
        if host in self.hosts:
            return True
        return any(host.endswith(s) or host == s[1:] for s in self.suffixes)

    def listed(self, host: str) -> bool:
        """Whether ``host`` is on the allowlist itself (a site mirror, say), as opposed to
        local by nature (loopback, private networks, single-label names)."""
        host = host.strip().strip("[]").lower().rstrip(".")
        address = _ip(host)
        if address is not None:
            return any(address in net for net in self.networks)
        return host in self.hosts or any(host.endswith(s) or host == s[1:] for s in self.suffixes)

    def url_is_remote(self, url: str) -> bool | None:
        """True for a URL that needs the internet, False for a local one, None for a non-URL.

        A host that cannot be read (``http://{host}/x`` with an unknown part) counts as remote.
        """
        match = _SCHEME_RE.match(url)
        if not match:
            return None
        scheme = match.group(1).lower()
        if scheme not in REMOTE_SCHEMES:
            return False
        if scheme in _BUCKET_SCHEMES:
            return True
        try:
            host = urlsplit(url).hostname
        except ValueError:
            return True
        if not host or not re.fullmatch(r"[A-Za-z0-9_.:-]+", host):
            return True
        return not self.allowed(host)


def url_host(url: str) -> str | None:
    """The host part of ``url``, or None when there is none."""
    try:
        return urlsplit(url).hostname
    except ValueError:
        return None


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address or name."""
    host = host.strip().strip("[]").lower().rstrip(".")
    address = _ip(host)
    return host in _LOOPBACK_NAMES if address is None else address.is_loopback


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if not text or not (text[0].isdigit() or ":" in text):
        return None
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        pass
    if _INET_ATON_RE.fullmatch(text):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(text))
        except OSError:
            return None
    return None
