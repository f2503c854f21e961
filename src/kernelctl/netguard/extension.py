"""The IPython extension: static warnings before each cell, runtime guard while it runs.

``pre_run_cell`` checks ``info.raw_cell`` (using IPython's own ``transformed_cell`` when the
IPython version provides it) and prints one stderr line per finding. It works only for the
outermost cell: ``%%capture`` runs its body through a nested ``run_cell``, whose events fire
again and whose stderr is captured, so a stack of running cells is kept and popped by
``post_run_cell``. ``shell.system``/``shell.getoutput`` are wrapped so that ``!cmd``, ``%pip``,
``%conda`` and ``%sx`` are checked again with their plain ``$name``/``{name}`` fields expanded
(nothing is evaluated: IPython evaluates ``{expr}`` itself, and user code must run once).

A cell whose check parsed only the statements that can matter (see
:meth:`.checker.Checker.check_cell`) has findings that hold only if the whole cell parses.
They are held until IPython parses the cell, which it does after ``pre_run_cell`` and before
running any of it: ``shell.compile.ast_parse`` is wrapped to print them then, or to drop them
when the parse fails.

In block mode a cell with a finding that no runtime check can stop (an install from an explicit
index, find-links URL or trusted host: pip runs in a child process, and a loopback or private
host passes the guard) is refused before any of it runs: an AST transformer raises IPython's
``InputRejected`` once IPython has parsed it.

Nothing here may break a user's cell: every callback catches everything, and the first
internal error prints one diagnostic line.

Kernel start-up pays only for the runtime guard and the callbacks. Most cells cannot have a
finding, which the pre-filter tells from their words alone (:func:`.prefilter.worth_checking`);
the checker and its rule tables are imported at the first cell (or shell command) that needs them.
"""

from __future__ import annotations

import os
import re
import sys
import types
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from . import guard
from .policy import PRAGMA, HostPolicy
from .prefilter import worth_checking
from .watched import WATCHED_WORDS

if TYPE_CHECKING:
    from .checker import Checker, Finding

_CONSTANT_TYPES = (str, bool, int, float, type(None))
# Findings that make block mode refuse the whole cell (see the module docstring).
REFUSED_RULES = frozenset({"install-source"})
_CALLABLE_TYPES = (types.FunctionType, types.BuiltinFunctionType, types.MethodType, type)


