"""``process_many`` writes, row for row, what ``process`` writes one message at a time: the same
decisions, holds, drafts, escalations and hash-chained audit entries, with one query for the
batch's re-delivery check and no savepoint per message."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from gateway.audit import AuditLog
from gateway.model import Message
from gateway.pipeline import Pipeline
from gateway.store.db import Database

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=timezone.utc)
TEXTS = [
    "If you don't refund me today I will kill you. I know where you live.",
    "My parcel has not arrived yet. Could you check, please?",
    "You are useless idiots and I am sick of your excuses.",
    "You are useless idiots and I am sick of your excuses. Useless!",
    "Thanks, everything works now.",
    "お前は本当に無能だな。上司を出せ。",
    "Where is my refund? Third time I ask.",
    "You idiots never read anything.",
]
#: columns written from the wall clock rather than the pipeline's clock
WALL = {("state", "updated_at"), ("messages", "recorded_at")}


class Ticking:
    def __init__(self) -> None:
        self.n = 0

    def __call__(self) -> datetime:
        self.n += 1
        return T0 + timedelta(minutes=10, microseconds=self.n * 1001)


def messages() -> list[Message]:
    return [Message(id=f"m{i}", text=text, sender=f"c{i % 3}@example.com", sender_address=f"c{i % 3}@example.com",
                    thread=f"t{i % 4}", subject="Order", source="imap", lang="ja" if "お" in text else "en",
                    received_at=T0 + timedelta(minutes=i), message_id=f"<m{i}@x>")
            for i, text in enumerate(TEXTS)]


def dump(db: Database) -> dict[str, list[tuple[object, ...]]]:
    out = {}
    for (table,) in db.query("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"):
        cols = [c["name"] for c in db.query(f"PRAGMA table_info({table})") if (table, c["name"]) not in WALL]
        listed = ", ".join(cols)
        out[table] = [tuple(r) for r in db.query(f"SELECT {listed} FROM {table} ORDER BY {listed}")]
    return out


def test_a_batch_stores_exactly_what_one_by_one_stores(tmp_path: Path, detector: object) -> None:
    one_db, batch_db = Database.open(tmp_path / "one.db"), Database.open(tmp_path / "batch.db")
    one = Pipeline.create(one_db, detector=detector, clock=Ticking())
    batch = Pipeline.create(batch_db, detector=detector, clock=Ticking())
    mail = messages()
    # the second batch repeats a message of the first and one of its own
    first, second = mail[:5], [mail[2], *mail[5:], mail[6]]
    singles = [one.process(m) for m in first + second]
    statements: list[str] = []
    batch_db.conn.set_trace_callback(statements.append)
    batched = batch.process_many(first) + batch.process_many(second)
    batch_db.conn.set_trace_callback(None)

    assert [(r.decision.to_json(), r.effects.to_json(), r.effects.replayed) for r in batched] == \
        [(r.decision.to_json(), r.effects.to_json(), r.effects.replayed) for r in singles]
    assert [r.effects.replayed for r in batched] == [False] * 5 + [True, False, False, False, True]
    assert any(r.effects.hold_id for r in batched) and any(r.effects.draft_id for r in batched)
    assert dump(batch_db) == dump(one_db)
    assert AuditLog(batch_db).verify().ok
    assert not [s for s in statements if s.startswith("SAVEPOINT")]
    assert sum(s.startswith("SELECT message_id FROM decisions WHERE message_id IN") for s in statements) == 2


def test_a_failed_batch_leaves_nothing_and_a_retry_stores_the_same(tmp_path: Path, detector: object) -> None:
    db, ref_db = Database.open(tmp_path / "g.db"), Database.open(tmp_path / "ref.db")
    pipeline = Pipeline.create(db, detector=detector, clock=Ticking())
    real = pipeline.effects.apply  # type: ignore[union-attr]
    calls = {"n": 0}

    def fail_once_on_m4(message: Message, *args: object, **kwargs: object) -> object:
        if message.id == "m4" and not calls["n"]:
            calls["n"] += 1
            raise RuntimeError("effects broke")
        return real(message, *args, **kwargs)  # type: ignore[arg-type]

    pipeline.effects.apply = fail_once_on_m4  # type: ignore[union-attr, method-assign]
    with pytest.raises(RuntimeError):
        pipeline.process_many(messages())
    assert all(not rows for rows in (db.query("SELECT 1 FROM decisions"), db.query("SELECT 1 FROM audit_log"),
                                     db.query("SELECT 1 FROM messages")))
    pipeline.clock.n = 0  # type: ignore[attr-defined]  # the retry sees the clock the reference run sees
    pipeline.process_many(messages())
    Pipeline.create(ref_db, detector=detector, clock=Ticking()).process_many(messages())
    assert dump(db) == dump(ref_db)
