"""netguard's static checker, host policy and kernel settings (no network, no kernel)."""

from __future__ import annotations

import ast
import json
import os
import random
from collections.abc import Callable
from pathlib import Path

import pytest

from kernelctl.netguard import call_index, notebooks, partial, prefilter, transform
from kernelctl.netguard import install_runtime, kernel_settings
from kernelctl.netguard.catalogue import RULES
from kernelctl.netguard.checker import Checker, Scope
from kernelctl.netguard.collect import Analysis
from kernelctl.netguard.notebooks import check_notebook, check_source, iter_findings
from kernelctl.netguard.extension import Netguard
from kernelctl.netguard.policy import HostPolicy
from kernelctl.netguard.rulebook import Context
from kernelctl.netguard.transform import fallback_transform

# (cell source, rule id, 1-based line of the finding)
POSITIVE = [
    ("!pip install numpy", "pip-install", 1),
    ("!pip3 install -U torch", "pip-install", 1),
    ("%pip install transformers", "pip-install", 1),
    ("pip install numpy", "pip-install", 1),
    ("!{sys.executable} -m pip install requests", "pip-install", 1),
    ("!python -m pip download -d wh numpy", "pip-install", 1),
    ("for p in pkgs:\n    !pip install $p", "pip-install", 2),
    ("x = 1\n!!pip install -r requirements.txt", "pip-install", 2),
    ("!pip install git+https://github.com/org/repo", "pip-install", 1),
    # An explicit source bypasses the wheelhouse, even on a loopback host (it may serve any wheel).
    ("!pip install -i http://localhost:3141/simple numpy", "install-source", 1),
    ("%pip install -f http://127.0.0.1:8000/ --trusted-host 127.0.0.1 six", "install-source", 1),
    ("%uv pip install numpy", "uv-install", 1),
    ("!uv add polars", "uv-install", 1),
    ("%conda install -c conda-forge numpy", "conda-install", 1),
    ("%mamba install scipy", "conda-install", 1),
    ("!micromamba create -n x python", "conda-install", 1),
    ("!conda env create -f environment.yml", "conda-install", 1),
    ("!git clone https://github.com/org/repo", "git-remote", 1),
    ("!git clone git@github.com:org/repo.git", "git-remote", 1),
    ("!git -C repo pull", "git-remote", 1),
    ("!git submodule update --init", "git-remote", 1),
    ("out = !git fetch origin", "git-remote", 1),
    ("!wget https://example.org/data.tgz", "download-tool", 1),
    ("!curl -L -O https://example.org/f.zip && unzip f.zip", "download-tool", 1),
    ("!cd data; curl example.org/file.csv > f.csv", "download-tool", 1),
    ("!rsync -av user@dtn.example.org:/data ./", "download-tool", 1),
    ("!gsutil cp gs://bucket/x .", "cloud-storage", 1),
    ("!aws s3 cp s3://bucket/key .", "cloud-storage", 1),
    ("!apt-get install -y ffmpeg", "package-manager", 1),
    ("!apptainer pull docker://ubuntu", "package-manager", 1),
    ("files = %sx wget https://example.org/f", "download-tool", 1),
    ("%system curl https://example.org", "download-tool", 1),
    ("%load https://gist.githubusercontent.com/u/x/raw/a.py", "magic-url", 1),
    ("%run https://example.org/script.py", "magic-url", 1),
    ("%%bash\necho start\ncurl -O https://example.org/x.tgz\n", "download-tool", 3),
    ("%%sh\ngit clone https://gitlab.com/a/b\n", "git-remote", 2),
    ("%%script bash\nwget https://example.org/f\n", "download-tool", 2),
    ("%%capture\n!pip install foo\n", "pip-install", 2),
    ("%%time\nimport nltk\nnltk.download('punkt')\n", "nltk-download", 3),
    ("%%capture out\n%%bash\ncurl https://example.org\n", "download-tool", 3),
    ("%time !wget https://example.org/f", "download-tool", 1),
    ("\n\n!pip install x", "pip-install", 3),
    ("import urllib.request\nurllib.request.urlopen('https://example.org')", "http-request", 2),
    ("from urllib.request import urlretrieve\nurlretrieve('http://example.org/f', 'f')", "http-request", 2),
    ("import requests\nr = requests.get('https://api.example.org/v1')", "http-request", 2),
    ("import requests as rq\nurl = 'https://example.org'\nrq.post(url, json={})", "http-request", 3),
    ("import requests\ndef fetch(u):\n    return requests.get(u).json()", "http-request", 3),
    ("import requests\ns = requests.Session()\ns.get('https://example.org')", "http-request", 3),
    ("import httpx\nhttpx.get('https://example.org')", "http-request", 2),
    ("import aiohttp\nasync with aiohttp.ClientSession() as s:\n    await s.get('https://example.org')",
     "http-request", 3),
    ("import pandas as pd\ndf = pd.read_csv('https://example.org/a.csv')", "remote-read", 2),
    ("import pandas as pd\npd.read_parquet('s3://bucket/a.parquet')", "remote-read", 2),
    ("import pandas\nbase = 'https://example.org'\npandas.read_json(f'{base}/a.json')", "remote-read", 3),
    ("import xarray as xr\nxr.open_dataset('https://example.org/thredds/dodsC/x.nc')", "remote-read", 2),
    ("import numpy as np\nnp.loadtxt('http://example.org/a.txt')", "remote-read", 2),
    ("from transformers import AutoModel\nm = AutoModel.from_pretrained('bert-base-uncased')",
     "hf-from-pretrained", 2),
    ("tok = AutoTokenizer.from_pretrained('meta-llama/Llama-3-8B')", "hf-from-pretrained", 1),
    ("from sentence_transformers import SentenceTransformer\nSentenceTransformer('all-MiniLM-L6-v2')",
     "hf-from-pretrained", 2),
    ("from transformers import pipeline\nclf = pipeline('sentiment-analysis')", "hf-pipeline", 2),
    ("import transformers\ntransformers.pipeline('text-generation', model='gpt2')", "hf-pipeline", 2),
    ("from datasets import load_dataset\nds = load_dataset('imdb')", "hf-dataset", 2),
    ("import datasets\ndatasets.load_dataset('csv', data_files='https://example.org/a.csv')", "hf-dataset", 2),
    ("from huggingface_hub import snapshot_download\nsnapshot_download('org/model')", "hf-hub", 2),
    ("from huggingface_hub import hf_hub_download\nhf_hub_download('org/m', 'config.json')", "hf-hub", 2),
    ("!hf download bert-base-uncased", "hf-hub", 1),
    ("import evaluate\nevaluate.load('accuracy')", "hf-evaluate", 2),
    ("import torchvision\nds = torchvision.datasets.MNIST('data', download=True)", "torch-dataset-download", 2),
    ("from torchvision import datasets\ndatasets.CIFAR10(root='d', train=True, download=True)",
     "torch-dataset-download", 2),
    ("from torchvision.models import resnet50, ResNet50_Weights\nresnet50(weights=ResNet50_Weights.DEFAULT)",
     "torch-pretrained-weights", 2),
    ("import torchvision.models as models\nmodels.resnet18(pretrained=True)", "torch-pretrained-weights", 2),
    ("import timm\ntimm.create_model('resnet50', pretrained=True)", "torch-pretrained-weights", 2),
    ("import torch\nm = torch.hub.load('pytorch/vision', 'resnet18')", "torch-hub", 2),
    ("import tensorflow as tf\n(x, y), _ = tf.keras.datasets.mnist.load_data()", "keras-dataset", 2),
    ("from keras.datasets import cifar10\ncifar10.load_data()", "keras-dataset", 2),
    ("from tensorflow.keras.applications import ResNet50\nResNet50(weights='imagenet')", "keras-weights", 2),
    ("import keras\nkeras.utils.get_file('f.zip', origin='https://example.org/f.zip')", "keras-weights", 2),
    ("import tensorflow_datasets as tfds\ntfds.load('mnist')", "tfds-load", 2),
    ("import tensorflow_hub as hub\nhub.KerasLayer('https://tfhub.dev/google/x/1')", "tfds-load", 2),
    ("from sklearn.datasets import fetch_openml\nfetch_openml('mnist_784')", "sklearn-fetch", 2),
    ("from sklearn import datasets\ndatasets.fetch_california_housing()", "sklearn-fetch", 2),
    ("import openml\nopenml.datasets.get_dataset(61)", "sklearn-fetch", 2),
    ("import nltk\nnltk.download('stopwords', quiet=True)", "nltk-download", 2),
    ("!python -m nltk.downloader punkt", "nltk-download", 1),
    ("!python -m spacy download en_core_web_sm", "spacy-download", 1),
    ("import spacy\nspacy.cli.download('en_core_web_sm')", "spacy-download", 2),
    ("import stanza\nstanza.Pipeline('en')", "nlp-data-download", 2),
    ("import gensim.downloader as api\napi.load('glove-wiki-gigaword-100')", "nlp-data-download", 2),
    ("import seaborn as sns\ntips = sns.load_dataset('tips')", "seaborn-dataset", 2),
    ("import statsmodels.api as sm\nsm.datasets.get_rdataset('Duncan', 'carData')", "seaborn-dataset", 2),
    ("import pooch\npooch.retrieve('https://example.org/f.nc', known_hash=None)", "data-download", 2),
    ("import xarray as xr\nxr.tutorial.open_dataset('air_temperature')", "data-download", 2),
    ("import wandb\nwandb.init(project='thesis')", "wandb-online", 2),
    ("import wandb\nwandb.login()", "wandb-online", 2),
    ("import mlflow\nmlflow.set_tracking_uri('https://mlflow.example.org')", "tracking-online", 2),
    ("import gdown\ngdown.download(id='1abc', output='f.zip')", "gdown", 2),
    ("!gdown 1abcdef", "gdown", 1),
    ("import yfinance as yf\nyf.download('AAPL', start='2020-01-01')", "web-api", 2),
    ("from openai import OpenAI\nclient = OpenAI()", "web-api", 2),
    ("import kagglehub\nkagglehub.dataset_download('org/data')", "kaggle-download", 2),
    ("!kaggle datasets download -d org/data", "kaggle-download", 1),
    ("from ultralytics import YOLO\nmodel = YOLO('yolov8n.pt')", "yolo-weights", 2),
    ("import socket\ns = socket.socket()\ns.connect(('example.org', 80))", "socket-remote", 3),
    ("import socket\nsocket.create_connection(('8.8.8.8', 53))", "socket-remote", 2),
    ("import smtplib\nsmtplib.SMTP('smtp.gmail.com', 587)", "socket-remote", 2),
    ("import subprocess, sys\nsubprocess.check_call([sys.executable, '-m', 'pip', 'install', 'x'])",
     "pip-install", 2),
    ("import subprocess\nsubprocess.run('git clone https://github.com/a/b', shell=True)", "git-remote", 2),
    ("import os\nos.system('wget https://example.org/f')", "download-tool", 2),
    ("from subprocess import run as sh\nsh(['curl', '-O', 'https://example.org/f'])", "download-tool", 2),
    ("import git\ngit.Repo.clone_from('https://github.com/a/b', 'b')", "git-remote", 2),
    ("from nltk import *\ndownload('punkt')", "nltk-download", 2),
]