class Netguard:
    """The extension's state for one shell."""

    def __init__(self, shell: Any, mode: str, policy: HostPolicy) -> None:
        self.shell = shell
        self.mode = mode
        self.policy = policy
        # Made at the first cell (see _load_checker).
        self._checker: Checker | None = None
        self._ns_lookup: Callable[[str], tuple[str | None, object]] | None = None
        self._unscannable: tuple[type[Exception], ...] = ()
        self._running: list[Any] = []  # ExecutionInfo of the cells being run, outermost first
        self._reported: set[str] = set()  # rule ids already printed for the current cell
        self._wrapped: dict[str, Any] = {}
        # IPython's parser, once wrapped: findings from a partial parse wait for it (see pre_run_cell).
        self._parser: tuple[Any, Any] | None = None
        self._held: list[Finding] = []
        self._parse_wrapper: Any = None
        self._refusal: str | None = None  # why the current cell must not run (block mode)
        self._refuser = _Refuser(self)
        # Whether a name in the user namespace stands for a watched module or call (pre-filter).
        lookup = _user_ns_lookup(shell, WATCHED_WORDS, None)
        self._watched_value: Callable[[str], bool] = lambda name: lookup(name)[0] is not None

    @property
    def checker(self) -> Checker:
        """The static checker, imported and built on first use (not at kernel start)."""
        if self._checker is None:
            self._load_checker()
        return self._checker  # type: ignore[return-value]

    def _load_checker(self) -> None:
        from .call_index import WATCHED_TOPS
        from .checker import Checker, Unscannable
        from .rulebook import UNKNOWN, Context

        self._ns_lookup = _user_ns_lookup(self.shell, WATCHED_TOPS, UNKNOWN)
        self._unscannable = (Unscannable,)
        self._checker = Checker(Context(policy=self.policy, env=os.environ))

    # -- lifecycle
    def register(self) -> None:
        guard.install(self.mode, self.policy)
        self.shell.events.register("pre_run_cell", self.pre_run_cell)
        self.shell.events.register("post_run_cell", self.post_run_cell)
        for name in ("system", "getoutput"):
            self._wrap(name)
        self._wrap_parser()
        if self.mode == "block":
            self.shell.ast_transformers.append(self._refuser)

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
        if self._refuser in self.shell.ast_transformers:
            self.shell.ast_transformers.remove(self._refuser)
        if self._parser is not None:
            compiler, previous = self._parser
            if previous is None:
                compiler.__dict__.pop("ast_parse", None)
            else:
                compiler.ast_parse = previous
            self._parser = None
        guard.GUARD.mode = "off"  # the audit hook itself cannot be removed
        guard.GUARD.stream = None

    # -- events
    def pre_run_cell(self, info: Any) -> None:
        try:
            self._running.append(info)
            if len(self._running) > 1:
                return  # a %%capture body: checked with its outer cell, and output would be captured
            guard.GUARD.stream = sys.stderr  # the real one: runtime warnings bypass %%capture
            raw = info.raw_cell or ""
            guard.GUARD.new_cell(quiet=PRAGMA in raw)
            self._reported = set()
            self._held = []
            self._refusal = None
            transformed = getattr(info, "transformed_cell", None)
            if not worth_checking(raw, transformed, self._watched_value):
                return
            checker = self.checker
            from .replay import Scope

            # A cell run with shell_futures=False is parsed by a fresh compiler, not the wrapped one,
            # and another extension may have replaced shell.compile (or its ast_parse) since.
            if not self._parser_wrapped() or not getattr(info, "shell_futures", True):
                self._show(checker.check(raw, Scope(lookup=self._lookup), transformed=transformed))
                return
            findings, final = checker.check_cell(raw, transformed, self._lookup)
            if final:
                self._show(findings)
            else:  # from a partial parse: shown once IPython has parsed the whole cell
                self._held = findings
        except KeyboardInterrupt:
            pass  # Ctrl-C during the check: the cell runs unchecked, without IPython's callback traceback
        except Exception as error:
            if isinstance(error, self._unscannable):  # Python cannot compile it either: IPython will say so
                _print_line(f"{guard.PREFIX} cell not checked: {error}")
            else:
                guard.GUARD.fail(error)

    def _show(self, findings: list[Finding]) -> None:
        for finding in findings:
            self._reported.add(finding.rule)
            _print_line(format_finding(finding))
            if self.mode == "block" and finding.rule in REFUSED_RULES and self._refusal is None:
                self._refusal = f"line {finding.line}: {finding.message}"

    def post_run_cell(self, result: Any) -> None:
        try:
            self._held = []  # the cell was not parsed (IPython's transformation failed)
            if len(self._running) <= 1:
                self._refusal = None
            info = getattr(result, "info", None)
            if info is not None and any(i is info for i in self._running):
                while self._running and self._running.pop() is not info:
                    pass
            elif self._running:
                self._running.pop()
        except Exception as error:
            guard.GUARD.fail(error)

    # -- names from earlier cells
    @property
    def _lookup(self) -> Callable[[str], tuple[str | None, object]]:
        """What a name in the user namespace stands for, for the checker's resolver."""
        if self._ns_lookup is None:
            self._load_checker()
        return self._ns_lookup  # type: ignore[return-value]

    # -- IPython's parse of the cell
    def _parser_wrapped(self) -> bool:
        """Whether IPython's parser is still the one netguard wrapped (so held findings show)."""
        compiler = getattr(self.shell, "compile", None)
        return (self._parser is not None and compiler is self._parser[0]
                and getattr(compiler, "ast_parse", None) is self._parse_wrapper)

    def _wrap_parser(self) -> None:
        """Wrap ``shell.compile.ast_parse``, which IPython calls on the cell after pre_run_cell
        and before running any of it, so that held findings are shown then, and only if the
        cell parses (a cell that does not parse has no findings)."""
        compiler = getattr(self.shell, "compile", None)
        original = getattr(compiler, "ast_parse", None)
        attributes = getattr(compiler, "__dict__", None)
        if original is None or attributes is None:
            return  # no parser to wait for: cells are checked whole
        self._parser = (compiler, attributes.get("ast_parse"))

        def ast_parse(source: str, *args: Any, **kwargs: Any) -> Any:
            try:
                tree = original(source, *args, **kwargs)
            except BaseException:
                self._held = []
                raise
            if self._held:
                self._release()
            return tree

        ast_parse.__doc__ = original.__doc__
        compiler.ast_parse = self._parse_wrapper = ast_parse

    def _release(self) -> None:
        """Show the findings held for the cell just parsed."""
        try:
            held, self._held = self._held, []
            self._show(held)
        except Exception as error:
            guard.GUARD.fail(error)

    # -- shell commands after expansion
    def _wrap(self, name: str) -> None:
        original = getattr(self.shell, name)
        self._wrapped[name] = self.shell.__dict__.get(name)

        def wrapper(cmd: str, *args: Any, **kwargs: Any) -> Any:
            self._check_command(cmd, sys._getframe(1))
            return original(cmd, *args, **kwargs)

        wrapper.__doc__ = original.__doc__
        setattr(self.shell, name, wrapper)

    def _check_command(self, cmd: str, frame: Any) -> None:
        """Warn about (or in block mode refuse) a shell command, with its plain ``$name`` and
        ``{name}`` fields expanded as IPython will (from ``frame``, the caller's, and the user
        namespace). Other fields (``{f(x)}``, ``$a.b``) stay as written: evaluating them here
        would run the user's code twice; the rules take an unknown part for a remote one."""
        try:
            if guard.GUARD.mode == "off" or guard.GUARD.quiet:
                return
            from .catalogue import RULES
            from .shell_rules import check_shell

            expanded = _expand_names(cmd, frame.f_locals, self.shell.user_ns)
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


