"""The IPython extension: static warnings before each cell, runtime guard while it runs.

``pre_run_cell`` checks ``info.raw_cell`` (using IPython's own ``transformed_cell`` when the
IPython version provides it) and prints one stderr line per finding. It works only for the
outermost cell: ``%%capture`` runs its body through a nested ``run_cell``, whose events fire
again and whose stderr is captured, so a stack of running cells is kept and popped by
``post_run_cell``. ``shell.system``/``shell.getoutput`` are wrapped so that ``!cmd``, ``%pip``,
``%conda`` and ``%sx`` are checked again after ``$var``/``{expr}`` expansion.

Nothing here may break a user's cell: every callback catches everything, and the first
internal error prints one diagnostic line.
"""

from __future__ import annotations

import os
import sys
import types
from typing import Any

from . import guard
from .checker import Checker, Finding, Scope
from .policy import HostPolicy
from .rules import PRAGMA, RULES, UNKNOWN, WATCHED_TOPS, Context, check_shell

_CONSTANT_TYPES = (str, bool, int, float, type(None))
_CALLABLE_TYPES = (types.FunctionType, types.BuiltinFunctionType, types.MethodType, type)


class Netguard:
    """The extension's state for one shell."""

    def __init__(self, shell: Any, mode: str, policy: HostPolicy) -> None:
        self.shell = shell
        self.mode = mode
        self.checker = Checker(Context(policy=policy, env=os.environ))
        self._running: list[Any] = []  # ExecutionInfo of the cells being run, outermost first
        self._reported: set[str] = set()  # rule ids already printed for the current cell
        self._wrapped: dict[str, Any] = {}

    # -- lifecycle
    def register(self) -> None:
        guard.install(self.mode, self.checker.ctx.policy, _print_line)
        self.shell.events.register("pre_run_cell", self.pre_run_cell)
        self.shell.events.register("post_run_cell", self.post_run_cell)
        for name in ("system", "getoutput"):
            self._wrap(name)

    def unregister(self) -> None:
        for event, callback in (("pre_run_cell", self.pre_run_cell), ("post_run_cell", self.post_run_cell)):
            try:
                self.shell.events.unregister(event, callback)
            except ValueError:
                pass
        for name, previous in self._wrapped.items():
            if previous is None:
                self.shell.__dict__.pop(name, None)
            else:
                setattr(self.shell, name, previous)
        self._wrapped.clear()
        guard.GUARD.mode = "off"  # the audit hook itself cannot be removed

    # -- events
    def pre_run_cell(self, info: Any) -> None:
        try:
            self._running.append(info)
            if len(self._running) > 1:
                return  # a %%capture body: checked with its outer cell, and output would be captured
            raw = info.raw_cell or ""
            guard.GUARD.new_cell(quiet=PRAGMA in raw)
            self._reported = set()
            scope = Scope(lookup=self._lookup)
            findings = self.checker.check(raw, scope, transformed=getattr(info, "transformed_cell", None))
            for finding in findings:
                self._reported.add(finding.rule)
                _print_line(format_finding(finding))
        except Exception as error:
            guard.GUARD.fail(error)

    def post_run_cell(self, result: Any) -> None:
        try:
            info = getattr(result, "info", None)
            if info is not None and any(i is info for i in self._running):
                while self._running and self._running.pop() is not info:
                    pass
            elif self._running:
                self._running.pop()
        except Exception as error:
            guard.GUARD.fail(error)

    # -- names from earlier cells
    def _lookup(self, name: str) -> tuple[str | None, object]:
        """What ``name`` in the user namespace stands for, for the checker's resolver."""
        namespace = self.shell.user_ns
        if name not in namespace:
            return None, UNKNOWN
        value = namespace[name]
        if isinstance(value, _CONSTANT_TYPES):
            return None, value
        if isinstance(value, types.ModuleType):
            dotted = value.__name__
        elif isinstance(value, _CALLABLE_TYPES):
            module = getattr(value, "__module__", None) or ""
            dotted = f"{module}.{getattr(value, '__qualname__', None) or getattr(value, '__name__', '')}"
        else:
            kind = type(value)
            dotted = f"{kind.__module__}.{kind.__qualname__}()"
        return (dotted if dotted.split(".", 1)[0] in WATCHED_TOPS else None), UNKNOWN

    # -- shell commands after expansion
    def _wrap(self, name: str) -> None:
        original = getattr(self.shell, name)
        self._wrapped[name] = self.shell.__dict__.get(name)

        def wrapper(cmd: str, *args: Any, **kwargs: Any) -> Any:
            self._check_command(cmd)
            return original(cmd, *args, **kwargs)

        wrapper.__doc__ = original.__doc__
        setattr(self.shell, name, wrapper)

    def _check_command(self, cmd: str) -> None:
        """Warn about (or in block mode refuse) an expanded shell command."""
        try:
            if guard.GUARD.mode == "off" or guard.GUARD.quiet:
                return
            # depth=2: the frame that called the wrapper, as system() itself expands it
            expanded = self.shell.var_expand(cmd, depth=2)
            hits = check_shell(expanded, self.checker.ctx)
            for _, rule, message in hits:
                if rule not in self._reported:
                    self._reported.add(rule)
                    _print_line(f"{guard.PREFIX} {rule}: {message} — {RULES[rule].hint}")
        except Exception as error:
            guard.GUARD.fail(error)
            return
        if hits and guard.GUARD.mode == "block":
            raise guard.NetworkBlockedError(f"shell command ({hits[0][2]})")


def format_finding(finding: Finding) -> str:
    """The one stderr line shown in a notebook for a finding."""
    return f"{guard.PREFIX} line {finding.line}: {finding.rule}: {finding.message} — {finding.hint}"


def _print_line(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


_active: Netguard | None = None


def load(shell: Any) -> None:
    """Set the extension up on ``shell`` according to KERNELCTL_NETGUARD(_ALLOW)."""
    global _active
    try:
        if _active is not None:
            return
        mode, complaint = guard.mode_from_env()
        if complaint:
            _print_line(f"{guard.PREFIX} {complaint}")
        if mode == "off":
            return
        _active = Netguard(shell, mode, HostPolicy.from_env())
        _active.register()
    except Exception as error:
        guard.GUARD.fail(error)


def unload(shell: Any) -> None:
    """Undo :func:`load` (the audit hook stays, switched off)."""
    global _active
    if _active is not None:
        _active.unregister()
        _active = None
