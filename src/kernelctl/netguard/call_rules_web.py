"""Call rules for network and web clients: HTTP, remote readers, sockets, subprocesses,
experiment tracking and web APIs; each rule's offline fix beside its matcher.

A matcher gets a :class:`.rulebook.Call` whose callee the checker resolved to a dotted name
and returns ``(rule id, message)`` or None; :data:`CALL_RULES` says which calls each matcher
is asked about and which words trigger it (see :mod:`.call_index`).

Stdlib only (see :mod:`.policy`).
"""

from __future__ import annotations

from .rulebook import MISSING, PLACEHOLDER, UNKNOWN, Call, Context, Hit, Rule, call_rule, remote_arg
from .shell_rules import check_argv, check_shell


HTTP_REQUEST = Rule("http-request", "urllib/requests/httpx/aiohttp/http.client requests",
                    "fetch the resource on a login node and read the local copy")

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
    where = remote_arg(call, ctx, index, "url", unknown=True)
    return ("http-request", f"{call.name}() fetches from {where}") if where else None


REMOTE_READ = Rule("remote-read", "pandas/xarray/numpy/fsspec readers on http(s)/s3/gs URLs",
                   "download the file on a login node and read the local path")

_READER_TOPS = frozenset({"pandas", "polars", "dask", "modin", "xarray", "numpy", "fsspec", "geopandas",
                          "pyarrow", "netCDF4", "h5py", "cudf"})
_READER_PREFIXES = ("read_", "scan_", "open_", "load")
_READER_NAMES = ("open", "open_files", "genfromtxt", "loadtxt", "Dataset", "File", "DataSource")


def _reader(call: Call, ctx: Context) -> Hit | None:
    last = call.parts[-1]
    if not (last.startswith(_READER_PREFIXES) or last in _READER_NAMES):
        return None
    where = remote_arg(call, ctx, 0, "filepath_or_buffer", "path", "io", "source", "urlpath",
                        "filename_or_obj", "paths", "fname", "uri", unknown=False)
    if where is None and call.parts[0] == "pandas" and last == "read_html":
        value = call.get(0, "io")
        where = "a URL" if value is UNKNOWN else None
    return ("remote-read", f"{call.name}() reads from {where}") if where else None


SOCKET_REMOTE = Rule("socket-remote", "raw sockets and mail/FTP clients to non-local hosts",
                     "compute nodes have no internet; use a cluster-internal host or run this on a login node")

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


WANDB_ONLINE = Rule("wandb-online", "wandb.init/login without offline mode",
                    "set WANDB_MODE=offline (or mode='offline'), then wandb sync from a login node")
TRACKING_ONLINE = Rule("tracking-online", "Comet/Neptune/MLflow tracking to an internet server",
                       "use offline mode (comet_ml.OfflineExperiment, NEPTUNE_MODE=offline, "
                       "MLFLOW_TRACKING_URI=file:./mlruns)")

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
        where = remote_arg(call, ctx, 0, "uri", unknown=False)
        return ("tracking-online", f"mlflow tracking server at {where}") if where else None
    return None


GDOWN = Rule("gdown", "gdown (Google Drive) downloads",
             "download the file on a login node and read the local copy")
WEB_API = Rule("web-api", "web APIs with no offline mode (yfinance, pandas_datareader, OpenAI, Anthropic)",
               "fetch the data on a login node and save it to a file, or point the client at a cluster-internal "
               "server")
KAGGLE_DOWNLOAD = Rule("kaggle-download", "kagglehub / kaggle downloads",
                       "download on a login node into KAGGLEHUB_CACHE (kagglehub) or project storage")
YOLO_WEIGHTS = Rule("yolo-weights", "ultralytics YOLO('name.pt') downloads missing weights",
                    "download the .pt file on a login node and pass its path; kernelctl kernels set "
                    "YOLO_OFFLINE=1")

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
        where = remote_arg(call, ctx, 0, "url", unknown=True) if last == "clone_from" else "a remote"
        return ("git-remote", f"GitPython {last}() contacts {where}") if where else None
    return None


RULES = (HTTP_REQUEST, REMOTE_READ, SOCKET_REMOTE, WANDB_ONLINE, TRACKING_ONLINE, GDOWN, WEB_API, KAGGLE_DOWNLOAD,
         YOLO_WEIGHTS)
# call_index puts these after call_rules_ml's: for a top with several rules (xarray) the first hit wins.
CALL_RULES = (
    call_rule(("urllib",), _http, *_URLLIB_CALLS),
    call_rule(("requests", "httpx", "aiohttp"), _http, *_HTTP_VERBS),
    call_rule(("http",), _http, *_HTTP_CONNECTIONS),
    call_rule(("socket",), _socket, *_SOCKET_CONNECTS, *_SOCKET_LOOKUPS, "sendto"),
    call_rule(("asyncio",), _socket, "open_connection"),
    call_rule(_CLIENT_TOPS, _socket),  # any class of these modules opens a connection
    call_rule(("subprocess",), _subprocess, *_SUBPROCESS_CALLS),
    call_rule(("os", "posix"), _subprocess, *_OS_CALLS),
    call_rule(_READER_TOPS, _reader, *_READER_NAMES, *(prefix + ".*" for prefix in _READER_PREFIXES)),
    call_rule(("wandb",), _tracking, "init", "login"),
    call_rule(("comet_ml",), _tracking, *_COMET_CALLS),
    call_rule(("neptune",), _tracking, "init.*"),
    call_rule(("mlflow",), _tracking, "set_tracking_uri"),
    call_rule(("gdown",), _web_api, *_GDOWN_CALLS),
    call_rule(("yfinance",), _web_api, *_YFINANCE_CALLS),
    call_rule(("pandas_datareader",), _web_api, "DataReader", "get_.*"),
    call_rule(("openai", "anthropic"), _web_api, *_LLM_CLIENTS),
    call_rule(("kagglehub", "kaggle"), _web_api, ".*download.*", *_KAGGLE_CALLS),
    call_rule(("ultralytics",), _web_api, *_YOLO_CLASSES),
    call_rule(("git",), _web_api, "clone_from", *_GIT_PYTHON_REMOTE),
)
