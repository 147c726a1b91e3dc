"""Batches: ``Pipeline.process_many`` and the daemon handler's ``batch()`` commit many messages
at once, decide exactly what message-by-message processing decides, and keep a failing message's
analysis out of the store."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from gateway.audit import AuditLog
from gateway.checkpoints import Checkpoints
from gateway.mail.handler import MessageHandler
from gateway.metrics import SourceStats
from gateway.model import Message
from gateway.pipeline import Pipeline
from gateway.quarantine import Quarantine
from gateway.store.db import Database
from gateway.store.messages import SqliteMessageStore

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=timezone.utc)
TEXTS = [
    "If you don't refund me today I will kill you. I know where you live.",
    "My parcel has not arrived yet. Could you check, please?",
    "You are useless idiots and I am sick of your excuses.",
    "If you don't refund me today I will kill you. I know where you live.",
    "Thanks, everything works now.",
    "お前は本当に無能だな。上司を出せ。",
]


def messages() -> list[Message]:
    return [Message(id=f"m{i}", text=text, sender=f"c{i % 2}@example.com", sender_address=f"c{i % 2}@example.com",
                    thread=f"t{i % 3}", subject="Order", source="imap", lang="ja" if "お" in text else "en",
                    received_at=T0 + timedelta(minutes=i), message_id=f"<m{i}@x>")
            for i, text in enumerate(TEXTS)]


def outcome(result: object) -> tuple[object, ...]:
    d = result.decision  # type: ignore[attr-defined]
    return (d.message_id, d.tags, [a.to_json() for a in d.actions], d.held,
            sorted((f.category, f.rule) for f in result.findings),  # type: ignore[attr-defined]
            result.effects.to_json())  # type: ignore[attr-defined]


def commits(db: Database) -> list[str]:
    seen: list[str] = []
    db.conn.set_trace_callback(lambda sql: seen.append(sql) if sql.strip().upper() == "COMMIT" else None)
    return seen


def test_a_batch_decides_what_one_by_one_decides_with_one_commit(tmp_path: Path, detector: object) -> None:
    one_db, batch_db = Database.open(tmp_path / "one.db"), Database.open(tmp_path / "batch.db")
    one = Pipeline.create(one_db, detector=detector, clock=lambda: T0)
    batch = Pipeline.create(batch_db, detector=detector, clock=lambda: T0)
    singles = [one.process(m) for m in messages()]
    seen = commits(batch_db)
    batched = batch.process_many(messages())
    batch_db.conn.set_trace_callback(None)
    assert len(seen) == 1
    assert [outcome(r) for r in batched] == [outcome(r) for r in singles]
    assert any(r.decision.actions for r in batched)  # holds/drafts/escalations were exercised
    assert AuditLog(batch_db).verify().ok
    assert AuditLog(batch_db).count() == AuditLog(one_db).count()
    # and a second delivery of the batch is recognised, changing nothing
    again = batch.process_many(messages())
    assert all(r.effects.replayed for r in again)
    assert AuditLog(batch_db).count() == AuditLog(one_db).count()


def test_a_failure_in_a_batch_rolls_the_whole_batch_back(tmp_path: Path, detector: object) -> None:
    db = Database.open(tmp_path / "g.db")
    pipeline = Pipeline.create(db, detector=detector, clock=lambda: T0)
    real = pipeline.effects.apply  # type: ignore[union-attr]

    def fail_on_m3(message: Message, *args: object, **kwargs: object) -> object:
        if message.id == "m3":
            raise RuntimeError("effects broke")
        return real(message, *args, **kwargs)  # type: ignore[arg-type]

    pipeline.effects.apply = fail_on_m3  # type: ignore[union-attr, method-assign]
    with pytest.raises(RuntimeError):
        pipeline.process_many(messages())
    assert SqliteMessageStore(db).count() == 0
    assert db.query_one("SELECT count(*) AS n FROM decisions")["n"] == 0  # type: ignore[index]
    assert AuditLog(db).count() == 0 and AuditLog(db).verify().ok


def raw(i: int, text: str) -> bytes:
    return (f"From: C{i % 2} <c{i % 2}@example.com>\r\nTo: support@example.org\r\nSubject: Order {i}\r\n"
            f"Message-ID: <raw-{i}@example.com>\r\nDate: Mon, 01 Jun 2026 09:0{i}:00 +0000\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\n").encode() + text.encode() + b"\r\n"


def test_the_handler_commits_a_batch_once_and_quarantines_only_the_failing_message(
        tmp_path: Path, detector: object) -> None:
    db = Database.open(tmp_path / "g.db")
    pipeline = Pipeline.create(db, detector=detector, clock=lambda: T0)

    def process(message: Message) -> object:
        if message.id == "<raw-2@example.com>":
            pipeline.tracker.observe(message, [])  # a partial analysis, then a failure
            raise ValueError("hostile input")
        return pipeline.process(message)

    handler = MessageHandler(Checkpoints(db), Quarantine(db), process)
    stats = SourceStats("imap", "INBOX")
    seen = commits(db)
    with handler.batch():
        outcomes = [handler.handle(raw(i, t), source="imap", location=f"INBOX uid {i}", stats=stats)
                    for i, t in enumerate(TEXTS[:4])]
        assert not seen  # nothing is committed before the batch ends
    db.conn.set_trace_callback(None)
    assert len(seen) == 1
    assert [bool(o.verdict.quarantined) for o in outcomes] == [False, False, True, False]
    assert outcomes[0].verdict.categories  # the threat was found
    assert Checkpoints(db).count_verdicts() == 3 and len(Quarantine(db).list()) == 1
    store = SqliteMessageStore(db)
    assert not store.has("<raw-2@example.com>") and store.has("<raw-3@example.com>")
    assert AuditLog(db).verify().ok
    # the same message met again in a later batch gets its stored verdict back
    with handler.batch():
        again = handler.handle(raw(0, TEXTS[0]), source="imap", location="INBOX uid 0", stats=stats)
    assert again.duplicate and again.verdict == outcomes[0].verdict


def test_a_store_error_in_a_handler_batch_leaves_nothing_of_the_batch(tmp_path: Path, detector: object) -> None:
    import sqlite3

    db = Database.open(tmp_path / "g.db")
    pipeline = Pipeline.create(db, detector=detector, clock=lambda: T0)

    def process(message: Message) -> object:
        if message.id == "<raw-1@example.com>":
            raise sqlite3.OperationalError("database is locked")
        return pipeline.process(message)

    handler = MessageHandler(Checkpoints(db), Quarantine(db), process)
    stats = SourceStats("imap", "INBOX")
    with pytest.raises(sqlite3.OperationalError):
        with handler.batch():
            for i, text in enumerate(TEXTS[:3]):
                handler.handle(raw(i, text), source="imap", location=f"INBOX uid {i}", stats=stats)
    # the whole batch is read again later: nothing of it may look done
    assert Checkpoints(db).count_verdicts() == 0 and SqliteMessageStore(db).count() == 0
    assert not Quarantine(db).list()
