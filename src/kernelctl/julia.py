"""The Julia kernel's constants at their former import path; the language is :mod:`kernelctl.languages.julia`."""

from kernelctl.languages.julia import DEFAULT_PROJECT, IJULIA_START, LANGUAGE, OFFLINE_ENV

__all__ = ["DEFAULT_PROJECT", "IJULIA_START", "LANGUAGE", "OFFLINE_ENV"]
