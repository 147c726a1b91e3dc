"""The message store's behaviour, the same for SQLite and for memory: recording is idempotent,
linked customer keys share one history, purging text keeps fingerprints and findings."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest

from gateway.errors import StoreError
from gateway.model import Evidence, Finding, Message, Severity
from gateway.store.db import Database
from gateway.store.memory import MemoryMessageStore
from gateway.store.messages import Fingerprints, MessageStore, SqliteMessageStore

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture(params=["sqlite", "memory"])
def store(request: pytest.FixtureRequest, tmp_path) -> Iterator[MessageStore]:
    if request.param == "sqlite":
        db = Database.open(tmp_path / "store.db")
        yield SqliteMessageStore(db)
        db.close()
    else:
        yield MemoryMessageStore()


def message(i: int, sender: str = "ann@example.com", *, thread: str = "t1", hours: float = 0) -> Message:
    return Message(id=f"<m{i}@example.com>", text=f"text {i}", subject=f"subject {i}", sender=sender, thread=thread,
                   received_at=T0 + timedelta(hours=hours), lang="en", source="imap:support")


def threat(text: str) -> Finding:
    return Finding("threat", Severity.HIGH, 0.9, [Evidence(0, len(text), text)], "threat.test", "test threat")


def test_record_then_get_round_trips(store: MessageStore) -> None:
    m = message(1)
    seq = store.record(m, [threat(m.text)], Fingerprints("abc", b"\x01\x00\x00\x00"))
    assert seq is not None and store.has(m.id)
    got = store.get(m.id)
    assert got is not None
    assert (got.id, got.source, got.customer, got.thread, got.lang, got.text, got.subject) == (
        m.id, "imap:support", "ann@example.com", "t1", "en", "text 1", "subject 1",
    )
    assert got.received_at == T0 and got.received_at.tzinfo is not None
    assert got.content_hash == "abc" and got.bands == b"\x01\x00\x00\x00"
    assert [f.to_json() for f in got.findings] == [threat(m.text).to_json()]
    assert store.by_seq([seq])[0].id == m.id


def test_recording_the_same_id_twice_keeps_one_row_and_the_latest_findings(store: MessageStore) -> None:
    m = message(1)
    assert store.record(m, []) is not None
    assert store.record(m, [threat(m.text)]) is None
    assert store.count() == 1
    assert store.finding_counts("ann@example.com") == {"threat": 1}


def test_message_without_id_is_refused(store: MessageStore) -> None:
    with pytest.raises(StoreError):
        store.record(Message(id="", text="x"), [])


def test_customer_messages_are_ordered_and_bounded_by_time(store: MessageStore) -> None:
    for i, h in enumerate([5, 1, 3]):
        store.record(message(i, hours=h), [])
    store.record(message(9, "bob@example.com", hours=2), [])
    rows = store.customer_messages("ann@example.com")
    assert [r.id for r in rows] == ["<m1@example.com>", "<m2@example.com>", "<m0@example.com>"]
    bounded = store.customer_messages("ann@example.com", since=T0 + timedelta(hours=2), until=T0 + timedelta(hours=4))
    assert [r.id for r in bounded] == ["<m2@example.com>"]
    assert [r.id for r in store.thread_messages("t1")] == [
        "<m1@example.com>", "<m9@example.com>", "<m2@example.com>", "<m0@example.com>",
    ]
    assert store.thread_messages("") == []


def test_linking_a_helpdesk_requester_merges_histories(store: MessageStore) -> None:
    store.record(message(1, "ann@example.com"), [threat("text 1")])
    store.record(message(2, "zendesk:123", hours=1), [])
    store.record(message(3, "ann.other@example.org", hours=2), [threat("text 3")])
    assert store.link_customers("ann@example.com", "zendesk:123") == "ann@example.com"
    assert store.resolve_customer("zendesk:123") == "ann@example.com"
    assert [r.id for r in store.customer_messages("zendesk:123")] == ["<m1@example.com>", "<m2@example.com>"]
    # Linking a third key to a non-canonical member joins the whole group.
    store.link_customers("zendesk:123", "ann.other@example.org")
    assert store.customer_keys("ann.other@example.org") == ["ann.other@example.org", "ann@example.com", "zendesk:123"]
    assert store.finding_counts("zendesk:123") == {"threat": 2}
    assert store.finding_counts("zendesk:123", exclude_id="<m3@example.com>") == {"threat": 1}
    assert store.customers() == ["ann@example.com"]


def test_the_latest_messages_of_a_customer_and_how_many_there_are(store: MessageStore) -> None:
    for i, (sender, hours) in enumerate([("ann@example.com", 3), ("zendesk:9", 1), ("ann@example.com", 2),
                                         ("bob@example.com", 4), ("zendesk:9", 5), ("ann@example.com", 5)]):
        store.record(message(i, sender, hours=hours), [])
    store.link_customers("ann@example.com", "zendesk:9")
    rows, total = store.latest_customer_messages("zendesk:9", 3)
    assert total == 5  # every linked key, not bob
    assert [r.id for r in rows] == ["<m0@example.com>", "<m4@example.com>", "<m5@example.com>"]  # oldest first; ties by id
    assert [r.id for r in store.latest_customer_messages("ann@example.com", 10)[0]] == [
        r.id for r in store.customer_messages("ann@example.com")]
    assert store.latest_customer_messages("ann@example.com", 0) == ([], 5)
    assert store.latest_customer_messages("nobody@example.com", 3) == ([], 0)


def test_linking_two_groups_moves_every_member(store: MessageStore) -> None:
    store.link_customers("a@x.com", "zendesk:1")
    store.link_customers("b@x.com", "freshdesk:2")
    store.link_customers("zendesk:1", "freshdesk:2")
    assert {store.resolve_customer(k) for k in ("a@x.com", "zendesk:1", "b@x.com", "freshdesk:2")} == {"a@x.com"}
    assert store.link_customers("b@x.com", "a@x.com") == "a@x.com"  # already one customer


def test_linking_empty_keys_is_refused(store: MessageStore) -> None:
    with pytest.raises(StoreError, match="non-empty"):
        store.link_customers("a@x.com", "  ")


def test_purge_deletes_old_text_and_keeps_fingerprints_and_findings(store: MessageStore) -> None:
    store.record(message(1, hours=0), [threat("text 1")], Fingerprints("h1", b"\x02\x00\x00\x00"))
    store.record(message(2, hours=48), [], Fingerprints("h2", None))
    assert store.purge_text(T0 + timedelta(hours=24)) == 1
    old, new = store.get("<m1@example.com>"), store.get("<m2@example.com>")
    assert old.text is None and old.subject is None
    assert old.content_hash == "h1" and old.bands == b"\x02\x00\x00\x00"
    assert [f.category for f in old.findings] == ["threat"]
    assert new.text == "text 2"
    assert store.purge_text(T0 + timedelta(hours=24)) == 0  # nothing left to purge


def test_iter_bands_yields_every_fingerprinted_message(store: MessageStore) -> None:
    import numpy as np

    keys = np.arange(8, dtype="<u4")
    for i in range(5):
        store.record(message(i), [], Fingerprints("", (keys + i).tobytes() if i != 2 else None))
    chunks = list(store.iter_bands(chunk=2))
    seqs = np.concatenate([c[0] for c in chunks])
    got = np.concatenate([c[1] for c in chunks])
    assert len(seqs) == 4 and got.shape == (4, 8)
    for seq, row in zip(seqs, got):
        i = int(store.by_seq([int(seq)])[0].id[2])
        assert (row == keys + i).all()


def test_bulk_import_skips_known_ids_and_keeps_findings(tmp_path) -> None:
    db = Database.open(tmp_path / "bulk.db")
    store = SqliteMessageStore(db)
    store.record(message(1), [])
    added = store.record_many([(message(i), [threat(f"text {i}")] if i == 2 else [], Fingerprints(f"h{i}")) for i in range(4)])
    assert added == 3
    assert store.count() == 4
    assert store.finding_counts("ann@example.com") == {"threat": 1}
    assert store.get("<m3@example.com>").content_hash == "h3"
    db.close()
