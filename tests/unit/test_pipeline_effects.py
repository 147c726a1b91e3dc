"""CoreEffects: a decision becomes holds, escalations, drafts and audit entries, once per message."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from gateway.audit import AuditLog
from gateway.contact.history import CustomerHistory
from gateway.effects import CoreEffects, short_reference
from gateway.model import Evidence, Finding, Message, Severity
from gateway.policy import Policy
from gateway.store.db import Database
from tests.clock import Clock

T0 = datetime(2026, 4, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def db(tmp_path: Path) -> Database:
    return Database.open(tmp_path / "gateway.db")


@pytest.fixture
def effects(db: Database, clock: Clock) -> CoreEffects:
    return CoreEffects(db, Policy.load(), clock=clock)


def msg(mid: str, text: str = "You idiots never read anything.", *, lang: str = "en",
        subject: str = "Order 42") -> Message:
    return Message(id=mid, text=text, sender="c@example.com", sender_address="C@Example.com", thread="order-42",
                   subject=subject, lang=lang, source="imap", message_id=f"<{mid}@example.com>",
                   display_name="Pat <Customer>", received_at=T0)


def abuse(text: str = "idiots") -> Finding:
    start = "You idiots never read anything.".index(text)
    return Finding("verbal_abuse", Severity.MEDIUM, 0.9, [Evidence(start, start + len(text), text)],
                   "en.insult", "insult aimed at staff")


def run(effects: CoreEffects, message: Message, findings: list[Finding], **counts: int):
    history = CustomerHistory(customer="c@example.com", finding_counts=counts)
    decision = effects.policy.decide(message, findings, history)
    return decision, effects.apply(message, findings, decision, customer="c@example.com")


def test_first_abuse_queues_a_rendered_warning_draft(effects: CoreEffects) -> None:
    _, report = run(effects, msg("m1"), [abuse()])
    draft = effects.drafts.get(report.draft_id)
    assert draft.state == "pending" and draft.template == "warning" and draft.lang == "en"
    assert draft.to_address == "C@Example.com" and draft.in_reply_to == "<m1@example.com>"
    assert draft.subject == "Re: Order 42"
    assert "Pat <Customer>" in draft.body and "&lt;" not in draft.body  # plain text, as the mail is sent
    assert short_reference("m1") in draft.body
    assert report.hold_id is None and report.escalation_id is None


def test_japanese_customer_gets_the_japanese_template(effects: CoreEffects) -> None:
    _, report = run(effects, msg("m1", lang="ja"), [abuse()])
    draft = effects.drafts.get(report.draft_id)
    assert draft.lang == "ja" and draft.subject == "Re: Order 42"
    assert draft.body.startswith("Pat <Customer> 様")
    assert "当社の「Customer Harassment Policy」に基づき" in draft.body


def test_applying_the_same_message_twice_changes_nothing(db: Database, effects: CoreEffects) -> None:
    violent = Finding("threat", Severity.CRITICAL, 1.0, [Evidence(0, 3, "You")], "t", "violence")
    first_decision, first = run(effects, msg("m1"), [violent])
    audit_before = AuditLog(db).count()
    _, again = run(effects, msg("m1"), [violent])
    assert again.replayed and again.hold_id == first.hold_id and again.escalation_id == first.escalation_id
    assert AuditLog(db).count() == audit_before
    assert len(effects.holds.list()) == 1 and len(effects.escalations.list()) == 1
    assert first_decision.held and effects.holds.get(first.hold_id).state == "active"


def test_violence_applies_a_hold_and_escalates_with_evidence(db: Database, effects: CoreEffects) -> None:
    text = "I will find you and hurt you"
    threat = Finding("threat", Severity.CRITICAL, 1.0, [Evidence(0, len(text), text)], "en.violence", "violence")
    _, report = run(effects, msg("m1", text=text), [threat])
    hold = effects.holds.get(report.hold_id)
    assert hold.state == "active" and hold.scope == "customer" and hold.source == "imap"
    assert hold.expires_at == T0 + timedelta(days=180)
    assert hold.evidence[0]["evidence"][0]["text"] == text and hold.evidence[0]["message_id"] == "m1"
    esc = effects.escalations.get(report.escalation_id)
    assert set(esc.recipients) == {"leads", "legal"} and esc.hold_id == hold.id and esc.state == "open"
    assert [e.id for e in effects.escalations.open()] == [esc.id]
    assert report.draft_id is None


def test_notice_cap_allows_one_warning_per_window(db: Database, effects: CoreEffects, clock: Clock) -> None:
    _, first = run(effects, msg("m1"), [abuse()])
    clock.now = T0 + timedelta(days=2)
    _, second = run(effects, msg("m2"), [abuse()], verbal_abuse=1)
    assert first.draft_id is not None and second.draft_id is None
    assert "notice cap" in second.suppressed[0]
    assert AuditLog(db).entries(action="draft.suppressed")[0].subject == "message:m2"
    clock.now = T0 + timedelta(days=8)  # the window has passed
    _, third = run(effects, msg("m3"), [abuse()], verbal_abuse=1)
    assert third.draft_id is not None


def test_a_discarded_warning_does_not_count_against_the_cap(effects: CoreEffects, clock: Clock) -> None:
    _, first = run(effects, msg("m1"), [abuse()])
    effects.drafts.discard(first.draft_id, "agent", "handled by phone")
    _, second = run(effects, msg("m2"), [abuse()], verbal_abuse=1)
    assert second.draft_id is not None


def test_repeated_proposals_join_one_hold(effects: CoreEffects) -> None:
    _, a = run(effects, msg("m1"), [abuse()], verbal_abuse=2)
    _, b = run(effects, msg("m2"), [abuse()], verbal_abuse=3)
    assert a.hold_id == b.hold_id
    assert effects.holds.get(a.hold_id).message_ids == ["m1", "m2"]


def test_shadow_mode_records_and_audits_but_acts_on_nothing(db: Database, tmp_path: Path, clock: Clock) -> None:
    text = Policy.load().path.read_text(encoding="utf-8").replace("shadow: false", "shadow: true", 1)  # type: ignore[union-attr]
    shadow_dir = tmp_path / "rules"
    shadow_dir.mkdir()
    (shadow_dir / "policy.yaml").write_text(text, encoding="utf-8")
    effects = CoreEffects(db, Policy.load(shadow_dir / "policy.yaml"), clock=clock)
    threat = Finding("threat", Severity.CRITICAL, 1.0, [Evidence(0, 3, "You")], "t", "violence")
    decision, report = run(effects, msg("m1"), [threat])
    assert decision.shadow and report.hold_id is None and report.draft_id is None and report.escalation_id is None
    assert effects.holds.list() == [] and effects.escalations.list() == []
    record = effects.decisions.get("m1")
    assert record is not None and record.decision["shadow"] and record.decision["actions"]
    entry = AuditLog(db).entries(subject="message:m1")[0]
    assert entry.evidence["shadow"] is True


def test_every_decision_is_recorded_and_audited_even_with_no_findings(db: Database, effects: CoreEffects) -> None:
    _, report = run(effects, msg("m1", text="Where is my refund? This is unacceptable."), [])
    assert report.hold_id is None and report.draft_id is None
    record = effects.decisions.get("m1")
    assert record is not None and record.findings == [] and record.decision["tags"] == []
    assert len(record.text_sha256) == 64
    entries = AuditLog(db).entries(subject="message:m1")
    assert [e.action for e in entries] == ["decision"] and entries[0].reason == "no policy rule fired"
    assert AuditLog(db).verify().ok


def test_persistent_contact_proposes_a_customer_hold_with_answered_draft(effects: CoreEffects) -> None:
    persistent = Finding("persistent_contact", Severity.LOW, 1.0, [Evidence(0, 3, "You")], "contact.rate",
                         "6 messages in 24h", related=["m0"])
    _, report = run(effects, msg("m1"), [persistent])
    hold = effects.holds.get(report.hold_id)
    assert hold.state == "proposed" and hold.scope == "customer"  # no thread-only breach: the customer
    assert effects.drafts.get(report.draft_id).template == "answered"


def test_conduct_under_an_active_hold_adds_evidence_instead_of_a_new_proposal(effects: CoreEffects) -> None:
    violent = Finding("threat", Severity.CRITICAL, 1.0, [Evidence(0, 3, "You")], "t", "violence")
    _, first = run(effects, msg("m1"), [violent])
    persistent = Finding("persistent_contact", Severity.MEDIUM, 1.0, [Evidence(0, 3, "You")], "contact.rate", "rate")
    history = CustomerHistory(customer="c@example.com")
    decision = effects.policy.decide(msg("m2"), [persistent], history, active_hold=True)
    assert decision.held and any(a.type == "hold" for a in decision.actions)
    report = effects.apply(msg("m2"), [persistent], decision, customer="c@example.com")
    assert report.hold_id == first.hold_id and "already covered by active hold" in report.suppressed[0]
    assert effects.holds.pending() == []
    hold = effects.holds.get(first.hold_id)
    assert hold.message_ids == ["m1", "m2"] and hold.state == "active"


def test_a_thread_hold_does_not_cover_a_customer_wide_proposal(effects: CoreEffects) -> None:
    effects.holds.apply("c@example.com", "thread", "persistent", [], thread="order-42", source="imap")
    _, report = run(effects, msg("m1"), [abuse()], verbal_abuse=2)
    hold = effects.holds.get(report.hold_id)
    assert hold.scope == "customer" and hold.state == "proposed"
