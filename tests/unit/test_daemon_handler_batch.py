"""The daemon's batch path: ``MessageHandler.batch(raws)`` ingests an IMAP fetch's messages and
looks them up in the ledger at once, lets the pipeline prepare the batch (the contact stage's
batch work, one query for decisions), then analyses each message in exactly one savepoint — its
analysis and its verdict together — so a message that breaks analysis is quarantined alone and
the batch's verdicts are the ones message-by-message handling gives."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path


from gateway.audit import AuditLog
from gateway.checkpoints import Checkpoints, Verdict
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
    "My parcel has not arrived yet. Could you check, please? It is the third time I ask.",
    "Thanks, everything works now.",
    "お前は本当に無能だな。上司を出せ。",
]


def raw(i: int, text: str, *, customer: int | None = None) -> bytes:
    c = i % 2 if customer is None else customer
    return (f"From: C{c} <c{c}@example.com>\r\nTo: support@example.org\r\nSubject: Order {i}\r\n"
            f"Message-ID: <raw-{i}@example.com>\r\nDate: Mon, 01 Jun 2026 09:{i:02d}:00 +0000\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\n").encode() + text.encode() + b"\r\n"


def daemon_handler(db: Database, detector: object, *, fail_on: str = "") -> tuple[MessageHandler, Pipeline, list]:
    """The handler as the daemon wires it: ``process(m, joined=True)`` and the pipeline's ``prepare``."""
    pipeline = Pipeline.create(db, detector=detector, clock=lambda: T0)
    prepared: list[list[str]] = []
    real_prepare = pipeline.prepare

    def prepare(messages: list[Message]) -> None:
        prepared.append([m.id for m in messages])
        real_prepare(messages)

    def process(message: Message) -> object:
        result = pipeline.process(message, joined=True)
        if message.id == fail_on:
            raise ValueError("hostile input")  # after the analysis wrote its rows
        return result

    return MessageHandler(Checkpoints(db), Quarantine(db), process, prepare=prepare), pipeline, prepared


def statements(db: Database) -> list[str]:
    """The SAVEPOINT and COMMIT statements run on ``db`` from now on."""
    seen: list[str] = []
    db.conn.set_trace_callback(lambda sql: seen.append(sql.split()[0]) if sql.startswith(("SAVEPOINT", "COMMIT")) else None)
    return seen


def handle_batch(handler: MessageHandler, raws: list[bytes], stats: SourceStats) -> list:
    with handler.batch(raws, source="imap"):
        return [handler.handle(r, source="imap", location=f"INBOX uid {i}", stats=stats) for i, r in enumerate(raws)]


def test_each_message_of_a_batch_gets_one_savepoint_and_the_batch_one_prepare_and_one_commit(
        tmp_path: Path, detector: object) -> None:
    db = Database.open(tmp_path / "g.db")
    handler, _, prepared = daemon_handler(db, detector)
    Checkpoints(db).remember("<raw-1@example.com>", "imap", Verdict(("threat",), ("hg_threat",)))  # seen before
    raws = [raw(i, t) for i, t in enumerate(TEXTS[:4])] + [b"", raw(0, TEXTS[0])]  # unreadable; a repeat of uid 0
    stats = SourceStats("imap", "INBOX")
    seen = statements(db)
    outcomes = handle_batch(handler, raws, stats)
    db.conn.set_trace_callback(None)

    # prepared once, with only the messages the pipeline will see (not the known one, not the
    # unreadable one, the repeat once), and a savepoint for each message analysed and no more
    assert prepared[0] == ["<raw-0@example.com>", "<raw-2@example.com>", "<raw-3@example.com>"]
    analysed = [o for o in outcomes if not o.duplicate and not o.verdict.quarantined]
    assert len(analysed) == 3 and stats.processed == 3
    assert seen.count("COMMIT") == 1
    assert seen.count("SAVEPOINT") == len(analysed) + 1  # and one for the quarantine record
    assert outcomes[1].duplicate and outcomes[1].verdict.categories == ("threat",)  # the ledger's answer
    assert outcomes[4].verdict.quarantined.startswith("unreadable message")
    assert outcomes[5].duplicate and outcomes[5].verdict == outcomes[0].verdict  # the batch's own earlier copy
    assert "threat" in outcomes[0].verdict.categories
    assert prepared[-1] == []  # nothing prepared outlives the batch
    assert AuditLog(db).verify().ok