NEGATIVE = [
    "!pip install --no-index --find-links /wheels numpy",
    "%pip install --no-index numpy",
    "!pip install --no-index --find-links file:///wheels numpy",
    "!pip list",
    "!pip freeze > requirements.txt",
    "!pip show numpy",
    "%uv pip install --offline numpy",
    "!mamba install --offline numpy",
    "!git status",
    "!git log --oneline | head",
    "!git clone /project/shared/repo.git",
    "!curl http://localhost:8888/api/status",
    "!wget http://127.0.0.1:8000/file",
    "!curl --version",
    "!ls -la data/",
    "!echo https://example.org",
    "%%bash\necho 'see https://example.org for details'\nls\n",
    "%%writefile fetch.sh\ncurl https://example.org\n",
    "%%html\n<script src='https://cdn.example.org/x.js'></script>\n",
    "%matplotlib inline",
    "x = 10 % 3",
    "# see https://huggingface.co/bert-base-uncased\nimport numpy as np",
    "url = 'https://example.org/data.csv'\nprint(url)",
    "with open('links.txt', 'w') as f:\n    f.write('https://example.org\\n')",
    "def download(url):\n    pass\ndownload('https://example.org/x')",
    "import mylib\nmylib.download('https://example.org/x')",
    "import pandas as pd\ndf = pd.read_csv('data/local.csv')",
    "import pandas as pd\npd.read_csv('/scratch/user/data.csv')",
    "import pandas as pd\npd.read_csv(path)",
    "from transformers import AutoModel\nAutoModel.from_pretrained('/scratch/models/bert')",
    "from transformers import AutoModel\nAutoModel.from_pretrained('./bert')",
    "from transformers import AutoModel\nAutoModel.from_pretrained('bert-base-uncased', local_files_only=True)",
    "from transformers import AutoModel\nAutoModel.from_pretrained(model_dir)",
    "from transformers import pipeline\npipeline('fill-mask', model='/scratch/models/bert')",
    "from datasets import load_dataset\nload_dataset('csv', data_files='train.csv')",
    "from datasets import load_from_disk\nload_from_disk('/scratch/ds')",
    "import torchvision\ntorchvision.datasets.MNIST('data', download=False)",
    "import torchvision\ntorchvision.datasets.MNIST('data')",
    "import torchvision\ntorchvision.models.resnet50(weights=None)",
    "import torch\ntorch.hub.load('/project/repos/vision', 'resnet18', source='local')",
    "import torch\ntorch.load('model.pt')",
    "import keras\nkeras.applications.ResNet50(weights=None)",
    "import keras\nkeras.applications.ResNet50(weights='/project/weights.h5')",
    "import tensorflow_datasets as tfds\ntfds.load('mnist', download=False, data_dir='/scratch/tfds')",
    "from sklearn.datasets import load_iris, load_digits\nX, y = load_iris(return_X_y=True)",
    "from sklearn.datasets import fetch_openml\nfetch_openml",
    "from sklearn.datasets import fetch_covtype\nfetch_covtype(download_if_missing=False)",
    "import spacy\nnlp = spacy.load('en_core_web_sm')",
    "import stanza\nstanza.Pipeline('en', download_method=None)",
    "import wandb\nwandb.init(mode='offline')",
    "import requests\nrequests.get('http://localhost:8000/health')",
    "import requests\nrequests.get('http://127.0.0.1:5000')",
    "import requests\nrequests.get('http://[::1]:8080/')",
    "import httpx\nhttpx.get('http://node042:8787/status')",
    "import socket\nsocket.create_connection(('localhost', 8888))",
    "import socket\ns = socket.socket(socket.AF_UNIX)\ns.connect('/tmp/sock')",
    "from openai import OpenAI\nOpenAI(base_url='http://localhost:8000/v1')",
    "from ultralytics import YOLO\nYOLO('/project/weights/best.pt')",
    "import subprocess\nsubprocess.run(['ls', '-l'])",
    "import os\nos.system('pip list')",
    "import requests\nrequests.get('https://example.org')  # kernelctl: allow-net",
    "!pip install x  # kernelctl: allow-net",
    "%%bash\ncurl https://example.org  # kernelctl: allow-net\n",
    "requests.get('https://example.org')",
    "import requests\nrequests = None\nrequests.get('https://example.org')",
    "def f(:\n    !pip install x",
]


