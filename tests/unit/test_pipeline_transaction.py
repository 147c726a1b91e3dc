"""One message, one transaction: the pipeline's writes (contact record, decision, holds, drafts,
audit) and the daemon's verdict ledger commit together, and a failure part-way leaves nothing."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from gateway.checkpoints import Checkpoints
from gateway.mail.handler import MessageHandler
from gateway.metrics import SourceStats
from gateway.model import Message
from gateway.pipeline import Pipeline
from gateway.quarantine import Quarantine
from gateway.store.db import Database
from gateway.store.messages import SqliteMessageStore

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=timezone.utc)
VIOLENT = "If you don't refund me today I will kill you. I know where you live."
RAW = (b"From: Pat <pat@example.com>\r\nTo: support@example.org\r\nSubject: Order 7\r\n"
       b"Message-ID: <tx-1@example.com>\r\nDate: Mon, 01 Jun 2026 09:00:00 +0000\r\n\r\n"
       b"If you don't refund me today I will kill you. I know where you live.\r\n")


@pytest.fixture
def db(tmp_path: Path) -> Database:
    return Database.open(tmp_path / "gateway.db")


def commits(db: Database) -> list[str]:
    seen: list[str] = []
    db.conn.set_trace_callback(lambda sql: seen.append(sql) if sql.strip().upper().startswith("COMMIT") else None)
    return seen


def message(mid: str, text: str = VIOLENT) -> Message:
    return Message(id=mid, text=text, sender="c@example.com", sender_address="c@example.com", thread="order-7",
                   subject="Order 7", source="imap", lang="en", received_at=T0, message_id=f"<{mid}@x>")


def test_a_message_with_a_hold_draft_and_audit_commits_once(db: Database, detector: object) -> None:
    pipeline = Pipeline.create(db, detector=detector, clock=lambda: T0)
    seen = commits(db)
    result = pipeline.process(message("m1"))
    db.conn.set_trace_callback(None)
    assert result.effects is not None and result.effects.hold_id is not None  # several stores wrote
    assert len(seen) == 1
    assert SqliteMessageStore(db).has("m1")


def test_a_failure_after_the_contact_record_leaves_no_trace(db: Database, detector: object) -> None:
    pipeline = Pipeline.create(db, detector=detector, clock=lambda: T0)

    def broken(*args: object, **kwargs: object) -> object:
        raise RuntimeError("effects broke")

    pipeline.effects.apply = broken  # type: ignore[attr-defined, union-attr]
    with pytest.raises(RuntimeError):
        pipeline.process(message("m1"))
    # The contact record written before the failure was rolled back with it: a retry starts clean.
    assert not SqliteMessageStore(db).has("m1")
    assert db.query_one("SELECT count(*) AS n FROM decisions")["n"] == 0


def test_the_daemon_handler_commits_analysis_and_verdict_together(db: Database, detector: object) -> None:
    pipeline = Pipeline.create(db, detector=detector, clock=lambda: T0)
    handler = MessageHandler(Checkpoints(db), Quarantine(db), pipeline.process)
    seen = commits(db)
    outcome = handler.handle(RAW, source="imap", location="INBOX uid 1", stats=SourceStats("imap", "INBOX"))
    db.conn.set_trace_callback(None)
    assert outcome.verdict.categories and not outcome.verdict.quarantined
    assert len(seen) == 1
    assert Checkpoints(db).verdict(outcome.message_id) == outcome.verdict


def test_an_analysis_error_is_rolled_back_then_quarantined(db: Database, detector: object) -> None:
    pipeline = Pipeline.create(db, detector=detector, clock=lambda: T0)

    def half_then_fail(msg: Message) -> object:
        pipeline.tracker.observe(msg, [])  # writes the contact record
        raise ValueError("hostile input")

    handler = MessageHandler(Checkpoints(db), Quarantine(db), half_then_fail)
    stats = SourceStats("imap", "INBOX")
    outcome = handler.handle(RAW, source="imap", location="INBOX uid 1", stats=stats)
    assert "hostile input" in outcome.verdict.quarantined and stats.failed == 1
    assert SqliteMessageStore(db).count() == 0  # the partial analysis did not survive
    assert Checkpoints(db).count_verdicts() == 0
    assert len(Quarantine(db).list()) == 1
