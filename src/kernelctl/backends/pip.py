"""Installs with the env's own pip."""

from __future__ import annotations

from kernelctl.backends.base import InstallRequest, clean_environment, run_installer


class PipBackend:
    name = "pip"

    def install(self, request: InstallRequest) -> None:
        command = [str(request.python), "-m", "pip", "install", "--no-index", "--progress-bar", "off"]
        run_installer(command, request, clean_environment())
