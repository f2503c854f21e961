"""Real module systems for the module tests: Lmod and Environment Modules, with the test
modulefiles in ``tests/modulefiles`` (Lua for Lmod, Tcl for Environment Modules).

``.ci/install-system-packages`` installs both: environment-modules with apt, Lmod unpacked
from Debian's package into a private prefix (the two packages conflict in apt).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import require_system

MODULEFILES = Path(__file__).resolve().parent / "modulefiles"
LMOD_CANDIDATES = ("/opt/kernelctl-test/lmod-root/usr/share/lmod/lmod/libexec/lmod",
                   "/usr/share/lmod/lmod/libexec/lmod")
TCL_CANDIDATES = ("/usr/lib/x86_64-linux-gnu/modulecmd.tcl", "/usr/share/modules/libexec/modulecmd.tcl")
DEBIAN_PYTHON = "/usr/bin/python3.11"  # what the python/3.11 test module puts on PATH
MODULE_VARS = ("LMOD", "MODULE", "__LMOD", "_LMFILES_", "LOADEDMODULES", "_ModuleTable", "__MODULES")


@dataclass(frozen=True)
class ModuleSetup:
    """One module system, set up in the test's environment with a private copy of the test
    modulefiles (so a test can delete one)."""

    kind: str           # "lmod" or "tcl"
    command: str        # LMOD_CMD or MODULES_CMD
    modulepath: Path    # the copy's modulefile tree
    support: Path       # the copy's support files (package, interpreters, stand-in julia)

    def modulefile(self, name: str) -> Path:
        """The modulefile of ``name`` (e.g. ``scipy-stack/2024a``) in the copy."""
        return self.modulepath / (name + ".lua" if self.kind == "lmod" else name)


def find_command(kind: str) -> str | None:
    """Lmod's or Environment Modules' command: $KERNELCTL_TEST_LMOD_CMD /
    $KERNELCTL_TEST_MODULES_CMD, else the places the CI script and Debian put them."""
    override = os.environ.get("KERNELCTL_TEST_LMOD_CMD" if kind == "lmod" else "KERNELCTL_TEST_MODULES_CMD")
    for path in (override,) if override else (LMOD_CANDIDATES if kind == "lmod" else TCL_CANDIDATES):
        if path and os.access(path, os.X_OK):
            return path
    return None


def clear_module_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Remove every Lmod / Environment Modules variable, as a stripped JupyterHub spawner does."""
    for key in [k for k in os.environ if k.startswith(MODULE_VARS)]:
        monkeypatch.delenv(key)


def setup_modules(kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleSetup:
    """Make ``kind``'s module system the one kernelctl finds, over a fresh copy of the modulefiles."""
    command = find_command(kind)
    require_system(command is not None, f"needs {'Lmod' if kind == 'lmod' else 'Environment Modules'} "
                                        "(run .ci/install-system-packages as root)")
    require_system(os.access(DEBIAN_PYTHON, os.X_OK), f"needs Debian's {DEBIAN_PYTHON} (package python3.11)")
    root = tmp_path / "modulefiles"
    shutil.copytree(MODULEFILES, root, symlinks=True)
    tree = root / ("lua" if kind == "lmod" else "tcl")
    clear_module_environment(monkeypatch)
    monkeypatch.setenv("LMOD_CMD" if kind == "lmod" else "MODULES_CMD", str(command))
    monkeypatch.setenv("MODULEPATH", str(tree))
    return ModuleSetup(kind, str(command), tree, root / "support")