@pytest.mark.parametrize(("source", "rule", "line"), POSITIVE, ids=[p[0][:60] for p in POSITIVE])
def test_positive_cells_are_flagged(source: str, rule: str, line: int) -> None:
    findings = check_source(source)
    assert [(f.rule, f.line) for f in findings] == [(rule, line)]
    assert findings[0].hint == RULES[rule].hint and findings[0].message


@pytest.mark.parametrize("source", NEGATIVE, ids=[n[:60] for n in NEGATIVE])
def test_negative_cells_are_not_flagged(source: str) -> None:
    assert check_source(source) == []


def test_every_rule_has_a_positive_case() -> None:
    assert {rule for _, rule, _ in POSITIVE} == set(RULES)


@pytest.mark.parametrize(("source", "rule", "line"),
                         [p for p in POSITIVE if p[0].lstrip().startswith(("!", "%", "x =", "out =", "files =", "for"))])
def test_stdlib_fallback_parses_ipython_syntax(monkeypatch: pytest.MonkeyPatch, source: str, rule: str,
                                               line: int) -> None:
    """Without IPython (the CLI in a bare environment) the common !/% forms still work."""
    monkeypatch.setattr(transform, "_transformer", False)
    assert [(f.rule, f.line) for f in Checker().check(source)] == [(rule, line)]


def test_fallback_transform_matches_ipython() -> None:
    from IPython.core.inputtransformer2 import TransformerManager

    cells = ["!pip install x", "x = !ls -l", "y = %sx wget a", "%pip install y", "!!date",
             "for p in ps:\n    !pip install $p\n    %time f()", "%%bash\ncurl a\necho 'b'\n", "a = 5 % 3"]
    manager = TransformerManager()
    for cell in cells:
        assert ast.dump(ast.parse(fallback_transform(cell))) == ast.dump(ast.parse(manager.transform_cell(cell)))


def test_aliases_carry_across_cells() -> None:
    cells = ["import pandas as pd\nfrom sklearn.datasets import fetch_openml as get_data",
             "MODEL = 'bert-base-uncased'\nURL = 'https://example.org/a.csv'",
             "df = pd.read_csv(URL)",
             "X = get_data('mnist_784')",
             "from transformers import AutoModel\nAutoModel.from_pretrained(MODEL)"]
    results = iter_findings(cells)
    assert [[f.rule for f in cell] for cell in results] == [
        [], [], ["remote-read"], ["sklearn-fetch"], ["hf-from-pretrained"]]


def test_kernel_namespace_lookup_resolves_names_from_earlier_cells() -> None:
    import urllib.request

    namespace = {"ur": urllib.request, "opener": urllib.request.urlopen, "target": "https://example.org/x",
                 "local": "http://localhost:1/x"}

    def lookup(name: str) -> tuple[str | None, object]:
        from kernelctl.netguard.rulebook import UNKNOWN

        value = namespace.get(name, UNKNOWN)
        if isinstance(value, str):
            return None, value
        if value is urllib.request:
            return "urllib.request", UNKNOWN
        if value is urllib.request.urlopen:
            return "urllib.request.urlopen", UNKNOWN
        return None, UNKNOWN

    checker = Checker()
    assert [f.rule for f in checker.check("ur.urlopen(target)", Scope(lookup=lookup))] == ["http-request"]
    assert [f.rule for f in checker.check("opener(target)", Scope(lookup=lookup))] == ["http-request"]
    assert checker.check("ur.urlopen(local)", Scope(lookup=lookup)) == []


