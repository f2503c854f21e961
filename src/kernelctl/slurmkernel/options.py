"""The Slurm options of a Slurm kernel (``--time=2:00:00 -c 8 --mem=32G``): split without a
shell, checked against the salloc/sbatch options a kernel's job may take, and normalised to
``--long=value`` so the job script and the launcher card read them the same way."""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Sequence

from kernelctl.errors import UsageError
from kernelctl.slurm.options import check_gpus, check_mem, time_seconds

_NAME = re.compile(r"[A-Za-z0-9_.:,=@+/%-]+")
_POSITIVE = re.compile(r"[1-9]\d*")


def _text(option: str, value: str) -> str:
    if not _NAME.fullmatch(value):
        raise UsageError(f"{option} {value!r} is not a valid value", "Use letters, digits and . _ - : , = @ + / % only.")
    return value


def _count(option: str, value: str) -> str:
    if not _POSITIVE.fullmatch(value):
        raise UsageError(f"{option} {value!r} is not a positive whole number", f"Give {option} a count, e.g. {option}=8.")
    return value


def _one(option: str, value: str) -> str:
    if value != "1":
        raise UsageError(f"{option}={value}: a kernel is one process on one node",
                         "Drop it, and ask for cores with --cpus-per-task and memory with --mem.")
    return value


def _time(option: str, value: str) -> str:
    time_seconds(value)
    return value


_GRES = re.compile(r"[A-Za-z0-9_.-]+(:[A-Za-z0-9_.-]+)*(,[A-Za-z0-9_.-]+(:[A-Za-z0-9_.-]+)*)*")


def _gres(option: str, value: str) -> str:
    if not _GRES.fullmatch(value):
        raise UsageError(f"{option} {value!r} is not a GRES request", "Give it as NAME[:TYPE]:COUNT, e.g. --gres=gpu:1.")
    return value


Check = Callable[[str, str], str]
# long name -> (short letter or '', value check); None for flags without a value
OPTIONS: dict[str, tuple[str, Check | None]] = {
    "time": ("t", _time),
    "cpus-per-task": ("c", _count),
    "mem": ("", lambda o, v: check_mem(v)),
    "mem-per-cpu": ("", lambda o, v: check_mem(v)),
    "gres": ("", _gres),
    "gpus": ("G", lambda o, v: check_gpus(v)),
    "gpus-per-node": ("", lambda o, v: check_gpus(v)),
    "account": ("A", _text),
    "partition": ("p", _text),
    "qos": ("q", _text),
    "constraint": ("C", _text),
    "reservation": ("", _text),
    "nodelist": ("w", _text),
    "exclude": ("x", _text),
    "tmp": ("", lambda o, v: check_mem(v)),
    "licenses": ("L", _text),
    "mail-type": ("", _text),
    "mail-user": ("", _text),
    "nodes": ("N", _one),
    "ntasks": ("n", _one),
    "exclusive": ("", None),
    "oversubscribe": ("s", None),
}
_SHORT = {short: long for long, (short, _) in OPTIONS.items() if short}
# Options the provisioner sets itself; a user's value would break the kernel's job.
RESERVED = ("job-name", "output", "error", "chdir", "signal", "array", "wrap", "export", "parsable", "wait")


def _usage(bad: Sequence[str]) -> UsageError:
    return UsageError(f"not Slurm options a kernel's job can take: {', '.join(bad)}",
                      "Use salloc/sbatch options such as --time=2:00:00 --cpus-per-task=8 --mem=32G --gres=gpu:1 "
                      "--account=def-x --partition=NAME (see 'kernelctl slurm --help').")


def parse(text: str) -> list[str]:
    """``text`` split like a shell would (without running one) and checked: ``--long=value``
    for each option. Unknown, reserved or valueless options raise one :class:`UsageError`
    naming them all; a malformed value raises the check's own error."""
    try:
        words = shlex.split(text)
    except ValueError as err:
        raise UsageError(f"cannot split the Slurm options {text!r}: {err}", "Close the quote, or quote the whole list once.") from None
    options, bad = [], []
    i = 0
    while i < len(words):
        word = words[i]
        i += 1
        if word.startswith("--"):
            name, has_value, value = word[2:].partition("=")
        elif word.startswith("-") and len(word) >= 2 and word[1] in _SHORT:
            name, value = _SHORT[word[1]], word[2:]
            has_value = bool(value)
        else:
            bad.append(word)
            continue
        if name not in OPTIONS:
            bad.append(word + (" (kernelctl sets it)" if name in RESERVED else ""))
            continue
        check = OPTIONS[name][1]
        if check is None:
            if has_value:
                bad.append(word + " (takes no value)")
            else:
                options.append(f"--{name}")
            continue
        if not has_value:
            if i >= len(words) or words[i].startswith("-"):
                bad.append(word + " (needs a value)")
                continue
            value, i = words[i], i + 1
        options.append(f"--{name}={check('--' + name, value)}")
    if bad:
        raise _usage(bad)
    return options


def value(options: Sequence[str], name: str) -> str | None:
    """The last value given for ``--name`` in normalised ``options``."""
    found = None
    for option in options:
        key, _, given = option[2:].partition("=")
        if key == name:
            found = given
    return found


def summary(options: Sequence[str]) -> str:
    """How the launcher card names the request: ``Slurm 8 cores, 1 GPU``."""
    cores = int(value(options, "cpus-per-task") or 1)
    text = f"Slurm {cores} core{'s' if cores != 1 else ''}"
    gpus = value(options, "gpus") or value(options, "gpus-per-node")
    gres = value(options, "gres") or ""
    if not gpus and gres.startswith("gpu"):
        gpus = gres.rsplit(":", 1)[-1] if gres.count(":") else "1"
    if gpus:
        count = gpus.rsplit(":", 1)[-1]
        text += f", {count} GPU{'s' if count != '1' else ''}"
    return text
