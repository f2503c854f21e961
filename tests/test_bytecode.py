"""The bytecode kept from one env build for the next (kernelctl.bytecode), on real files and
real interpreters, and through real builds whose kernels start from it."""

from __future__ import annotations

import json
import os
import py_compile
import subprocess
import sys
from pathlib import Path

import pytest
from kernelhelpers import kernel_json

from kernelctl import bytecode

TAG = sys.implementation.cache_tag


@pytest.fixture()
def installer_cache(tmp_path: Path) -> Path:
    """What an installer's cache holds: files that envs get as hard links."""
    store = tmp_path / "store"
    (store / "pkg").mkdir(parents=True)
    (store / "pkg" / "__init__.py").write_text("")
    (store / "pkg" / "mod.py").write_text("WHERE = 'source'\n")
    return store


def linked_site(store: Path, site: Path) -> Path:
    """An env's site-packages whose files are hard links into ``store``, as uv installs them."""
    for source in store.rglob("*.py"):
        target = site / source.relative_to(store)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.link(source, target)
    return site


def compile_in_place(site: Path) -> None:
    """What a kernel importing the modules of ``site`` leaves behind: its bytecode."""
    for source in site.rglob("*.py"):
        py_compile.compile(str(source), doraise=True)


def pyc(site: Path, relative: str) -> Path:
    source = site / relative
    return source.parent / "__pycache__" / f"{source.stem}.{TAG}.pyc"


