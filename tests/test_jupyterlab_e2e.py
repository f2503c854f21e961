"""A kernelctl kernel in a real JupyterLab, used as a person would: launcher, logo, notebook.

The kernel is made with the CLI from real wheels; ``jupyter lab`` runs on 127.0.0.1 with
nothing that reaches beyond the machine; the browser is Debian's headless Chromium driven by
Playwright. The browser test saves ``test-artifacts/launcher.png`` and
``test-artifacts/notebook.png`` at the repo root, to be looked at.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kernelhelpers import kernelctl, kernelctl_json
from labsupport import CHROMIUM, Lab, chromium_page, kernel_execute, running_lab

from conftest import ROOT, require_system

NAME = "e2e"
DISPLAY_NAME = "E2E numpy (kernelctl)"
LOGOS = ROOT / "kernelspecs" / "python"
ARTIFACTS = ROOT / "test-artifacts"
VIEWPORT = (1280, 800)


@pytest.fixture()
def kernel(real_wheelhouse: Path) -> dict[str, Any]:
    """The kernel ``e2e`` with numpy, made with the CLI; its ``kernelctl show --json``."""
    kernelctl("create", NAME, "numpy", "--wheelhouse", str(real_wheelhouse), "--display-name", DISPLAY_NAME, "-q")
    return kernelctl_json("show", NAME)


@pytest.fixture()
def lab(kernel: dict[str, Any], tmp_path: Path) -> Iterator[Lab]:
    with running_lab(tmp_path / "lab") as server:
        yield server


@pytest.fixture()
def page(tmp_path: Path) -> Iterator[Any]:
    require_system(CHROMIUM.is_file(), f"needs Debian's chromium at {CHROMIUM} (.ci/install-chromium installs it)")
    with chromium_page(tmp_path / "chromium-profile", *VIEWPORT) as browser_page:
        yield browser_page


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height of a PNG, from its IHDR chunk (which must come first)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", data[:16]
    return struct.unpack(">II", data[16:24])


def wait_for(condition: Any, timeout: float, what: str) -> Any:
    """Poll ``condition()`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def test_jupyterlab_lists_the_kernel_with_its_logo_and_runs_it(lab: Lab, kernel: dict[str, Any]) -> None:
    """The REST API shows the spec and its logos; a session's kernel runs code in the env."""
    spec = lab.api("/api/kernelspecs")["kernelspecs"][NAME]
    assert spec["spec"]["display_name"] == DISPLAY_NAME
    assert spec["spec"]["metadata"]["kernelctl"]["prefix"] == kernel["prefix"]
    assert set(spec["resources"]) >= {"logo-svg", "logo-64x64", "logo-32x32"}
    for resource, filename, content_type, size in (("logo-64x64", "logo-64x64.png", "image/png", 64),
                                                   ("logo-32x32", "logo-32x32.png", "image/png", 32),
                                                   ("logo-svg", "logo-svg.svg", "image/svg+xml", None)):
        status, served_type, body = lab.request(spec["resources"][resource])
        assert status == 200 and served_type.startswith(content_type), (resource, status, served_type)
        assert body == (LOGOS / filename).read_bytes()  # kernelctl's mark, not Jupyter's default
        if size is not None:
            assert png_size(body) == (size, size)

    session = lab.api("/api/sessions", "POST", {"path": "e2e.ipynb", "name": "e2e.ipynb", "type": "notebook",
                                                "kernel": {"name": NAME}})
    assert session["kernel"]["name"] == NAME
    out, reply = kernel_execute(lab, session["kernel"]["id"],
                                "import sys, numpy\nprint(sys.prefix)\nprint(numpy.__file__)", timeout=120)
    assert reply["status"] == "ok", reply
    prefix, numpy_file = out.split("\n")[:2]
    assert prefix == kernel["prefix"]
    assert Path(numpy_file).is_relative_to(kernel["prefix"])
    lab.api(f"/api/sessions/{session['id']}", "DELETE")
    assert lab.api("/api/sessions") == []


@pytest.mark.system
def test_launcher_card_opens_a_notebook_that_runs_in_the_env(page: Any, lab: Lab, kernel: dict[str, Any]) -> None:
    """The launcher shows the kernel under its display name with kernelctl's logo; its
    notebook runs a typed cell in the kernel's env. Screenshots go to test-artifacts/."""
    ARTIFACTS.mkdir(exist_ok=True)
    logo_url = lab.api("/api/kernelspecs")["kernelspecs"][NAME]["resources"]["logo-svg"]
    page.goto(f"{lab.url}/lab?token={lab.token}", timeout=60_000)

    card = page.locator('.jp-LauncherCard[data-category="Notebook"]').filter(
        has=page.locator(".jp-LauncherCard-label").get_by_text(DISPLAY_NAME, exact=True))
    card.wait_for(state="visible", timeout=60_000)
    icon = card.locator("img.jp-Launcher-kernelIcon")
    assert icon.get_attribute("src") == logo_url
    # the browser fetched and decoded the logo (a broken image has no natural size)
    assert icon.evaluate("img => img.complete && img.naturalWidth > 0", timeout=10_000)
    page.screenshot(path=str(ARTIFACTS / "launcher.png"), timeout=30_000)
    assert png_size((ARTIFACTS / "launcher.png").read_bytes()) == VIEWPORT

    card.click(timeout=10_000)
    panel = page.locator(".jp-NotebookPanel").first
    panel.locator(".jp-Toolbar-kernelName").get_by_text(DISPLAY_NAME, exact=True).wait_for(timeout=60_000)
    wait_for(lambda: [s for s in lab.api("/api/sessions")
                      if s["kernel"]["name"] == NAME and s["kernel"]["execution_state"] == "idle"],
             120, "the notebook's kernel to be idle")
    panel.locator('.jp-Notebook-ExecutionIndicator[data-status="idle"]').wait_for(timeout=60_000)

    panel.locator(".jp-Cell .cm-content").first.click(timeout=10_000)
    page.keyboard.type("import sys; print(sys.prefix)")
    page.keyboard.press("Shift+Enter")
    output = panel.locator(".jp-OutputArea-output").first
    output.wait_for(timeout=120_000)
    assert output.inner_text(timeout=10_000).strip() == kernel["prefix"]
    # the execution count shows the cell ran in this kernel, and only once
    assert panel.locator(".jp-InputPrompt").first.inner_text(timeout=10_000).strip() == "[1]:"
    page.screenshot(path=str(ARTIFACTS / "notebook.png"), timeout=30_000)
    assert png_size((ARTIFACTS / "notebook.png").read_bytes()) == VIEWPORT
