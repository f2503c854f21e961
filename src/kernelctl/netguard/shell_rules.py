"""Shell rules: command lines that reach the internet, and the offline fix for each.

Applied to ``!cmd``, ``%pip``, ``%%bash`` bodies and ``subprocess``/``os.system`` command
lines: package installers, git, downloaders, cloud storage and package-manager CLIs. A line
is split into simple commands as a POSIX shell would (:func:`check_shell`), and each
command's argv goes to the handler for its program (:func:`check_argv`).

Stdlib only (see :mod:`.policy`).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable

from .install_sources import INSTALL_SOURCE, wheelhouse_bypass
from .policy import url_host
from .rulebook import PLACEHOLDER, Context, Hit, Rule


_SEPARATORS = frozenset({";", "&&", "||", "|", "&", "|&", ";;", "(", ")", "$(", "`"})
_REDIRECTS = frozenset({">", ">>", "<", "<<", ">&", "&>", "<>", "<<<", ">|"})
_PREFIXES = frozenset({"sudo", "env", "time", "nohup", "exec", "command", "nice", "srun", "stdbuf"})


def check_shell(text: str, ctx: Context) -> list[tuple[int, str, str]]:
    """Findings in shell ``text`` (one or more lines) as ``(line, rule, message)``, line 1-based."""
    hits: list[tuple[int, str, str]] = []
    pending, start = "", 1
    for number, line in enumerate(text.splitlines() or [""], 1):
        if not pending:
            start = number
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        for argv in _split_commands(pending + line):
            hit = check_argv(argv, ctx)
            if hit:
                hits.append((start, *hit))
        pending = ""
    return hits


def _split_commands(line: str) -> list[list[str]]:
    """Split one shell line into simple commands, dropping redirections and comments."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = ""
    try:
        tokens = list(lexer)
    except ValueError:  # unbalanced quotes: a rough split is still useful
        tokens = line.split()
    commands: list[list[str]] = [[]]
    skip_next = False
    for token in tokens:
        if skip_next:
            skip_next = False
        elif token.startswith("#"):
            break
        elif token in _SEPARATORS or token == "$":
            commands.append([])
        elif token in _REDIRECTS or (token and set(token) <= set("<>&|")):
            skip_next = token in _REDIRECTS
        else:
            commands[-1].append(token)
    return [c for c in commands if c]


def check_argv(argv: list[str], ctx: Context) -> Hit | None:
    """The finding for one command's argv (after shell splitting), if any."""
    argv = list(argv)
    assigned: dict[str, str] = {}  # VAR=value in front of the command (also after env)
    while argv and (argv[0] in _PREFIXES or re.match(r"^[A-Za-z_]\w*=", argv[0])):
        prefix = argv.pop(0)
        if prefix not in _PREFIXES:
            name, _, value = prefix.partition("=")
            assigned[name] = value
        while prefix in ("sudo", "nice", "srun", "stdbuf") and argv and argv[0].startswith("-"):
            argv.pop(0)
    if not argv:
        return None
    word = argv[0]
    cmd = word.rsplit("/", 1)[-1].lower()
    args = argv[1:]
    pythonish = cmd.startswith("python") or word.startswith(("{", "$"))
    if pythonish and len(args) >= 2 and args[0] == "-m":
        cmd, args = args[1].lower(), args[2:]
    cmd = re.sub(r"(?<=[a-z])\d+(\.\d+)*$", "", cmd)  # pip3.11 -> pip, python3 -> python
    if cmd == "pip" or cmd == "uv":  # whatever PIP_NO_INDEX, --no-index or --offline say
        bypass = wheelhouse_bypass(cmd, args, assigned, ctx.policy)
        if bypass:
            return INSTALL_SOURCE.id, f"{cmd} {bypass} bypasses the wheelhouse"
    handler = _SHELL_HANDLERS.get(cmd)
    return handler(cmd, args, ctx) if handler else None


def _positional(args: list[str]) -> list[str]:
    return [a for a in args if not a.startswith("-")]


PIP_INSTALL = Rule("pip-install", "pip install/download/wheel from PyPI",
                   "use pip install --no-index --find-links $WHEELHOUSE (kernelctl kernels set PIP_NO_INDEX=1); "
                   "add missing wheels to the wheelhouse from a login node")


def _pip(cmd: str, args: list[str], ctx: Context) -> Hit | None:
    pos = _positional(args)
    if not pos or pos[0] not in ("install", "download", "wheel"):
        return None
    if "--no-index" in args or ctx.env_true("PIP_NO_INDEX"):
        return None
    indexes = [args[i + 1] for i, a in enumerate(args[:-1]) if a in ("-i", "--index-url", "--extra-index-url")]
    indexes += [a.split("=", 1)[1] for a in args if a.startswith(("--index-url=", "--extra-index-url="))]
    if indexes and not any(ctx.policy.url_is_remote(u) for u in indexes):
        return None
    return "pip-install", f"pip {pos[0]} downloads from PyPI (pypi.org)"


