"""R rules: R code that reaches the internet, and the offline fix for each.

Used by ``kernelctl scan`` for the cells of R notebooks (language from the notebook's
kernelspec or language_info) and for ``.R`` scripts. R code is tokenized (strings, raw
strings, comments, names with ``pkg::``), so a URL in a comment or a call named inside a
string is never a finding, and each call's arguments are read as far as they are literal:
a string, ``NULL``, or ``c()`` of strings. Package installers, GitHub/Bioconductor
installers, downloads and readers on remote URLs, and ``system()``/``system2()`` command
lines (checked by :mod:`.shell_rules`) are reported with the same JSON, rule ids and
``# kernelctl: allow-net`` pragma as Python code.

Stdlib only (see :mod:`.policy`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import NamedTuple

from .policy import PRAGMA
from .rulebook import MISSING, UNKNOWN, Call, Context, Rule, remote_arg
from .shell_rules import check_shell

R_CRAN_INSTALL = Rule("r-cran-install", "R install.packages/update.packages from CRAN (no local repos)",
                      "add the package to a local R repository and run 'kernelctl install NAME PKG' "
                      "(or install.packages(FILE.tar.gz, repos = NULL))")
R_REMOTE_INSTALL = Rule("r-remote-install", "devtools/remotes/pak installs from GitHub, GitLab or a URL",
                        "on a login node, 'R CMD build' the package's source into a local R repository, "
                        "then 'kernelctl install NAME PKG'")
R_BIOC_INSTALL = Rule("r-bioc-install", "BiocManager::install and biocLite reach Bioconductor",
                      "load the cluster's Bioconductor module, or put the packages' tarballs in a local R repository")
# R's own rules; the others it reports are the catalogue's (:mod:`.catalogue`), whose rules
# are those of the Python checker.
RULES = {rule.id: rule for rule in (R_CRAN_INSTALL, R_REMOTE_INSTALL, R_BIOC_INSTALL)}

_TOKEN = re.compile(r"""
    (?P<comment>\#[^\n]*)
  | (?P<raw>[rR](?P<q>["'])(?P<dash>-*)(?P<open>[(\[{]))
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<name>`[^`]*`|[A-Za-z.][A-Za-z0-9._]*)
  | (?P<ns>:::?)
  | (?P<assign><<-|<-|->>|->|==|!=|<=|>=)
  | (?P<punct>[(),=\[\]{}])
  | (?P<newline>\n)
  | (?P<other>\S)
""", re.VERBOSE | re.DOTALL)
_CLOSE = {"(": ")", "[": "]", "{": "}"}
_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", '"': '"', "'": "'"}


class Token(NamedTuple):
    kind: str  # "name", "string", "punct", "other"
    text: str  # a string's value, unquoted
    line: int


def tokens(source: str) -> Iterator[Token]:
    """R tokens of ``source``, comments dropped; an unterminated string ends the source."""
    line, pos = 1, 0
    while pos < len(source):
        if source[pos] in " \t\r\f;":
            pos += 1
            continue
        match = _TOKEN.match(source, pos)
        if match is None:
            return
        kind = match.lastgroup if match.lastgroup not in ("q", "dash", "open") else "raw"
        if match.group("raw"):
            end = _CLOSE[match.group("open")] + match.group("dash") + match.group("q")
            stop = source.find(end, match.end())
            if stop < 0:
                return
            yield Token("string", source[match.end():stop], line)
            line += source.count("\n", pos, stop)
            pos = stop + len(end)
            continue
        text = match.group()
        if kind == "string":
            yield Token("string", re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), text[1:-1]), line)
        elif kind == "name":
            yield Token("name", text.strip("`"), line)
        elif kind in ("punct", "ns", "other", "assign"):
            yield Token("punct" if kind != "other" else "other", text, line)
        line += text.count("\n")
        pos = match.end()


def _value(arg: list[Token]) -> object:
    """An argument's value: a string, None (NULL), a list of strings (``c(...)``) or UNKNOWN."""
    if len(arg) == 1 and arg[0].kind == "string":
        return arg[0].text
    if len(arg) == 1 and arg[0].text == "NULL":
        return None
    if len(arg) >= 3 and arg[0].text == "c" and arg[1].text == "(" and arg[-1].text == ")":
        items: list[list[Token]] = [[]]
        for t in arg[2:-1]:
            if t.text == ",":
                items.append([])
            else:
                items[-1].append(t)
        # each element a string, or a named one (``c(local = "/repo")``)
        values = [item[-1].text for item in items
                  if item and item[-1].kind == "string" and (len(item) == 1 or len(item) == 3 and item[1].text == "=")]
        if len(values) == len(items):
            return values
    return UNKNOWN


def calls(source: str) -> Iterator[tuple[int, Call]]:
    """Every call in ``source`` as ``(line, Call)``; ``pkg::f`` gives parts ``(pkg, f)``."""
    toks = list(tokens(source))
    for i, tok in enumerate(toks):
        if tok.kind != "name" or i + 1 >= len(toks) or toks[i + 1].text != "(":
            continue
        parts: tuple[str, ...] = (tok.text,)
        if i >= 2 and toks[i - 1].text in ("::", ":::") and toks[i - 2].kind == "name":
            parts = (toks[i - 2].text, tok.text)
        args: list[object] = []
        kwargs: dict[str, object] = {}
        depth, current = 0, []
        for t in toks[i + 2:]:
            if depth == 0 and t.text in (",", ")"):
                if len(current) >= 2 and current[1].text == "=" and current[0].kind in ("name", "string"):
                    kwargs[current[0].text] = _value(current[2:])
                elif current:
                    args.append(_value(current))
                current = []
                if t.text == ")":
                    break
                continue
            depth += (t.text in "([{") - (t.text in ")]}") if t.kind == "punct" else 0
            current.append(t)
        yield tok.line, Call(parts, args, kwargs)


def _local(value: object) -> bool:
    """A repos/contriburl value that names only local places (``file://``, paths) or NULL."""
    if value is None:
        return True
    values = value if isinstance(value, list) else [value]
    return bool(values) and all(isinstance(v, str) and (v.startswith("file:") or "://" not in v) for v in values)


_REMOTE_INSTALLERS = frozenset({"install_github", "install_gitlab", "install_bitbucket", "install_url",
                                "install_git", "install_svn", "install_version", "install_dev", "pkg_install",
                                "pak", "githubinstall", "gh_install_packages"})
_HTTP = {"download.file": 0, "curl_download": 0, "curl_fetch_memory": 0, "curl_fetch_disk": 0, "curl": 0,
         "getURL": 0, "GET": 0, "POST": 0, "PUT": 0, "PATCH": 0, "DELETE": 0, "HEAD": 0, "VERB": 1,
         "request": 0, "new_handle": None}
_HTTP_PACKAGES = frozenset({"httr", "httr2", "curl", "RCurl", "utils", ""})
_READERS = frozenset({"url", "read.csv", "read.csv2", "read.table", "read.delim", "readLines", "readRDS", "load",
                      "source", "scan", "fread", "read_csv", "read_tsv", "read_delim", "read_excel", "fromJSON",
                      "read_json", "read_html", "read_xml", "read_sf", "st_read", "gzcon", "vroom", "read_parquet"})


def check_call(call: Call, ctx: Context) -> tuple[str, str] | None:
    """The rule id and message for one R call that reaches the internet, else None."""
    package, name = (call.parts if len(call.parts) == 2 else ("", call.parts[0]))
    shown = "::".join(call.parts)
    if name in ("install.packages", "update.packages") and package in ("", "utils"):
        repos, contrib = call.get(None, "repos"), call.get(None, "contriburl")
        if _local(contrib) or (repos is not MISSING and _local(repos)):
            return None
        where = "CRAN (the repos option)" if repos is MISSING or repos is UNKNOWN else f"{repos}"
        return "r-cran-install", f"{name}() downloads from {where}"
    if name in _REMOTE_INSTALLERS and package in ("", "devtools", "remotes", "pak", "githubinstall"):
        return "r-remote-install", f"{shown}() downloads packages from the internet"
    if (package == "BiocManager" and name == "install") or name == "biocLite":
        return "r-bioc-install", f"{shown}() downloads from Bioconductor"
    if name in ("system", "system2", "shell") and package in ("", "base"):
        command = call.get(0, "command")
        rest = call.get(1, "args")
        if not isinstance(command, str):
            return None
        if name == "system2" and isinstance(rest, (str, list)):  # system2(command, args)
            command = " ".join([command, *(rest if isinstance(rest, list) else [rest])])
        hits = check_shell(command, ctx)
        return (hits[0][1], hits[0][2]) if hits else None
    if name in _HTTP and package in _HTTP_PACKAGES and _HTTP[name] is not None:
        where = remote_arg(call, ctx, _HTTP[name], "url", unknown=name == "download.file")
        return ("http-request", f"{shown}() fetches from {where}") if where else None
    if name in _READERS:
        where = remote_arg(call, ctx, 0, "file", "con", "description", "url", "path", "txt", "x", unknown=False)
        return ("remote-read", f"{shown}() reads from {where}") if where else None
    return None


def check_r(source: str, ctx: Context) -> list[tuple[int, str, str]]:
    """Findings in R ``source`` as ``(line, rule, message)``, line 1-based; a line carrying
    the ``# kernelctl: allow-net`` pragma is exempt."""
    exempt = {n for n, text in enumerate(source.splitlines(), 1) if PRAGMA in text}
    hits = []
    for line, call in calls(source):
        hit = check_call(call, ctx)
        if hit and line not in exempt:
            hits.append((line, *hit))
    return hits