def test_environment_offline_switches_silence_covered_rules() -> None:
    env = {"PIP_NO_INDEX": "1", "UV_OFFLINE": "1", "CONDA_OFFLINE": "true", "WANDB_MODE": "offline"}
    covered = ["!pip install numpy", "%uv pip install x", "%conda install y", "import wandb\nwandb.init()"]
    silenced = Checker(Context(env=env))
    assert all(silenced.check(c) == [] for c in covered)
    assert all(Checker(Context(env={})).check(c) for c in covered)
    # Not covered by any switch: still reported.
    assert [f.rule for f in silenced.check("!git clone https://github.com/a/b")] == ["git-remote"]


def test_allowlist_makes_site_hosts_local() -> None:
    ctx = Context(policy=HostPolicy([".alliancecan.ca", "10.0.0.0/8", "mirror.site.org"]))
    checker = Checker(ctx)
    for source in ["!pip install -i https://pypi.alliancecan.ca/simple x",
                   "import requests\nrequests.get('https://docs.alliancecan.ca/x')",
                   "import requests\nrequests.get('http://10.2.3.4:9000/bucket')",
                   "!git clone https://mirror.site.org/repo.git"]:
        assert checker.check(source) == [], source
    assert checker.check("import requests\nrequests.get('https://alliancecan.ca.evil.org/x')")


def test_host_policy() -> None:
    policy = HostPolicy([".alliancecan.ca", "192.0.2.0/24", "proxy.site"])
    for host in ["localhost", "127.0.0.1", "127.8.9.1", "::1", "::ffff:127.0.0.1", "10.1.2.3", "172.20.0.1",
                 "192.168.1.1", "100.64.3.4", "fe80::1", "node123", "gra-login1", "x.localhost", "host.local",
                 "alliancecan.ca", "a.b.alliancecan.ca", "192.0.2.7", "proxy.site", b"localhost", None, ""]:
        assert policy.allowed(host), host
    for host in ["example.org", "huggingface.co", "8.8.8.8", "2001:4860:4860::8888", "evilalliancecan.ca",
                 "alliancecan.ca.example.org", b"pypi.org"]:
        assert not policy.allowed(host), host
    assert policy.url_is_remote("s3://bucket/key") is True
    assert policy.url_is_remote("file:///tmp/x") is False
    assert policy.url_is_remote("data/x.csv") is None
    with pytest.raises(ValueError):
        HostPolicy(["not a host!"])


def test_notebook_cells_markdown_and_tags(tmp_path: Path) -> None:
    notebook = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": "markdown", "metadata": {}, "source": ["!pip install x\n", "nltk.download('a')"]},
        {"cell_type": "code", "metadata": {"tags": ["kernelctl-allow-net"]},
         "source": ["import nltk\n", "nltk.download('punkt')\n"]},
        {"cell_type": "code", "metadata": {}, "source": ["nltk.download('stopwords')"]},
        {"cell_type": "raw", "metadata": {}, "source": "!wget https://example.org"},
    ]}
    found = check_notebook(notebook, Checker())
    assert [(cell, f.rule, f.line) for cell, f in found] == [(2, "nltk-download", 1)]
    r_notebook = dict(notebook, metadata={"kernelspec": {"language": "R", "name": "ir"}})
    assert check_notebook(r_notebook, Checker()) == []


def test_relative_model_dir_next_to_the_file_is_local(tmp_path: Path) -> None:
    (tmp_path / "my-model").mkdir()
    script = tmp_path / "train.py"
    script.write_text("from transformers import AutoModel\nAutoModel.from_pretrained('my-model')\n"
                      "AutoModel.from_pretrained('gpt2')\n")
    found = notebooks.check_file(script, Checker())
    assert [(cell, f.line) for cell, f in found] == [(None, 3)]


def test_analysis_is_cached_by_cell_text() -> None:
    checker = Checker()
    source = "import nltk\nnltk.download('punkt')"
    assert checker.analyze(source) is checker.analyze(source)
    assert [f.rule for f in checker.check(source)] == [f.rule for f in checker.check(source)] == ["nltk-download"]


# ------------------------------------------------------------------ pre-filter

# Cells at the pre-filter's edges: aliases made in one cell and used in a later one, names
# standing for watched modules in the kernel namespace, IPython syntax wherever IPython reads
# it (and look-alikes), names Python normalizes, syntax errors.
EDGE_CELLS = [
    "import pandas as pd", "import requests as zz", "from urllib.request import urlopen as fetch",
    "fetch('https://example.org')", "zz.get('https://example.org')", "zz = None", "pd.read_csv(URL)",
    "URL = 'https://example.org/a.csv'", "BASE = 'https://example.org'", "URL = f'{BASE}/a.csv'", "URL = compute()",
    "from nltk import *", "download('punkt')", "x = zz", "x.get(URL)", "s = zz.Session()", "s.get(URL)",
    "with zz.Session() as sess:\n    pass", "sess.post(URL)", "x: str = 'https://example.org/x'", "pd.read_json(x)",
    "import subprocess as sp\nrun = sp.run", "run(['git', 'clone', 'https://github.com/a/b'])",
    "import urllib\nopener = urllib.request.urlopen", "opener(URL)",
    "from tensorflow.keras.applications import ResNet50 as R", "R()", "R(weights=None)",
    "import torch\nth = torch.hub", "th.load('a/b', 'c')", "import huggingface_hub as hh\napi = hh.HfApi()",
    "api.anything()", "from mylib.model import from_pretrained as fp", "fp('bert-base-uncased')",
    "import os\nos.path.join('a', 'b')", "d = {}\nd.get('key')", "print('%d items' % 3)\nok = 1 != 2",
    "%matplotlib inline", "%load_ext autoreload\n%autoreload 2", "%%writefile a.py\nimport requests\nrequests.get(URL)",
    "x['a'] = !wget https://example.org/f", ">>> !wget https://example.org/f", "In [1]: !pip install x",
    "   ...: !pip install x", "a = 1\r!pip install x", "a = 1\x0c!pip install x",
    "x = \\\n  !wget https://example.org/f",
    "if x:\n    %time nltk.download('a')", "r = %sx curl https://example.org", "%pip\tinstall x", "% pip install x",
    "/fetch 'https://example.org'", "fetch?", "get_ipython().system('wget https://example.org/x')",
    "get_ipython().run_line_magic('pi' 'p', 'install x')", "get_ipython().run_line_magic('matplotlib', 'inline')",
    "ip = get_ipython()\nip.system('wget https://example.org/x')",
    "ｒｅｑｕｅｓｔｓ.get('https://example.org')", "import ｒｅｑｕｅｓｔｓ",
    "données = zz\ndonnées.get(URL)",
    "def f(:\n    import requests as zz", "print 'hello'\nimport requests as zz",
]
CORPUS = [source for source, _, _ in POSITIVE] + NEGATIVE + EDGE_CELLS


