"""The index of call rules: which rules a resolved call is checked against, and which words
can make any rule match (the checker's pre-filter and partial parse rely on it).

Stdlib only (see :mod:`.policy`).
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet

from .call_rules_ml import ANY_RECEIVER
from .call_rules_ml import CALL_RULES as _ML_RULES
from .call_rules_web import CALL_RULES as _WEB_RULES
from .rulebook import Call, CallRule, Context, Hit

# In order: for a top with several rules (xarray) the first hit wins.
_CALL_RULE_LIST = (*_ML_RULES, *_WEB_RULES)
_RULES_BY_TOP: dict[str, tuple[CallRule, ...]] = {}
for _call_rule in _CALL_RULE_LIST:
    for _top in _call_rule.tops:
        _RULES_BY_TOP[_top] = _RULES_BY_TOP.get(_top, ()) + (_call_rule,)
# Top-level modules and callee names the checker must look at; anything else is skipped early.
WATCHED_TOPS = frozenset(_RULES_BY_TOP)
WATCHED_NAMES = frozenset(ANY_RECEIVER)


def check_call(call: Call, ctx: Context) -> Hit | None:
    """The finding for one resolved call, if any."""
    for rule in _RULES_BY_TOP.get(call.parts[0], ()):
        hit = rule.check(call, ctx)
        # The trigger is checked after the rule because hits are rare; the outcome is the same.
        if hit and rule.triggered_by([part.rstrip("()") for part in call.parts] + list(call.kwargs)):
            return hit
    generic = ANY_RECEIVER.get(call.parts[-1])
    return generic(call, ctx) if generic else None


def may_match(words: AbstractSet[str]) -> bool:
    """Whether a call whose callee parts and keyword names all lie in ``words`` can match.

    False means that no rule can fire for any such call: no rule of a top in ``words`` has
    a trigger in ``words``, and no receiver-independent name (``from_pretrained``) is there.
    """
    if not WATCHED_NAMES.isdisjoint(words):
        return True
    rules = {rule for top in WATCHED_TOPS.intersection(words) for rule in _RULES_BY_TOP[top]}
    return any(rule.triggered_by(words) for rule in rules)


def trigger_words(words: AbstractSet[str]) -> set[str] | None:
    """The words among ``words`` that can make a call match: triggers of the rules of the tops
    in ``words``, and receiver-independent names. None when such a rule has no trigger (it
    takes every call on its tops, so no word marks the calls that matter)."""
    found = set(WATCHED_NAMES.intersection(words))
    for rule in {rule for top in WATCHED_TOPS.intersection(words) for rule in _RULES_BY_TOP[top]}:
        if not rule.names and rule.pattern is None:
            return None
        found |= rule.names.intersection(words)
        if rule.pattern is not None:
            found.update(filter(rule.pattern.fullmatch, words))
    return found
