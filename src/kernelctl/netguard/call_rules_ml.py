"""Call rules for machine-learning and data libraries: Hugging Face, PyTorch, Keras, TF
datasets, scikit-learn, NLP and sample-data downloaders; each rule's offline fix beside its
matcher.

A matcher gets a :class:`.rulebook.Call` whose callee the checker resolved to a dotted name
and returns ``(rule id, message)`` or None; :data:`CALL_RULES` says which calls each matcher
is asked about and which words trigger it, :data:`ANY_RECEIVER` the callee names matched
whatever their receiver (see :mod:`.call_index`).

Stdlib only (see :mod:`.policy`).
"""

from __future__ import annotations

from .rulebook import (MISSING, UNKNOWN, Call, CallCheck, Context, Hit, Rule, call_rule, hub_id, not_none,
                       remote_arg, truthy)


HF_PIPELINE = Rule("hf-pipeline", "transformers.pipeline with a Hub model (or none: a default is downloaded)",
                   "download the model on a login node (hf download MODEL), pass model=<local path>, and set "
                   "HF_HUB_OFFLINE=1")
HF_DATASET = Rule("hf-dataset", "datasets.load_dataset and friends with a Hub dataset",
                  "run load_dataset once on a login node (same HF_HOME), then set HF_DATASETS_OFFLINE=1, or "
                  "save_to_disk there and load_from_disk here")
HF_HUB = Rule("hf-hub", "huggingface_hub downloads, uploads and API calls (and the hf CLI)",
              "run hf download on a login node into HF_HOME, then set HF_HUB_OFFLINE=1")
HF_EVALUATE = Rule("hf-evaluate", "evaluate.load of a Hub metric",
                   "run evaluate.load once on a login node (same HF_HOME), then set HF_EVALUATE_OFFLINE=1")

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
        name = hub_id(call, ctx, 1, "model")
        return ("hf-pipeline", f"pipeline(model={name!r}) downloads from huggingface.co") if name else None
    if top == "datasets" and last in _HF_DATASET_CALLS:
        name = hub_id(call, ctx, 0, "path")
        if name in _PACKAGED_BUILDERS:
            where = remote_arg(call, ctx, None, "data_files", unknown=False)
            return ("hf-dataset", f"{last}({name!r}) reads data files from {where}") if where else None
        return ("hf-dataset", f"{last}({name!r}) downloads from huggingface.co") if name else None
    if top == "huggingface_hub" and (last in _HF_HUB_CALLS or any(p.endswith("()") for p in call.parts[1:-1])):
        return "hf-hub", f"{call.name}() contacts huggingface.co"
    if top == "evaluate" and last in _HF_EVALUATE_CALLS:
        name = hub_id(call, ctx, 0, "path")
        return ("hf-evaluate", f"evaluate.{last}({name!r}) downloads from huggingface.co") if name else None
    if top == "sentence_transformers" and last in _SENTENCE_TRANSFORMERS_CLASSES:
        name = hub_id(call, ctx, 0, "model_name_or_path", "model_name")
        return ("hf-from-pretrained", f"{last}({name!r}) downloads from huggingface.co") if name else None
    return None


_PACKAGED_BUILDERS = frozenset({"csv", "json", "parquet", "text", "arrow", "imagefolder", "audiofolder",
                                "videofolder", "webdataset", "pandas", "sql", "xml", "generator"})
_HF_HUB_CALLS = frozenset({
    "hf_hub_download", "snapshot_download", "login", "whoami", "list_models", "list_datasets",
    "model_info", "dataset_info", "upload_file", "upload_folder", "create_repo", "InferenceClient",
    "list_repo_files", "hf_hub_url_download", "notebook_login",
})


HF_FROM_PRETRAINED = Rule("hf-from-pretrained", "from_pretrained/from_preset/SentenceTransformer with a Hub model id",
                          "download the model on a login node (hf download MODEL), then set HF_HUB_OFFLINE=1 or "
                          "pass a local path / local_files_only=True")


def _from_pretrained(call: Call, ctx: Context) -> Hit | None:
    """``X.from_pretrained('org/name')`` for any X (transformers, diffusers, peft, timm, ...)."""
    if call.parts[-1] == "from_preset" and call.parts[0] not in ("keras_hub", "keras_nlp", "keras_cv", "?"):
        return None
    if truthy(call.get(None, "local_files_only")):
        return None
    name = hub_id(call, ctx, 0, "pretrained_model_name_or_path", "preset", "model_id")
    if not name:
        return None
    return "hf-from-pretrained", f"{call.parts[-1]}({name!r}) downloads from the model hub"