def _kernel_netguard() -> Netguard:
    """The extension's state over a namespace in which earlier cells bound watched names."""
    import subprocess
    import types
    import urllib.request

    namespace = {"fetch": urllib.request.urlopen, "run": subprocess.run, "zz": types.ModuleType("requests"),
                 "pd": types.ModuleType("pandas"), "URL": "https://example.org/a.csv", "x": "http://localhost/x",
                 "sess": type("Session", (), {"__module__": "requests.sessions"})()}
    return Netguard(types.SimpleNamespace(user_ns=namespace), "warn", HostPolicy())


def _kernel_lookup() -> Callable[[str], tuple[str | None, object]]:
    """The extension's lookup of names in that namespace, for the checker's resolver."""
    return _kernel_netguard()._lookup


def _run_cells(cells: list[str], shared: bool, lookup: Callable | None, transformed: dict[str, str] | None) -> tuple:
    """Findings per cell, and the names bound at the end when the cells share one scope."""
    checker = Checker()
    shared_scope = Scope(lookup=lookup)
    findings = []
    for cell in cells:
        scope = shared_scope if shared else Scope(lookup=lookup)
        found = checker.check(cell, scope, transformed[cell] if transformed else None)
        findings.append([(f.rule, f.line, f.message) for f in found])
    checker._settle(shared_scope)
    return findings, shared_scope.aliases, shared_scope.consts, shared_scope.stars


def test_prefilter_gives_the_findings_of_the_full_check(monkeypatch: pytest.MonkeyPatch) -> None:
    """Identical findings and bound names with and without the pre-filter, for every corpus
    cell alone and for generated cell sequences, as scan and as the kernel run them."""
    from IPython.core.inputtransformer2 import TransformerManager

    rng = random.Random(1125)
    # Alone, and after a cell that is parsed (so the names of the first are bound by then).
    sequences = [[cell] for cell in CORPUS] + [[first, "!ls", second] for first, second in (
        ("from nltk import *", "download('punkt')"), ("import requests as zz", "zz.get(URL)"),
        ("from transformers import AutoModel as M", "M.from_pretrained('gpt2')"))]
    for _ in range(300):
        cells = [rng.choice(CORPUS) for _ in range(rng.randint(2, 6))]
        if rng.random() < 0.3:  # longer cells mixing several snippets
            cells = ["\n".join(rng.choice(CORPUS) for _ in range(rng.randint(2, 5))) for _ in cells]
        sequences.append(cells)
    manager = TransformerManager()
    transformed = {cell: manager.transform_cell(cell) for cells in sequences for cell in cells}
    lookup = _kernel_lookup()
    modes = [dict(shared=True, lookup=None, transformed=None),  # kernelctl scan
             dict(shared=False, lookup=lookup, transformed=transformed),  # kernel, IPython >= 9.4
             dict(shared=False, lookup=lookup, transformed=None),  # kernel, older IPython
             dict(shared=True, lookup=lookup, transformed=None)]
    without_ipython = dict(shared=True, lookup=None, transformed=None)  # scan, stdlib fallback_transform
    skipped = []
    clean_words = Checker._clean_words

    def counting(self: Checker, *args: object) -> set[str] | None:
        words = clean_words(self, *args)
        skipped.append(words is not None)
        return words

    def run_all() -> list[list[tuple]]:
        results = [[_run_cells(cells, **mode) for cells in sequences] for mode in modes]
        with monkeypatch.context() as patch:
            patch.setattr(transform, "_transformer", False)
            return results + [[_run_cells(cells, **without_ipython) for cells in sequences]]

    monkeypatch.setattr(Checker, "_clean_words", counting)
    fast = run_all()
    monkeypatch.setattr(Checker, "_clean_words", lambda self, *args: None)
    full = run_all()
    for mode, fast_results, full_results in zip([*modes, without_ipython], fast, full):
        for cells, with_filter, without in zip(sequences, fast_results, full_results):
            assert with_filter == without, (cells, mode)
    assert sum(skipped) > 500 and not all(skipped)  # both paths were taken, often


def test_cells_that_need_the_internet_are_never_skipped() -> None:
    checker = Checker()
    for source, _, _ in POSITIVE:
        for scope in (Scope(), Scope(lookup=_kernel_lookup())):
            assert checker._clean_words(source, None, scope) is None, source


def test_cells_the_extension_passes_over_have_no_findings() -> None:
    """The extension's own pre-filter, which decides without the checker, passes over only
    cells in which the checker, run as the kernel runs it, finds nothing."""
    from IPython.core.inputtransformer2 import TransformerManager

    rng = random.Random(1130)
    cells = CORPUS + ["\n".join(rng.choice(CORPUS) for _ in range(rng.randint(2, 5))) for _ in range(300)]
    manager = TransformerManager()
    netguard = _kernel_netguard()
    checker = Checker()
    passed_over = 0
    for cell in cells:
        for transformed in (manager.transform_cell(cell), None):
            if prefilter.worth_checking(cell, transformed, netguard._watched_value):
                continue
            passed_over += 1
            assert checker.check(cell, Scope(lookup=netguard._lookup), transformed) == [], cell
            assert checker.check_cell(cell, transformed, netguard._lookup) == ([], True), cell
    assert passed_over > 40  # of the corpus, mostly cells near a rule that must not fire
    for source, _, _ in POSITIVE:
        assert prefilter.worth_checking(source, None, netguard._watched_value), source


def test_prefilter_takes_its_triggers_from_the_rule_table() -> None:
    """Every trigger of every call rule reaches the pre-filter, and other names of the rule's
    module do not: the filter derives from the table that also gates the rules."""
    checker = Checker()
    for rule in call_index._CALL_RULE_LIST:
        alternatives = rule.pattern.pattern.split("|") if rule.pattern else []
        samples = sorted(rule.names) + [alternative.replace(".*", "x") for alternative in alternatives]
        for top in rule.tops:
            for word in samples or ["anything"]:
                assert rule.triggered_by([word]), (rule.tops, word)
                cell = f"import {top}\nresult = {top}.{word}(data)"
                assert checker._clean_words(cell, None, Scope()) is None, cell
            if all(r.names or r.pattern for r in call_index._RULES_BY_TOP[top]):
                cell = f"import {top}\nresult = {top}.unrelated(data)"
                assert checker._clean_words(cell, None, Scope()) is not None, cell
    for name in call_index.WATCHED_NAMES:
        assert checker._clean_words(f"model = Model.{name}(path)", None, Scope()) is None


