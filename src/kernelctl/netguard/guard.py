"""Runtime guard: a PEP 578 audit hook that sees every Python-level DNS lookup and connection.

In ``warn`` mode it prints one line per non-local host per cell, naming the host and the
offline fix; in ``block`` mode it also raises :class:`NetworkBlockedError` (an ``OSError``)
at the DNS lookup or connect, so libraries take their usual error or offline-fallback path
at once instead of waiting for TCP and DNS timeouts. Loopback, AF_UNIX, private and
allowlisted addresses pass untouched; Jupyter's own ZMQ sockets are C-level and never seen.

An audit hook cannot be removed, so it is installed once per process and later calls only
change its settings. Stdlib only.
"""

from __future__ import annotations

import errno
import os
import socket
import sys
import threading
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

from .policy import HostPolicy, is_loopback

MODE_ENV = "KERNELCTL_NETGUARD"
MODES = ("warn", "block", "off")
PREFIX = "[kernelctl netguard]"

# Events that carry a host; anything else returns on the first line of the hook.
_WATCHED = frozenset({
    "socket.getaddrinfo", "socket.gethostbyname", "socket.connect", "socket.sendto",
    "urllib.Request", "http.client.connect", "ftplib.connect", "smtplib.connect", "imaplib.open",
    "poplib.connect", "nntplib.connect", "telnetlib.Telnet.open",
})
# Where block mode raises: the socket level, so urllib/requests/httpx wrap the OSError in
# their own connection errors. Protocol-level events only name the real target for the
# warning (through a proxy, the socket only sees the proxy).
_BLOCKING = frozenset({"socket.getaddrinfo", "socket.gethostbyname", "socket.connect", "socket.sendto"})


class NetworkBlockedError(ConnectionRefusedError):
    """Raised in block mode instead of reaching an internet host (errno ENETUNREACH)."""

    def __init__(self, host: str) -> None:
        super().__init__(errno.ENETUNREACH,
                         f"kernelctl netguard: compute nodes have no internet; blocked {host}")
        self.host = host


def mode_from_env(environ: Mapping[str, str] | None = None) -> tuple[str, str | None]:
    """The configured mode (default ``warn``) and a complaint when the value was invalid."""
    raw = (os.environ if environ is None else environ).get(MODE_ENV, "").strip().lower()
    if not raw:
        return "warn", None
    if raw in MODES:
        return raw, None
    return "warn", f"{MODE_ENV}={raw!r} is not one of {', '.join(MODES)}; using warn"


def _stderr(line: str) -> None:
    stream = GUARD.stream if GUARD.stream is not None else sys.stderr
    stream.write(line + "\n")
    stream.flush()


class Guard:
    """The hook's settings and per-cell memory. One instance per process (:data:`GUARD`)."""

    def __init__(self) -> None:
        self.mode = "off"
        self.policy = HostPolicy()
        self.quiet = False  # the current cell carries an allow-net pragma
        self.emit: Callable[[str], None] = _stderr
        # Where the default emit writes (None: sys.stderr at the time). The extension sets the
        # stderr of the outermost running cell, so %%capture does not swallow warnings.
        self.stream: object | None = None
        self._seen: set[str] = set()
        self._named_host = False
        self._failed = False
        self._allowed: dict[str, bool] = {}
        self.own_names: frozenset[str] = frozenset()  # this node's names that stay on it (see own_names)

    def set_policy(self, policy: HostPolicy) -> None:
        """Use ``policy`` from now on (and forget decisions made under the old one)."""
        self.policy = policy
        self._allowed = {}

    def new_cell(self, quiet: bool = False) -> None:
        """Forget the hosts already reported: each cell reports them again."""
        self._seen = set()
        self._named_host = False
        self.quiet = quiet

    def check(self, event: str, host: str) -> None:
        """Report (and in block mode refuse) traffic to ``host`` seen in one audit event."""
        allowed = self._allowed.get(host)
        if allowed is None:  # cached: the same few hosts come back on every connect
            if len(self._allowed) > 4096:
                self._allowed.clear()
            allowed = self._allowed[host] = (self.policy.allowed(host)
                                             or host.strip().lower().rstrip(".") in self.own_names)
        if allowed:
            return
        host = host.strip("[]").lower()
        is_name = not host[:1].isdigit() and ":" not in host
        # An IP address right after a warned-about name is that name's address: say it once.
        if host not in self._seen and (is_name or not self._named_host):
            self._seen.add(host)
            self._named_host = self._named_host or is_name
            from .catalogue import advice_for_host  # the rule tables: not imported at kernel start

            verb = "blocked" if self.mode == "block" else "connecting to"
            self.say(f"{PREFIX} {verb} {host}: compute nodes have no internet — {advice_for_host(host)}")
        if self.mode == "block" and event in _BLOCKING:
            raise NetworkBlockedError(host)

    def say(self, line: str) -> None:
        """Write one line through :attr:`emit`. Every netguard write goes through here and never
        raises: a closed or replaced ``sys.stderr`` must not break a cell or change its error."""
        try:
            self.emit(line)
        except Exception:
            pass

    def fail(self, error: BaseException) -> None:
        """Print one diagnostic for the first internal error, then stay silent."""
        if not self._failed:
            self._failed = True
            self.say(f"{PREFIX} internal error ignored ({type(error).__name__}: {error})")


