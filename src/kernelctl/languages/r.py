"""R kernels: IRkernel with the kernel's own R library, installed only from local R repositories.

The generation holds ``library/`` (the R analogue of the venv: first in ``.libPaths()`` in
the kernel, the module's and site's libraries behind it) and ``Rprofile`` (the analogue of
the env's pip.conf: ``options(repos=)`` names only the local repositories as ``file://``
URLs, so ``install.packages()`` in a notebook stays offline; in netguard's warn or block mode
it also traces the calls that need the internet, see ``r_netguard.R``). R comes from the modules or
PATH; the launcher loads the modules at every start, puts the library first on ``R_LIBS``,
points ``R_PROFILE_USER`` at the profile and execs ``R ... -e IRkernel::main()``.

A local repository (``--r-repo``) is either CRAN-like (``DIR/src/contrib/PACKAGES``, as
``tools::write_PACKAGES`` makes it) or a plain directory of source tarballs
(``NAME_VERSION.tar.gz``), which kernelctl indexes inside the generation. IRkernel is taken
from the module's or site's library when R already sees it; every other package, and
IRkernel otherwise, is installed from those repositories with its dependencies, never from
CRAN or GitHub.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kernelctl import kernelspec, netguard_config
from kernelctl.background import import_in_background
from kernelctl.errors import KernelctlError, UsageError
from kernelctl.launcher import LAUNCHER_NAME
from kernelctl.manifest import Manifest, now
from kernelctl.modules import ModuleSystem, launch_settings
from kernelctl.netguard import catalogue, r_rules
from kernelctl.netguard.guard import MODE_ENV, PREFIX
from kernelctl.netguard.policy import _PRIVATE_NETS, ALLOW_ENV
from kernelctl.output import Progress
from kernelctl.requirements import COMMAND_LINE, Line, Requirements
from kernelctl.verify import run_cell

if TYPE_CHECKING:
    from kernelctl.build import BuildPlan

LANGUAGE = "r"
KERNEL_PACKAGE = "IRkernel"
LIBRARY = "library"
PROFILE = "Rprofile"
NETGUARD_HOOK = Path(__file__).with_name("r_netguard.R")
INDEXES = "repos"  # indexes made for plain directories of tarballs
PACKAGE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9.]*[A-Za-z0-9]")
TARBALL = re.compile(r"([A-Za-z][A-Za-z0-9.]*[A-Za-z0-9])_[0-9][0-9.-]*\.tar\.gz")

# Run by Rscript with the plan in KERNELCTL_R_* variables. Prints "R <version> <R home>",
# then "MISSING <pkg>..." (exit 3) or installs and prints one "PKG <name> <version>" per
# package in the kernel's library. Dependencies come from the local repositories' index
# only; what R already sees (site, module library) is not installed again.
INSTALL_SCRIPT = r"""
split <- function(v) Filter(nzchar, strsplit(Sys.getenv(v), "\n", fixed = TRUE)[[1]])
lib <- Sys.getenv("KERNELCTL_R_LIB"); contrib <- split("KERNELCTL_R_CONTRIB")
wanted <- split("KERNELCTL_R_WANTED"); if_missing <- split("KERNELCTL_R_IF_MISSING")
.libPaths(c(lib, .libPaths()))
cat("R", paste(R.version$major, R.version$minor, sep = "."), R.home(), "\n")
avail <- available.packages(contriburl = contrib, type = "source", filters = "duplicates")
seen <- rownames(installed.packages())
wanted <- c(wanted, setdiff(if_missing, seen))
from_repo <- intersect(wanted, rownames(avail))
deps <- unlist(tools::package_dependencies(from_repo, db = avail, recursive = TRUE,
                                           which = c("Depends", "Imports", "LinkingTo")))
deps <- setdiff(unique(deps), c(seen, from_repo, "R"))
missing <- c(setdiff(setdiff(wanted, rownames(avail)), seen), setdiff(deps, rownames(avail)))
if (length(missing)) { cat("MISSING", missing, "\n"); cat("HOLD", rownames(avail), "\n"); quit(status = 3) }
todo <- c(deps, from_repo)
if (length(todo)) install.packages(todo, lib = lib, contriburl = contrib, available = avail, type = "source",
                                   dependencies = FALSE, quiet = Sys.getenv("KERNELCTL_R_VERBOSE") == "")
