"""netguard for R: ``kernelctl scan`` of R notebooks and scripts (no R needed: the rules read the code)."""

from __future__ import annotations

import json
from pathlib import Path

from kernelhelpers import kernelctl

from kernelctl.commands.scan import scan
from kernelctl.netguard.catalogue import RULES as SHARED_RULES
from kernelctl.netguard.r_rules import RULES as R_RULES
from kernelctl.netguard.r_rules import check_r
from kernelctl.netguard.rulebook import Context
from kernelctl.netguard.policy import HostPolicy

REACHES = '''install.packages("ggplot2")
install.packages(c("a", "b"), repos = "https://cloud.r-project.org")
update.packages(ask = FALSE)
devtools::install_github(paste0('IRkernel/', c('repr', 'IRdisplay', 'IRkernel')))
remotes::install_gitlab("group/pkg")
BiocManager::install("DESeq2")
download.file("https://example.org/data.csv", "data.csv")
df <- read.csv("https://example.org/data.csv")
r <- httr::GET("https://api.example.org/v1")
curl::curl_download("ftp://ftp.example.org/f.gz", "f.gz")
d <- readRDS(url("http://example.org/x.rds"))
system("wget https://example.org/file.zip")
system2("git", c("clone", "https://github.com/a/b"))
'''
EXPECTED = [
    (1, "r-cran-install"), (2, "r-cran-install"), (3, "r-cran-install"), (4, "r-remote-install"),
    (5, "r-remote-install"), (6, "r-bioc-install"), (7, "http-request"), (8, "remote-read"), (9, "http-request"),
    (10, "http-request"), (11, "remote-read"), (12, "download-tool"), (13, "git-remote"),
]

OFFLINE = '''# install.packages("ggplot2") and devtools::install_github("x/y") only in a comment
install.packages("pkg_1.0.tar.gz", repos = NULL, type = "source")
install.packages("dplyr", repos = "file:///project/def-x/R-repo")
install.packages("dplyr", repos = c(local = "/project/def-x/R-repo"))
install.packages("dplyr", contriburl = "file:///project/R-repo/src/contrib")
msg <- "install.packages('foo') would need CRAN"
s <- r"(download.file("https://example.org/x", "x"))"
df <- read.csv("data/local.csv")
df2 <- read.csv(path)
local <- read.csv("http://localhost:8888/files/x.csv")
install.packages("zz")  # kernelctl: allow-net
remotes::install_local("pkg_1.0.tar.gz")
system("ls -l /project")
'''


def test_r_code_that_reaches_the_internet_is_found_with_rule_and_line() -> None:
    found = check_r(REACHES, Context())
    assert [(line, rule) for line, rule, _ in found] == EXPECTED
    assert all(rule in R_RULES or rule in SHARED_RULES for _, rule, _ in found)
    messages = {line: message for line, _, message in found}
    assert messages[4] == "devtools::install_github() downloads packages from the internet"
    assert messages[2] == "install.packages() downloads from ['https://cloud.r-project.org']" \
        or "cloud.r-project.org" in messages[2]


def test_local_repos_comments_strings_and_local_paths_are_not_findings() -> None:
    assert check_r(OFFLINE, Context()) == []


def test_allowed_hosts_count_as_local() -> None:
    ctx = Context(policy=HostPolicy([".example.org"]))
    assert [rule for _, rule, _ in check_r('read.csv("https://data.example.org/a.csv")', ctx)] == []


def _r_notebook(path: Path, cells: list[str], metadata: dict) -> Path:
    path.write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": metadata, "cells": [
        {"cell_type": "code", "metadata": {}, "source": source, "outputs": [], "execution_count": None}
        for source in cells]}))
    return path


def test_scan_reads_r_notebooks_by_kernelspec_or_language_info_and_r_scripts(tmp_path: Path) -> None:
    cells = ['library(ggplot2)', 'install.packages("ggplot2")\nBiocManager::install("limma")']
    _r_notebook(tmp_path / "by-kernelspec.ipynb", cells, {"kernelspec": {"language": "R", "name": "ir"}})
    _r_notebook(tmp_path / "by-info.ipynb", cells, {"language_info": {"name": "R"}})
    (tmp_path / "analysis.R").write_text(REACHES)
    (tmp_path / "clean.R").write_text(OFFLINE)
    reports = {Path(r["path"]).name: r for r in scan([tmp_path])}
    assert sorted(reports) == ["analysis.R", "by-info.ipynb", "by-kernelspec.ipynb", "clean.R"]
    for name in ("by-kernelspec.ipynb", "by-info.ipynb"):
        assert [(f["cell"], f["line"], f["rule"]) for f in reports[name]["findings"]] == \
            [(1, 1, "r-cran-install"), (1, 2, "r-bioc-install")]
    assert [(f["line"], f["rule"]) for f in reports["analysis.R"]["findings"]] == EXPECTED
    assert reports["clean.R"]["findings"] == []
    hint = reports["by-info.ipynb"]["findings"][0]["hint"]
    assert hint == R_RULES["r-cran-install"].hint and "kernelctl install" in hint


def test_scan_cli_json_and_exit_status_for_an_r_notebook(tmp_path: Path) -> None:
    notebook = _r_notebook(tmp_path / "nb.ipynb", ['devtools::install_github("IRkernel/IRkernel")'],
                           {"kernelspec": {"language": "R", "name": "ir"}})
    proc = kernelctl("scan", str(notebook), "--json", check=False)
    assert proc.returncode == 1
    finding, = json.loads(proc.stdout)["files"][0]["findings"]
    assert (finding["cell"], finding["line"], finding["rule"]) == (0, 1, "r-remote-install")
    clean = _r_notebook(tmp_path / "ok.ipynb", ['install.packages("x", repos = NULL)'], {"kernelspec": {"language": "R"}})
    assert kernelctl("scan", str(clean), check=False).returncode == 0