GUARD = Guard()
_tls = threading.local()
_installed = False


def _hook(event: str, args: tuple) -> None:
    # Called for every audit event in every thread: keep the common paths to a few lookups.
    if event not in _WATCHED:
        return
    guard = GUARD
    if guard.mode == "off" or guard.quiet:
        return
    try:
        host = _host_of(event, args)
        if host is None or guard._allowed.get(host):
            return
    except Exception as error:
        guard.fail(error)
        return
    if getattr(_tls, "busy", False):
        return
    _tls.busy = True  # writing the warning may itself raise audit events
    try:
        guard.check(event, host)
    except NetworkBlockedError:
        raise
    except Exception as error:  # never break the user's code because of the guard
        guard.fail(error)
    finally:
        _tls.busy = False


def _host_of(event: str, args: tuple) -> str | None:
    """The remote host (as given) an audit event is about, or None for local or unknowable ones."""
    if event == "socket.connect" or event == "socket.sendto":
        address = args[1]
        # AF_INET/AF_INET6 addresses are (host, port, ...); AF_UNIX ones are str or bytes.
        host = address[0] if type(address) is tuple and address else None
    elif event == "socket.getaddrinfo" or event == "socket.gethostbyname":
        host = args[0] if args else None
    elif event == "urllib.Request":
        parts = urlsplit(args[0]) if args and isinstance(args[0], str) else None
        if parts is None or parts.scheme not in ("http", "https", "ftp"):
            return None
        host = parts.hostname
    else:  # http.client.connect, ftplib.connect, ...: (self, host, port)
        host = args[1] if len(args) > 1 else None
    if type(host) is str:
        return host or None
    if isinstance(host, bytes):
        return host.decode("ascii", "replace") or None  # IDNA-encoded names are ASCII
    return None


def own_names(hosts_file: str = "/etc/hosts") -> frozenset[str]:
    """This node's own names that stay on it: ``socket.gethostname()`` and every name that
    ``hosts_file`` maps to a loopback address (often the FQDN, on 127.0.1.1). Not
    ``socket.getfqdn()``: it may query DNS, which can hang on a node without a network."""
    names = []
    try:
        names.append(socket.gethostname())
    except OSError:
        pass
    try:
        with open(hosts_file, encoding="utf-8", errors="replace") as lines:
            for line in lines:
                fields = line.split("#", 1)[0].split()
                if len(fields) > 1 and is_loopback(fields[0]):
                    names += fields[1:]
    except OSError:
        pass
    return frozenset(name.lower().rstrip(".") for name in names if name)


def install(mode: str, policy: HostPolicy, emit: Callable[[str], None] | None = None) -> Guard:
    """Set the guard's mode and policy, adding the audit hook the first time."""
    global _installed
    if mode not in MODES:
        raise ValueError(f"netguard mode must be one of {', '.join(MODES)}, not {mode!r}")
    GUARD.mode = mode
    GUARD.own_names = own_names()
    GUARD.set_policy(policy)
    GUARD.emit = emit or _stderr
    if not _installed and mode != "off":
        sys.addaudithook(_hook)
        _installed = True
    return GUARD
