"""A decision without actions (most messages) is written from cached texts: the decision row and
the audit entry must be, byte for byte, what the general path writes for the same message."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import gateway.effects as effects_module
from gateway.audit import AuditLog
from gateway.contact.history import CustomerHistory
from gateway.effects import CoreEffects
from gateway.model import Decision, Evidence, Finding, Message, Severity
from gateway.policy import Policy
from gateway.store.db import Database

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=timezone.utc)
JA = "お前は本当に無能だな。上司を出せ。"


class Ticking:
    """A clock that moves a little on every call, so each write has its own timestamp."""

    def __init__(self) -> None:
        self.n = 0

    def __call__(self) -> datetime:
        self.n += 1
        return T0 + timedelta(seconds=self.n, microseconds=self.n * 137 if self.n % 3 else 0)


def message(mid: str, text: str, *, lang: str = "en", sender: str = "c@example.com",
            received: datetime | None = T0) -> Message:
    return Message(id=mid, text=text, sender=sender, sender_address=sender.upper(), thread=f"t-{mid}",
                   subject="Bestellung «42» \"quoted\"", lang=lang, source="imap", message_id=f"<{mid}@x>",
                   received_at=received)


def mild(text: str) -> Finding:
    """A finding below every rule's severity: recorded with the decision, fires nothing."""
    return Finding("verbal_abuse", Severity.LOW, 0.31234567, [Evidence(0, len(text), text)], "ja.mild",
                   "a mild word", related=["<earlier@x>"], details={"note": "детали"})


def cases(policy: Policy) -> list[tuple[Message, list[Finding], Decision]]:
    empty = CustomerHistory(customer="c@example.com")
    out = []
    for mid, msg, found, held in [
        ("m1", message("m1", "Where is my parcel?"), [], False),
        ("m2", message("m2", JA, lang="ja", sender="顧客@example.jp"), [mild(JA[:5])], False),
        ("m3", message("m3", "Still waiting.", received=None), [], True),
        ("m\"4\\", message("m\"4\\", "Any news?", received=T0.astimezone(timezone(timedelta(hours=9)))), [], False),
    ]:
        decision = policy.decide(msg, found, empty, active_hold=held)
        assert not decision.actions, mid
        out.append((msg, found, decision))
    return out


def rows(db: Database) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    return ([tuple(r) for r in db.query("SELECT * FROM decisions ORDER BY rowid")],
            [tuple(r) for r in db.query("SELECT * FROM audit_log ORDER BY seq")])


@pytest.mark.parametrize("shadow", [False, True])
def test_the_cached_texts_are_what_the_general_path_writes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           shadow: bool) -> None:
    policy = Policy.load()
    policy.settings = dataclasses.replace(policy.settings, shadow=shadow)
    fast_db, slow_db = Database.open(tmp_path / "fast.db"), Database.open(tmp_path / "slow.db")
    fast, slow = CoreEffects(fast_db, policy, clock=Ticking()), CoreEffects(slow_db, policy, clock=Ticking())
    for msg, found, decision in cases(policy):
        with monkeypatch.context() as m:  # the general path: no cached shape
            m.setattr(effects_module, "_plain_shape", lambda decision: None)
            slow_report = slow.apply(msg, found, decision, customer=msg.sender)
        fast_report = fast.apply(msg, found, decision, customer=msg.sender)
        assert fast_report.to_json() == slow_report.to_json()
    assert rows(fast_db) == rows(slow_db)
    assert AuditLog(fast_db).verify().ok
    # the cached texts read back as the decision that was made
    record = fast.decisions.get("m3")
    assert record is not None and record.decision["held"] is True and record.report.hold_id is None
    assert record.decision["tags"] == [policy.hold_tag] and record.decision["shadow"] is shadow


def test_a_decision_whose_id_differs_from_the_message_keeps_its_own(tmp_path: Path) -> None:
    db = Database.open(tmp_path / "g.db")
    effects = CoreEffects(db, Policy.load(), clock=Ticking())
    decision = Decision(message_id="other-id", misses=["x"])
    effects.apply(message("m1", "hello"), [], decision)
    stored = db.query_one("SELECT decision, report FROM decisions WHERE message_id = 'm1'")
    assert '"message_id": "other-id"' in stored["decision"] and '"message_id": "m1"' in stored["report"]
