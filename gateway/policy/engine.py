"""The policy engine: findings + the customer's history -> a Decision.

``decide`` is a pure function of its inputs (no I/O, no clock). Rules are checked in file order;
each one either fires (``Decision.hits``) or not (``Decision.misses``), as a moderator reading the
note needs both. A rule with ``requires_other`` is checked after the others and fires only when one
of them fired: that is how ``escalation_pressure`` is tagged as corroboration but never acts alone.

Merging when several rules fire:
- tags: ``<prefix><category>`` for each category of a firing rule with ``tag``, in rule order;
  ``<prefix><hold tag>`` while a hold is active (or is being applied at once by this decision).
- holds: one hold action, the strongest: ``apply`` beats ``propose``, then the widest scope
  (all_channels > customer > thread); every contributing rule is listed in ``rules``.
- escalations: one action, the union of recipients, the highest priority.
- drafts: the first firing rule's template only (one reply per message). No drafts while the
  customer is held: support is suspended and a lead owns the conversation.
Shadow mode (``shadow: true``) computes everything and marks the decision ``shadow``; the effects
then record it without creating holds or drafts, and connectors must not apply its tags.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gateway.errors import PolicyError
from gateway.model import Action, Decision, Finding, Message
from gateway.policy.rules import HistoryLike, PolicyRule, breach_scope
from gateway.policy.schema import PolicySettings, load_policy_file, parse_policy
from gateway.resources import rules_dir

_MODE_RANK = {"propose": 0, "apply": 1}
_SCOPE_RANK = {"thread": 0, "customer": 1, "all_channels": 2}
#: escalation priorities, lowest first (``escalate: {priority: ...}``)
PRIORITY_RANK = {"normal": 0, "high": 1, "urgent": 2}


class Policy:
    """A validated policy. Build with ``Policy.load()`` (the shipped rules/policy.yaml) or
    ``Policy.load(path)``; ``Policy.from_text`` is for tests and tools."""

    def __init__(self, settings: PolicySettings, *, path: Path | None = None,
                 templates_dir: Path | None = None) -> None:
        self.settings = settings
        self.path = path
        self.templates_dir = templates_dir
        #: (the rules they were made from, rule names in order, name -> position, each rule with its
        #: categories: first the rules without ``requires_other``, then those with), made on first use
        self._names: _RuleIndex | None = None

    @classmethod
    def load(cls, path: Path | str | None = None) -> "Policy":
        """Load and validate ``path`` (default: the shipped ``rules/policy.yaml``). Reply templates
        are looked up in ``templates/`` next to the file, else in the shipped rules."""
        p = Path(path) if path is not None else rules_dir() / "policy.yaml"
        templates = p.parent / "templates"
        if not templates.is_dir():
            templates = rules_dir() / "templates"
        return cls(load_policy_file(p, templates_dir=templates), path=p, templates_dir=templates)

    @classmethod
    def from_text(cls, text: str, *, origin: str = "policy.yaml", templates_dir: Path | None = None) -> "Policy":
        if templates_dir is None:
            templates_dir = rules_dir() / "templates"
        return cls(parse_policy(text, origin=origin, templates_dir=templates_dir), templates_dir=templates_dir)

    @property
    def templates(self) -> Path:
        """The reply templates' folder: ``templates_dir``, else the shipped ``rules/templates``."""
        return self.templates_dir or rules_dir() / "templates"

    @property
    def raw(self) -> dict[str, Any]:
        """The parsed file as plain data (``ContactSettings.from_policy(policy.raw)``)."""
        return self.settings.raw

    @property
    def rules(self) -> tuple[PolicyRule, ...]:
        return self.settings.rules

    @property
    def shadow(self) -> bool:
        return self.settings.shadow

    def tag(self, name: str) -> str:
        """The tag for a category (or the hold tag), with the configured prefix."""
        return f"{self.settings.tag_prefix}{name}"

    @property
    def hold_tag(self) -> str:
        return self.tag(self.settings.hold_tag)

    def decide(self, message: Message, findings: list[Finding], history: HistoryLike, *,
               active_hold: bool = False) -> Decision:
        """What to do with ``message``: tags, hold/draft/escalate actions, and which rules hit and missed.

        ``history`` counts the customer's *past* messages per category (not this one);
        ``active_hold`` is true when an active hold covers this message already.
        """
        if history is None:
            raise PolicyError("decide() needs the customer's history (an empty CustomerHistory for a new customer)")
        rules = self.rules
        names = self._names
        if names is None or names[0] is not rules:
            names = self._names = _index(rules)
        if not findings:
            # Every rule needs a finding of its categories: none fires, and nothing but an active
            # hold shows (most messages).
            decision = Decision(message_id=message.id, misses=list(names[1]), shadow=self.settings.shadow)
            if active_hold:
                decision.held = True
                decision.tags = [self.hold_tag]
            return decision
        decision = Decision(message_id=message.id, shadow=self.settings.shadow)
        fired: list[tuple[PolicyRule, list[Finding]]] = []
        results: dict[str, bool] = {}
        # A rule none of whose categories is among the findings' cannot fire: it is not asked.
        present = {f.category for f in findings}
        for rule, cats in names[3]:
            found = rule.match(findings, history) if not present.isdisjoint(cats) else []
            results[rule.name] = bool(found)
            if found:
                fired.append((rule, found))
        any_primary = bool(fired)
        for rule, cats in names[4]:
            found = rule.match(findings, history) if any_primary and not present.isdisjoint(cats) else []
            results[rule.name] = bool(found)
            if found:
                fired.append((rule, found))
        order = names[2]
        fired.sort(key=lambda pair: order[pair[0].name])
        decision.hits = [r.name for r, _ in fired]
        decision.misses = [r.name for r in self.rules if not results.get(r.name)]

        hold: dict[str, Any] | None = None
        escalate: dict[str, Any] | None = None
        draft: dict[str, Any] | None = None
        for rule, found in fired:
            cats = _unique(f.category for f in found)
            for spec in rule.then:
                if spec.type == "tag":
                    for c in cats:
                        if c not in decision.categories:
                            decision.categories.append(c)
                elif spec.type in ("propose_hold", "apply_hold"):
                    mode = "apply" if spec.type == "apply_hold" else "propose"
                    candidate = {
                        "mode": mode,
                        "scope": _scope(spec.params.get("scope", "customer"), history),
                        "expiry_days": spec.params.get("expiry_days", self.settings.holds.expiry_days),
                        "rules": [rule.name],
                        "categories": list(cats),
                        "reason": rule.description or rule.name,
                    }
                    hold = _stronger_hold(hold, candidate)
                elif spec.type == "escalate":
                    if escalate is None:
                        escalate = {"to": list(spec.params["to"]), "priority": spec.params["priority"],
                                    "rules": [rule.name], "categories": list(cats)}
                    else:
                        escalate["to"] += [t for t in spec.params["to"] if t not in escalate["to"]]
                        if PRIORITY_RANK[spec.params["priority"]] > PRIORITY_RANK[escalate["priority"]]:
                            escalate["priority"] = spec.params["priority"]
                        escalate["rules"].append(rule.name)
                        escalate["categories"] += [c for c in cats if c not in escalate["categories"]]
                elif spec.type == "draft" and draft is None:
                    draft = {"template": spec.params["template"], "lang": _lang(message.lang),
                             "rule": rule.name, "categories": list(cats)}

        applying_now = hold is not None and hold["mode"] == "apply" and not self.settings.shadow
        decision.held = bool(active_hold or applying_now)
        decision.tags = [self.tag(c) for c in decision.categories]
        if decision.held:
            decision.tags.append(self.hold_tag)
        if hold is not None:
            decision.actions.append(Action("hold", hold))
        if escalate is not None:
            decision.actions.append(Action("escalate", escalate))
        if draft is not None and not decision.held:
            decision.actions.append(Action("draft", draft))
        return decision