def _names_in_code(function: Callable) -> set[str]:
    """The identifier-like strings a function's code compares with: its literals and the
    module-level collections of strings it reads."""
    import types

    def walk(code: types.CodeType) -> set[str]:
        found: set[str] = set()
        values = list(code.co_consts) + [function.__globals__.get(name) for name in code.co_names]
        for value in values:
            if isinstance(value, types.CodeType):
                found |= walk(value)
            for item in value if isinstance(value, (tuple, frozenset, set)) else (value,):
                if isinstance(item, str) and item.isidentifier():
                    found.add(item)
        return found

    return walk(function.__code__)


def test_rule_triggers_cover_what_the_rules_match() -> None:
    """No branch of a rule keys on a name its trigger lacks (such a branch could never fire):
    calls made of the names in each rule's code match only when they carry a trigger."""
    from kernelctl.netguard.rulebook import Call, Context

    ctx = Context()
    arguments = [[], ["https://example.org/x"], ["org/model"], ["yolov8n.pt"], [["example.org", 80]],
                 [b"data", ["example.org", 80]]]
    matched = 0
    for rule in call_index._CALL_RULE_LIST:
        names = sorted(_names_in_code(rule.check) | {"unrelated", "Unrelated"})
        for top in rule.tops:
            calls = [Call((top, b), args, {}) for b in names for args in arguments]
            calls += [Call((top, a, b), args, {}) for a in names for b in names for args in arguments[:2]]
            calls += [Call((top, "unrelated"), args, {k: v}) for k in names for v in (True, "https://example.org/x")
                      for args in arguments[:2]]
            for call in calls:
                if rule.check(call, ctx):
                    matched += 1
                    assert rule.triggered_by([p.rstrip("()") for p in call.parts] + list(call.kwargs)), call
    assert matched > 1000


def test_escape_scan_covers_ipython_syntax() -> None:
    """Without IPython's transformation at hand, the pre-filter flags every cell whose
    transformation runs a shell command or a magic the checker looks into."""
    from IPython.core.inputtransformer2 import TransformerManager

    manager = TransformerManager()
    before = ["", "a = 1\n", "a = 1\r\n", "a = 1\r", "a = 1\x0c", "a = (1 +\n", "s = '''\n"]
    prefixes = ["", "    ", ">>> ", "In [3]: ", "   ...: ", "x = ", "x['k'] = ", "a, b = ", "y=", "if 1: ",
                "print(1); "]
    escapes = ["!wget https://example.org/f", "!!ls", "%pip install x", "%%bash\ncurl https://example.org",
               "%time f()", "%matplotlib inline", "%sx ls", "%%capture\n!ls", "% pip x", "%pip\tinstall x",
               "%%writefile f\n!ls", "%%python3\nimport os", "%%script bash\nls", "%load_ext x", "?x", "x?"]
    cells = CORPUS + [b + p + e for b in before for p in prefixes for e in escapes]
    checked = 0
    for cell in cells:
        if prefilter.ipython_calls_may_run(manager.transform_cell(cell)):
            checked += 1
            assert prefilter.escapes_may_run(cell) or prefilter.ipython_calls_may_run(cell), repr(cell)
    assert checked > 300


def test_skipped_cells_still_bind_names_for_later_cells() -> None:
    """Cells found clean without parsing keep their imports and constants, applied when needed."""
    checker, scope = Checker(), Scope()
    assert checker.check("import pandas as pd\nimport numpy as np", scope) == []
    assert checker.check("URL = 'https://example.org/a.csv'\nx = np.arange(3)", scope) == []
    assert len(scope.pending) == 2 and not scope.aliases  # neither was parsed
    assert [f.rule for f in checker.check("df = pd.read_csv(URL)", scope)] == ["remote-read"]
    assert scope.pending == [] and scope.aliases["pd"] == "pandas" and scope.consts["URL"].startswith("https")


def test_typical_analysis_cell_is_not_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    """numpy/pandas/matplotlib work without a reader, download or shell command skips parsing."""
    cell = "\n".join([
        "import numpy as np", "import pandas as pd", "import matplotlib.pyplot as plt", "from scipy import stats",
        "t = np.linspace(0, 10, 500)", "df = pd.DataFrame({'t': t, 'y': np.sin(t)})",
        "df['smooth'] = df['y'].rolling(5).mean()", "print(df.head(), df.describe())",
        "slope, intercept, r, p, se = stats.linregress(df['t'], df['y'])",
        "fig, ax = plt.subplots()", "ax.plot(df['t'], df['smooth'], label=f'r={r:.2f}')", "fig.savefig('fit.png')",
    ])
    monkeypatch.setattr(Checker, "analyze", lambda *args: pytest.fail("parsed"))
    assert Checker().check(cell, Scope(lookup=_kernel_lookup())) == []
    assert Checker().check("%matplotlib inline\n" + cell, Scope()) == []


def test_kernel_settings_shapes() -> None:
    argv, env = kernel_settings("warn", ["/cvmfs/wheels/generic", "/project/wh"], [".alliancecan.ca", "10.0.0.0/8"])
    assert argv == ["--ext", "kernelctl_netguard"]
    assert env["KERNELCTL_NETGUARD"] == "warn"
    assert env["KERNELCTL_NETGUARD_ALLOW"] == ".alliancecan.ca,10.0.0.0/8,${KERNELCTL_NETGUARD_ALLOW}"
    assert env["PIP_NO_INDEX"] == "1" and env["PIP_FIND_LINKS"] == "/cvmfs/wheels/generic /project/wh"
    for key in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_EVALUATE_OFFLINE",
                "YOLO_OFFLINE", "UV_OFFLINE", "PIP_DISABLE_PIP_VERSION_CHECK"):
        assert env[key] == "1", key
    assert env["WANDB_MODE"] == "offline" and env["CONDA_OFFLINE"] == "true"
    assert all(isinstance(v, str) for v in env.values())

    argv, env = kernel_settings("block", [], [])
    assert argv == ["--ext", "kernelctl_netguard"] and env["KERNELCTL_NETGUARD"] == "block"
    assert "KERNELCTL_NETGUARD_ALLOW" not in env and "PIP_FIND_LINKS" not in env

    argv, env = kernel_settings("off", ["/wh"], [".x.org"])
    assert argv == []
    assert env["PIP_NO_INDEX"] == "1" and env["PIP_FIND_LINKS"] == "/wh" and env["UV_OFFLINE"] == "1"
    assert not any(k.startswith(("KERNELCTL_", "HF_")) or k == "WANDB_MODE" for k in env)

    for bad in [("loud", [], []), ("warn", ["/path with space"], []), ("warn", [], ["bad host!"])]:
        with pytest.raises(ValueError):
            kernel_settings(*bad)