def test_a_message_failing_after_its_analysis_wrote_is_quarantined_alone(tmp_path: Path, detector: object) -> None:
    db = Database.open(tmp_path / "g.db")
    handler, _, _ = daemon_handler(db, detector, fail_on="<raw-2@example.com>")
    stats = SourceStats("imap", "INBOX")
    outcomes = handle_batch(handler, [raw(i, t) for i, t in enumerate(TEXTS[:4])], stats)

    assert [bool(o.verdict.quarantined) for o in outcomes] == [False, False, True, False]
    store = SqliteMessageStore(db)
    assert not store.has("<raw-2@example.com>") and store.has("<raw-3@example.com>")
    decided = {r["message_id"] for r in db.query("SELECT message_id FROM decisions")}
    assert decided == {"<raw-0@example.com>", "<raw-1@example.com>", "<raw-3@example.com>"}
    assert Checkpoints(db).count_verdicts() == 3 and len(Quarantine(db).list()) == 1
    assert AuditLog(db).verify().ok
    # met again in a later batch (the checkpoint did not pass it by then), it is analysed afresh
    handler2, _, _ = daemon_handler(db, detector)
    again = handle_batch(handler2, [raw(2, TEXTS[2])], stats)
    assert not again[0].duplicate and not again[0].verdict.quarantined and store.has("<raw-2@example.com>")


def test_batches_give_the_verdicts_and_rows_of_one_message_at_a_time(tmp_path: Path, detector: object) -> None:
    raws = [raw(i, TEXTS[i % len(TEXTS)] + (f" Order {i // 3}." if i % 4 else ""), customer=i % 5)
            for i in range(40)]
    one_db, batch_db = Database.open(tmp_path / "one.db"), Database.open(tmp_path / "batch.db")
    one = MessageHandler(Checkpoints(one_db), Quarantine(one_db),
                         Pipeline.create(one_db, detector=detector, clock=lambda: T0).process)
    batched, _, _ = daemon_handler(batch_db, detector)
    stats = SourceStats("imap", "INBOX")
    singles = [one.handle(r, source="imap", location=f"INBOX uid {i}", stats=stats) for i, r in enumerate(raws)]
    outcomes = [o for start in range(0, len(raws), 7) for o in handle_batch(batched, raws[start : start + 7], stats)]

    assert outcomes == singles
    assert any(o.verdict.categories for o in outcomes)

    def rows(db: Database) -> list[tuple]:
        return ([tuple(r) for r in db.query("SELECT message_id, decision, findings FROM decisions ORDER BY message_id")]
                + [tuple(r) for r in db.query("SELECT id, customer, findings FROM messages ORDER BY id")]
                + [tuple(r) for r in db.query("SELECT message_id, verdict FROM verdicts ORDER BY message_id")])

    assert rows(batch_db) == rows(one_db)


class CountingDetector:
    """The real detector, counting its calls per message id; ``broken`` names a message whose
    detection always fails (a rule crashing on hostile input)."""

    def __init__(self, real: object, broken: str = "") -> None:
        self.real = real
        self.broken = broken
        self.calls: dict[str, int] = {}

    def detect(self, message: Message) -> list:
        self.calls[message.id] = self.calls.get(message.id, 0) + 1
        if message.id == self.broken:
            raise RuntimeError("rule crashed")
        return self.real.detect(message)  # type: ignore[attr-defined]


def test_prepare_detects_the_batch_once_and_a_detection_failure_stays_the_messages_own(
        tmp_path: Path, detector: object) -> None:
    db = Database.open(tmp_path / "g.db")
    counting = CountingDetector(detector, broken="<raw-2@example.com>")
    pipeline = Pipeline.create(db, detector=counting, clock=lambda: T0)
    handler = MessageHandler(Checkpoints(db), Quarantine(db), lambda m: pipeline.process(m, joined=True),
                             prepare=pipeline.prepare)
    stats = SourceStats("imap", "INBOX")
    outcomes = handle_batch(handler, [raw(i, t) for i, t in enumerate(TEXTS[:4])], stats)

    # detected in ``prepare``, and not again when processed; the broken one tried again in its
    # own savepoint, where it fails and is quarantined alone
    assert counting.calls == {"<raw-0@example.com>": 1, "<raw-1@example.com>": 1,
                              "<raw-2@example.com>": 2, "<raw-3@example.com>": 1}
    assert [bool(o.verdict.quarantined) for o in outcomes] == [False, False, True, False]
    assert "rule crashed" in outcomes[2].verdict.quarantined
    assert "threat" in outcomes[0].verdict.categories and not outcomes[1].verdict.categories
    assert pipeline._detected == {}  # nothing prepared outlives the batch


def test_prepared_findings_serve_only_the_message_object_they_were_made_for(tmp_path: Path, detector: object) -> None:
    db = Database.open(tmp_path / "g.db")
    counting = CountingDetector(detector)
    pipeline = Pipeline.create(db, detector=counting, clock=lambda: T0)
    from gateway.ingest import ingest

    first = ingest(raw(0, TEXTS[1]), source="imap")
    pipeline.prepare([first])
    # another message under the same id (a re-sent copy whose text was changed) is detected afresh
    changed = ingest(raw(0, TEXTS[0]), source="imap")
    with db.tx():
        result = pipeline.process(changed, joined=True)
    assert counting.calls["<raw-0@example.com>"] == 2
    assert "threat" in result.decision.categories
