"""Real R for the R kernel tests: Debian's R and IRkernel, and small R packages built here.

``.ci/install-system-packages`` installs r-base-core, r-base-dev and r-cran-irkernel.
The packages are built with ``R CMD build`` from sources written here: ``greet`` and
``hello``, which imports ``greet``, so that installing ``hello`` needs its dependency.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from conftest import require_system

PACKAGES = {
    "greet": ("", 'greeting <- function() "world"', "greeting"),
    "hello": ("Imports: greet\n", 'hello <- function() paste("hello", greet::greeting())', "hello"),
}


def require_r() -> None:
    """Skip (fail in CI) unless R, R CMD build and IRkernel are installed."""
    require_system(shutil.which("R") is not None and shutil.which("Rscript") is not None,
                   "needs R (apt-get install r-base-core r-base-dev)")
    probe = subprocess.run(["Rscript", "-e", "cat(nzchar(system.file(package = 'IRkernel')))"],
                           capture_output=True, text=True)
    require_system(probe.stdout.strip() == "TRUE", "needs IRkernel (apt-get install r-cran-irkernel)")


def build_tarballs(dest: Path, names: tuple[str, ...] = ("greet", "hello")) -> Path:
    """Build source tarballs of ``names`` with ``R CMD build`` into ``dest``; return ``dest``."""
    require_r()
    sources = dest.parent / f"{dest.name}-sources"
    dest.mkdir(parents=True, exist_ok=True)
    for name in names:
        imports, code, export = PACKAGES[name]
        src = sources / name
        (src / "R").mkdir(parents=True)
        (src / "DESCRIPTION").write_text(
            f"Package: {name}\nVersion: 0.1.0\nTitle: Test Package {name}\n"
            f"Description: A package for kernelctl's tests.\n"
            'Authors@R: person("Test", "Person", email = "t@example.org", role = c("aut", "cre"))\n'
            f"License: MIT\n{imports}")
        (src / "NAMESPACE").write_text(f"export({export})\n")
        (src / "R" / f"{name}.R").write_text(code + "\n")
        subprocess.run(["R", "CMD", "build", "--no-build-vignettes", str(src)], cwd=dest, check=True,
                       capture_output=True)
    return dest


def cran_like_repo(root: Path, names: tuple[str, ...] = ("greet", "hello")) -> Path:
    """A CRAN-like repository at ``root`` (``src/contrib`` with PACKAGES) holding ``names``."""
    contrib = build_tarballs(root / "src" / "contrib", names)
    subprocess.run(["Rscript", "-e", f"tools::write_PACKAGES('{contrib}', type = 'source')"], check=True,
                   capture_output=True)
    return root