def test_install_runtime_copies_and_replaces(tmp_path: Path) -> None:
    site = tmp_path / "site-packages"
    site.mkdir()
    target = install_runtime(site)
    assert target == site / "kernelctl_netguard"
    names = sorted(p.name for p in target.iterdir())
    source_dir = Path(transform.__file__).parent
    assert names == sorted(p.name for p in source_dir.glob("*.py"))
    (target / "stale.py").write_text("")
    assert install_runtime(site) == target
    assert not (target / "stale.py").exists()
    assert sorted(os.listdir(site)) == ["kernelctl_netguard"]  # no temp dirs left behind
    # Relative imports only: the copy imports under its own top-level name.
    probe = (f"import sys; sys.path.insert(0, {str(site)!r}); import kernelctl_netguard as n, "
             "kernelctl_netguard.extension, kernelctl_netguard.notebooks as c; "
             "assert 'kernelctl' not in sys.modules; "
             "print(len(c.check_source('!git clone https://github.com/a/b')))")
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "1"


def test_netguard_package_is_stdlib_only() -> None:
    """Every import in the runtime package is relative, stdlib, or IPython imported lazily."""
    import sys

    package = Path(transform.__file__).parent
    for file in package.glob("*.py"):
        tree = ast.parse(file.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level:
                continue
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                top = name.split(".")[0]
                assert top in sys.stdlib_module_names or top == "__future__" or (
                    top == "IPython" and node.col_offset > 0), f"{file.name}: import {name}"


def test_json_notebook_roundtrip_positions(tmp_path: Path) -> None:
    """Findings inside a notebook keep the right cell index and cell-relative line."""
    cells = [{"cell_type": "markdown", "metadata": {}, "source": "# Title"},
             {"cell_type": "code", "metadata": {}, "source": "import os\n\n\nos.system('git pull')"}]
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells}))
    found = notebooks.check_file(path, Checker())
    assert [(cell, f.rule, f.line) for cell, f in found] == [(1, "git-remote", 4)]


# ------------------------------------------------------------------ partial parse

# Statements at the partial parse's edges: calls spanning lines or inside compound statements,
# lines at column 0 inside brackets, names bound in every way the checker tracks (and look-alikes
# it does not), trigger words in strings and comments, decorators, continuations, syntax errors.
PARTIAL_PIECES = [
    "import pandas as pd", "import numpy as np", "import requests as zz", "from urllib.request import urlopen",
    "URL = 'https://example.org/a.csv'", "URL = 'data/a.csv'", "URL = f'{BASE}/a.csv'", "BASE = 'https://example.org'",
    "df = pd.read_csv(\n    URL,\n    sep=',')", "df = pd.read_csv(URL)", "frame = pd.DataFrame({'t': [1, 2]})",
    "for i in range(3):\n    zz.get(URL)", "with open('f') as fh:\n    data = pd.read_json(fh)",
    "with zz.Session() as sess:\n    pass", "with zz.Session() as sess, open('f') as fh:\n    pass",
    "sess.post(URL)",
    "def load():\n    return pd.read_csv('https://example.org/x.csv')",
    "@decorate(\n    option=1)\n@other\ndef g():\n    urlopen(URL)", "s = 'zz.get(URL) then pd.read_csv'",
    "# zz.get(URL) and pd.read_csv(URL) in a comment", "label = f'{URL} read_csv'", "print(f'{zz.get(URL)}')",
    "fetch = zz.get", "fetch(URL)", "opener = urlopen", "opener(URL)", "reader = pd.read_parquet", "reader(URL)",
    "a = (\nURL)", "call(URL='https://example.org/k')", "kw = dict(URL='https://example.org/k', fetch=None)",
    "if flag:\n    URL = 'http://localhost/a'\nelif other:\n    URL = 'https://example.org/b'\nelse:\n    pass",
    "try:\n    import requests as zz\nexcept ImportError:\n    zz = None\nfinally:\n    pass",
    "(URL) = 'https://example.org/c'", "URL: str = 'https://example.org/d'", "f = lambda URL=1: URL",
    "x = [\nzz.get(u) for u in [URL]\n]",
    "class A:\n    url = URL\n    def go(self):\n        return zz.post(self.url)",
    "pd = None", "zz = make()", "np.loadtxt(URL); pd.read_csv(URL)", "if ok: df = pd.read_csv(URL)",
    "print((URL := 'https://example.org/w'))", "x = {'URL': 1, URL: 2}", "x = values[URL:]", "del URL",
    "URL += '/more'", "URL = URL.replace('a', 'b')", "pd.read_csv(URL)  # kernelctl: allow-net",
    "y = zz.get(\n    URL)  # kernelctl: allow-net", "t = np.linspace(0, 1, 10)", "print('done', t.mean())",
    "%matplotlib inline", "download('punkt')", "if a:\n    pass\n# comment at column 0\n    zz.get(URL)",
]
# Pieces that make the cell fail to parse, or that the partial parse refuses.
PARTIAL_SPOILERS = [
    "def f(:", "x = (", "print 'hi'", "s = 'unterminated", "    indented = 1", "x = f'{d['k']}'", "x = 1 + \\\n    2",
    "q = '''\nzz.get(URL)\n'''", "données = zz\ndonnées.get(URL)", "from nltk import *",
    "import huggingface_hub as hh",
]


def _emulated_kernel(cell: str, transformed: str, lookup: Callable | None) -> list[tuple]:
    """What the extension shows for a cell: held findings only when the whole cell parses."""
    found, final = Checker().check_cell(cell, transformed, lookup)
    if not final:
        try:
            ast.parse(transformed)
        except SyntaxError:
            found = []
    return [(f.rule, f.line, f.message) for f in found]


