"""``kernelctl create``: a persistent virtualenv kernel, installed only from the wheelhouse,
a Julia kernel, or an R kernel with its own library installed only from local R
repositories; each can load modules (Lmod, Environment Modules) when it starts."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from kernelctl import kernelspec, languages, modules, netguard_config
from kernelctl.build import BuildPlan, build, group_id
from kernelctl.commands import slurm
from kernelctl.commands.args import (add_allow_option, add_json_flag, add_parser, add_quiet_flag, add_verbose_flag,
                                     add_wheelhouse_option)
from kernelctl.envstore import clean_leftovers, linked_generation
from kernelctl.languages import julia, r
from kernelctl.errors import KernelctlError, UsageError
from kernelctl.interpreter import find_interpreter
from kernelctl.location import Location, prefix_location, sys_prefix_location, system_location, user_location
from kernelctl.locking import name_lock
from kernelctl.manifest import Manifest, Options
from kernelctl.names import validate_name
from kernelctl.output import Progress, print_json
from kernelctl.wheelhouse.discovery import discover


def create(
    name: str,
    packages: Sequence[str] = (),
    *,
    requirement_files: Sequence[str | os.PathLike[str]] = (),
    wheelhouses: Sequence[str | os.PathLike[str]] = (),
    python: str | None = None,
    display_name: str | None = None,
    system_site_packages: bool = False,
    verify: bool = True,
    force: bool = False,
    backend: str = "auto",
    module_names: Sequence[str] = (),
    purge: bool = False,
    language: str = "python",
    julia_project: str | None = None,
    julia_depot: str | None = None,
    r_repos: Sequence[str | os.PathLike[str]] = (),
    netguard: str = "warn",
    netguard_allow: Sequence[str] = (),
    location: Location | None = None,
    group: str | None = None,
    logo: str | os.PathLike[str] | None = None,
    progress: Progress | None = None,
    verbose: bool = False,
) -> Manifest:
    """Create the kernel ``name`` and return its manifest.

    Every input is checked before anything is written. ``module_names`` are loaded (after
    ``module purge`` with ``purge``) into kernelctl's environment before the interpreter is
    looked for and the env is built, and by the kernel at every start. A ``language`` of
    "julia" makes a Julia kernel: no env, no packages; "r" an R kernel with its own library,
    ``packages`` being R packages installed from the local R repositories ``r_repos``. The
    kernel appears in the launcher only once it is complete (and, unless ``verify`` is false,
    has run a cell).
    """
    validate_name(name)
    if language != julia.LANGUAGE and (julia_project or julia_depot):
        raise UsageError("--julia-project and --julia-depot are for Julia kernels", "Add --language julia.")
    if language == julia.LANGUAGE and (packages or requirement_files or python or system_site_packages):
        raise UsageError("a Julia kernel installs no Python packages and has no Python env",
                         "Drop the packages, -r, --python and --system-site-packages; Julia and IJulia come "
                         "from modules (e.g. --module ijulia-kernel).")
    if language != r.LANGUAGE and r_repos:
        raise UsageError("--r-repo is for R kernels", "Add --language r.")
    if language == r.LANGUAGE and (requirement_files or python or system_site_packages or wheelhouses):
        raise UsageError("an R kernel has no Python env: -r, --python, --system-site-packages and --wheelhouse "
                         "do not apply", "Name R packages and the --r-repo DIRs that hold them.")
    wanted = languages.get(language).read_packages(name, packages, requirement_files)
    repo_dirs = [Path(d).absolute() for d in r_repos]
    r.check_repos(repo_dirs)
    guard = Options(netguard=netguard, netguard_allow=list(netguard_allow))
    netguard_config.validate(guard, [])
    location = location or user_location()
    if group is not None:
        check_group(group, location)
    logo_path = str(Path(logo).absolute()) if logo is not None else None
    if logo_path is not None:
        kernelspec.logo_files(language, Path(logo_path))  # a missing or unusable logo stops us now
    # The modules may supply the interpreter (python/3.11) and pip's configuration.
    with modules.loaded(module_names, purge) as module_system, name_lock(name, location):
        if language == julia.LANGUAGE:
            plan = BuildPlan(
                name=name, interpreter=None, python_requested=None, wheelhouses=[], requirements=[],
                options=Options(display_name=display_name or julia.default_display_name(name), language=language,
                                modules=list(module_names), purge=purge, logo=logo_path, group=group,
                                julia_project=julia_project, julia_depot=julia_depot),
                module_system=module_system, location=location,
            )
        elif language == r.LANGUAGE:
            plan = BuildPlan(
                name=name, interpreter=None, python_requested=None, wheelhouses=[], requirements=wanted.requirements,
                options=Options(display_name=display_name or f"R ({name})", language=language,
                                modules=list(module_names), purge=purge, logo=logo_path, group=group,
                                r_repos=[str(d) for d in repo_dirs],
                                netguard=guard.netguard, netguard_allow=guard.netguard_allow),
                module_system=module_system, location=location,
            )
        else:
            plan = BuildPlan(
                name=name, interpreter=find_interpreter(python), python_requested=python,
                wheelhouses=list(discover(wheelhouses).dirs), requirements=wanted.requirements,
                constraints=wanted.constraints, requirement_files=wanted.files,
                options=Options(display_name=display_name, system_site_packages=system_site_packages,
                                backend=backend, modules=list(module_names), purge=purge,
                                netguard=guard.netguard, netguard_allow=guard.netguard_allow,
                                logo=logo_path, group=group),
                module_system=module_system, location=location,
            )
        kernelspec.check_name_free(name, location)
        existing = kernelspec.read_spec(location.kernels_dir, name)
        if existing is not None and not force:
            owner = "" if existing.kernelctl else " (not made by kernelctl)"
            raise KernelctlError(
                f"a kernel named {name!r} already exists{owner}: {existing.resource_dir}",
                f"Use 'kernelctl create {name} --force ...' to replace it, or 'kernelctl rebuild {name}' "
                "to rebuild it from its manifest.",
            )
        check_env_slot(name, location, replacing=existing is not None or force)
        clean_leftovers(name, location)
        return build(plan, verify=verify, progress=progress, verbose=verbose)


def check_env_slot(name: str, location: Location, replacing: bool) -> None:
    """Refuse to take ``envs/NAME`` from something that is not a leftover of ours."""
    link = location.envs_dir / name
    if link.exists() and not link.is_symlink():
        raise KernelctlError(f"{link} exists and is not kernelctl's link to an env",
                             "Move it out of the way, or choose another kernel name.")
    if not replacing and linked_generation(name, location) is not None:
        raise KernelctlError(
            f"an env for a kernel named {name!r} already exists ({link}), though this Jupyter data dir "
            "has no such kernel (is it registered with another JUPYTER_DATA_DIR?)",
            f"Use 'kernelctl create {name} --force ...' to replace it, or choose another name.")


def check_group(group: str, location: Location) -> None:
    if not location.shared:
        raise UsageError("--group is for shared kernels", "Add --prefix DIR, --sys-prefix or --system.")
    gid = group_id(group)
    if os.geteuid() != 0 and gid not in os.getgroups() and gid != os.getegid():
        raise UsageError(f"you are not a member of group {group!r}, so you cannot give it a kernel",
                         "Use one of the groups 'id' lists for you.")


def location_from_args(args: argparse.Namespace) -> Location:
    if args.prefix:
        return prefix_location(args.prefix)
    if args.sys_prefix:
        return sys_prefix_location()
    if args.system:
        return system_location()
    return user_location()


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_parser(
        subparsers, "create",
        "Create a virtualenv kernel named NAME that installs only from the local wheelhouse\n"
        "(pip --no-index), register it with Jupyter and check that it starts.",
        "  kernelctl create myenv numpy pandas\n"
        "  kernelctl create ml -r requirements.txt --python 3.11\n"
        "  kernelctl create course --wheelhouse ~/wheels --display-name 'Course 2025'\n"
        "  kernelctl create myenv --force numpy     replace an existing kernel\n"
        "  kernelctl create sci --module python/3.11 --module scipy-stack\n"
        "  kernelctl create jl --language julia --module ijulia-kernel\n"
        "  kernelctl create rk --language r --module r/4.3 --r-repo /project/def-x/R-repo ggplot2",
    )
    parser.add_argument("name", metavar="NAME", help="kernel name (lowercase letters, digits, . _ -)")
    parser.add_argument("packages", metavar="PKG", nargs="*", default=[], help="requirements to install, as for pip")
    parser.add_argument("-r", "--requirement", metavar="FILE", action="append", default=[],
                        help="install from a requirements file (repeatable)")
    add_wheelhouse_option(parser)
    parser.add_argument("--python", metavar="EXE_OR_X.Y",
                        help="interpreter for the env: a path or a version on PATH (default: python3 on PATH)")
    parser.add_argument("--display-name", metavar="TEXT", help="name shown in the launcher (default: 'Python X.Y (NAME)')")
    parser.add_argument("--system-site-packages", action="store_true",
                        help="let the env see the interpreter's packages (e.g. from a scipy-stack module)")
    parser.add_argument("--module", metavar="MOD", dest="modules", action="append", default=[],
                        help="a module to load, before the build and at every kernel start "
                             "(repeatable, loaded in order; Lmod or Environment Modules)")
    parser.add_argument("--purge", action="store_true", help="'module purge' before loading the modules")
    parser.add_argument("--language", choices=tuple(languages.LANGUAGES), default="python",
                        help="kernel language (default: python; julia starts IJulia from the modules; r starts "
                             "IRkernel with the kernel's own R library)")
    parser.add_argument("--julia-project", metavar="DIR",
                        help=f"Julia project for the kernel (default: {julia.DEFAULT_PROJECT}, the nearest Project.toml)")
    parser.add_argument("--julia-depot", metavar="DIR",
                        help="put DIR first on JULIA_DEPOT_PATH (default: as the modules set it)")
    parser.add_argument("--r-repo", metavar="DIR", dest="r_repos", action="append", default=[],
                        help="R kernels: a local R repository (CRAN-like, or a dir of source tarballs) to install "
                             "PKGs and IRkernel from, and install.packages() in the kernel (repeatable)")
    parser.add_argument("--netguard", choices=netguard_config.MODES, default="warn",
                        help="warn (default) or block when notebook code reaches for the internet; off: neither")
    add_allow_option(parser, "hosts, '.domain' suffixes or CIDRs that netguard never flags",
                     flag="--netguard-allow", default=[])
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--prefix", metavar="DIR",
                       help="a shared kernel under DIR (kernelspec in DIR/share/jupyter/kernels, env in "
                            "DIR/share/kernelctl); users add DIR/share/jupyter to JUPYTER_PATH")
    where.add_argument("--sys-prefix", action="store_true",
                       help="a shared kernel in the prefix of the Python running kernelctl")
    where.add_argument("--system", action="store_true",
                       help="a shared kernel in Jupyter's system-wide directory (usually needs root)")
    parser.add_argument("--group", metavar="GROUP",
                        help="with a shared kernel: only GROUP may use it (nobody else may read it)")
    parser.add_argument("--logo", metavar="FILE", help="a .png or .svg to show in the launcher instead of kernelctl's")
    parser.add_argument("--no-verify", dest="verify", action="store_false",
                        help="do not start the kernel to check it before registering it")
    parser.add_argument("--force", action="store_true", help="replace an existing kernel of the same name")
    slurm.add_create_options(parser)  # --slurm, --slurm-wait
    parser.add_argument("--backend", choices=("auto", "pip", "uv"), default="auto",
                        help="installer to use (default: uv when installed, else pip)")
    add_verbose_flag(parser)
    add_quiet_flag(parser)
    add_json_flag(parser)
    parser.set_defaults(run=run, intermixed="packages")


def run(args: argparse.Namespace) -> int:
    progress = Progress(enabled=not args.quiet)
    slurm.check_create_options(args)
    manifest = create(
        args.name, args.packages, requirement_files=args.requirement, wheelhouses=args.wheelhouse,
        python=args.python, display_name=args.display_name, system_site_packages=args.system_site_packages,
        verify=args.verify, force=args.force, backend=args.backend, module_names=args.modules, purge=args.purge,
        language=args.language, julia_project=args.julia_project, julia_depot=args.julia_depot, r_repos=args.r_repos,
        netguard=args.netguard,
        netguard_allow=args.netguard_allow, location=location_from_args(args), group=args.group, logo=args.logo,
        progress=progress, verbose=args.verbose,
    )
    display_name = slurm.apply_create_options(args) or manifest.display_name
    if args.json:
        print_json(manifest.to_dict())
    if not args.quiet:
        print(f"Kernel {manifest.name!r} is ready: pick \"{display_name}\" in the JupyterLab launcher "
              "(reload the page if JupyterLab is already open).", file=sys.stderr if args.json else sys.stdout)
    return 0
