"""The vocabulary every netguard rule is written in: rules, calls, arguments, context.

A rule (:class:`Rule`) is one kind of internet access with its offline fix; the modules that
match code define each rule beside its matcher (:mod:`.shell_rules` for command lines,
:mod:`.call_rules_web` and :mod:`.call_rules_ml` for resolved Python calls), and
:mod:`.catalogue` gathers them. A call matcher sees a :class:`Call` whose arguments the
checker evaluated as far as it statically can, and is registered as a :class:`CallRule`
with the words that trigger it (see :mod:`.call_index`).

Stdlib only (see :mod:`.policy`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field

from .policy import HostPolicy, url_host


@dataclass(frozen=True)
class Rule:
    """One kind of internet access and how to do without it on a compute node."""

    id: str
    title: str
    hint: str


class _Unknown:
    """A value the checker could not work out statically."""

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN = _Unknown()
MISSING = object()
# How an unknown part of an f-string or command line appears in the text rules look at.
PLACEHOLDER = "{?}"


@dataclass
class Context:
    """What rules need besides the code itself."""

    policy: HostPolicy = field(default_factory=HostPolicy)
    # Environment whose offline switches (PIP_NO_INDEX, WANDB_MODE, ...) make code safe;
    # None reports everything, as when scanning notebooks on a login node.
    env: Mapping[str, str] | None = None
    # Directory relative model/data paths are resolved against (the notebook's).
    base_dir: str | None = None

    def env_true(self, name: str) -> bool:
        value = (self.env or {}).get(name, "")
        return value.strip().lower() in {"1", "true", "yes", "on"}

    def is_local_path(self, value: str) -> bool:
        """True when ``value`` names a file or directory rather than a hub id."""
        if value.startswith(("/", "./", "../", "~", "$", "\\")) or re.match(r"^[A-Za-z]:[\\/]", value):
            return True
        if self.base_dir is not None:
            try:
                return os.path.exists(os.path.join(self.base_dir, value))
            except (OSError, ValueError):
                return False
        return False

    def remote_url(self, value: object) -> bool | None:
        """Like :meth:`HostPolicy.url_is_remote`, for any evaluated value (None if not a string)."""
        return self.policy.url_is_remote(value) if isinstance(value, str) else None


@dataclass
class Call:
    """A call the checker resolved: dotted callee name and statically evaluated arguments.

    ``parts`` starts with ``"?"`` when the receiver could not be resolved
    (``model_cls.from_pretrained``). Argument values are ``str``, numbers, ``bool``,
    ``None``, lists of those, or :data:`UNKNOWN`.
    """

    parts: tuple[str, ...]
    args: list[object]
    kwargs: dict[str, object]

    @property
    def name(self) -> str:
        return ".".join(p for p in self.parts if p != "?")

    def get(self, index: int | None, *names: str) -> object:
        """Positional argument ``index`` or the first keyword in ``names``; MISSING if absent."""
        for name in names:
            if name in self.kwargs:
                return self.kwargs[name]
        if index is not None and index < len(self.args):
            return self.args[index]
        return MISSING


Hit = tuple[str, str]  # (rule id, message)
CallCheck = Callable[[Call, Context], "Hit | None"]


@dataclass(frozen=True)
class CallRule:
    """A call matcher and the calls whose hits count.

    :func:`.call_index.check_call` asks ``check`` about calls whose dotted name starts with one of
    ``tops``, and takes its hit only for a call that has a callee part (without the ``()``
    of a call) or a keyword argument name among ``names`` or matched in full by ``pattern``;
    a rule with neither takes every call on its tops. So a cell that holds no trigger of a
    rule whose top it names cannot produce a finding (:func:`.call_index.may_match`), whatever ``check``
    does; a condition in ``check`` on a name outside the trigger could never yield a finding
    (the tests look for such conditions).
    """

    tops: tuple[str, ...]
    check: CallCheck
    names: frozenset[str]
    pattern: re.Pattern[str] | None  # for prefixes and the like

    def triggered_by(self, words: Collection[str]) -> bool:
        if not self.names and self.pattern is None:
            return True
        return not self.names.isdisjoint(words) or (
            self.pattern is not None and any(map(self.pattern.fullmatch, words)))


def call_rule(tops: Iterable[str], check: CallCheck, *trigger: str) -> CallRule:
    """A :class:`CallRule` triggered by words that are ``trigger`` names or match ``trigger``
    regular expressions in full (no trigger: every call on ``tops``)."""
    names = frozenset(t for t in trigger if t.isidentifier())
    patterns = [t for t in trigger if not t.isidentifier()]
    return CallRule(tuple(sorted(tops)), check, names, re.compile("|".join(patterns)) if patterns else None)


# Argument helpers shared by the call matchers.


def remote_arg(call: Call, ctx: Context, index: int | None, *names: str, unknown: bool) -> str | None:
    """A description of the URL argument when it needs the internet; ``unknown`` says
    whether a value that cannot be worked out counts."""
    value = call.get(index, *names)
    if isinstance(value, (list, tuple)):
        remote = [v for v in value if isinstance(v, str) and ctx.remote_url(v)]
        value = remote[0] if remote else MISSING
    if value is MISSING:
        return None
    if value is UNKNOWN or (isinstance(value, str) and PLACEHOLDER in value and "://" not in value):
        return "a URL" if unknown else None
    if isinstance(value, str) and ctx.remote_url(value):
        if value.lower().startswith(("http", "ftp")):
            return url_host(value) or value
        return "/".join(value.split("/", 3)[:3])  # s3://bucket: the bucket, not a host
    return None


def hub_id(call: Call, ctx: Context, index: int, *names: str) -> str | None:
    """The model/dataset id argument when it is a literal hub id rather than a local path."""
    value = call.get(index, *names)
    if not isinstance(value, str) or not value or PLACEHOLDER in value:
        return None
    if ctx.is_local_path(value) or not re.fullmatch(r"[\w.-]+(/[\w.-]+)?", value):
        return None
    return value


def truthy(value: object) -> bool:
    return value is not MISSING and value is not UNKNOWN and bool(value)


def not_none(value: object) -> bool:
    """Set to something other than None/False (unknown values count)."""
    return value is not MISSING and value is not None and value is not False