UV_INSTALL = Rule("uv-install", "uv installs or resolves from PyPI",
                  "use uv pip install --offline --find-links $WHEELHOUSE (kernelctl kernels set UV_OFFLINE=1)")


def _uv(cmd: str, args: list[str], ctx: Context) -> Hit | None:
    pos = _positional(args)
    if "--offline" in args or ctx.env_true("UV_OFFLINE"):
        return None
    if pos[:1] == ["pip"] and len(pos) > 1 and pos[1] in ("install", "sync", "compile", "download"):
        if "--no-index" in args or ctx.env_true("UV_NO_INDEX"):
            return None
        what = f"uv pip {pos[1]}"
    elif pos[:1] in (["add"], ["sync"], ["lock"]) or pos[:2] in (["tool", "install"], ["python", "install"]):
        what = "uv " + " ".join(pos[:2] if pos[0] in ("tool", "python") else pos[:1])
    else:
        return None
    return "uv-install", f"{what} resolves packages from PyPI"


CONDA_INSTALL = Rule("conda-install", "conda/mamba/micromamba contact channels",
                     "pass --offline or a local channel (-c file:///path), or install wheels with pip --no-index")


def _conda(cmd: str, args: list[str], ctx: Context) -> Hit | None:
    pos = _positional(args)
    if not pos:
        return None
    sub = pos[0] if pos[0] != "env" else " ".join(pos[:2])
    if sub not in ("install", "create", "update", "upgrade", "search", "env create", "env update"):
        return None
    if "--offline" in args or "--use-local" in args or ctx.env_true("CONDA_OFFLINE"):
        return None
    return "conda-install", f"{cmd} {sub} downloads from conda channels (conda.anaconda.org)"


_GIT_REMOTE = frozenset({"clone", "fetch", "pull", "push", "ls-remote"})


GIT_REMOTE = Rule("git-remote", "git clone/fetch/pull/push reach a remote",
                  "clone or pull on a login node into project storage, then use the local copy")


def _git(cmd: str, args: list[str], ctx: Context) -> Hit | None:
    rest = list(args)
    while rest and rest[0].startswith("-"):  # global options: -C dir, -c k=v, --git-dir=...
        option = rest.pop(0)
        if option in ("-C", "-c") and rest:
            rest.pop(0)
    if not rest:
        return None
    sub, tail = rest[0], rest[1:]
    pos = _positional(tail)
    if sub in ("submodule", "lfs", "remote"):
        if not pos or pos[0] not in ("update", "add", "sync", "fetch", "pull", "clone"):
            return None
        sub = f"{sub} {pos[0]}"
    elif sub not in _GIT_REMOTE:
        return None
    urls = [a for a in pos if "://" in a or re.match(r"^[\w.-]+@[\w.-]+:", a)]
    if urls:
        hosts = [_url_or_scp_host(u) for u in urls]
        remote = [h for h in hosts if h is None or not ctx.policy.allowed(h)]
        if not remote:
            return None
        return "git-remote", f"git {sub} contacts {remote[0] or 'a remote host'}"
    if sub == "clone" and pos and not any(PLACEHOLDER in a or a.startswith(("$", "{")) for a in pos):
        return None  # git clone /local/path
    return "git-remote", f"git {sub} contacts a remote repository"


def _url_or_scp_host(target: str) -> str | None:
    if "://" in target:
        return url_host(target)
    match = re.match(r"^(?:[\w.-]+@)?([\w.-]+):", target)
    return match.group(1) if match else None


def _first_remote(args: list[str], ctx: Context, bare_hosts: bool = True) -> str | None:
    """The first argument that names a non-local host (a URL, or ``host/path`` when ``bare_hosts``)."""
    for arg in _positional(args):
        if "://" in arg:
            if ctx.policy.url_is_remote(arg):
                return url_host(arg) or arg
        elif arg.startswith(("$", "{")) or PLACEHOLDER in arg:
            return "an unknown host"
        elif bare_hosts:
            host = re.split(r"[/:]", arg, maxsplit=1)[0]
            if re.fullmatch(r"[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+", host) and not re.search(
                    r"\.(txt|csv|json|html?|zip|gz|tar|tgz|bz2|xz|py|sh|log|out|md)$", host, re.I):
                if not ctx.policy.allowed(host):
                    return host
    return None


DOWNLOAD_TOOL = Rule("download-tool", "wget/curl/scp/rsync/... fetch from a remote host",
                     "download the file on a login node or a data-transfer node, then read the local copy")


def _downloader(cmd: str, args: list[str], ctx: Context) -> Hit | None:
    host = _first_remote(args, ctx)
    return ("download-tool", f"{cmd} downloads from {host}") if host else None


