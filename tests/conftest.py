"""Shared test fixtures.

Every test runs with HOME, KERNELCTL_HOME, the Jupyter and XDG directories, the pip, uv
and virtualenv caches and TMPDIR pointed at temporary directories, and with the machine's
own pip configuration switched off, so nothing touches the real home, the developer's
settings or the machine's /tmp.

Real wheels (ipykernel and its dependencies, numpy) are downloaded once per machine into
``$KERNELCTL_TEST_CACHE`` (default ``/var/tmp/kernelctl-test-cache``), outside the repo.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "wheelhouse-fixtures"))

REQUIRE_SYSTEM = os.environ.get("KERNELCTL_REQUIRE_SYSTEM_TESTS") == "1"
TEST_CACHE = Path(os.environ.get("KERNELCTL_TEST_CACHE", "/var/tmp/kernelctl-test-cache"))
PY = f"{sys.version_info.major}.{sys.version_info.minor}"
REAL_REQUIREMENTS = ("ipykernel", "numpy")


def require_system(available: bool, reason: str) -> None:
    """Skip (or, under KERNELCTL_REQUIRE_SYSTEM_TESTS=1 as in CI, fail) when a system need is unmet."""
    if available:
        return
    if REQUIRE_SYSTEM:
        pytest.fail(f"required system test cannot run: {reason}")
    pytest.skip(reason)


def netns_available() -> bool:
    if not shutil.which("unshare") or not shutil.which("ip"):
        return False
    probe = subprocess.run(["unshare", "-rn", "ip", "link", "set", "lo", "up"], capture_output=True)
    return probe.returncode == 0


def offline_command(argv: list[str]) -> list[str]:
    """``argv`` wrapped to run in a new network namespace with only loopback, and it up."""
    require_system(netns_available(), "needs 'unshare -rn' (user namespaces) and iproute2's 'ip'")
    script = 'ip link set lo up && exec "$@"'
    return ["unshare", "-rn", "sh", "-c", script, "sh", *argv]


@pytest.fixture(scope="session")
def session_caches(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Caches shared by all tests of one run (virtualenv app-data, uv), in a tmp dir."""
    return tmp_path_factory.mktemp("caches")


@pytest.fixture(scope="session")
def session_tmpdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """TMPDIR for everything the tests start: kernels that are killed (R's Rtmp* session dirs)
    and the like leave their temporary files here, not in /tmp. A short path, as sockets
    made in it must fit AF_UNIX's 108 bytes."""
    return tmp_path_factory.mktemp("tmp")


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, session_caches: Path, session_tmpdir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    for key in [k for k in os.environ if k.startswith(("PIP_", "UV_", "KERNELCTL_", "JUPYTER", "VIRTUAL_ENV"))]:
        if key not in ("KERNELCTL_REQUIRE_SYSTEM_TESTS", "KERNELCTL_TEST_CACHE"):
            monkeypatch.delenv(key, raising=False)
    settings = {
        "HOME": home,
        "XDG_DATA_HOME": home / ".local/share",
        "XDG_CONFIG_HOME": home / ".config",
        "XDG_CACHE_HOME": home / ".cache",
        "XDG_CONFIG_DIRS": tmp_path / "etc-xdg",
        "KERNELCTL_HOME": home / ".local/share/kernelctl",
        "JUPYTER_DATA_DIR": tmp_path / "jupyter-data",
        "JUPYTER_CONFIG_DIR": tmp_path / "jupyter-config",
        "JUPYTER_RUNTIME_DIR": tmp_path / "jupyter-runtime",
        "IPYTHONDIR": tmp_path / "ipython",
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "UV_CACHE_DIR": session_caches / "uv",
        "VIRTUALENV_OVERRIDE_APP_DATA": session_caches / "virtualenv",
        "JUPYTER_PLATFORM_DIRS": "1",
        "TMPDIR": session_tmpdir,
    }
    for key, value in settings.items():
        monkeypatch.setenv(key, str(value))
    return home


def _download(requirements: tuple[str, ...], dest: Path) -> None:
    """pip-download binary wheels for ``requirements`` into ``dest`` once, under a lock."""
    dest.mkdir(parents=True, exist_ok=True)
    marker = dest / ".complete"
    with open(dest.parent / f"{dest.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.exists():
            return
        env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_CONFIG_FILE")}
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:",
             "--dest", str(dest), *requirements],
            check=True, env=env,
        )
        marker.write_text("\n".join(requirements) + "\n")


@pytest.fixture(scope="session")
def real_wheelhouse() -> Path:
    """A wheelhouse of real wheels from the package registry: ipykernel with its dependencies, numpy."""
    dest = TEST_CACHE / f"real-py{PY}"
    _download(REAL_REQUIREMENTS, dest)
    return dest


@pytest.fixture()
def kernelctl_cli() -> Iterator[list[str]]:
    """The argv prefix that runs this checkout's kernelctl CLI in a subprocess."""
    yield [sys.executable, "-m", "kernelctl"]