def _user_ns_lookup(shell: Any, watched_tops: frozenset[str],
                    unknown: object) -> Callable[[str], tuple[str | None, object]]:
    """The resolver's lookup of names in ``shell.user_ns``: the dotted name a module, callable
    or instance stands for when it is a watched one, and the value of a plain constant (else
    ``unknown``). A closure over the rule tables, so the checker can call it per name cheaply."""
    def lookup(name: str) -> tuple[str | None, object]:
        namespace = shell.user_ns
        if name not in namespace:
            return None, unknown
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
        return (dotted if dotted.split(".", 1)[0] in watched_tops else None), unknown

    return lookup


class _Refuser:
    """An entry of ``shell.ast_transformers`` that refuses the cell netguard flagged: IPython
    runs no part of a cell whose AST transformation raises ``InputRejected``."""

    def __init__(self, netguard: Netguard) -> None:
        self.netguard = netguard

    def visit(self, node: Any) -> Any:
        reason, self.netguard._refusal = self.netguard._refusal, None
        if reason is None:
            return node
        from IPython.core.error import InputRejected

        message = f"{guard.PREFIX} block mode: this cell was not run: {reason}"
        error = InputRejected(message)
        error._render_traceback_ = lambda: [message]  # type: ignore[attr-defined]  # one line, not a traceback
        raise error


# IPython's DollarFormatter fields: $$, {{ and }} are escapes; only plain names are expanded here.
_FIELD_RE = re.compile(r"\$\$|\{\{|\}\}|\$([A-Za-z_]\w*)(?![\w.])|\{([A-Za-z_]\w*)\}")
_EXPANDED_TYPES = (str, int, float)


def _expand_names(cmd: str, local_ns: Any, user_ns: Any) -> str:
    """``cmd`` with ``$name``/``{name}`` replaced by the value of string and number variables,
    and nothing evaluated (no call, attribute, item or ``__str__`` of the user's objects)."""
    def field(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name is None:
            return match.group()[0]
        for namespace in (local_ns, user_ns):
            if name in namespace:
                value = namespace[name]
                return str(value) if type(value) in _EXPANDED_TYPES else match.group()
        return match.group()

    return _FIELD_RE.sub(field, cmd) if "$" in cmd or "{" in cmd or "}" in cmd else cmd


def format_finding(finding: Finding) -> str:
    """The one stderr line shown in a notebook for a finding."""
    return f"{guard.PREFIX} line {finding.line}: {finding.rule}: {finding.message} — {finding.hint}"


def _print_line(line: str) -> None:
    guard.GUARD.say(line)  # never raises


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
