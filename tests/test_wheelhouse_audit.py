"""`kernelctl wheelhouse audit`: coverage matrix, problems, HTML, exit code."""

from __future__ import annotations

import json
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

from wheelfactory import build_wheelhouse

from kernelctl.commands.wheelhouse_audit import audit_wheelhouse

CP = f"cp{sys.version_info[0]}{sys.version_info[1]}"
PY = f"{sys.version_info[0]}.{sys.version_info[1]}"
NEXT_PY = f"{sys.version_info[0]}.{sys.version_info[1] + 1}"
NEXT_CP = f"cp{sys.version_info[0]}{sys.version_info[1] + 1}"


def _site(tmp_path: Path) -> list[str]:
    arch = build_wheelhouse(tmp_path / "x86-64-v3", [
        {"name": "numpy", "version": "1.26.4+computecanada", "tag": f"{CP}-{CP}-linux_x86_64"},
        {"name": "numpy", "version": "2.0.0+computecanada", "tag": f"{NEXT_CP}-{NEXT_CP}-linux_x86_64"},
        {"name": "pandas", "version": "2.2.1+computecanada", "tag": f"{CP}-{CP}-linux_x86_64",
         "requires": ["numpy>=1.23", "tzdata>=2022.7"]},
        {"name": "six", "version": "1.16.0"},
    ])
    generic = build_wheelhouse(tmp_path / "generic", [
        {"name": "six", "version": "1.16.0"},
        {"name": "scikit-image", "version": "0.22.0", "requires": ["numpy<2", "six"]},
        {"name": "mpi4py", "version": "3.1.4+dummy.computecanada",
         "requires": ["mpi4py-noinstall==9999+dummy.computecanada"]},
        {"name": "<script>", "version": "1", "corrupt": True},
        {"name": "corrupt", "version": "1.0", "corrupt": True},
    ])
    (generic / "Keras-Preprocessing-1.0-py3-none-any.whl").write_bytes(b"")
    return [str(arch), str(generic)]


def test_audit_matrix_and_problems(tmp_path: Path) -> None:
    report = audit_wheelhouse([PY, NEXT_PY], _site(tmp_path), ["linux_x86_64"])
    assert report["ok"] is False
    cells = {row["project"]: {p: c["status"] for p, c in row["cells"].items()} for row in report["projects"]}
    assert cells["numpy"] == {PY: "ok", NEXT_PY: "ok"}
    assert cells["pandas"] == {PY: "broken", NEXT_PY: "-"}
    assert cells["scikit-image"] == {PY: "ok", NEXT_PY: "broken"}  # numpy<2 has no NEXT_PY wheel
    assert cells["mpi4py"][PY] == "dummy"
    assert cells["six"] == {PY: "ok", NEXT_PY: "ok"}
    assert [m["requirement"] for m in report["missing_dependencies"]] == ["numpy<2", "tzdata>=2022.7"]
    assert [d["filename"] for d in report["duplicates"]] == ["six-1.16.0-py3-none-any.whl"]
    assert [d["name"] for d in report["dummies"]] == ["mpi4py"]
    assert [Path(u["path"]).name for u in report["unreadable"]] == ["corrupt-1.0-py3-none-any.whl"]
    assert sorted(Path(m["path"]).name for m in report["misnamed"]) == [
        "<script>-1-py3-none-any.whl", "Keras-Preprocessing-1.0-py3-none-any.whl"]


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_data(self, data):
        self.text.append(data)


def test_cli_html_json_and_exit_code(tmp_path: Path, kernelctl_cli: list[str]) -> None:
    site = _site(tmp_path)
    html_file = tmp_path / "audit.html"
    args = [*kernelctl_cli, "wheelhouse", "audit", "--python", PY, "--html", str(html_file), "--json"]
    for d in site:
        args += ["--wheelhouse", d]
    proc = subprocess.run(args, capture_output=True, text=True)
    assert proc.returncode == 1, proc.stderr
    data = json.loads(proc.stdout)
    assert data["summary"]["broken"] == len(data["broken"]) >= 1
    page = html_file.read_text()
    parser = _Collector()
    parser.feed(page)
    assert "script" not in parser.tags  # the hostile file name is escaped, not markup
    assert any("<script>-1-py3-none-any.whl" in t for t in parser.text)
    assert "table" in parser.tags and "pandas" in "".join(parser.text)
    assert "http" not in page.replace("http-equiv", "")  # self-contained: nothing fetched

    clean = tmp_path / "clean"
    build_wheelhouse(clean, [{"name": "six", "version": "1.16.0"}])
    ok = subprocess.run([*kernelctl_cli, "wheelhouse", "audit", "--wheelhouse", str(clean)], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "six" in ok.stdout