def test_partial_parse_gives_the_findings_of_the_full_check(monkeypatch: pytest.MonkeyPatch) -> None:
    """Identical findings (rule, line, message) from the partial and the full parse for every
    corpus cell and generated cells, given IPython's transformation, with and without names
    from earlier cells; cells that do not parse have none."""
    from IPython.core.inputtransformer2 import TransformerManager

    rng = random.Random(2611)
    cells = CORPUS + PARTIAL_PIECES + PARTIAL_SPOILERS
    for _ in range(1500):
        pools = rng.choices((PARTIAL_PIECES, CORPUS, PARTIAL_SPOILERS), (16, 3, 1), k=rng.randint(2, 9))
        pieces = [rng.choice(pool) for pool in pools]
        cells.append(("\n" * rng.randint(0, 2)) + "\n".join(pieces))
    manager = TransformerManager()
    partial = []
    analyze_partial = Checker._analyze_partial

    def counting(self: Checker, *args: object) -> Analysis | None:
        analysis = analyze_partial(self, *args)
        partial.append(analysis is not None)
        return analysis

    monkeypatch.setattr(Checker, "_analyze_partial", counting)
    transformed_cells = []
    for cell in cells:
        try:
            transformed_cells.append((cell, manager.transform_cell(cell)))
        except SyntaxError:  # IPython shows the error and runs nothing
            pass
    for lookup in (None, _kernel_lookup()):
        for cell, transformed in transformed_cells:
            full = [(f.rule, f.line, f.message) for f in Checker().check(cell, Scope(lookup=lookup), transformed)]
            assert _emulated_kernel(cell, transformed, lookup) == full, cell
    assert sum(partial) > 1000 and not all(partial)  # both the partial parse and its refusals, often


def test_partial_parse_keeps_only_what_matters() -> None:
    """In an analysis cell with one line that reads a URL, the read and the import it needs are parsed."""
    cell = "\n".join(["import numpy as np", "import pandas as pd", "t = np.linspace(0, 1, 10)",
                      "frame = pd.DataFrame({'t': t, 'raw': t})", "raw = pd.read_csv('https://example.org/a.csv')",
                      "print(frame['raw'].mean(), 'raw')"])
    parts, expansions = Checker()._parts(cell, cell, Scope())
    kept = [line for line in partial.partial_code(cell, parts, expansions).splitlines() if line]
    assert kept == ["import pandas as pd", "raw = pd.read_csv('https://example.org/a.csv')"]


def test_partial_parse_findings_show_once_ipython_has_parsed_the_cell(capsys: pytest.CaptureFixture[str],
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """In a real shell: findings of a partial parse print once, after IPython's parse and before
    the cell runs, and not at all for a cell that does not parse; %%capture cells still warn once,
    outside the capture."""
    from IPython.core.interactiveshell import InteractiveShell

    from kernelctl.netguard.extension import Netguard

    shell = InteractiveShell.instance()
    netguard = Netguard(shell, "warn", HostPolicy())
    partial = []
    analyze_partial = Checker._analyze_partial

    def counting(*args: object) -> Analysis | None:
        analysis = analyze_partial(*args)
        partial.append(analysis is not None)
        return analysis

    monkeypatch.setattr(Checker, "_analyze_partial", counting)
    filler = "\n".join(f"x{i} = x{i - 1} + 1" if i else "x0 = 0" for i in range(40))
    cell = ("import sys\nimport urllib.request as ur\n" + filler + "\nprint('ran', file=sys.stderr)\n"
            "if False:\n    ur.urlopen('https://example.org/a.csv')")
    for event in ("pre_run_cell", "post_run_cell"):  # register() would also add the audit hook to pytest
        shell.events.register(event, getattr(netguard, event))
    netguard._wrap_parser()
    try:
        shell.run_cell(cell)
        warning, ran = capsys.readouterr().err.splitlines()
        assert warning.startswith("[kernelctl netguard] line 45: http-request: ") and ran == "ran"
        shell.run_cell(cell.replace("x7 = x6", "x7 = x6 x6"))
        captured = capsys.readouterr()
        assert "netguard" not in captured.err + captured.out and "SyntaxError" in captured.err + captured.out
        shell.run_cell("%%capture out\n" + cell)
        assert capsys.readouterr().err.count("http-request") == 1
        assert "http-request" not in shell.user_ns["out"].stderr
    finally:
        netguard.unregister()
    assert partial == [True, True] and "ast_parse" not in shell.compile.__dict__


def test_huge_cells_check_in_linear_time() -> None:
    """An 8,000-line cell of bindings is parsed whole instead of searched name by name."""
    import time

    from IPython.core.inputtransformer2 import TransformerManager

    cell = "import requests\n" + "".join(f"a{i} = requests.get\n" for i in range(8000))
    transformed = TransformerManager().transform_cell(cell)
    started = time.perf_counter()
    findings, final = Checker().check_cell(cell, transformed, None)
    assert time.perf_counter() - started < 1.0
    assert final and findings == []
    assert partial.partial_code(cell, {"requests", "get"}, []) is None


def test_loopback_shorthands_and_the_nodes_own_names_are_local(tmp_path: Path) -> None:
    """127.1-style addresses, localhost6 names and the node's own names (its hostname, and names
    /etc/hosts maps to loopback, such as an FQDN on 127.0.1.1) are never blocked."""
    import socket

    from kernelctl.netguard import guard as guard_module

    policy = HostPolicy()
    for host in ("127.1", "0x7f.0.1", "127.0.1", "localhost6", "localhost6.localdomain6"):
        assert policy.allowed(host), host
    for host in ("8.8", "1.2.3.4 x", "0x8.8.8.8"):
        assert not policy.allowed(host), host
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 localhost\n127.0.1.1 Node042.cluster.example.ca node042  # this node\n"
                     "::1 ip6-localhost\n206.12.1.1 login.cluster.example.ca\n")
    names = guard_module.own_names(str(hosts))
    assert {"node042.cluster.example.ca", "node042", socket.gethostname().lower()} <= names
    assert "login.cluster.example.ca" not in names
    guard = guard_module.Guard()
    guard.mode, guard.own_names, lines = "block", names, []
    guard.emit = lines.append
    guard.check("socket.getaddrinfo", "node042.cluster.example.ca.")
    with pytest.raises(guard_module.NetworkBlockedError):
        guard.check("socket.getaddrinfo", "login.cluster.example.ca")
    assert len(lines) == 1