TORCH_HUB = Rule("torch-hub", "torch.hub.load/list/load_state_dict_from_url",
                 "run it once on a login node (same TORCH_HOME), or torch.hub.load(local_dir, ..., "
                 "source='local')")
TORCH_DATASET_DOWNLOAD = Rule("torch-dataset-download", "torchvision/torchaudio/torchtext datasets with download=True",
                              "download the dataset on a login node into root=, then pass download=False")
TORCH_PRETRAINED_WEIGHTS = Rule("torch-pretrained-weights", "torchvision/timm/open_clip pretrained weights",
                                "download the weights on a login node into $TORCH_HOME/hub/checkpoints (same file"
                                " name), or load a local state_dict")


def _torch(call: Call, ctx: Context) -> Hit | None:
    parts, last = call.parts, call.parts[-1]
    if "hub" in parts or last in ("load_url", "download_url_to_file", "load_state_dict_from_url"):
        if last in ("load", "list", "help", "load_state_dict_from_url", "download_url_to_file", "load_url"):
            if last == "load" and call.get(None, "source") == "local":
                return None
            return "torch-hub", f"{call.name}() downloads from github.com / download.pytorch.org"
        return None
    if truthy(call.get(None, "download")):
        return "torch-dataset-download", f"{call.name}(download=True) downloads the dataset"
    if parts[0] in ("torchvision", "torchaudio", "torchtext") and "utils" in parts and last.startswith("download"):
        return "torch-dataset-download", f"{call.name}() downloads a file"
    if not_none(call.get(None, "weights")) or truthy(call.get(None, "pretrained")):
        weights = call.get(None, "weights")
        if isinstance(weights, str) and ctx.is_local_path(weights):
            return None
        return "torch-pretrained-weights", f"{call.name}() downloads pretrained weights from download.pytorch.org"
    return None


def _timm_clip(call: Call, ctx: Context) -> Hit | None:
    pretrained = call.get(None, "pretrained")
    if call.parts[0] == "timm" and truthy(pretrained):
        return "torch-pretrained-weights", f"{call.name}(pretrained=True) downloads weights from huggingface.co"
    if call.parts[0] == "open_clip" and not_none(pretrained) and pretrained is not UNKNOWN:
        if isinstance(pretrained, str) and ctx.is_local_path(pretrained):
            return None
        return "torch-pretrained-weights", f"{call.name}(pretrained={pretrained!r}) downloads weights"
    return None


KERAS_DATASET = Rule("keras-dataset", "keras/tf.keras datasets load_data()",
                     "run load_data() once on a login node so the file lands in $KERAS_HOME/datasets")
KERAS_WEIGHTS = Rule("keras-weights", "keras.applications weights='imagenet', keras utils get_file",
                     "download the file on a login node into $KERAS_HOME/models, or pass "
                     "weights='/path/weights.h5'")


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


TFDS_LOAD = Rule("tfds-load", "tensorflow_datasets / tensorflow_hub downloads",
                 "prepare the dataset on a login node into TFDS_DATA_DIR (or data_dir=), then pass "
                 "download=False; for TF Hub pre-stage TFHUB_CACHE_DIR")

_TF_HUB_CALLS = ("load", "KerasLayer", "resolve", "Module")
_TFDS_CALLS = ("load", "download_and_prepare", "data_source")


def _tfds(call: Call, ctx: Context) -> Hit | None:
    last = call.parts[-1]
    if call.parts[0] == "tensorflow_hub":
        if last in _TF_HUB_CALLS and remote_arg(call, ctx, 0, "handle", unknown=False):
            return "tfds-load", f"{call.name}() downloads from tfhub.dev / kaggle.com"
        return None
    if last in _TFDS_CALLS and call.get(None, "download") is not False:
        return "tfds-load", f"{call.name}() downloads the dataset"
    return None


SKLEARN_FETCH = Rule("sklearn-fetch", "sklearn.datasets.fetch_* and OpenML downloads",
                     "run the fetch once on a login node (same SCIKIT_LEARN_DATA / OPENML_CACHE_DIR), then pass "
                     "download_if_missing=False; load_* datasets ship with sklearn")


