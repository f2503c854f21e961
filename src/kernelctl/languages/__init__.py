"""Kernel languages: what differs between a Python, a Julia and an R kernel, behind one protocol.

The build transaction (:mod:`kernelctl.build`), re-registration
(:mod:`kernelctl.registration`), ``install``, ``export`` and ``show`` only call a
:class:`Language`: read the packages asked for, make the env in a fresh generation, give the
kernel.json and launch config, fill and verify the env, verify a re-registered spec,
describe a kernel and export what its env holds. A new language is one
module here and one entry in :data:`LANGUAGES`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from kernelctl.errors import UsageError

if TYPE_CHECKING:
    from kernelctl.build import BuildPlan
    from kernelctl.manifest import Manifest
    from kernelctl.modules import ModuleSystem
    from kernelctl.output import Progress
    from kernelctl.requirements import Requirements


class Language(Protocol):
    """One kernel language. ``steps`` is the number of progress steps of a build before
    verification (the kernelspec's writing included); ``env_files`` are what a complete env
    holds besides the manifest, which ``list`` and ``doctor`` report missing (a Python env's
    interpreter and packages are judged by :mod:`kernelctl.health` itself)."""

    name: str
    steps: int
    env_files: tuple[str, ...]

    def read_packages(self, name: str, packages: Sequence[str],
                      files: Sequence[str | os.PathLike[str]]) -> Requirements:
        """The packages to install into kernel ``name``, named on the command line (and in
        ``files``), vetted; a UsageError for what the language cannot install."""

    def make_env(self, plan: BuildPlan, prefix: Path, progress: Progress) -> Any:
        """Make the env at the fresh generation ``prefix``; return what :meth:`fill_env` needs."""

    def kernel_files(self, plan: BuildPlan, prefix: Path,
                     system: ModuleSystem | None) -> tuple[dict[str, Any], dict[str, Any]]:
        """kernel.json and the launcher's config for the kernel whose env is ``prefix``."""

    def fill_env(self, plan: BuildPlan, prefix: Path, staged: Path, made: Any, verify: bool,
                 progress: Progress, verbose: bool) -> Manifest:
        """Install into the env, start the kernel staged in ``staged`` when ``verify``, save
        and return the manifest."""

    def verify(self, staged: Path, prefix: Path, progress: Progress) -> None:
        """Start the kernel staged in ``staged`` (env ``prefix``) and run a cell."""

    def describe(self, manifest: Manifest) -> tuple[str, str]:
        """The kernel's runtime for ``show``: a label and a text (``("python", "3.11.2 (...)")``)."""

    def export(self, manifest: Manifest) -> str:
        """What the env at ``manifest.prefix`` holds, pinned, as a file to recreate the kernel from."""


def get(language: str) -> Language:
    """The :class:`Language` called ``language``."""
    try:
        return LANGUAGES[language]
    except KeyError:
        raise UsageError(f"kernelctl knows no kernel language {language!r}",
                         f"Use one of: {', '.join(LANGUAGES)}.") from None


def _registry() -> dict[str, Language]:
    from kernelctl.languages import julia, python, r

    return {python.LANGUAGE: python.PYTHON, julia.LANGUAGE: julia.JULIA, r.LANGUAGE: r.R_LANGUAGE}


LANGUAGES: dict[str, Language] = _registry()
