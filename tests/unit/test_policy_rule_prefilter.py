"""``Policy.decide`` asks only the rules whose categories are among the message's findings (a rule
without one of them cannot fire). Its decisions must be exactly those of asking every rule in
file order: checked here against that plain loop, on the shipped policy and on a policy with
multi-category, history, window and corroboration (``requires_other``) rules, over random findings
and histories."""

from __future__ import annotations

import random
import textwrap
from datetime import datetime, timezone

import pytest

from gateway.contact.history import CustomerHistory
from gateway.model import (
    CATEGORIES,
    Decision,
    Evidence,
    Finding,
    Message,
    Severity,
)
from gateway.policy import Policy, engine

MIXED = textwrap.dedent("""
    version: 1
    rules:
      - name: pressure_with_other
        when: {category: escalation_pressure, min_severity: low, requires_other: true}
        then: [tag]
      - name: abuse_or_threat
        when: {category: [verbal_abuse, threat], min_severity: medium}
        then: [tag, {draft: {template: warning}}]
      - name: repeated_abuse
        when: {category: verbal_abuse, history: {verbal_abuse: {min: 2}}}
        then: [tag, {propose_hold: {scope: breach}}, {escalate: {to: [leads], priority: high}}]
      - name: serious
        when: {category: [sexual_harassment, discrimination, threat], min_severity: high, min_score: 0.5}
        then: [tag, {apply_hold: {scope: customer}}, {escalate: {to: [leads, legal], priority: urgent}}]
      - name: flooding
        when: {category: [duplicate_contact, persistent_contact], window_breach: true}
        then: [tag, {propose_hold: {scope: thread}}]
      - name: mild_only
        when: {category: verbal_abuse, min_severity: low, max_severity: low}
        then: [tag]
      - name: pressure_with_other_late
        when: {category: [escalation_pressure, verbal_abuse], requires_other: true}
        then: [{escalate: {to: [leads], priority: normal}}]
""")


def every_rule(policy: Policy, message: Message, findings: list[Finding], history: CustomerHistory,
               active_hold: bool) -> Decision:
    """``decide`` asking every rule (the reference): the same policy with an index that gives
    each rule every category, so the category check never leaves one out."""
    index = engine._index(policy.rules)
    everything = frozenset(CATEGORIES) | {f.category for f in findings}
    reference = Policy(policy.settings, path=policy.path, templates_dir=policy.templates_dir)
    reference._names = (index[0], index[1], index[2], [(r, everything) for r, _ in index[3]],
                        [(r, everything) for r, _ in index[4]])
    return reference.decide(message, findings, history, active_hold=active_hold)


def random_case(rnd: random.Random) -> tuple[Message, list[Finding], CustomerHistory, bool]:
    findings = []
    for _ in range(rnd.choice([0, 1, 1, 2, 3])):
        cat = rnd.choice(CATEGORIES)
        findings.append(Finding(category=cat, severity=rnd.choice(list(Severity)), score=rnd.random(),
                                evidence=[Evidence(0, 1, "x")], rule=f"r.{cat}", reason="test"))
    counts = {c: rnd.randrange(4) for c in rnd.sample(CATEGORIES, rnd.randrange(4))}
    breaches = rnd.choice([[], ["customer:24h"], ["thread:1h"], ["thread:1h", "customer:1h"]])
    history = CustomerHistory(customer="c@example.com", finding_counts=counts, messages_total=sum(counts.values()),
                              window_breaches=breaches)
    message = Message(id=f"m{rnd.randrange(10**6)}", text="x", sender="c@example.com", thread="t",
                      lang=rnd.choice(["en", "ja", "ja-JP", ""]),
                      received_at=datetime(2026, 1, 5, tzinfo=timezone.utc))
    return message, findings, history, rnd.random() < 0.1


@pytest.mark.parametrize("which", ["shipped", "mixed"])
def test_decide_decides_what_asking_every_rule_decides(which: str) -> None:
    policy = Policy.load() if which == "shipped" else Policy.from_text(MIXED, origin="mixed.yaml")
    rnd = random.Random(6)
    fired = 0
    for _ in range(3000):
        message, findings, history, held = random_case(rnd)
        got = policy.decide(message, findings, history, active_hold=held)
        want = every_rule(policy, message, findings, history, held)
        assert got.to_json() == want.to_json(), (findings, history)
        fired += bool(got.hits)
    assert fired > 300  # the cases reach the rules, not only the empty path


def test_a_corroborating_rule_needs_another_rule_to_fire_even_with_its_category_present() -> None:
    policy = Policy.from_text(MIXED, origin="mixed.yaml")
    history = CustomerHistory(customer="c@example.com")
    message = Message(id="m1", text="x", sender="c@example.com")
    pressure = Finding(category="escalation_pressure", severity=Severity.HIGH, score=0.9,
                       evidence=[Evidence(0, 1, "x")], rule="r", reason="r")
    alone = policy.decide(message, [pressure], history)
    assert alone.hits == [] and "pressure_with_other" in alone.misses
    abuse = Finding(category="verbal_abuse", severity=Severity.MEDIUM, score=0.9,
                    evidence=[Evidence(0, 1, "x")], rule="r", reason="r")
    both = policy.decide(message, [pressure, abuse], history)
    assert both.hits == ["pressure_with_other", "abuse_or_threat", "pressure_with_other_late"]
