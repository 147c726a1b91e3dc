"""The shipped policy (rules/policy.yaml), one test per default rule, and the cases that must not act."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from gateway.contact.history import CustomerHistory
from gateway.model import Evidence, Finding, Message, Severity
from gateway.policy import Policy


@pytest.fixture(scope="module")
def policy() -> Policy:
    return Policy.load()


def msg(text: str = "My order #123 arrived broken.", *, lang: str = "en", mid: str = "m1") -> Message:
    return Message(id=mid, text=text, sender="cust@example.com", thread="t1", lang=lang,
                   received_at=datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc))


def finding(category: str, severity: str = "medium", text: str = "x", score: float = 0.9) -> Finding:
    return Finding(category=category, severity=Severity.parse(severity), score=score,
                   evidence=[Evidence(0, len(text), text)], rule=f"test.{category}", reason="test")


def history(**counts: int) -> CustomerHistory:
    return CustomerHistory(customer="cust@example.com", finding_counts=dict(counts),
                           messages_total=sum(counts.values()))


def action(decision, kind: str):
    found = [a for a in decision.actions if a.type == kind]
    return found[0].params if found else None


# -- must not act -----------------------------------------------------------------------------

def test_legitimate_complaint_without_findings_gets_no_tag_and_no_action(policy: Policy) -> None:
    d = policy.decide(msg("This is the third time my refund is late. I am very unhappy."), [], history())
    assert d.tags == [] and d.actions == [] and d.hits == []
    assert not d.held
    assert set(d.misses) == {r.name for r in policy.rules}  # every rule was checked


def test_one_off_escalation_pressure_alone_neither_tags_nor_acts(policy: Policy) -> None:
    d = policy.decide(msg("I want to speak to your manager."), [finding("escalation_pressure", "low")], history())
    assert d.tags == [] and d.actions == []
    assert "escalation_pressure.corroborating" in d.misses


def test_escalation_pressure_alone_does_not_act_even_when_repeated(policy: Policy) -> None:
    d = policy.decide(msg(), [finding("escalation_pressure", "medium")], history(escalation_pressure=5))
    assert d.tags == [] and d.actions == []


def test_low_severity_abuse_finding_does_not_act(policy: Policy) -> None:
    d = policy.decide(msg(), [finding("verbal_abuse", "low")], history())
    assert d.tags == [] and d.actions == [] and d.hits == []


def test_low_severity_threat_does_not_act(policy: Policy) -> None:
    d = policy.decide(msg(), [finding("threat", "low")], history())
    assert d.tags == [] and d.actions == []


# -- threats ------------------------------------------------------------------------------------

def test_violence_is_held_at_once_for_the_customer_and_escalated_urgently(policy: Policy) -> None:
    d = policy.decide(msg("I will come and hurt you"), [finding("threat", "critical")], history())
    hold = action(d, "hold")
    assert hold["mode"] == "apply" and hold["scope"] == "customer"
    assert hold["rules"] == ["threat.violence"]
    esc = action(d, "escalate")
    assert "legal" in esc["to"] and "leads" in esc["to"] and esc["priority"] == "urgent"
    assert d.held and d.tags == ["hg_threat", "hg_hold"]
    assert action(d, "draft") is None  # no reply to a violent threat; a lead owns it
    assert d.hits == ["threat.violence"]


def test_high_threat_proposes_a_customer_hold_and_escalates(policy: Policy) -> None:
    d = policy.decide(msg(), [finding("threat", "high")], history())
    hold = action(d, "hold")
    assert hold["mode"] == "propose" and hold["scope"] == "customer"
    assert action(d, "escalate")["to"] == ["leads"]
    assert d.tags == ["hg_threat"] and not d.held
    assert d.hits == ["threat.intimidation"]
    assert "threat.violence" in d.misses and "threat.veiled" in d.misses


def test_medium_threat_is_tagged_and_escalated_without_a_hold(policy: Policy) -> None:
    d = policy.decide(msg(), [finding("threat", "medium")], history())
    assert d.tags == ["hg_threat"] and action(d, "hold") is None and action(d, "escalate") is not None


# -- verbal abuse -------------------------------------------------------------------------------

def test_first_verbal_abuse_is_tagged_with_a_warning_draft(policy: Policy) -> None:
    d = policy.decide(msg("You are useless idiots"), [finding("verbal_abuse")], history())
    assert d.tags == ["hg_verbal_abuse"]
    assert action(d, "draft") == {"template": "warning", "lang": "en", "rule": "verbal_abuse.warning",
                                  "categories": ["verbal_abuse"]}
    assert action(d, "hold") is None


def test_warning_draft_follows_the_customer_language(policy: Policy) -> None:
    d = policy.decide(msg("バカ", lang="ja"), [finding("verbal_abuse")], history())
    assert action(d, "draft")["lang"] == "ja"


def test_repeated_verbal_abuse_proposes_a_customer_hold(policy: Policy) -> None:
    d = policy.decide(msg(), [finding("verbal_abuse")], history(verbal_abuse=2))
    hold = action(d, "hold")
    assert hold["mode"] == "propose" and hold["scope"] == "customer"
    assert action(d, "draft") is None
    assert "verbal_abuse.repeated" in d.hits and "verbal_abuse.warning" in d.misses


def test_second_abusive_message_is_still_a_warning(policy: Policy) -> None:
    d = policy.decide(msg(), [finding("verbal_abuse")], history(verbal_abuse=1))
    assert action(d, "hold") is None and action(d, "draft")["template"] == "warning"


def test_past_abuse_without_abuse_now_does_not_act(policy: Policy) -> None:
    d = policy.decide(msg(), [], history(verbal_abuse=7))
    assert d.actions == [] and d.tags == []


# -- serious harassment ---------------------------------------------------------------------------

@pytest.mark.parametrize("category", ["sexual_harassment", "discrimination", "privacy_intrusion", "online_exposure"])
def test_serious_harassment_is_tagged_hold_proposed_and_escalated(policy: Policy, category: str) -> None:
    d = policy.decide(msg(), [finding(category, "high")], history())
    assert d.tags == [f"hg_{category}"]
    assert action(d, "hold")["mode"] == "propose"
    assert action(d, "escalate")["to"] == ["leads"]
    assert d.hits == ["harassment.serious"]


# -- demands ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("category", ["staff_punishment_demand", "excessive_apology_demand",
                                      "unreasonable_compensation_demand", "restrictive_conduct"])
def test_unreasonable_demands_get_a_boundary_draft_and_no_hold(policy: Policy, category: str) -> None:
    d = policy.decide(msg(), [finding(category)], history())
    assert d.tags == [f"hg_{category}"]
    assert action(d, "draft")["template"] == "boundary"
    assert action(d, "hold") is None and action(d, "escalate") is None


# -- contact --------------------------------------------------------------------------------------

@pytest.mark.parametrize("breaches, scope", [
    (["customer:1h", "thread:1h"], "customer"),  # fresh mails each start a thread: hold the customer
    (["customer:24h"], "customer"),
    (["thread:1h"], "thread"),                   # only one thread ran over (a tighter thread window)
    ([], "customer"),                            # the same demand repeated, no window breached
])
def test_persistent_contact_proposes_a_hold_scoped_by_the_breach_with_an_answered_draft(
        policy: Policy, breaches: list[str], scope: str) -> None:
    past = history()
    past.window_breaches = breaches
    d = policy.decide(msg(), [finding("persistent_contact", "low")], past)
    hold = action(d, "hold")
    assert hold["mode"] == "propose" and hold["scope"] == scope
    assert action(d, "draft")["template"] == "answered"
    assert d.tags == ["hg_persistent_contact"]


def test_duplicate_contact_is_tagged_only(policy: Policy) -> None:
    d = policy.decide(msg(), [finding("duplicate_contact", "low")], history())
    assert d.tags == ["hg_duplicate_contact"] and d.actions == []


# -- merging and holds ----------------------------------------------------------------------------

def test_escalation_pressure_is_tagged_alongside_other_conduct(policy: Policy) -> None:
    d = policy.decide(msg(), [finding("verbal_abuse"), finding("escalation_pressure", "low")], history())
    assert d.tags == ["hg_verbal_abuse", "hg_escalation_pressure"]
    assert "escalation_pressure.corroborating" in d.hits


def test_strongest_hold_wins_when_rules_combine(policy: Policy) -> None:
    d = policy.decide(msg(), [finding("persistent_contact", "low"), finding("threat", "critical")], history())
    holds = [a for a in d.actions if a.type == "hold"]
    assert len(holds) == 1
    assert holds[0].params["mode"] == "apply" and holds[0].params["scope"] == "customer"
    assert set(holds[0].params["rules"]) == {"threat.violence", "contact.persistent"}


def test_active_hold_marks_the_message_held_and_suppresses_drafts(policy: Policy) -> None:
    d = policy.decide(msg(), [finding("verbal_abuse")], history(), active_hold=True)
    assert d.held and "hg_hold" in d.tags and "hg_verbal_abuse" in d.tags
    assert action(d, "draft") is None


def test_active_hold_without_findings_still_marks_held(policy: Policy) -> None:
    d = policy.decide(msg("Any update?"), [], history(), active_hold=True)
    assert d.held and d.tags == ["hg_hold"] and d.actions == []


def test_decision_json_lists_actions_in_classify_shape(policy: Policy) -> None:
    d = policy.decide(msg(), [finding("threat", "high")], history())
    out = d.to_json()
    assert {a["type"] for a in out["actions"]} == {"hold", "escalate"}
    assert out["tags"] == ["hg_threat"]


def test_every_shipped_draft_template_exists_in_english_and_japanese(policy: Policy) -> None:
    names = {a.params["template"] for r in policy.rules for a in r.then if a.type == "draft"}
    assert names == {"warning", "boundary", "answered"}
    for name in names | set(policy.settings.notices.templates):
        for lang in ("en", "ja"):
            assert (policy.templates_dir / lang / f"{name}.j2").is_file(), f"{lang}/{name}.j2"