ip <- installed.packages(lib.loc = lib)
failed <- setdiff(todo, rownames(ip))
if (length(failed)) { cat("FAILED", failed, "\n"); quit(status = 4) }
for (i in seq_len(nrow(ip))) cat("PKG", ip[i, "Package"], ip[i, "Version"], "\n")
"""

# The kernel's test cell: 1 + 1, the first library path, then the kernel library's packages.
VERIFY_CELL = ('ip <- installed.packages(lib.loc = .libPaths()[1]); '
               'cat(1 + 1, .libPaths()[1], paste(ip[, "Package"], ip[, "Version"]), sep = "\\n")')


def check_package_names(names: list[str]) -> None:
    """Refuse anything that is not an R package name (no versions, paths or URLs)."""
    for name in names:
        if not PACKAGE_NAME.fullmatch(name):
            raise UsageError(f"{name!r} is not an R package name",
                             "Name R packages as R does (e.g. data.table); versions come from the --r-repo dirs.")


def check_repos(repos: list[Path]) -> None:
    """Refuse a ``--r-repo`` that is neither CRAN-like nor a directory of source tarballs."""
    for repo in repos:
        if not (repo / "src" / "contrib" / "PACKAGES").is_file() and not _tarballs(repo):
            raise UsageError(f"{repo} is not a local R repository: it has neither src/contrib/PACKAGES nor "
                             "NAME_VERSION.tar.gz files",
                             "Pass a CRAN-like directory (tools::write_PACKAGES) or one holding source tarballs.")


def _tarballs(directory: Path) -> list[Path]:
    try:
        return sorted(p for p in directory.iterdir() if TARBALL.fullmatch(p.name))
    except OSError:
        return []


def _rscript() -> str:
    """Rscript next to the R on PATH (after the modules are loaded)."""
    r = shutil.which("R")
    rscript = shutil.which("Rscript") if r is None else str(Path(r).with_name("Rscript"))
    if r is None or rscript is None or not os.access(rscript, os.X_OK):
        raise KernelctlError("no R on PATH to build an R kernel with",
                             "Load R's module (e.g. --module r/4.3) or put R on PATH.")
    return rscript


def repo_roots(repos: list[Path], prefix: Path, rscript: str) -> list[Path]:
    """A CRAN-like root for each repository: itself, or an index of its tarballs made in ``prefix``."""
    roots = []
    for number, repo in enumerate(repos):
        if (repo / "src" / "contrib" / "PACKAGES").is_file():
            roots.append(repo)
            continue
        root = prefix / INDEXES / str(number)
        contrib = root / "src" / "contrib"
        contrib.mkdir(parents=True)
        for tarball in _tarballs(repo):
            (contrib / tarball.name).symlink_to(tarball)
        _run([rscript, "-e", f"tools::write_PACKAGES({_r_string(str(contrib))}, type = 'source')"], {})
        roots.append(root)
    return roots


def _r_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _url(root: Path) -> str:
    """A ``file://`` URL as R reads it: the path as is (R does not undo %-escapes such as the ``@`` of a generation)."""
    return f"file://{root.absolute()}"


def profile_text(library: Path, roots: list[Path]) -> str:
    """The kernel's R profile: the user's usual profile first, then its library and offline repos."""
    repos = ", ".join(f"local{n} = {_r_string(_url(root))}" for n, root in enumerate(roots, 1))
    return (
        "# Written by kernelctl: the kernel's library first, install.packages() from local repositories only.\n"
        'local({ own <- if (file.exists(".Rprofile")) ".Rprofile" else path.expand("~/.Rprofile")\n'
        "        if (file.exists(own)) sys.source(own, envir = globalenv()) })\n"
        f".libPaths(unique(c({_r_string(str(library))}, .libPaths())))\n"
        f"options(repos = {'c(' + repos + ')' if repos else 'NULL'})\n"
        + netguard_hook()
    )


def _r_vector(items: dict[str, str] | list[str], kind: str = "c") -> str:
    named = items.items() if isinstance(items, dict) else ((None, v) for v in items)
    return f"{kind}(" + ", ".join(_r_string(v) if k is None else f"`{k}` = {_r_string(v)}" for k, v in named) + ")"


def netguard_hook() -> str:
    """The profile's netguard hook (``r_netguard.R``), filled with the scan's offline fixes for
    the rules it reports, the private IPv4 networks and the variable names the Python kernels read."""
    rules = {**catalogue.RULES, **r_rules.RULES}
    hints = {rule: rules[rule].hint for rule in ("http-request", "remote-read", *r_rules.RULES)}
    nets = [str(net) for net in _PRIVATE_NETS if net.version == 4]
    fills = {"@MODE_ENV@": MODE_ENV, "@ALLOW_ENV@": ALLOW_ENV, "@PREFIX@": PREFIX,
             "@HINTS@": _r_vector(hints, "list"), "@NETS@": _r_vector(nets)}
    text = NETGUARD_HOOK.read_text(encoding="utf-8")
    for key, value in fills.items():
        text = text.replace(key, value)
    return text


