"""The catalogue: every rule id with its title and offline fix, gathered from the modules that
match code (each defines its rules beside its matchers), and the fix for traffic to a host.

Stdlib only (see :mod:`.policy`).
"""

from __future__ import annotations

from . import call_rules_ml, call_rules_web, collect, shell_rules
from .rulebook import Rule

RULES: dict[str, Rule] = {rule.id: rule for module in (shell_rules, collect, call_rules_web, call_rules_ml)
                          for rule in module.RULES}


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
