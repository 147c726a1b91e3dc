"""The pipeline with the real stages: detect -> contact -> policy -> effects, on a SQLite file."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from gateway.audit import AuditLog
from gateway.holds import HoldStore
from gateway.model import Message
from gateway.pipeline import Pipeline
from gateway.store.db import Database
from tests.clock import Clock
from gateway.store.messages import SqliteMessageStore

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=timezone.utc)
VIOLENT = "If you don't refund me today I will kill you. I know where you live."
COMPLAINT = ("My order #4411 arrived broken and nobody has answered my last two emails. "
             "This is unacceptable. I want a full refund as your terms promise.")


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def db(tmp_path: Path) -> Database:
    return Database.open(tmp_path / "gateway.db")


@pytest.fixture
def pipeline(db: Database, clock: Clock, detector: object) -> Pipeline:
    return Pipeline.create(db, clock=clock, detector=detector)


def message(mid: str, text: str, *, minutes: int = 0, sender: str = "c@example.com", thread: str = "order-4411",
            lang: str = "en") -> Message:
    return Message(id=mid, text=text, sender=sender, sender_address=sender, thread=thread, subject="Order 4411",
                   source="imap", lang=lang, received_at=T0 + timedelta(minutes=minutes), message_id=f"<{mid}@x>")


def test_a_legitimate_complaint_is_recorded_and_nothing_else(db: Database, pipeline: Pipeline) -> None:
    r = pipeline.process(message("m1", COMPLAINT))
    assert r.findings == [] and r.decision.tags == [] and r.decision.actions == [] and not r.decision.held
    assert SqliteMessageStore(db).has("m1")
    assert HoldStore(db).list() == []
    assert [e.action for e in AuditLog(db).entries(subject="message:m1")] == ["decision"]


def test_violence_holds_the_customer_and_later_mail_is_held_but_kept(db: Database, pipeline: Pipeline) -> None:
    first = pipeline.process(message("m1", VIOLENT))
    threat = [f for f in first.findings if f.category == "threat"]
    assert threat and max(f.severity for f in threat).label == "critical"
    assert first.decision.held and "hg_threat" in first.decision.tags and "hg_hold" in first.decision.tags
    hold = HoldStore(db).list(state="active")[0]
    assert hold.scope == "customer" and hold.message_ids == ["m1"]
    assert hold.evidence and all(e["message_id"] == "m1" for e in hold.evidence)
    for ev in hold.evidence:  # evidence spans index the analyzed text
        for span in ev["evidence"]:
            assert VIOLENT[span["start"]:span["end"]] == span["text"]

    later = pipeline.process(message("m2", "Any news on my refund?", minutes=60))
    assert later.decision.held and later.decision.tags == ["hg_hold"] and later.decision.actions == []
    assert SqliteMessageStore(db).has("m2")  # nothing lost while held
    other = pipeline.process(message("m3", "Any news on my refund?", sender="someone@example.com"))
    assert not other.decision.held


def test_the_same_message_twice_is_processed_once(db: Database, pipeline: Pipeline) -> None:
    first = pipeline.process(message("m1", VIOLENT))
    entries = AuditLog(db).count()
    again = pipeline.process(message("m1", VIOLENT))
    assert again.decision.to_json() == first.decision.to_json()
    assert again.effects.replayed  # type: ignore[union-attr]
    assert AuditLog(db).count() == entries and len(HoldStore(db).list()) == 1
    assert SqliteMessageStore(db).count() == 1


def test_an_expired_hold_stops_holding_with_an_audited_expiry(db: Database, pipeline: Pipeline, clock: Clock) -> None:
    pipeline.process(message("m1", VIOLENT))
    clock.now = T0 + timedelta(days=181)
    later = pipeline.process(message("m2", "Hello, is my account active again?", minutes=181 * 24 * 60))
    assert not later.decision.held
    assert [e.actor for e in AuditLog(db).entries(action="hold.expire")] == ["system"]


def test_stateless_pipeline_decides_without_writing(tmp_path: Path, detector: object) -> None:
    pipeline = Pipeline.create(None, detector=detector)
    r = pipeline.process(message("m1", VIOLENT))
    assert "hg_threat" in r.decision.tags and r.effects is None
    assert {a.type for a in r.decision.actions} >= {"hold", "escalate"}
    assert not list(tmp_path.iterdir())


def test_a_resent_message_is_tagged_duplicate(pipeline: Pipeline) -> None:
    text = COMPLAINT + " Please call me back at your earliest convenience about this order."
    pipeline.process(message("m1", text))
    r = pipeline.process(message("m2", text, minutes=10))
    assert "duplicate_contact" in {f.category for f in r.findings}
    assert "hg_duplicate_contact" in r.decision.tags


def test_policy_and_rules_paths_are_honoured(db: Database, tmp_path: Path, detector: object) -> None:
    from gateway.resources import rules_dir

    text = (rules_dir() / "policy.yaml").read_text(encoding="utf-8").replace("prefix: hg_", "prefix: cs_", 1)
    custom = tmp_path / "policy.yaml"
    custom.write_text(text, encoding="utf-8")
    r = Pipeline.create(None, policy_path=custom, detector=detector).process(message("m1", VIOLENT))
    assert "cs_threat" in r.decision.tags


def test_abuse_warns_once_then_a_pattern_proposes_a_customer_hold(db: Database, pipeline: Pipeline) -> None:
    abusive = ["You are a useless idiot.", "You people are complete morons.", "You are a useless idiot again."]
    results = [pipeline.process(message(f"m{i}", text, minutes=i * 60, thread=f"t{i}"))
               for i, text in enumerate(abusive)]
    assert all("hg_verbal_abuse" in r.decision.tags for r in results)
    first, second, third = (r.effects for r in results)
    assert first.draft_id is not None  # type: ignore[union-attr]
    assert second.draft_id is None and "notice cap" in second.suppressed[0]  # type: ignore[union-attr]
    assert "verbal_abuse.repeated" in results[2].decision.hits
    hold = HoldStore(db).get(third.hold_id)  # type: ignore[union-attr]
    assert hold.state == "proposed" and hold.scope == "customer" and not results[2].decision.held


def test_contact_over_the_rate_window_proposes_a_customer_hold_with_answered_draft(db: Database,
                                                                                pipeline: Pipeline) -> None:
    asks = ["Where is my parcel?", "Has it shipped yet?", "Please give me the tracking number.",
            "I am still waiting for an answer.", "Why is nobody replying to me?", "Answer me about the parcel.",
            "Is anyone there at all?"]
    results = [pipeline.process(message(f"m{i}", text, minutes=i * 5)) for i, text in enumerate(asks)]
    flagged = [r for r in results if "persistent_contact" in {f.category for f in r.findings}]
    assert flagged, "seven messages in 35 minutes should breach the 1h window"
    first = flagged[0]
    assert first.decision.tags[0] == "hg_persistent_contact" and "contact.persistent" in first.decision.hits
    hold = HoldStore(db).get(first.effects.hold_id)  # type: ignore[union-attr]
    # the customer and thread windows were both breached: the hold covers the customer's next new mail too
    assert hold.state == "proposed" and hold.scope == "customer" and hold.customer == first.message.sender
    from gateway.drafts import DraftStore

    assert DraftStore(db).get(first.effects.draft_id).template == "answered"  # type: ignore[union-attr]
    assert len(HoldStore(db).pending()) == 1  # later breaches join the same proposal
    assert not any(r.decision.held for r in results)  # proposed holds do not hold


def test_japanese_customer_gets_a_japanese_boundary_draft_and_a_manager_request_gets_nothing(
        db: Database, pipeline: Pipeline) -> None:
    from gateway.drafts import DraftStore

    manager = pipeline.process(message("j1", "責任者を出せ。", sender="j@example.jp", thread="j", lang="ja"))
    assert manager.decision.tags == [] and manager.decision.actions == []
    demand = pipeline.process(message("j2", "土下座して謝れ。", minutes=30, sender="j@example.jp", thread="j2",
                                      lang="ja"))
    assert "hg_excessive_apology_demand" in demand.decision.tags
    draft = DraftStore(db).get(demand.effects.draft_id)  # type: ignore[union-attr]
    assert draft.lang == "ja" and draft.template == "boundary" and "土下座" in draft.body
    assert draft.state == "pending"  # waits for an agent


def test_japanese_threat_of_violence_is_held_at_once(db: Database, pipeline: Pipeline) -> None:
    r = pipeline.process(message("j1", "次に会ったら殺すぞ。", sender="j@example.jp", lang="ja"))
    assert r.decision.held and "hg_threat" in r.decision.tags
    assert HoldStore(db).list(state="active")[0].customer == "j@example.jp"
