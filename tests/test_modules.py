"""Module-aware kernels, with real Lmod and real Environment Modules.

Each system test runs once per module system, over a private copy of the test modulefiles
(``tests/modulefiles``): ``python/3.11`` (Debian's Python 3.11 on PATH), ``scipy-stack``
(a package on PYTHONPATH and a variable), ``hostile`` (a value full of shell and Python
syntax), ``broken`` (always fails), ``ijulia-kernel`` (a stand-in julia, see
test_modules_julia.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from kernelhelpers import assert_user_error, kernel_json, kernelctl, kernelctl_json, run_in_kernel
from modsupport import DEBIAN_PYTHON, ModuleSetup, clear_module_environment, setup_modules

from kernelctl import modules
from kernelctl.launcher import LAUNCHER_SOURCE
from kernelctl.launcher.kernelctl_launch import apply_module_output

PROBE = """\
import json, os, shutil, sys
import kctl_modpkg
print(json.dumps({"package": kctl_modpkg.__file__, "stack": os.environ.get("KCTL_SCIPY_STACK"),
                  "prefix": sys.prefix, "version": sys.version.split()[0],
                  "python3": shutil.which("python3"), "virtual_env": os.environ.get("VIRTUAL_ENV")}))
"""


@pytest.fixture(params=["lmod", "tcl"])
def mods(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleSetup:
    return setup_modules(request.param, tmp_path, monkeypatch)


def data_dir() -> Path:
    return Path(os.environ["JUPYTER_DATA_DIR"])


def launch_argv(name: str, connection_file: Path) -> list[str]:
    """The command Jupyter runs for kernel ``name`` (placeholders filled in)."""
    resource_dir = data_dir() / "kernels" / name
    return [arg.replace("{resource_dir}", str(resource_dir)).replace("{connection_file}", str(connection_file))
            for arg in kernel_json(data_dir(), name)["argv"]]


def debian_python_version() -> str:
    return subprocess.run([DEBIAN_PYTHON, "-c", "import platform; print(platform.python_version())"],
                          capture_output=True, text=True, check=True).stdout.strip()


def test_kernel_loads_its_modules_without_the_servers_module_variables(
        mods: ModuleSetup, real_wheelhouse: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    kernelctl("create", "sci", "--wheelhouse", str(real_wheelhouse), "--module", "python/3.11",
              "--module", "scipy-stack")
    manifest = kernelctl_json("show", "sci")
    # The python/3.11 module supplied the interpreter the env is built on.
    assert manifest["python_version"] == debian_python_version() != sys.version.split()[0]
    assert manifest["options"]["modules"] == ["python/3.11", "scipy-stack"]
    assert manifest["launch"]["module_system"]["kind"] == mods.kind

    clear_module_environment(monkeypatch)  # the Jupyter server has no module variables at all
    out, _ = run_in_kernel("sci", PROBE)
    seen = json.loads(out)
    assert Path(seen["package"]).parent.parent == mods.support / "site-packages"
    assert seen["stack"] == "2024a"
    assert seen["version"] == manifest["python_version"]
    # The env's PATH and VIRTUAL_ENV go over the modules': its python3 wins over the module's.
    assert Path(seen["prefix"]) == Path(manifest["prefix"]) == Path(seen["virtual_env"])
    assert Path(seen["python3"]).parent == Path(manifest["prefix"]) / "bin"

    listed = {r["name"]: r for r in kernelctl_json("list")}
    assert listed["sci"]["modules"] == ["python/3.11", "scipy-stack"]
    assert listed["sci"]["status"] == "ok"

    # A rebuild loads the recorded modules with the recorded module system, so the module's
    # Python is used again although this environment has no module variables.
    kernelctl("rebuild", "sci", "-q", "--no-verify")
    rebuilt = kernelctl_json("show", "sci")
    assert rebuilt["python_version"] == manifest["python_version"] and rebuilt["prefix"] != manifest["prefix"]
    manifest = rebuilt

    # The module disappears: list says so by name, and the kernel refuses to start without it.
    mods.modulefile("scipy-stack/2024a").unlink()
    (mods.modulepath / "scipy-stack").rmdir()
    assert kernelctl_json("list")[0]["status"] == "broken: module not found: scipy-stack"
    assert "scipy-stack" in kernelctl("list").stdout
    proc = subprocess.run(launch_argv("sci", tmp_path / "kernel.json"), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("kernelctl-launch: cannot load modules python/3.11, scipy-stack"), proc.stderr
    assert "scipy-stack" in last.split(":", 2)[2] and "the kernel was not started" in last


def assert_nothing_created(name: str) -> None:
    assert not list(Path(os.environ["KERNELCTL_HOME"]).glob("envs/.store/*"))
    assert not (data_dir() / "kernels" / name).exists()


@pytest.mark.parametrize("module, message", [
    ("broken", "this test module always fails to load"),
    ("nosuch/1.0", "nosuch/1.0"),
])
def test_create_stops_with_the_module_systems_message(mods: ModuleSetup, module: str, message: str) -> None:
    proc = kernelctl("create", "bad", "--module", "python/3.11", "--module", module, check=False)
    label = "Lmod" if mods.kind == "lmod" else "Environment Modules"
    assert_user_error(proc, 1, f"cannot load modules python/3.11, {module} ({label})", message)
    assert_nothing_created("bad")


@pytest.mark.parametrize("module", ["foo;touch {pwned}", "$(touch {pwned})", "`touch {pwned}`",
                                    "x'; touch {pwned}; echo '", "x\"; touch {pwned}\n", "--help"])
def test_hostile_module_names_never_reach_a_shell(mods: ModuleSetup, module: str, tmp_path: Path) -> None:
    pwned = tmp_path / "pwned"
    module = module.format(pwned=pwned)
    proc = kernelctl("create", "bad", "--module", "scipy-stack", f"--module={module}", check=False)
    assert_user_error(proc, 2, f"{module!r} is not a module name")
    assert not pwned.exists()
    assert_nothing_created("bad")


def test_module_values_and_display_names_are_data(
        mods: ModuleSetup, real_wheelhouse: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    pwned = tmp_path / "pwned"
    monkeypatch.setenv("KCTL_PWNED", str(pwned))
    display = f"It's \"mine\"; $(touch {pwned}) `touch {pwned}`\nsecond line"
    kernelctl("create", "data", "--wheelhouse", str(real_wheelhouse), "--module", "hostile",
              "--display-name", display)
    assert kernel_json(data_dir(), "data")["display_name"] == display
    out, _ = run_in_kernel("data", "import os; print(os.environ['KCTL_HOSTILE'])")
    p = str(pwned)
    assert out.rstrip("\n") == f'x"; import os; os.system("touch {p}") #\' $(touch {p}) `touch {p}`; touch {p}'
    assert not pwned.exists()


def test_purge_unloads_what_the_server_had_loaded(
        mods: ModuleSetup, real_wheelhouse: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    kernelctl("create", "clean", "--wheelhouse", str(real_wheelhouse), "--purge", "--module", "python/3.11")
    assert kernelctl_json("show", "clean")["launch"]["purge"] is True
    # The Jupyter server runs with scipy-stack loaded; the kernel purges it.
    server_env = modules.load(modules.detect(), ["scipy-stack"], False, os.environ)
    for key, value in server_env.items():
        monkeypatch.setenv(key, value)
    assert os.environ["KCTL_SCIPY_STACK"] == "2024a"
    out, _ = run_in_kernel("clean", "import os; print(os.environ.get('KCTL_SCIPY_STACK', 'unset'))")
    assert out.strip() == "unset"


def test_without_modules_the_launcher_imports_no_module_code(tmp_path: Path) -> None:
    launcher = tmp_path / "kernelctl-launch.py"
    launcher.write_text(LAUNCHER_SOURCE.read_text())
    (tmp_path / "kernelctl-launch.json").write_text(json.dumps({"exec": ["true"], "env": {}, "path": []}))
    proc = subprocess.run([sys.executable, "-I", "-S", "-X", "importtime", str(launcher)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    imported = {line.split("|")[-1].strip() for line in proc.stderr.splitlines() if "|" in line}
    assert "json" in imported
    assert not imported & {"subprocess", "ast"}


def test_module_output_is_read_as_literals_never_run(tmp_path: Path) -> None:
    pwned = tmp_path / "pwned"
    env = {"KEEP": "1", "GONE": "x"}
    code = (f'import os\nos.system("touch {pwned}")\nos.environ["NEW"] = "a\\"b";\n'
            f"del os.environ['GONE']\n_mlstatus = True\n__import__('os').system('touch {pwned}')\n")
    assert apply_module_output(code, env) is True
    assert env == {"KEEP": "1", "NEW": 'a"b'}
    assert not pwned.exists()
    with pytest.raises(ValueError):
        apply_module_output(f'os.environ["X"] = open("{pwned}", "w").name\n', env)
    assert not pwned.exists()


def test_detect_prefers_lmod_and_resolves_env_shebangs(tmp_path: Path) -> None:
    lmod = tmp_path / "lmod"
    lmod.write_text("#!/usr/bin/lua5.3\n")
    tcl = tmp_path / "modulecmd.tcl"
    tcl.write_text("#!/usr/bin/env sh\n")
    for path in (lmod, tcl):
        path.chmod(0o755)
    both = modules.detect({"LMOD_CMD": str(lmod), "MODULES_CMD": str(tcl), "MODULEPATH": "/m", "PATH": ""})
    assert both == modules.ModuleSystem("lmod", (str(lmod),), "/m")
    tcl_only = modules.detect({"MODULES_CMD": str(tcl), "PATH": os.defpath})
    assert tcl_only.kind == "tcl" and tcl_only.command[1:] == (str(tcl),)
    assert Path(tcl_only.command[0]).name == "sh"  # the interpreter, found now, not at launch
    with pytest.raises(modules.KernelctlError, match="no module system found"):
        modules.detect({"PATH": str(tmp_path / "empty")})