def loaded_from_bytecode(site: Path, module: str) -> bool:
    """Whether a fresh interpreter that may not write bytecode imports ``module`` from ``site``'s
    ``__pycache__`` (python -v names the .pyc it loads code from)."""
    proc = subprocess.run([sys.executable, "-I", "-B", "-v", "-c", f"import sys; sys.path.insert(0, {str(site)!r}); "
                           f"import {module}; print({module}.WHERE)"], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "source"
    return f"code object from '{pyc(site, module.replace('.', '/') + '.py')}'" in proc.stderr


def test_bytecode_kept_from_one_env_is_used_by_the_next(installer_cache: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = linked_site(installer_cache, tmp_path / "env1")
    compile_in_place(first)
    assert bytecode.keep(first, TAG, ["pkg/__init__.py", "pkg/mod.py"], root=cache) == 2

    second = linked_site(installer_cache, tmp_path / "env2")
    assert not loaded_from_bytecode(second, "pkg.mod")
    assert bytecode.restore(second, TAG, root=cache) == 2
    assert pyc(second, "pkg/mod.py").read_bytes() == pyc(first, "pkg/mod.py").read_bytes()
    assert loaded_from_bytecode(second, "pkg.mod")
    # a link to the cache entry by default, a copy of it on request (shared kernels)
    assert pyc(second, "pkg/mod.py").stat().st_nlink == 2
    third = linked_site(installer_cache, tmp_path / "env3")
    assert bytecode.restore(third, TAG, link=False, root=cache) == 2
    assert pyc(third, "pkg/mod.py").stat().st_nlink == 1 and loaded_from_bytecode(third, "pkg.mod")


def test_only_the_very_same_source_file_gets_the_bytecode(installer_cache: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = linked_site(installer_cache, tmp_path / "env1")
    compile_in_place(first)
    bytecode.keep(first, TAG, ["pkg/mod.py"], root=cache)

    copied = tmp_path / "copied"  # same content, another file (pip copies, never links)
    (copied / "pkg").mkdir(parents=True)
    (copied / "pkg" / "mod.py").write_bytes((installer_cache / "pkg" / "mod.py").read_bytes())
    assert bytecode.restore(copied, TAG, root=cache) == 0
    assert not pyc(copied, "pkg/mod.py").exists()

    # the installer's file changed in place (new mtime and size): the entry no longer fits
    (installer_cache / "pkg" / "mod.py").write_text("WHERE = 'source'  # edited\n")
    changed = linked_site(installer_cache, tmp_path / "env2")
    assert bytecode.restore(changed, TAG, root=cache) == 0
    # a file only one env has (a single link) is not kept: no other env can have it
    lone = tmp_path / "lone"
    (lone / "pkg").mkdir(parents=True)
    (lone / "pkg" / "mod.py").write_text("WHERE = 'source'\n")
    compile_in_place(lone)
    assert bytecode.keep(lone, TAG, ["pkg/mod.py"], root=tmp_path / "cache2") == 0


def test_bytecode_that_does_not_match_its_source_is_never_run(installer_cache: Path, tmp_path: Path) -> None:
    """Python checks a .pyc against its source's mtime and size: a planted or outdated entry
    under the right key is ignored, and the source runs."""
    cache = tmp_path / "cache"
    first = linked_site(installer_cache, tmp_path / "env1")
    compile_in_place(first)
    bytecode.keep(first, TAG, ["pkg/mod.py"], root=cache)
    [entry] = (cache / "bytecode" / TAG).glob("*.pyc")
    other = tmp_path / "other.py"
    other.write_text("WHERE = 'planted bytecode'\n")
    py_compile.compile(str(other), cfile=str(entry), doraise=True)

    second = linked_site(installer_cache, tmp_path / "env2")
    assert bytecode.restore(second, TAG, root=cache) == 1
    assert not loaded_from_bytecode(second, "pkg.mod")  # it printed 'source' from the .py


@pytest.mark.parametrize("damage", ["group-writable", "symlink", "foreign-index-paths", "garbage-index"])
def test_a_cache_that_is_not_safe_or_not_sound_is_not_used(installer_cache: Path, tmp_path: Path,
                                                           damage: str) -> None:
    cache = tmp_path / "cache"
    first = linked_site(installer_cache, tmp_path / "env1")
    compile_in_place(first)
    bytecode.keep(first, TAG, ["pkg/mod.py"], root=cache)
    tag_dir = cache / "bytecode" / TAG
    outside = tmp_path / "outside.py"
    if damage == "group-writable":
        tag_dir.chmod(0o770)
    elif damage == "symlink":
        (cache / "bytecode").rename(tmp_path / "elsewhere")
        (cache / "bytecode").symlink_to(tmp_path / "elsewhere")
    elif damage == "foreign-index-paths":
        key = next(iter(json.loads((tag_dir / "index.json").read_text()).values()))
        os.link(installer_cache / "pkg" / "mod.py", outside)
        (tag_dir / "index.json").write_text(json.dumps({"../outside.py": key, "/etc/passwd.py": key}))
    else:
        (tag_dir / "index.json").write_text("{not json")

    second = linked_site(installer_cache, tmp_path / "env2")
    assert bytecode.restore(second, TAG, root=cache) == 0
    assert not pyc(second, "pkg/mod.py").exists()
    assert not (tmp_path / "__pycache__").exists()  # nothing written beside a path outside the env
    if damage in ("group-writable", "symlink"):
        assert bytecode.keep(second, TAG, ["pkg/mod.py"], root=cache) == 0


def test_entries_no_source_names_any_more_are_removed(installer_cache: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = linked_site(installer_cache, tmp_path / "env1")
    compile_in_place(first)
    bytecode.keep(first, TAG, ["pkg/mod.py"], root=cache)
    tag_dir = cache / "bytecode" / TAG
    [old_entry] = tag_dir.glob("*.pyc")
    stale_temp = tag_dir / ".tmp-left-by-a-killed-build"
    stale_temp.write_bytes(b"half")
    os.utime(stale_temp, (0, 0))

    (installer_cache / "pkg" / "mod.py").unlink()  # a new version of the file
    (installer_cache / "pkg" / "mod.py").write_text("WHERE = 'source'\nNEW = 1\n")
    second = linked_site(installer_cache, tmp_path / "env2")
    compile_in_place(second)
    assert bytecode.keep(second, TAG, ["pkg/mod.py"], root=cache) == 1
    assert not old_entry.exists() and not stale_temp.exists()
    assert len(list(tag_dir.glob("*.pyc"))) == 1


def test_a_build_starts_its_kernel_from_the_bytecode_an_earlier_build_kept(real_wheelhouse: Path,
                                                                            tmp_path: Path) -> None:
    """Even where nothing may write bytecode (PYTHONDONTWRITEBYTECODE, as on this CI), the
    verification kernel writes it into its env, and the next build's kernel starts from it."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    subprocess.run([sys.executable, "-m", "kernelctl", "create", "first", "-w", str(real_wheelhouse), "-q"],
                   env=env, check=True, capture_output=True, timeout=300)
    data_dir = Path(os.environ["JUPYTER_DATA_DIR"])
    first = Path(kernel_json(data_dir, "first")["metadata"]["kernelctl"]["prefix"])
    site = next(first.glob("lib/python*/site-packages"))
    tag = next((site / "ipykernel" / "__pycache__").glob("kernelapp.*.pyc")).name.split(".")[1]
    index = json.loads((Path(os.environ["XDG_CACHE_HOME"]) / "kernelctl" / "bytecode" / tag / "index.json")
                       .read_text())
    assert "ipykernel/kernelapp.py" in index and "IPython/core/interactiveshell.py" in index

    subprocess.run([sys.executable, "-m", "kernelctl", "create", "second", "-w", str(real_wheelhouse), "-q"],
                   env=env, check=True, capture_output=True, timeout=300)
    second = Path(kernel_json(data_dir, "second")["metadata"]["kernelctl"]["prefix"])
    second_site = next(second.glob("lib/python*/site-packages"))
    kernelapp = second_site / "ipykernel" / "__pycache__" / f"kernelapp.{tag}.pyc"
    entry = Path(os.environ["XDG_CACHE_HOME"]) / "kernelctl" / "bytecode" / tag / f"{index['ipykernel/kernelapp.py']}.pyc"
    assert kernelapp.stat().st_ino == entry.stat().st_ino  # restored before its kernel started, and kept
    proc = subprocess.run([str(second / "bin" / "python"), "-v", "-c", "import ipykernel.kernelapp"],
                          env=env, capture_output=True, text=True, check=True)
    assert f"code object from '{kernelapp}'" in proc.stderr
    runtime = second_site / "kernelctl_netguard"  # compiled while the kernel started
    assert {p.stem for p in runtime.glob("*.py")} == {p.name.split(".")[0] for p in (runtime / "__pycache__").glob(f"*.{tag}.pyc")}


def test_odd_input_never_fails_a_build(installer_cache: Path, tmp_path: Path) -> None:
    """Whatever the kernel reports or the index holds, keep and restore return a count."""
    cache = tmp_path / "cache"
    first = linked_site(installer_cache, tmp_path / "env1")
    compile_in_place(first)
    odd = ["pkg/mod.py", None, 7, "pkg/\0.py", "pkg/\udcff.py", "", "/", "pkg/../pkg/mod.py"]
    assert bytecode.keep(first, TAG, odd, root=cache) == 1  # type: ignore[list-item]
    index = cache / "bytecode" / TAG / "index.json"
    index.write_text("[" * 100_000 + "]" * 100_000)  # deeper than json can read
    assert bytecode.restore(linked_site(installer_cache, tmp_path / "env2"), TAG, root=cache) == 0
    index.write_text(json.dumps({"pkg/\0.py": "x", "pkg/mod.py": "../../etc/x"}))
    assert bytecode.restore(linked_site(installer_cache, tmp_path / "env3"), TAG, root=cache) == 0
    assert bytecode.keep(first, "../escape", ["pkg/mod.py"], root=cache) == 0
    assert not (cache / "escape").exists()


def test_bytecode_not_compiled_from_the_source_is_not_kept(installer_cache: Path, tmp_path: Path) -> None:
    first = linked_site(installer_cache, tmp_path / "env1")
    other = tmp_path / "other.py"
    other.write_text("WHERE = 'somewhere else'\n")
    target = pyc(first, "pkg/mod.py")
    target.parent.mkdir()
    py_compile.compile(str(other), cfile=str(target), doraise=True)
    assert bytecode.keep(first, TAG, ["pkg/mod.py"], root=tmp_path / "cache") == 0


def test_a_cache_entry_others_can_write_is_not_used(installer_cache: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = linked_site(installer_cache, tmp_path / "env1")
    compile_in_place(first)
    bytecode.keep(first, TAG, ["pkg/mod.py"], root=cache)
    [entry] = (cache / "bytecode" / TAG).glob("*.pyc")
    entry.chmod(0o666)  # as after a 'chmod -R g+w,o+w' of an env linked to it
    second = linked_site(installer_cache, tmp_path / "env2")
    assert bytecode.restore(second, TAG, root=cache) == 0 and not pyc(second, "pkg/mod.py").exists()


def test_the_cache_is_private_whatever_the_umask(installer_cache: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = linked_site(installer_cache, tmp_path / "env1")
    compile_in_place(first)
    saved = os.umask(0o002)  # user-private groups (RHEL's default)
    try:
        assert bytecode.keep(first, TAG, ["pkg/mod.py"], root=cache) == 1
    finally:
        os.umask(saved)
    assert (cache / "bytecode").stat().st_mode & 0o777 == 0o700
    assert bytecode.restore(linked_site(installer_cache, tmp_path / "env2"), TAG, root=cache) == 1


def test_what_the_kernel_reports_survives_odd_modules_and_long_lists(tmp_path: Path) -> None:
    """The code the verification kernel runs: a module whose attributes raise is skipped, and
    the answer is one string, which IPython never shortens as it does a list of 1000 items."""
    class Hostile:
        def __getattr__(self, name: str) -> object:
            raise RuntimeError("no attributes here")

    site = tmp_path / "site"
    fake_modules = {f"m{i}": type(sys)(f"m{i}") for i in range(1500)}
    for i, module in enumerate(fake_modules.values()):
        module.__file__ = str(site / f"m{i}.py")
    namespace: dict = {"sys": type(sys)("sys")}
    namespace["sys"].modules = {**fake_modules, "hostile": Hostile(), "builtin": type(sys)("builtin")}
    exec(bytecode.LOADED_CODE, namespace)
    answer = eval(bytecode.loaded_expression(site), namespace)
    assert isinstance(answer, str) and len(answer.splitlines()) == 1500 and "m1499.py" in answer.splitlines()