def netguard_env(env: dict[str, str], options: Any) -> dict[str, str]:
    """kernel.json's ``env`` with the R kernel's netguard variables for ``options`` in place of
    the old ones: the mode (``off`` too, so a server's own setting does not leak in) and the
    allowlist, as Python kernels get them. Raises UsageError for a bad allow entry."""
    allow = netguard_config.validate(options, [])[1].get(ALLOW_ENV)
    kept = {k: v for k, v in env.items() if k not in (MODE_ENV, ALLOW_ENV)}
    return {**kept, MODE_ENV: options.netguard, **({ALLOW_ENV: allow} if allow else {})}


def _run(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(argv, capture_output=True, text=True, env={**os.environ, **env})
    if proc.returncode not in (0, 3, 4):
        lines = [line.strip() for line in (proc.stderr or proc.stdout).splitlines() if line.strip()]
        last = lines[-1] if lines else f"exit {proc.returncode}"
        said = next((line for line in lines if line.startswith("Error")), last)  # not "Execution halted"
        raise KernelctlError(f"R failed ({' '.join(argv[:2])}): {said}",
                             "Run the command again with -v to see R's output.")
    return proc


def _lines(out: str, tag: str) -> list[list[str]]:
    return [line.split()[1:] for line in out.splitlines() if line.startswith(tag + " ")]


def install(plan: BuildPlan, prefix: Path, roots: list[Path], rscript: str,
            verbose: bool) -> tuple[str, dict[str, str]]:
    """Install the plan's packages (and IRkernel unless R sees it) into the kernel's library;
    return R's ``"R VERSION (R_HOME)"`` and the library's packages."""
    wanted = [r.text for r in plan.requirements + plan.added]
    proc = _run([rscript, "--no-init-file", "-e", INSTALL_SCRIPT], {
        "KERNELCTL_R_LIB": str(prefix / LIBRARY),
        "KERNELCTL_R_CONTRIB": "\n".join(_url(r / "src" / "contrib") for r in roots),
        "KERNELCTL_R_WANTED": "\n".join(wanted), "KERNELCTL_R_IF_MISSING": KERNEL_PACKAGE,
        "KERNELCTL_R_VERBOSE": "1" if verbose else ""})
    if verbose:
        print(proc.stderr, end="")
    missing = _lines(proc.stdout, "MISSING")
    if missing:
        held = _lines(proc.stdout, "HOLD")[0]
        raise KernelctlError(
            f"R package(s) {', '.join(missing[0])} not in the local R repositories "
            f"({', '.join(map(str, plan.options.r_repos)) or 'none given'}; they hold: {', '.join(held) or 'nothing'})",
            "Add the source tarball (R CMD build) to a --r-repo DIR, or pass the --r-repo that holds it.")
    failed = _lines(proc.stdout, "FAILED")
    if failed:
        raise KernelctlError(f"R could not install {', '.join(failed[0])} from the local repositories",
                             f"Run 'kernelctl create {plan.name} --language r ... -v' to see R's output.")
    version, home = _lines(proc.stdout, "R")[0][:2]
    return f"{version} ({home})", {name: version for name, version in (p[:2] for p in _lines(proc.stdout, "PKG"))}


def verify_library(staged: Path, prefix: Path) -> dict[str, str]:
    """Start the kernel, run ``1 + 1`` and check its first library is the kernel's; return
    the packages in that library as the kernel sees them."""
    out, _ = run_cell(staged, VERIFY_CELL, timeout=120.0)
    lines = out.splitlines()
    if not lines or lines[0].strip() != "2":
        raise KernelctlError(f"the new R kernel answered {out[:80]!r} to 1 + 1", "Run 'kernelctl doctor' for details.")
    first = Path(lines[1].strip()) if len(lines) > 1 else None
    if first is None or first.resolve() != (prefix / LIBRARY).resolve():
        raise KernelctlError(f"the new R kernel's first library is {first}, not its own {prefix / LIBRARY}",
                             "Something in the modules or an Rprofile overrides .libPaths(); check them.")
    return dict(line.split(" ", 1) for line in lines[2:] if " " in line)


class R:
    """R kernels (see :class:`kernelctl.languages.Language`)."""

    name = LANGUAGE
    steps = 3  # library and profile, kernelspec, packages
    env_files: tuple[str, ...] = (LIBRARY, PROFILE)

    def read_packages(self, name: str, packages: Sequence[str],
                      files: Sequence[str | os.PathLike[str]]) -> Requirements:
        if files:
            raise UsageError("an R kernel takes R package names, not requirements files",
                             "Name the R packages on the command line.")
        check_package_names(list(packages))
        return Requirements([Line(p) for p in packages])

    def make_env(self, plan: BuildPlan, prefix: Path, progress: Progress) -> tuple[str, list[Path]]:
        """Make the library, index plain tarball dirs and write the profile; return Rscript and the repo roots."""
        with progress.step(f"Making the R library in {plan.location.envs_dir / plan.name}"):
            rscript = _rscript()
            (prefix / LIBRARY).mkdir(parents=True)
            roots = repo_roots([Path(d) for d in plan.options.r_repos], prefix, rscript)
            (prefix / PROFILE).write_text(profile_text(prefix / LIBRARY, roots), encoding="utf-8")
        return rscript, roots

    def kernel_files(self, plan: BuildPlan, prefix: Path, system: ModuleSystem | None) -> tuple[dict, dict]:
        options = plan.options
        config: dict[str, Any] = launch_settings(system, options.modules, options.purge)
        # With modules, the R they put on PATH at start; without, the R found now (as IRkernel's installspec).
        r = "R" if config else (shutil.which("R") or "R")
        config.update({
            "env": {"R_PROFILE_USER": str(prefix / PROFILE)},
            "prepend": {"R_LIBS": [str(prefix / LIBRARY)]},
            "exec": [r, "--no-save", "--no-restore", "--slave", "-e", "IRkernel::main()", "--args"],
        })
        spec = {
            "argv": ["python3", "-I", "-S", "{resource_dir}/" + LAUNCHER_NAME, "{connection_file}"],
            "display_name": options.display_name or f"R ({plan.name})",
            "language": LANGUAGE,
            "interrupt_mode": "signal",
            "env": netguard_env({}, options),
            "metadata": {"kernelctl": kernelspec.kernelctl_metadata(plan.name, prefix, plan.location)},
        }
        return spec, config

    def fill_env(self, plan: BuildPlan, prefix: Path, staged: Path, made: Any, verify: bool,
                 progress: Progress, verbose: bool) -> Manifest:
        rscript, roots = made
        wanted = [r.text for r in plan.requirements + plan.added]
        if verify:  # while R installs: the kernel is started once it is done
            import_in_background("jupyter_client.manager")
        with progress.step(f"Installing {', '.join(wanted) or 'nothing'} (IRkernel unless R has it) from "
                           f"{len(roots)} local R repositor{'y' if len(roots) == 1 else 'ies'}"):
            runtime, installed = install(plan, prefix, roots, rscript, verbose)
        if verify:
            with progress.step("Verifying: starting the R kernel and running 1 + 1"):
                installed = verify_library(staged, prefix)
        manifest = Manifest(
            name=plan.name, prefix=str(prefix), python_requested=None, python_executable="", python_version="",
            wheelhouses=[], requirements=[r.text for r in plan.requirements + plan.added if r.source == COMMAND_LINE],
            requirement_files=[], requirement_lines=[r.to_dict() for r in plan.requirements + plan.added],
            options=plan.options, installed=installed, runtime=f"R {runtime}")
        manifest.save()
        return manifest

    def verify(self, staged: Path, prefix: Path, progress: Progress) -> None:
        with progress.step(f"Registering {staged.name!r} again: starting it and running 1 + 1"):
            verify_library(staged, prefix)

    def describe(self, manifest: Manifest) -> tuple[str, str]:
        return "r", f"{manifest.runtime or 'R'}; repos {', '.join(manifest.options.r_repos) or '-'}"


    def export(self, manifest: Manifest) -> str:
        header = [f"# kernelctl export of kernel {manifest.name!r} ({manifest.runtime or 'R'}), {now()}",
                  f"# its library's packages (NAME==VERSION); recreate with: kernelctl create NAME --language r "
                  f"--r-repo DIR $(sed '/^#/d; s/==.*//' THIS_FILE)"]
        return "\n".join(header + [f"{name}=={version}" for name, version in manifest.installed.items()]) + "\n"


R_LANGUAGE = R()