def _remote_copy(cmd: str, args: list[str], ctx: Context) -> Hit | None:
    pos = _positional(args)
    candidates = pos[:1] if cmd == "ssh" else [a for a in pos if re.match(r"^(?:[\w.-]+@)?[\w.-]+:", a)]
    for target in candidates:
        host = url_host(target) if "://" in target else re.sub(r"^[\w.-]+@", "", target).split(":", 1)[0]
        if host and not ctx.policy.allowed(host):
            return "download-tool", f"{cmd} connects to {host}"
    return None


CLOUD_STORAGE = Rule("cloud-storage", "gsutil/aws s3/az/rclone/azcopy reach cloud storage",
                     "copy the data to project or scratch storage from a login or data-transfer node")


def _cloud(cmd: str, args: list[str], ctx: Context) -> Hit | None:
    pos = _positional(args)
    if cmd == "aws" and pos[:1] != ["s3"] and pos[:1] != ["s3api"]:
        return None
    if cmd == "rclone" and (not pos or pos[0] in ("config", "version", "help", "listremotes")):
        return None
    endpoints = [args[i + 1] for i, a in enumerate(args[:-1]) if a == "--endpoint-url"]
    if endpoints and not any(ctx.policy.url_is_remote(e) for e in endpoints):
        return None
    if not pos:
        return None
    return "cloud-storage", f"{cmd} {pos[0]} reaches cloud storage"


def _hub_cli(cmd: str, args: list[str], ctx: Context) -> Hit | None:
    pos = _positional(args)
    if cmd == "gdown":
        return ("gdown", "gdown downloads from Google Drive") if pos else None
    if cmd == "kaggle":
        if "download" in pos or "pull" in pos:
            return "kaggle-download", "kaggle CLI downloads from kaggle.com"
        return None
    if cmd == "spacy":
        return ("spacy-download", "spacy download installs a model from GitHub") if pos[:1] == ["download"] else None
    if cmd == "nltk.downloader":
        return "nltk-download", "nltk.downloader fetches data from raw.githubusercontent.com"
    if pos and pos[0] in ("download", "upload", "login", "repo", "upload-large-folder", "snapshot"):
        return "hf-hub", f"{cmd} {pos[0]} contacts huggingface.co"
    return None


PACKAGE_MANAGER = Rule("package-manager", "apt/npm/cargo/go/docker/apptainer fetch packages or images",
                       "fetch packages or images on a login node (e.g. apptainer pull there), then use the local "
                       "files")


_PKG_SUBCOMMANDS = {
    "apt": ("install", "update", "upgrade", "download", "source"),
    "apt-get": ("install", "update", "upgrade", "download", "source"),
    "yum": ("install", "update", "upgrade"), "dnf": ("install", "update", "upgrade"),
    "zypper": ("install", "in", "update", "refresh"), "apk": ("add", "update"),
    "brew": ("install", "update", "upgrade"),
    "npm": ("install", "i", "ci", "add", "update"), "yarn": ("install", "add"),
    "pnpm": ("install", "add", "i"), "cargo": ("install", "build", "fetch", "update"),
    "go": ("get", "install", "mod"), "docker": ("pull", "build", "run"), "podman": ("pull", "build", "run"),
    "apptainer": ("pull", "build"), "singularity": ("pull", "build"),
    "ollama": ("pull", "run"),
}


def _package_manager(cmd: str, args: list[str], ctx: Context) -> Hit | None:
    pos = _positional(args)
    if cmd in ("apptainer", "singularity") and pos[:1] == ["build"]:
        if not any(re.match(r"^(docker|oras|library|shub)://", a) for a in pos):
            return None  # building from a local definition file or image
    if pos and pos[0] in _PKG_SUBCOMMANDS.get(cmd, ()):
        return "package-manager", f"{cmd} {pos[0]} downloads packages or images"
    return None


_SHELL_HANDLERS: dict[str, Callable[[str, list[str], Context], Hit | None]] = {
    "pip": _pip, "uv": _uv,
    "conda": _conda, "mamba": _conda, "micromamba": _conda,
    "git": _git,
    "wget": _downloader, "curl": _downloader, "aria2c": _downloader, "axel": _downloader,
    "http": _downloader, "https": _downloader, "xh": _downloader, "lynx": _downloader,
    "scp": _remote_copy, "sftp": _remote_copy, "rsync": _remote_copy, "ssh": _remote_copy,
    "gsutil": _cloud, "aws": _cloud, "az": _cloud, "rclone": _cloud, "azcopy": _cloud, "s3cmd": _cloud,
    "gdown": _hub_cli, "kaggle": _hub_cli, "hf": _hub_cli, "huggingface-cli": _hub_cli,
    "spacy": _hub_cli, "nltk.downloader": _hub_cli,
    **{name: _package_manager for name in _PKG_SUBCOMMANDS},
}

RULES = (INSTALL_SOURCE, PIP_INSTALL, UV_INSTALL, CONDA_INSTALL, GIT_REMOTE, DOWNLOAD_TOOL, CLOUD_STORAGE, PACKAGE_MANAGER)