def _sklearn(call: Call, ctx: Context) -> Hit | None:
    last = call.parts[-1]
    if call.parts[0] == "openml":
        if last.startswith(("get_", "list_")):
            return "sklearn-fetch", f"{call.name}() downloads from www.openml.org"
        return None
    if last.startswith("fetch_") and call.get(None, "download_if_missing") is not False:
        return "sklearn-fetch", f"{call.name}() downloads the dataset (figshare/openml)"
    return None


NLTK_DOWNLOAD = Rule("nltk-download", "nltk.download",
                     "run nltk.download(PKG, download_dir=$NLTK_DATA) on a login node; NLTK_DATA must point there")
SPACY_DOWNLOAD = Rule("spacy-download", "spacy download / spacy.cli.download",
                      "put the model wheel in the wheelhouse and pip install --no-index it, then spacy.load(NAME)")
NLP_DATA_DOWNLOAD = Rule("nlp-data-download", "stanza and gensim downloaders",
                         "download on a login node (STANZA_RESOURCES_DIR, GENSIM_DATA_DIR), then pass "
                         "download_method=None to stanza.Pipeline")


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


SEABORN_DATASET = Rule("seaborn-dataset", "seaborn.load_dataset and statsmodels get_rdataset",
                       "fetch once on a login node (SEABORN_DATA / cache=), or read a local CSV with pandas")
DATA_DOWNLOAD = Rule("data-download", "pooch.retrieve and pooch-based sample data (scipy.datasets, xarray.tutorial, MNE, ...)",
                     "fetch once on a login node into the same cache directory (pooch skips files already there)")

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
            where = remote_arg(call, ctx, 0, "url", unknown=True)
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


RULES = (HF_PIPELINE, HF_DATASET, HF_HUB, HF_EVALUATE, HF_FROM_PRETRAINED, TORCH_HUB, TORCH_DATASET_DOWNLOAD,
         TORCH_PRETRAINED_WEIGHTS, KERAS_DATASET, KERAS_WEIGHTS, TFDS_LOAD, SKLEARN_FETCH, NLTK_DOWNLOAD,
         SPACY_DOWNLOAD, NLP_DATA_DOWNLOAD, SEABORN_DATASET, DATA_DOWNLOAD)
CALL_RULES = (
    call_rule(("transformers",), _huggingface, "pipeline"),
    call_rule(("datasets",), _huggingface, *_HF_DATASET_CALLS),
    call_rule(("huggingface_hub",), _huggingface),  # any method of an HfApi() and the like
    call_rule(("evaluate",), _huggingface, *_HF_EVALUATE_CALLS),
    call_rule(("sentence_transformers",), _huggingface, *_SENTENCE_TRANSFORMERS_CLASSES),
    call_rule(("torch", "torchvision", "torchaudio", "torchtext"), _torch,
              "hub", "load_url", "load_state_dict_from_url", "download.*", "weights", "pretrained"),
    call_rule(("timm", "open_clip"), _timm_clip, "pretrained"),
    call_rule(("keras", "tensorflow", "tf_keras"), _keras, "load_data", "get_file", "applications"),
    call_rule(("tensorflow_hub",), _tfds, *_TF_HUB_CALLS),
    call_rule(("tensorflow_datasets",), _tfds, *_TFDS_CALLS),
    call_rule(("openml",), _sklearn, "get_.*", "list_.*"),
    call_rule(("sklearn",), _sklearn, "fetch_.*"),
    call_rule(("nltk", "spacy"), _nlp, "download"),
    call_rule(("stanza",), _nlp, "download", "Pipeline"),
    call_rule(("gensim",), _nlp, "downloader"),
    call_rule(("seaborn",), _datasets_misc, *_SEABORN_CALLS),
    call_rule(("statsmodels",), _datasets_misc, *_STATSMODELS_CALLS),
    call_rule(("pooch",), _datasets_misc, "retrieve", *_POOCH_CALLS),
    call_rule(("scipy",), _datasets_misc, *_SCIPY_DATASETS),
    call_rule(("xarray",), _datasets_misc, *_XARRAY_TUTORIAL),
    call_rule(("geodatasets",), _datasets_misc, *_GEODATASETS_CALLS),
    call_rule(("mne",), _datasets_misc, *_MNE_CALLS),
    call_rule(("astropy",), _datasets_misc, *_ASTROPY_CALLS),
)
# Callee names that are matched whatever the receiver resolves to.
ANY_RECEIVER: dict[str, CallCheck] = {
    "from_pretrained": _from_pretrained, "from_preset": _from_pretrained,
}
