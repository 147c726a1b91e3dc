"""A message without findings fires no rule: every rule is a miss, in file order, and only an
active hold shows (held, with the hold tag). This is most mail, decided without the rule loop."""

from __future__ import annotations

import dataclasses

from gateway.contact.history import CustomerHistory
from gateway.model import Evidence, Finding, Message, Severity
from gateway.policy import Policy

HISTORY = CustomerHistory(customer="c@example.com", finding_counts={"verbal_abuse": 9, "threat": 3},
                          messages_total=40, window_breaches=["customer:1h"])


def message() -> Message:
    return Message(id="m1", text="Where is my parcel?", sender="c@example.com", lang="en")


def test_no_findings_means_every_rule_missed_in_file_order() -> None:
    policy = Policy.load()
    decision = policy.decide(message(), [], HISTORY)
    assert decision.hits == [] and decision.actions == [] and decision.tags == [] and decision.categories == []
    assert decision.misses == [r.name for r in policy.rules] and len(decision.misses) > 3
    assert not decision.held and not decision.shadow and decision.message_id == "m1"


def test_an_active_hold_is_the_only_thing_that_shows() -> None:
    policy = Policy.load()
    decision = policy.decide(message(), [], HISTORY, active_hold=True)
    assert decision.held and decision.tags == [policy.hold_tag] and decision.actions == []
    policy.settings = dataclasses.replace(policy.settings, shadow=True)
    assert policy.decide(message(), [], HISTORY).shadow


def test_the_same_policy_object_decides_findings_after_empty_messages() -> None:
    policy = Policy.load()
    policy.decide(message(), [], HISTORY)
    threat = Finding("threat", Severity.CRITICAL, 0.95, [Evidence(0, 4, "kill")], "en.kill", "threat of violence")
    decision = policy.decide(message(), [threat], CustomerHistory(customer="c@example.com"))
    assert decision.hits and decision.hits[0] not in decision.misses
    assert sorted(decision.hits + decision.misses) == sorted(r.name for r in policy.rules)
    assert any(a.type == "hold" for a in decision.actions)
