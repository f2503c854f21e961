"""The catalogue of internet-requiring code: rule ids, offline fixes, and the matchers.

Two kinds of matcher live here:

* shell rules (:func:`check_shell`), applied to ``!cmd``, ``%pip``, ``%%bash`` bodies and
  ``subprocess``/``os.system`` command lines: package installers, git, downloaders;
* call rules (:func:`check_call`), applied to a Python call whose callee the checker has
  resolved to a dotted name (``pandas.read_csv``) and whose arguments it has evaluated as
  far as it statically can. Each rule (:class:`CallRule`) names the modules it is for and
  the words (callee names, keyword arguments) a call must carry to match; the checker skips
  cells that carry none of them (:func:`may_match`).

Stdlib only (see :mod:`.policy`).
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Callable, Collection, Iterable, Mapping, Set as AbstractSet
from dataclasses import dataclass, field

from .policy import HostPolicy, url_host

PRAGMA = "kernelctl: allow-net"
CELL_TAG = "kernelctl-allow-net"


@dataclass(frozen=True)
class Rule:
    """One kind of internet access and how to do without it on a compute node."""

    id: str
    title: str
    hint: str


_RULE_LIST = (
    Rule("pip-install", "pip install/download/wheel from PyPI",
         "use pip install --no-index --find-links $WHEELHOUSE (kernelctl kernels set PIP_NO_INDEX=1); "
         "add missing wheels to the wheelhouse from a login node"),
    Rule("uv-install", "uv installs or resolves from PyPI",
         "use uv pip install --offline --find-links $WHEELHOUSE (kernelctl kernels set UV_OFFLINE=1)"),
    Rule("conda-install", "conda/mamba/micromamba contact channels",
         "pass --offline or a local channel (-c file:///path), or install wheels with pip --no-index"),
    Rule("git-remote", "git clone/fetch/pull/push reach a remote",
         "clone or pull on a login node into project storage, then use the local copy"),
    Rule("download-tool", "wget/curl/scp/rsync/... fetch from a remote host",
         "download the file on a login node or a data-transfer node, then read the local copy"),
    Rule("cloud-storage", "gsutil/aws s3/az/rclone/azcopy reach cloud storage",
         "copy the data to project or scratch storage from a login or data-transfer node"),
    Rule("package-manager", "apt/npm/cargo/go/docker/apptainer fetch packages or images",
         "fetch packages or images on a login node (e.g. apptainer pull there), then use the local files"),
    Rule("magic-url", "%load/%run of a URL",
         "download the script on a login node and %load/%run the local file"),
    Rule("http-request", "urllib/requests/httpx/aiohttp/http.client requests",
         "fetch the resource on a login node and read the local copy"),
    Rule("remote-read", "pandas/xarray/numpy/fsspec readers on http(s)/s3/gs URLs",
         "download the file on a login node and read the local path"),
    Rule("socket-remote", "raw sockets and mail/FTP clients to non-local hosts",
         "compute nodes have no internet; use a cluster-internal host or run this on a login node"),
    Rule("hf-from-pretrained", "from_pretrained/from_preset/SentenceTransformer with a Hub model id",
         "download the model on a login node (hf download MODEL), then set HF_HUB_OFFLINE=1 "
         "or pass a local path / local_files_only=True"),
    Rule("hf-pipeline", "transformers.pipeline with a Hub model (or none: a default is downloaded)",
         "download the model on a login node (hf download MODEL), pass model=<local path>, "
         "and set HF_HUB_OFFLINE=1"),
    Rule("hf-dataset", "datasets.load_dataset and friends with a Hub dataset",
         "run load_dataset once on a login node (same HF_HOME), then set HF_DATASETS_OFFLINE=1, "
         "or save_to_disk there and load_from_disk here"),
    Rule("hf-hub", "huggingface_hub downloads, uploads and API calls (and the hf CLI)",
         "run hf download on a login node into HF_HOME, then set HF_HUB_OFFLINE=1"),
    Rule("hf-evaluate", "evaluate.load of a Hub metric",
         "run evaluate.load once on a login node (same HF_HOME), then set HF_EVALUATE_OFFLINE=1"),
    Rule("torch-dataset-download", "torchvision/torchaudio/torchtext datasets with download=True",
         "download the dataset on a login node into root=, then pass download=False"),
    Rule("torch-pretrained-weights", "torchvision/timm/open_clip pretrained weights",
         "download the weights on a login node into $TORCH_HOME/hub/checkpoints (same file name), "
         "or load a local state_dict"),
    Rule("torch-hub", "torch.hub.load/list/load_state_dict_from_url",
         "run it once on a login node (same TORCH_HOME), or torch.hub.load(local_dir, ..., source='local')"),
    Rule("keras-dataset", "keras/tf.keras datasets load_data()",
         "run load_data() once on a login node so the file lands in $KERAS_HOME/datasets"),
    Rule("keras-weights", "keras.applications weights='imagenet', keras utils get_file",
         "download the file on a login node into $KERAS_HOME/models, or pass weights='/path/weights.h5'"),
    Rule("tfds-load", "tensorflow_datasets / tensorflow_hub downloads",
         "prepare the dataset on a login node into TFDS_DATA_DIR (or data_dir=), then pass download=False; "
         "for TF Hub pre-stage TFHUB_CACHE_DIR"),
    Rule("sklearn-fetch", "sklearn.datasets.fetch_* and OpenML downloads",
         "run the fetch once on a login node (same SCIKIT_LEARN_DATA / OPENML_CACHE_DIR), "
         "then pass download_if_missing=False; load_* datasets ship with sklearn"),
    Rule("nltk-download", "nltk.download",
         "run nltk.download(PKG, download_dir=$NLTK_DATA) on a login node; NLTK_DATA must point there"),
    Rule("spacy-download", "spacy download / spacy.cli.download",
         "put the model wheel in the wheelhouse and pip install --no-index it, then spacy.load(NAME)"),
    Rule("nlp-data-download", "stanza and gensim downloaders",
         "download on a login node (STANZA_RESOURCES_DIR, GENSIM_DATA_DIR), then pass "
         "download_method=None to stanza.Pipeline"),
    Rule("seaborn-dataset", "seaborn.load_dataset and statsmodels get_rdataset",
         "fetch once on a login node (SEABORN_DATA / cache=), or read a local CSV with pandas"),
    Rule("data-download", "pooch.retrieve and pooch-based sample data (scipy.datasets, xarray.tutorial, MNE, ...)",
         "fetch once on a login node into the same cache directory (pooch skips files already there)"),
    Rule("wandb-online", "wandb.init/login without offline mode",
         "set WANDB_MODE=offline (or mode='offline'), then wandb sync from a login node"),
    Rule("tracking-online", "Comet/Neptune/MLflow tracking to an internet server",
         "use offline mode (comet_ml.OfflineExperiment, NEPTUNE_MODE=offline, MLFLOW_TRACKING_URI=file:./mlruns)"),
    Rule("gdown", "gdown (Google Drive) downloads",
         "download the file on a login node and read the local copy"),
    Rule("web-api", "web APIs with no offline mode (yfinance, pandas_datareader, OpenAI, Anthropic)",
         "fetch the data on a login node and save it to a file, or point the client at a cluster-internal server"),
    Rule("kaggle-download", "kagglehub / kaggle downloads",
         "download on a login node into KAGGLEHUB_CACHE (kagglehub) or project storage"),
    Rule("yolo-weights", "ultralytics YOLO('name.pt') downloads missing weights",
         "download the .pt file on a login node and pass its path; kernelctl kernels set YOLO_OFFLINE=1"),
)
RULES: dict[str, Rule] = {rule.id: rule for rule in _RULE_LIST}


class _Unknown:
    """A value the checker could not work out statically."""

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN = _Unknown()
MISSING = object()
# How an unknown part of an f-string or command line appears in the text rules look at.
PLACEHOLDER = "{?}"


@dataclass
class Context:
    """What rules need besides the code itself."""

    policy: HostPolicy = field(default_factory=HostPolicy)
    # Environment whose offline switches (PIP_NO_INDEX, WANDB_MODE, ...) make code safe;
    # None reports everything, as when scanning notebooks on a login node.
    env: Mapping[str, str] | None = None
    # Directory relative model/data paths are resolved against (the notebook's).
    base_dir: str | None = None

    def env_true(self, name: str) -> bool:
        value = (self.env or {}).get(name, "")
        return value.strip().lower() in {"1", "true", "yes", "on"}

    def is_local_path(self, value: str) -> bool:
        """True when ``value`` names a file or directory rather than a hub id."""
        if value.startswith(("/", "./", "../", "~", "$", "\\")) or re.match(r"^[A-Za-z]:[\\/]", value):
            return True
        if self.base_dir is not None:
            try:
                return os.path.exists(os.path.join(self.base_dir, value))
            except (OSError, ValueError):
                return False
        return False

    def remote_url(self, value: object) -> bool | None:
        """Like :meth:`HostPolicy.url_is_remote`, for any evaluated value (None if not a string)."""
        return self.policy.url_is_remote(value) if isinstance(value, str) else None


@dataclass
class Call:
    """A call the checker resolved: dotted callee name and statically evaluated arguments.

    ``parts`` starts with ``"?"`` when the receiver could not be resolved
    (``model_cls.from_pretrained``). Argument values are ``str``, numbers, ``bool``,
    ``None``, lists of those, or :data:`UNKNOWN`.
    """

    parts: tuple[str, ...]
    args: list[object]
    kwargs: dict[str, object]

    @property
    def name(self) -> str:
        return ".".join(p for p in self.parts if p != "?")

    def get(self, index: int | None, *names: str) -> object:
        """Positional argument ``index`` or the first keyword in ``names``; MISSING if absent."""
        for name in names:
            if name in self.kwargs:
                return self.kwargs[name]
        if index is not None and index < len(self.args):
            return self.args[index]
        return MISSING


Hit = tuple[str, str]  # (rule id, message)


def advice_for_host(host: str) -> str:
    """The offline fix for traffic to ``host`` (used by the runtime guard)."""
    host = host.lower().rstrip(".")
    for suffixes, rule in _HOST_RULES:
        if any(host == s or host.endswith("." + s) for s in suffixes):
            return RULES[rule].hint
    return RULES["download-tool"].hint


_HOST_RULES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("huggingface.co", "hf.co", "cdn-lfs.huggingface.co", "hf-mirror.com"), "hf-hub"),
    (("pypi.org", "pythonhosted.org", "pypi.python.org"), "pip-install"),
    (("anaconda.org", "anaconda.com", "conda-forge.org", "prefix.dev"), "conda-install"),
    (("download.pytorch.org",), "torch-pretrained-weights"),
    (("storage.googleapis.com",), "keras-dataset"),
    (("figshare.com", "openml.org", "archive.ics.uci.edu"), "sklearn-fetch"),
    (("api.wandb.ai", "wandb.ai"), "wandb-online"),
    (("drive.google.com", "drive.usercontent.google.com"), "gdown"),
    (("github.com", "githubusercontent.com", "gitlab.com", "bitbucket.org"), "git-remote"),
    (("kaggle.com",), "kaggle-download"),
)

# ---------------------------------------------------------------- shell rules

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
    while argv and (argv[0] in _PREFIXES or re.match(r"^[A-Za-z_]\w*=", argv[0])):
        prefix = argv.pop(0)
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
    handler = _SHELL_HANDLERS.get(cmd)
    return handler(cmd, args, ctx) if handler else None


def _positional(args: list[str]) -> list[str]:
    return [a for a in args if not a.startswith("-")]


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

# ----------------------------------------------------------------- call rules


def _remote_arg(call: Call, ctx: Context, index: int | None, *names: str, unknown: bool) -> str | None:
    """A description of the URL argument when it needs the internet; ``unknown`` says
    whether a value that cannot be worked out counts."""
    value = call.get(index, *names)
    if isinstance(value, (list, tuple)):
        remote = [v for v in value if isinstance(v, str) and ctx.remote_url(v)]
        value = remote[0] if remote else MISSING
    if value is MISSING:
        return None
    if value is UNKNOWN or (isinstance(value, str) and PLACEHOLDER in value and "://" not in value):
        return "a URL" if unknown else None
    if isinstance(value, str) and ctx.remote_url(value):
        if value.lower().startswith(("http", "ftp")):
            return url_host(value) or value
        return "/".join(value.split("/", 3)[:3])  # s3://bucket: the bucket, not a host
    return None


def _hub_id(call: Call, ctx: Context, index: int, *names: str) -> str | None:
    """The model/dataset id argument when it is a literal hub id rather than a local path."""
    value = call.get(index, *names)
    if not isinstance(value, str) or not value or PLACEHOLDER in value:
        return None
    if ctx.is_local_path(value) or not re.fullmatch(r"[\w.-]+(/[\w.-]+)?", value):
        return None
    return value


def _truthy(value: object) -> bool:
    return value is not MISSING and value is not UNKNOWN and bool(value)


def _not_none(value: object) -> bool:
    """Set to something other than None/False (unknown values count)."""
    return value is not MISSING and value is not None and value is not False


_URLLIB_CALLS = ("urlopen", "urlretrieve")
_HTTP_VERBS = frozenset({"get", "post", "put", "patch", "delete", "head", "options", "request", "stream"})
_HTTP_CONNECTIONS = ("HTTPConnection", "HTTPSConnection")


def _http(call: Call, ctx: Context) -> Hit | None:
    top, last = call.parts[0], call.parts[-1]
    if top == "urllib" and last in _URLLIB_CALLS:
        index = 0
    elif top in ("requests", "httpx", "aiohttp") and last in _HTTP_VERBS:
        index = 1 if last in ("request", "stream") else 0
    elif top == "http" and last in _HTTP_CONNECTIONS:
        host = call.get(0, "host")
        if isinstance(host, str) and PLACEHOLDER not in host and not ctx.policy.allowed(host.split(":")[0]):
            return "http-request", f"{call.name}({host!r}) connects to {host}"
        return None
    else:
        return None
    where = _remote_arg(call, ctx, index, "url", unknown=True)
    return ("http-request", f"{call.name}() fetches from {where}") if where else None


_READER_TOPS = frozenset({"pandas", "polars", "dask", "modin", "xarray", "numpy", "fsspec", "geopandas",
                          "pyarrow", "netCDF4", "h5py", "cudf"})
_READER_PREFIXES = ("read_", "scan_", "open_", "load")
_READER_NAMES = ("open", "open_files", "genfromtxt", "loadtxt", "Dataset", "File", "DataSource")


def _reader(call: Call, ctx: Context) -> Hit | None:
    last = call.parts[-1]
    if not (last.startswith(_READER_PREFIXES) or last in _READER_NAMES):
        return None
    where = _remote_arg(call, ctx, 0, "filepath_or_buffer", "path", "io", "source", "urlpath",
                        "filename_or_obj", "paths", "fname", "uri", unknown=False)
    if where is None and call.parts[0] == "pandas" and last == "read_html":
        value = call.get(0, "io")
        where = "a URL" if value is UNKNOWN else None
    return ("remote-read", f"{call.name}() reads from {where}") if where else None


_SOCKET_CONNECTS = ("connect", "connect_ex", "create_connection")
_SOCKET_LOOKUPS = ("getaddrinfo", "gethostbyname", "gethostbyname_ex")
_CLIENT_TOPS = ("smtplib", "ftplib", "imaplib", "poplib", "telnetlib", "paramiko")


def _socket(call: Call, ctx: Context) -> Hit | None:
    top, last = call.parts[0], call.parts[-1]
    if top == "socket" and last in _SOCKET_CONNECTS:
        address = call.get(0, "address")
        host = address[0] if isinstance(address, (list, tuple)) and address else None
    elif top == "socket" and last in _SOCKET_LOOKUPS:
        host = call.get(0, "host", "hostname")
    elif top == "socket" and last == "sendto":
        address = call.get(len(call.args) - 1 if len(call.args) > 1 else 1, "address")
        host = address[0] if isinstance(address, (list, tuple)) and address else None
    elif (top == "asyncio" and last == "open_connection") or (top in _CLIENT_TOPS and last[:1].isupper()):
        host = call.get(0, "host")
    else:
        return None
    if isinstance(host, str) and host and PLACEHOLDER not in host and not ctx.policy.allowed(host):
        return "socket-remote", f"{call.name}() connects to {host}"
    return None


_SUBPROCESS_CALLS = ("run", "call", "check_call", "check_output", "Popen", "getoutput", "getstatusoutput")
_OS_CALLS = ("system", "popen")


def _subprocess(call: Call, ctx: Context) -> Hit | None:
    top, last = call.parts[0], call.parts[-1]
    if not ((top == "subprocess" and last in _SUBPROCESS_CALLS) or (top in ("os", "posix") and last in _OS_CALLS)):
        return None
    command = call.get(0, "args", "cmd", "command")
    if isinstance(command, str):
        hits = check_shell(command, ctx)
        hit = hits[0][1:] if hits else None
    elif isinstance(command, (list, tuple)):
        argv = [a if isinstance(a, str) else PLACEHOLDER for a in command]
        hit = check_argv(argv, ctx)
    else:
        return None
    return (hit[0], f"{call.name}(): {hit[1]}") if hit else None


_HF_DATASET_CALLS = ("load_dataset", "load_dataset_builder", "get_dataset_config_names", "get_dataset_split_names",
                     "get_dataset_infos")
_HF_EVALUATE_CALLS = ("load", "load_metric")
_SENTENCE_TRANSFORMERS_CLASSES = ("SentenceTransformer", "CrossEncoder", "SparseEncoder")


def _huggingface(call: Call, ctx: Context) -> Hit | None:
    top, last = call.parts[0], call.parts[-1]
    if top == "transformers" and last == "pipeline":
        model = call.get(1, "model")
        if model is MISSING:
            return "hf-pipeline", "pipeline() without model= downloads a default model from huggingface.co"
        name = _hub_id(call, ctx, 1, "model")
        return ("hf-pipeline", f"pipeline(model={name!r}) downloads from huggingface.co") if name else None
    if top == "datasets" and last in _HF_DATASET_CALLS:
        name = _hub_id(call, ctx, 0, "path")
        if name in _PACKAGED_BUILDERS:
            where = _remote_arg(call, ctx, None, "data_files", unknown=False)
            return ("hf-dataset", f"{last}({name!r}) reads data files from {where}") if where else None
        return ("hf-dataset", f"{last}({name!r}) downloads from huggingface.co") if name else None
    if top == "huggingface_hub" and (last in _HF_HUB_CALLS or any(p.endswith("()") for p in call.parts[1:-1])):
        return "hf-hub", f"{call.name}() contacts huggingface.co"
    if top == "evaluate" and last in _HF_EVALUATE_CALLS:
        name = _hub_id(call, ctx, 0, "path")
        return ("hf-evaluate", f"evaluate.{last}({name!r}) downloads from huggingface.co") if name else None
    if top == "sentence_transformers" and last in _SENTENCE_TRANSFORMERS_CLASSES:
        name = _hub_id(call, ctx, 0, "model_name_or_path", "model_name")
        return ("hf-from-pretrained", f"{last}({name!r}) downloads from huggingface.co") if name else None
    return None


_PACKAGED_BUILDERS = frozenset({"csv", "json", "parquet", "text", "arrow", "imagefolder", "audiofolder",
                                "videofolder", "webdataset", "pandas", "sql", "xml", "generator"})
_HF_HUB_CALLS = frozenset({
    "hf_hub_download", "snapshot_download", "login", "whoami", "list_models", "list_datasets",
    "model_info", "dataset_info", "upload_file", "upload_folder", "create_repo", "InferenceClient",
    "list_repo_files", "hf_hub_url_download", "notebook_login",
})


def _from_pretrained(call: Call, ctx: Context) -> Hit | None:
    """``X.from_pretrained('org/name')`` for any X (transformers, diffusers, peft, timm, ...)."""
    if call.parts[-1] == "from_preset" and call.parts[0] not in ("keras_hub", "keras_nlp", "keras_cv", "?"):
        return None
    if _truthy(call.get(None, "local_files_only")):
        return None
    name = _hub_id(call, ctx, 0, "pretrained_model_name_or_path", "preset", "model_id")
    if not name:
        return None
    return "hf-from-pretrained", f"{call.parts[-1]}({name!r}) downloads from the model hub"


def _torch(call: Call, ctx: Context) -> Hit | None:
    parts, last = call.parts, call.parts[-1]
    if "hub" in parts or last in ("load_url", "download_url_to_file", "load_state_dict_from_url"):
        if last in ("load", "list", "help", "load_state_dict_from_url", "download_url_to_file", "load_url"):
            if last == "load" and call.get(None, "source") == "local":
                return None
            return "torch-hub", f"{call.name}() downloads from github.com / download.pytorch.org"
        return None
    if _truthy(call.get(None, "download")):
        return "torch-dataset-download", f"{call.name}(download=True) downloads the dataset"
    if parts[0] in ("torchvision", "torchaudio", "torchtext") and "utils" in parts and last.startswith("download"):
        return "torch-dataset-download", f"{call.name}() downloads a file"
    if _not_none(call.get(None, "weights")) or _truthy(call.get(None, "pretrained")):
        weights = call.get(None, "weights")
        if isinstance(weights, str) and ctx.is_local_path(weights):
            return None
        return "torch-pretrained-weights", f"{call.name}() downloads pretrained weights from download.pytorch.org"
    return None


def _timm_clip(call: Call, ctx: Context) -> Hit | None:
    pretrained = call.get(None, "pretrained")
    if call.parts[0] == "timm" and _truthy(pretrained):
        return "torch-pretrained-weights", f"{call.name}(pretrained=True) downloads weights from huggingface.co"
    if call.parts[0] == "open_clip" and _not_none(pretrained) and pretrained is not UNKNOWN:
        if isinstance(pretrained, str) and ctx.is_local_path(pretrained):
            return None
        return "torch-pretrained-weights", f"{call.name}(pretrained={pretrained!r}) downloads weights"
    return None


def _keras(call: Call, ctx: Context) -> Hit | None:
    parts, last = call.parts, call.parts[-1]
    if "datasets" in parts and last == "load_data":
        return "keras-dataset", f"{call.name}() downloads from storage.googleapis.com"
    if last == "get_file":
        origin = call.get(1, "origin")
        if isinstance(origin, str) and ctx.remote_url(origin) is False:
            return None
        return "keras-weights", f"{call.name}() downloads a file"
    if "applications" in parts and last[:1].isupper():
        weights = call.get(None, "weights")
        if weights is MISSING or weights == "imagenet":
            return "keras-weights", f"{last}() downloads ImageNet weights from storage.googleapis.com"
    return None


_TF_HUB_CALLS = ("load", "KerasLayer", "resolve", "Module")
_TFDS_CALLS = ("load", "download_and_prepare", "data_source")


def _tfds(call: Call, ctx: Context) -> Hit | None:
    last = call.parts[-1]
    if call.parts[0] == "tensorflow_hub":
        if last in _TF_HUB_CALLS and _remote_arg(call, ctx, 0, "handle", unknown=False):
            return "tfds-load", f"{call.name}() downloads from tfhub.dev / kaggle.com"
        return None
    if last in _TFDS_CALLS and call.get(None, "download") is not False:
        return "tfds-load", f"{call.name}() downloads the dataset"
    return None


def _sklearn(call: Call, ctx: Context) -> Hit | None:
    last = call.parts[-1]
    if call.parts[0] == "openml":
        if last.startswith(("get_", "list_")):
            return "sklearn-fetch", f"{call.name}() downloads from www.openml.org"
        return None
    if last.startswith("fetch_") and call.get(None, "download_if_missing") is not False:
        return "sklearn-fetch", f"{call.name}() downloads the dataset (figshare/openml)"
    return None


def _nlp(call: Call, ctx: Context) -> Hit | None:
    top, last = call.parts[0], call.parts[-1]
    if top == "nltk" and last == "download":
        return "nltk-download", f"{call.name}() fetches data from raw.githubusercontent.com"
    if top == "spacy" and last == "download":
        return "spacy-download", f"{call.name}() installs a model from GitHub"
    if top == "stanza":
        if last == "download":
            return "nlp-data-download", "stanza.download() fetches models from huggingface.co"
        if last == "Pipeline" and call.get(None, "download_method") is not None:
            return "nlp-data-download", "stanza.Pipeline() downloads models unless download_method=None"
    if top == "gensim" and "downloader" in call.parts and last in ("load", "info"):
        return "nlp-data-download", f"{call.name}() downloads from github.com"
    return None


_SEABORN_CALLS = ("load_dataset", "get_dataset_names")
_STATSMODELS_CALLS = ("get_rdataset", "webdoc")
_POOCH_CALLS = ("fetch", "load_registry_from_doi")
_SCIPY_DATASETS = ("ascent", "face", "electrocardiogram", "download_all")
_XARRAY_TUTORIAL = ("open_dataset", "load_dataset", "open_datatree")
_GEODATASETS_CALLS = ("get_path", "fetch")
_MNE_CALLS = ("data_path", "fetch_dataset")
_ASTROPY_CALLS = ("download_file", "download_files_in_parallel")


def _datasets_misc(call: Call, ctx: Context) -> Hit | None:
    top, parts, last = call.parts[0], call.parts, call.parts[-1]
    if top == "seaborn" and last in _SEABORN_CALLS:
        return "seaborn-dataset", f"{call.name}() fetches from raw.githubusercontent.com"
    if top == "statsmodels" and last in _STATSMODELS_CALLS:
        return "seaborn-dataset", f"{call.name}() fetches from raw.githubusercontent.com"
    if top == "pooch":
        if last == "retrieve":
            where = _remote_arg(call, ctx, 0, "url", unknown=True)
            return ("data-download", f"pooch.retrieve() downloads from {where}") if where else None
        if last in _POOCH_CALLS:
            return "data-download", f"{call.name}() downloads a registered file"
        return None
    if (top == "scipy" and "datasets" in parts and last in _SCIPY_DATASETS) \
            or (top == "xarray" and "tutorial" in parts and last in _XARRAY_TUTORIAL) \
            or (top == "geodatasets" and last in _GEODATASETS_CALLS) \
            or (top == "mne" and "datasets" in parts and last in _MNE_CALLS) \
            or (top == "astropy" and last in _ASTROPY_CALLS):
        return "data-download", f"{call.name}() downloads sample data"
    return None


_COMET_CALLS = ("Experiment", "start", "login")


def _tracking(call: Call, ctx: Context) -> Hit | None:
    top, last = call.parts[0], call.parts[-1]
    if top == "wandb" and last in ("init", "login"):
        mode = call.get(None, "mode")
        if last == "init" and (mode in ("offline", "disabled", "dryrun")
                               or (mode is MISSING and (ctx.env or {}).get("WANDB_MODE") in ("offline", "disabled", "dryrun"))):
            return None
        return "wandb-online", f"wandb.{last}() contacts api.wandb.ai"
    if top == "comet_ml" and last in _COMET_CALLS:
        return "tracking-online", f"{call.name}() contacts comet.com"
    if top == "neptune" and last.startswith("init"):
        mode = call.get(None, "mode")
        if mode in ("offline", "debug") or (mode is MISSING and (ctx.env or {}).get("NEPTUNE_MODE") in ("offline", "debug")):
            return None
        return "tracking-online", f"{call.name}() contacts neptune.ai"
    if top == "mlflow" and last == "set_tracking_uri":
        where = _remote_arg(call, ctx, 0, "uri", unknown=False)
        return ("tracking-online", f"mlflow tracking server at {where}") if where else None
    return None


_GDOWN_CALLS = ("download", "download_folder", "cached_download")
_YFINANCE_CALLS = ("download", "Ticker", "Tickers", "Search")
_LLM_CLIENTS = ("OpenAI", "AsyncOpenAI", "Anthropic", "AsyncAnthropic")
_KAGGLE_CALLS = ("load_dataset", "dataset_load", "login")  # besides any name containing "download"
_YOLO_CLASSES = ("YOLO", "RTDETR", "SAM", "NAS", "YOLOWorld", "FastSAM")
_GIT_PYTHON_REMOTE = ("pull", "fetch", "push")


def _web_api(call: Call, ctx: Context) -> Hit | None:
    top, last = call.parts[0], call.parts[-1]
    if top == "gdown" and last in _GDOWN_CALLS:
        return "gdown", f"{call.name}() downloads from Google Drive"
    if top == "yfinance" and last in _YFINANCE_CALLS:
        return "web-api", f"{call.name}() fetches from Yahoo Finance"
    if top == "pandas_datareader" and (last == "DataReader" or last.startswith("get_")):
        return "web-api", f"{call.name}() fetches from a web API"
    if top in ("openai", "anthropic") and last in _LLM_CLIENTS:
        base = call.get(None, "base_url")
        if isinstance(base, str) and ctx.remote_url(base) is False:
            return None
        return "web-api", f"{call.name}() talks to an internet API"
    if top in ("kagglehub", "kaggle") and ("download" in last or last in _KAGGLE_CALLS):
        return "kaggle-download", f"{call.name}() downloads from kaggle.com"
    if top == "ultralytics" and last in _YOLO_CLASSES:
        weights = call.get(0, "model")
        if isinstance(weights, str) and "/" not in weights and weights.endswith((".pt", ".pth")) \
                and not ctx.is_local_path(weights):
            return "yolo-weights", f"{last}({weights!r}) downloads the weights from github.com if missing"
    if top == "git" and (last == "clone_from" or (last in _GIT_PYTHON_REMOTE and len(call.parts) > 2)):
        where = _remote_arg(call, ctx, 0, "url", unknown=True) if last == "clone_from" else "a remote"
        return ("git-remote", f"GitPython {last}() contacts {where}") if where else None
    return None


@dataclass(frozen=True)
class CallRule:
    """A call matcher and the calls whose hits count.

    :func:`check_call` asks ``check`` about calls whose dotted name starts with one of
    ``tops``, and takes its hit only for a call that has a callee part (without the ``()``
    of a call) or a keyword argument name among ``names`` or matched in full by ``pattern``;
    a rule with neither takes every call on its tops. So a cell that holds no trigger of a
    rule whose top it names cannot produce a finding (:func:`may_match`), whatever ``check``
    does; a condition in ``check`` on a name outside the trigger could never yield a finding
    (the tests look for such conditions).
    """

    tops: tuple[str, ...]
    check: Callable[[Call, Context], Hit | None]
    names: frozenset[str]
    pattern: re.Pattern[str] | None  # for prefixes and the like

    def triggered_by(self, words: Collection[str]) -> bool:
        if not self.names and self.pattern is None:
            return True
        return not self.names.isdisjoint(words) or (
            self.pattern is not None and any(map(self.pattern.fullmatch, words)))


def _rule(tops: Iterable[str], check: Callable[[Call, Context], Hit | None], *trigger: str) -> CallRule:
    """A :class:`CallRule` triggered by words that are ``trigger`` names or match ``trigger``
    regular expressions in full (no trigger: every call on ``tops``)."""
    names = frozenset(t for t in trigger if t.isidentifier())
    patterns = [t for t in trigger if not t.isidentifier()]
    return CallRule(tuple(sorted(tops)), check, names, re.compile("|".join(patterns)) if patterns else None)


# In order: for a top with several rules (xarray) the first hit wins.
_CALL_RULE_LIST = (
    _rule(("urllib",), _http, *_URLLIB_CALLS),
    _rule(("requests", "httpx", "aiohttp"), _http, *_HTTP_VERBS),
    _rule(("http",), _http, *_HTTP_CONNECTIONS),
    _rule(("socket",), _socket, *_SOCKET_CONNECTS, *_SOCKET_LOOKUPS, "sendto"),
    _rule(("asyncio",), _socket, "open_connection"),
    _rule(_CLIENT_TOPS, _socket),  # any class of these modules opens a connection
    _rule(("subprocess",), _subprocess, *_SUBPROCESS_CALLS),
    _rule(("os", "posix"), _subprocess, *_OS_CALLS),
    _rule(("transformers",), _huggingface, "pipeline"),
    _rule(("datasets",), _huggingface, *_HF_DATASET_CALLS),
    _rule(("huggingface_hub",), _huggingface),  # any method of an HfApi() and the like
    _rule(("evaluate",), _huggingface, *_HF_EVALUATE_CALLS),
    _rule(("sentence_transformers",), _huggingface, *_SENTENCE_TRANSFORMERS_CLASSES),
    _rule(("torch", "torchvision", "torchaudio", "torchtext"), _torch,
          "hub", "load_url", "load_state_dict_from_url", "download.*", "weights", "pretrained"),
    _rule(("timm", "open_clip"), _timm_clip, "pretrained"),
    _rule(("keras", "tensorflow", "tf_keras"), _keras, "load_data", "get_file", "applications"),
    _rule(("tensorflow_hub",), _tfds, *_TF_HUB_CALLS),
    _rule(("tensorflow_datasets",), _tfds, *_TFDS_CALLS),
    _rule(("openml",), _sklearn, "get_.*", "list_.*"),
    _rule(("sklearn",), _sklearn, "fetch_.*"),
    _rule(("nltk", "spacy"), _nlp, "download"),
    _rule(("stanza",), _nlp, "download", "Pipeline"),
    _rule(("gensim",), _nlp, "downloader"),
    _rule(("seaborn",), _datasets_misc, *_SEABORN_CALLS),
    _rule(("statsmodels",), _datasets_misc, *_STATSMODELS_CALLS),
    _rule(("pooch",), _datasets_misc, "retrieve", *_POOCH_CALLS),
    _rule(("scipy",), _datasets_misc, *_SCIPY_DATASETS),
    _rule(("xarray",), _datasets_misc, *_XARRAY_TUTORIAL),
    _rule(("geodatasets",), _datasets_misc, *_GEODATASETS_CALLS),
    _rule(("mne",), _datasets_misc, *_MNE_CALLS),
    _rule(("astropy",), _datasets_misc, *_ASTROPY_CALLS),
    _rule(_READER_TOPS, _reader, *_READER_NAMES, *(prefix + ".*" for prefix in _READER_PREFIXES)),
    _rule(("wandb",), _tracking, "init", "login"),
    _rule(("comet_ml",), _tracking, *_COMET_CALLS),
    _rule(("neptune",), _tracking, "init.*"),
    _rule(("mlflow",), _tracking, "set_tracking_uri"),
    _rule(("gdown",), _web_api, *_GDOWN_CALLS),
    _rule(("yfinance",), _web_api, *_YFINANCE_CALLS),
    _rule(("pandas_datareader",), _web_api, "DataReader", "get_.*"),
    _rule(("openai", "anthropic"), _web_api, *_LLM_CLIENTS),
    _rule(("kagglehub", "kaggle"), _web_api, ".*download.*", *_KAGGLE_CALLS),
    _rule(("ultralytics",), _web_api, *_YOLO_CLASSES),
    _rule(("git",), _web_api, "clone_from", *_GIT_PYTHON_REMOTE),
)
_RULES_BY_TOP: dict[str, tuple[CallRule, ...]] = {}
for _call_rule in _CALL_RULE_LIST:
    for _top in _call_rule.tops:
        _RULES_BY_TOP[_top] = _RULES_BY_TOP.get(_top, ()) + (_call_rule,)
# Callee names that are matched whatever the receiver resolves to.
_ANY_RECEIVER: dict[str, Callable[[Call, Context], Hit | None]] = {
    "from_pretrained": _from_pretrained, "from_preset": _from_pretrained,
}
# Top-level modules and callee names the checker must look at; anything else is skipped early.
WATCHED_TOPS = frozenset(_RULES_BY_TOP)
WATCHED_NAMES = frozenset(_ANY_RECEIVER)


def check_call(call: Call, ctx: Context) -> Hit | None:
    """The finding for one resolved call, if any."""
    for rule in _RULES_BY_TOP.get(call.parts[0], ()):
        hit = rule.check(call, ctx)
        # The trigger is checked after the rule because hits are rare; the outcome is the same.
        if hit and rule.triggered_by([part.rstrip("()") for part in call.parts] + list(call.kwargs)):
            return hit
    generic = _ANY_RECEIVER.get(call.parts[-1])
    return generic(call, ctx) if generic else None


def may_match(words: AbstractSet[str]) -> bool:
    """Whether a call whose callee parts and keyword names all lie in ``words`` can match.

    False means that no rule can fire for any such call: no rule of a top in ``words`` has
    a trigger in ``words``, and no receiver-independent name (``from_pretrained``) is there.
    """
    if not WATCHED_NAMES.isdisjoint(words):
        return True
    rules = {rule for top in WATCHED_TOPS.intersection(words) for rule in _RULES_BY_TOP[top]}
    return any(rule.triggered_by(words) for rule in rules)


def trigger_words(words: AbstractSet[str]) -> set[str] | None:
    """The words among ``words`` that can make a call match: triggers of the rules of the tops
    in ``words``, and receiver-independent names. None when such a rule has no trigger (it
    takes every call on its tops, so no word marks the calls that matter)."""
    found = set(WATCHED_NAMES.intersection(words))
    for rule in {rule for top in WATCHED_TOPS.intersection(words) for rule in _RULES_BY_TOP[top]}:
        if not rule.names and rule.pattern is None:
            return None
        found |= rule.names.intersection(words)
        if rule.pattern is not None:
            found.update(filter(rule.pattern.fullmatch, words))
    return found