_RuleIndex = tuple[tuple[PolicyRule, ...], list[str], dict[str, int],
                   list[tuple[PolicyRule, frozenset[str]]], list[tuple[PolicyRule, frozenset[str]]]]


def _index(rules: tuple[PolicyRule, ...]) -> _RuleIndex:
    """What ``decide`` looks up of ``rules``, made once: the names in order, each name's position,
    and the rules with their categories, without and with ``requires_other``."""
    with_cats = [(r, frozenset(r.when.categories)) for r in rules]
    return (rules, [r.name for r in rules], {r.name: i for i, r in enumerate(rules)},
            [(r, c) for r, c in with_cats if not r.when.requires_other],
            [(r, c) for r, c in with_cats if r.when.requires_other])


def _scope(asked: str, history: HistoryLike) -> str:
    return breach_scope(history.window_breaches) if asked == "breach" else asked


def _stronger_hold(current: dict[str, Any] | None, candidate: dict[str, Any]) -> dict[str, Any]:
    if current is None:
        return candidate
    rank = lambda h: (_MODE_RANK[h["mode"]], _SCOPE_RANK[h["scope"]])  # noqa: E731
    winner, other = (candidate, current) if rank(candidate) > rank(current) else (current, candidate)
    merged = dict(winner)
    merged["rules"] = _unique(list(winner["rules"]) + list(other["rules"]))
    merged["categories"] = _unique(list(winner["categories"]) + list(other["categories"]))
    return merged


def _unique(items: Any) -> list[str]:
    out: list[str] = []
    for item in items:
        if item not in out:
            out.append(item)
    return out


def _lang(lang: str) -> str:
    lang = (lang or "en").lower()
    return "ja" if lang.startswith("ja") else "en"
