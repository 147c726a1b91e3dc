"""The message store's in-memory copy of recent rows never answers differently from the table:
after a rollback, a write by another connection or another store object, or a purge."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from gateway.contact import ContactSettings, ContactTracker
from gateway.model import Message
from gateway.store.db import Database
from gateway.store.messages import SqliteMessageStore

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
WEEK = timedelta(days=7)


def msg(i: int, sender: str = "ann@example.com", thread: str = "t1", minutes: int | None = None) -> Message:
    at = T0 + timedelta(minutes=3 * i if minutes is None else minutes)
    return Message(id=f"m{i}", text=f"Message number {i} about my order {1000 + i}.", sender=sender, thread=thread,
                   received_at=at)


def ids(store: SqliteMessageStore, **key: str) -> list[str]:
    return [r.id for r in store.recent(**key, since=T0 - WEEK, until=T0 + WEEK)]


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "gateway.db"


def test_a_rolled_back_record_is_forgotten(path: Path) -> None:
    db = Database.open(path)
    store = SqliteMessageStore(db)
    store.record(msg(1), [])
    assert ids(store, customer="ann@example.com") == ["m1"]  # now held in memory
    with pytest.raises(RuntimeError):
        with db.tx():
            store.record(msg(2), [])
            assert ids(store, customer="ann@example.com") == ["m1", "m2"]  # visible inside its transaction
            raise RuntimeError("a later stage failed")
    assert ids(store, customer="ann@example.com") == ["m1"]
    assert ids(store, thread="t1") == ["m1"]
    store.record(msg(3), [])  # takes the number the rolled-back row had
    assert ids(store, customer="ann@example.com") == ["m1", "m3"]
    assert [c.id for c in store.candidates([2])] == ["m3"]


def test_a_rolled_back_savepoint_inside_a_committed_transaction_is_forgotten(path: Path) -> None:
    db = Database.open(path)
    store = SqliteMessageStore(db)
    with db.tx():
        store.record(msg(1), [])
        assert ids(store, customer="ann@example.com") == ["m1"]
        with pytest.raises(RuntimeError):
            with db.tx():
                store.record(msg(2), [])
                raise RuntimeError("this message failed")
        assert ids(store, customer="ann@example.com") == ["m1"]
        store.record(msg(3), [])
        assert ids(store, customer="ann@example.com") == ["m1", "m3"]
    assert ids(store, customer="ann@example.com") == ["m1", "m3"]


def test_rows_written_by_another_connection_show_at_once(path: Path) -> None:
    daemon = SqliteMessageStore(Database.open(path))
    other = SqliteMessageStore(Database.open(path))
    daemon.record(msg(1), [])
    assert ids(daemon, customer="ann@example.com") == ["m1"]
    other.record(msg(2), [])
    assert ids(daemon, customer="ann@example.com") == ["m1", "m2"]
    other.purge_text(T0 + WEEK)
    assert [r.text for r in daemon.recent(customer="ann@example.com", since=T0, until=T0 + WEEK)] == [None, None]


def test_a_purge_through_another_store_object_shows_at_once(path: Path) -> None:
    db = Database.open(path)
    store, jobs = SqliteMessageStore(db), SqliteMessageStore(db)
    store.record(msg(1), [])
    assert store.candidates([1])[0].text is not None
    jobs.purge_text(T0 + WEEK)
    assert store.candidates([1])[0].text is None
    assert store.recent(customer="ann@example.com", since=T0, until=T0 + WEEK)[0].text is None


def test_ranges_before_the_remembered_one_and_linked_keys_are_read_in_full(path: Path) -> None:
    store = SqliteMessageStore(Database.open(path))
    for i in range(6):
        store.record(msg(i, sender="ann@example.com" if i % 2 else "ann@helpdesk", minutes=600 * i), [])
    late = T0 + timedelta(minutes=1500)
    assert [r.id for r in store.recent(customer="ann@example.com", since=late, until=T0 + WEEK)] == ["m3", "m5"]
    assert [r.id for r in store.recent(customer="ann@example.com", since=T0, until=T0 + WEEK)] == ["m1", "m3", "m5"]
    store.link_customers("ann@example.com", "ann@helpdesk")
    assert ids(store, customer="ann@helpdesk") == ["m0", "m1", "m2", "m3", "m4", "m5"]
    assert [r.id for r in store.recent(customer="ann@example.com", since=late, until=late)] == []


def test_history_after_a_rollback_matches_a_fresh_process(path: Path) -> None:
    db = Database.open(path)
    tracker = ContactTracker(SqliteMessageStore(db), ContactSettings.defaults())
    for i in range(5):
        with db.tx():
            tracker.observe(msg(i), [])
    with pytest.raises(RuntimeError):
        with db.tx():
            tracker.observe(msg(5), [])
            raise RuntimeError("effects failed")
    with db.tx():
        tracker.observe(msg(6), [])
        live = tracker.history("ann@example.com", exclude_id="m6")
    fresh = ContactTracker(SqliteMessageStore(Database.open(path)), ContactSettings.defaults())
    assert live == fresh.history("ann@example.com", exclude_id="m6")
    assert live.messages_total == 5 and live.last_seen == T0 + timedelta(minutes=12)


def test_a_span_is_cut_exactly_as_the_full_computation_says() -> None:
    """``Span.cut`` checks first whether anything can go; it must cut what the computation over
    every row cuts (and nothing when that cuts nothing)."""
    import bisect
    import random

    from gateway.store import message_cache
    from gateway.store.message_cache import Span
    from gateway.store.messages import Candidate

    def plain(us: list[int], keep_last: int, window_us: int, depth_us: int) -> int:
        if not us:
            return 0
        newest = us[-1]
        front = newest - window_us + 1
        before = bisect.bisect_left(us, newest) - keep_last
        front = min(front, us[before]) if before > 0 else us[0]
        front = max(front, newest - depth_us)
        drop = bisect.bisect_left(us, front)
        return 0 if drop < message_cache.TRIM_SLACK else drop

    rng = random.Random(8)
    for _ in range(5000):
        times = sorted(rng.randrange(0, 60) for _ in range(rng.randrange(0, 30)))
        keep_last, window_us, depth_us = rng.randrange(0, 12), rng.randrange(1, 40), rng.randrange(0, 70)
        span = Span(times[0] if times else 0, [Candidate(i, f"m{i}", "c", t, "x") for i, t in enumerate(times)], list(times))
        drop = plain(times, keep_last, window_us, depth_us)
        span.cut(keep_last, window_us, depth_us)
        assert span.us == times[drop:], (times, keep_last, window_us, depth_us)
        assert [r.received_us for r in span.rows] == times[drop:]
