"""The words a call rule can fire on, as a plain set the kernel extension can test a cell
against without importing the rule tables (see :func:`.prefilter.worth_checking`).

The top-level modules the call rules watch and the receiver-independent call names
(``from_pretrained``), as :mod:`.call_index` derives them from the rules;
``tests/test_netguard_hostile.py`` fails, printing the new set, when the two differ.
"""

WATCHED_WORDS = frozenset({
    "aiohttp", "anthropic", "astropy", "asyncio", "comet_ml", "cudf", "dask", "datasets",
    "evaluate", "from_preset", "from_pretrained", "fsspec", "ftplib", "gdown", "gensim",
    "geodatasets", "geopandas", "git", "h5py", "http", "httpx", "huggingface_hub", "imaplib",
    "kaggle", "kagglehub", "keras", "mlflow", "mne", "modin", "neptune", "netCDF4", "nltk",
    "numpy", "open_clip", "openai", "openml", "os", "pandas", "pandas_datareader", "paramiko",
    "polars", "pooch", "poplib", "posix", "pyarrow", "requests", "scipy", "seaborn",
    "sentence_transformers", "sklearn", "smtplib", "socket", "spacy", "stanza", "statsmodels",
    "subprocess", "telnetlib", "tensorflow", "tensorflow_datasets", "tensorflow_hub",
    "tf_keras", "timm", "torch", "torchaudio", "torchtext", "torchvision", "transformers",
    "ultralytics", "urllib", "wandb", "xarray", "yfinance"
})
