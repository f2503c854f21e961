"""What an env's ``*.dist-info`` directories say is installed, read from files alone.

``importlib.metadata`` finds a distribution through its ``NAME-VERSION.dist-info/METADATA``;
a package whose METADATA is gone, unreadable or names another version is one that
``pip list`` and imports disagree about. Reading the headers here costs no process, so
``doctor`` can compare every env with its manifest.
"""

from __future__ import annotations

from pathlib import Path

from packaging.utils import canonicalize_name

# METADATA headers come first; Name and Version are within the first few lines.
_HEADER_BYTES = 64 * 1024


def _headers(metadata: Path) -> dict[str, str]:
    """The ``Name`` and ``Version`` headers of a METADATA file ({} when it cannot be read)."""
    try:
        with open(metadata, "rb") as f:
            head = f.read(_HEADER_BYTES).decode("utf-8", errors="replace")
    except OSError:
        return {}
    found: dict[str, str] = {}
    for line in head.splitlines():
        if not line.strip():
            break  # the end of the headers: the description follows
        key, sep, value = line.partition(":")
        if sep and key in ("Name", "Version"):
            found.setdefault(key, value.strip())
    return found


def installed(site_packages: Path) -> dict[str, str]:
    """``{canonical project name: version}`` for every dist-info in ``site_packages`` whose
    METADATA reads; a directory that cannot be listed gives {}."""
    try:
        entries = list(site_packages.iterdir())
    except OSError:
        return {}
    found = {}
    for entry in entries:
        if entry.suffix != ".dist-info":
            continue
        headers = _headers(entry / "METADATA")
        if "Name" in headers and "Version" in headers:
            found[canonicalize_name(headers["Name"])] = headers["Version"]
    return found


def disagreements(recorded: dict[str, str], site_packages: Path) -> list[str]:
    """How the env's files differ from ``recorded`` (a manifest's ``{name: version}``): one
    phrase per recorded package whose metadata is missing or names another version."""
    present = installed(site_packages)
    problems = []
    for name, version in recorded.items():
        actual = present.get(canonicalize_name(name))
        if actual is None:
            problems.append(f"{name} {version} has no readable metadata")
        elif actual != version:
            problems.append(f"{name} is {actual}, not the recorded {version}")
    return problems
