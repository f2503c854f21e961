"""netguard in kernels that kernelctl creates: on by default, switchable later with `kernelctl netguard`.

The cells run in a network namespace with only loopback, so every lookup or connection
they attempt fails at once and nothing leaves the machine.
"""

from __future__ import annotations

import json
import subprocess
import sys
import os
from pathlib import Path

import pytest
from kernelhelpers import kernel_json, kernelctl, kernelctl_json

from conftest import offline_command

HELPER = Path(__file__).parent / "netguard_helpers" / "run_cells.py"
HOST = 'host = "".join(["example", ".org"])\n'  # built at run time: only the runtime guard sees it


def run_cells(tmp_path: Path, name: str, cells: list[str]) -> list[dict]:
    cells_file = tmp_path / f"{name}-cells.json"
    cells_file.write_text(json.dumps(cells))
    done = subprocess.run(offline_command([sys.executable, str(HELPER), name, str(cells_file)]),
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.system
def test_created_kernels_warn_then_block_after_a_mode_change(real_wheelhouse: Path, tmp_path: Path) -> None:
    kernelctl("create", "guarded", "--wheelhouse", str(real_wheelhouse), "-q")
    spec = kernel_json(Path(os.environ["JUPYTER_DATA_DIR"]), "guarded")
    assert spec["env"]["KERNELCTL_NETGUARD"] == "warn" and spec["env"]["HF_HUB_OFFLINE"] == "1"
    assert spec["env"]["PIP_NO_INDEX"] == "1" and spec["env"]["PIP_FIND_LINKS"] == str(real_wheelhouse)

    warned = run_cells(tmp_path, "guarded", [
        "!pip install --quiet no-such-project-xyz\n!git clone --quiet https://github.com/example/repo.git /nonexistent/x",
        HOST + "import urllib.request\ntry:\n    urllib.request.urlopen('http://' + host, timeout=5)\n"
               "except OSError as err:\n    print(type(err).__name__)",
        "print(1 + 1)",
    ])
    pip_cell, url_cell, plain = warned
    # pip is kept on the wheelhouse by the kernel's environment, so only git is flagged
    assert "No matching distribution" in pip_cell["stdout"] + pip_cell["stderr"]
    assert "git-remote" in pip_cell["stderr"] and "pip-install" not in pip_cell["stderr"]
    assert "example.org" in url_cell["stderr"] and "URLError" in url_cell["stdout"]
    assert plain["stdout"].strip() == "2" and plain["stderr"] == ""

    assert kernelctl_json("netguard", "guarded", "--mode", "block") == {"name": "guarded", "mode": "block", "allow": []}
    [blocked] = run_cells(tmp_path, "guarded", [
        HOST + "import socket, time\nstart = time.monotonic()\ntry:\n    socket.create_connection((host, 80))\n"
               "except OSError as err:\n    print(isinstance(err, OSError), type(err).__name__, time.monotonic() - start < 1)",
    ])
    assert blocked["error"] is None
    words = blocked["stdout"].split()
    assert words[0] == "True" and words[2] == "True", blocked

    kernelctl("netguard", "guarded", "--mode", "off")
    assert "KERNELCTL_NETGUARD" not in kernel_json(Path(os.environ["JUPYTER_DATA_DIR"]), "guarded")["env"]
    assert kernelctl_json("show", "guarded")["options"]["netguard"] == "off"


def test_a_kernels_allowlist_adds_to_the_sites(real_wheelhouse: Path) -> None:
    """jupyter_client expands ${VAR} in kernel.json's env from the server's environment."""
    from string import Template

    from jupyter_client.kernelspec import KernelSpecManager

    from kernelctl.netguard.policy import HostPolicy

    kernelctl("create", "allowed", "--netguard-allow", ".kernel.example", "--wheelhouse", str(real_wheelhouse),
              "--no-verify", "-q")
    value = KernelSpecManager().get_kernel_spec("allowed").env["KERNELCTL_NETGUARD_ALLOW"]
    with_site = HostPolicy.from_env({"KERNELCTL_NETGUARD_ALLOW": Template(value).safe_substitute(
        {"KERNELCTL_NETGUARD_ALLOW": ".site.example"})})
    assert with_site.allowed("a.kernel.example") and with_site.allowed("b.site.example")
    without_site = HostPolicy.from_env({"KERNELCTL_NETGUARD_ALLOW": Template(value).safe_substitute({})})
    assert without_site.allowed("a.kernel.example") and not without_site.allowed("b.site.example")
