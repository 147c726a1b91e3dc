"""Policy rules: a small object per row of ``rules:`` in policy.yaml.

A rule says *when* (a category at or above a severity, optionally with the customer's history) and
*then* what (tag, propose or apply a hold, escalate, draft a reply). ``PolicyRule.match`` returns the
findings that made it fire, which become the evidence of its actions, or an empty list.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from gateway.model import Finding, Severity

ACTION_TYPES: tuple[str, ...] = ("tag", "propose_hold", "apply_hold", "escalate", "draft")
HOLD_SCOPES: tuple[str, ...] = ("thread", "customer", "all_channels")
#: What a policy rule may ask for: a scope, or ``breach`` (the scope of the rate window the message
#: breached: ``thread`` when only thread windows were breached, else ``customer``).
POLICY_HOLD_SCOPES: tuple[str, ...] = HOLD_SCOPES + ("breach",)


def breach_scope(window_breaches: list[str]) -> str:
    """The hold scope that covers the contact a breach counted: a customer writing fresh mails (each
    its own thread) is held as a customer; a thread-only breach holds just that thread."""
    if window_breaches and all(w.startswith("thread:") for w in window_breaches):
        return "thread"
    return "customer"


class HistoryLike(Protocol):
    """The shape of ``gateway.contact.history.CustomerHistory`` the policy reads."""

    customer: str
    finding_counts: dict[str, int]
    messages_total: int
    window_breaches: list[str]


@dataclass(frozen=True)
class CountRange:
    """``min <= n <= max`` for a count of the customer's past messages with a category."""

    min: int | None = None
    max: int | None = None

    def contains(self, n: int) -> bool:
        return (self.min is None or n >= self.min) and (self.max is None or n <= self.max)

    def describe(self) -> str:
        if self.min is not None and self.max is not None:
            return f"{self.min}..{self.max}"
        return f">= {self.min}" if self.min is not None else f"<= {self.max}"


@dataclass(frozen=True)
class Condition:
    """When a rule fires. ``categories``: any of these; ``min_severity``/``min_score``: thresholds
    on the finding (``max_severity`` lets a milder rule leave the graver cases to another); ``history``: counts of the customer's *past* messages per category;
    ``window_breach``: the contact stage reported a rate-window breach; ``requires_other``: fire
    only if some rule without ``requires_other`` fired for this message (corroboration)."""

    categories: tuple[str, ...]
    min_severity: Severity = Severity.MEDIUM
    max_severity: Severity = Severity.CRITICAL
    min_score: float = 0.0
    history: tuple[tuple[str, CountRange], ...] = ()
    window_breach: bool | None = None
    requires_other: bool = False

    def matching_findings(self, findings: list[Finding]) -> list[Finding]:
        return [
            f for f in findings
            if f.category in self.categories
            and self.min_severity <= f.severity <= self.max_severity
            and f.score >= self.min_score
        ]

    def history_ok(self, history: HistoryLike) -> bool:
        counts = history.finding_counts or {}
        for category, rng in self.history:
            if not rng.contains(int(counts.get(category, 0))):
                return False
        if self.window_breach is not None and bool(history.window_breaches) != self.window_breach:
            return False
        return True


@dataclass(frozen=True)
class ActionSpec:
    """One ``then:`` entry. ``params`` are validated per type (scope, expiry_days, to, template...)."""

    type: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PolicyRule:
    name: str
    description: str
    when: Condition
    then: tuple[ActionSpec, ...]
    line: int | None = None  # where the rule is written in policy.yaml

    def match(self, findings: list[Finding], history: HistoryLike) -> list[Finding]:
        """The findings that make this rule fire, or ``[]`` when it does not."""
        found = self.when.matching_findings(findings)
        if not found or not self.when.history_ok(history):
            return []
        return found

    @property
    def tags(self) -> bool:
        return any(a.type == "tag" for a in self.then)
