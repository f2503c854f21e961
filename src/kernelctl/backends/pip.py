"""Installs with the env's own pip."""

from __future__ import annotations

from kernelctl.backends.base import InstallRequest, clean_environment, run_installer


class PipBackend:
    name = "pip"

    def install(self, request: InstallRequest) -> None:
        argv = [str(request.python), "-m", "pip", "install", "--no-index", "--progress-bar", "off"]
        if not request.verbose:
            argv.append("--quiet")
        for directory in request.wheelhouses:
            argv += ["--find-links", str(directory)]
        for path in request.requirement_files:
            argv += ["-r", str(path)]
        argv += list(request.requirements)
        run_installer(argv, request, clean_environment())
