"""What the store's row cache holds per row, and how it is bounded: a row the contact stage
recorded is kept with its comparable form instead of its raw text, weighed by what it holds, and
the weight of a row never changes while cached (so the budget's sum stays true); a comparable form
attached to a row read back lives with that row; rows kept by sequence number go once older than
the reader's horizon, and are still found in the table when asked for."""

from __future__ import annotations

import sys
from datetime import datetime, timedelta, timezone

import pytest
from pathlib import Path

from gateway.contact import ContactSettings, ContactTracker
from gateway.contact.fingerprint import Comparable
from gateway.model import Message
from gateway.store import message_cache
from gateway.store.db import Database
from gateway.store.message_cache import row_bytes
from gateway.store.messages import Fingerprints, SqliteMessageStore, to_us

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
DAY = timedelta(days=1)
_DAY_US = 86_400_000_000


def msg(i: int, at: datetime, sender: str = "ann@example.com") -> Message:
    return Message(id=f"m{i}", text=f"Hello,\nMy order {1000 + i} never arrived, please refund it today.\nRegards,\nAnn",
                   sender=sender, thread=f"t{i}", received_at=at)


def _spans_weight(store: SqliteMessageStore) -> int:
    cache = store._cache
    return sum(sum(row_bytes(r) for r in s.rows) + message_cache.SPAN_BYTES for s in cache.spans.values())


def test_a_recorded_row_keeps_its_comparable_form_not_its_raw_text(tmp_path: Path) -> None:
    db = Database.open(tmp_path / "g.db")
    store = SqliteMessageStore(db)
    tracker = ContactTracker(store, ContactSettings.defaults())
    for i in range(3):
        tracker.observe(msg(i, T0 + i * timedelta(minutes=5)), [])
    rows = store.rows_between(customer="ann@example.com", since_us=to_us(T0 - DAY), until_us=to_us(T0 + DAY))
    assert [r.id for r in rows] == ["m0", "m1", "m2"]
    for row in rows:
        assert row.text == "" and isinstance(row.comparable, Comparable)
        assert "hello" not in row.comparable.text and "order 1000" in rows[0].comparable.text  # the core only
        held = sys.getsizeof(row.comparable.text) + sys.getsizeof(row.comparable.sorted_words)
        assert row_bytes(row) == message_cache.ROW_BYTES + held
    assert store.get("m1").text.startswith("Hello,")  # the table keeps the text itself
    assert store._cache.span_bytes == _spans_weight(store)
    db.close()


def test_a_row_read_back_gets_its_comparable_form_attached_without_changing_its_weight(tmp_path: Path) -> None:
    db = Database.open(tmp_path / "g.db")
    SqliteMessageStore(db).record(msg(1, T0), [])  # recorded without a comparable form (an import)
    store = SqliteMessageStore(db)
    store.forget_cached()
    tracker = ContactTracker(store, ContactSettings.defaults())
    [row] = store.rows_between(customer="ann@example.com", since_us=to_us(T0 - DAY), until_us=to_us(T0 + DAY))
    assert row.comparable is None and row.text.startswith("Hello,")
    before = row_bytes(row)
    prepared = tracker._comparable_of(row)
    assert row.comparable is prepared and prepared.text.startswith("my order 1001")
    assert row_bytes(row) == before and store._cache.span_bytes == _spans_weight(store)
    [again] = store.rows_between(customer="ann@example.com", since_us=to_us(T0 - DAY), until_us=to_us(T0 + DAY))
    assert again is row  # the same cached object: computed once per load
    assert tracker._comparable == {}  # nothing kept beside the rows
    db.close()


def test_the_byte_budget_is_configurable_and_holds(tmp_path: Path) -> None:
    db = Database.open(tmp_path / "g.db")
    store = SqliteMessageStore(db, cache_bytes=20_000)
    tracker = ContactTracker(store, ContactSettings.defaults())
    for i in range(200):
        tracker.observe(msg(i, T0 + i * timedelta(minutes=1), sender=f"c{i % 25}@example.com"), [])
        assert store._cache.span_bytes <= 20_000
        assert store._cache.span_bytes == _spans_weight(store)
    db.close()


def test_rows_by_number_go_after_the_horizon_and_are_still_found_in_the_table(tmp_path: Path) -> None:
    db = Database.open(tmp_path / "g.db")
    store = SqliteMessageStore(db)
    seqs = [store.record(msg(i, T0 + i * DAY), [], Fingerprints("h", None, Comparable.of(f"text {i}"))) for i in range(12)]
    cache = store._cache
    assert set(cache.by_seq) == set(seqs)
    horizon = T0 + 8 * DAY
    assert [r.id for r in store.candidates(seqs[:2], since_us=to_us(horizon))] == ["m0", "m1"]
    store.record(msg(12, T0 + 12 * DAY), [])
    # kept by number: what was received no earlier than a day before the horizon, and the new row
    assert sorted(int(r.id[1:]) for r in cache.by_seq.values()) == list(range(7, 13))
    assert [r.id for r in store.candidates(seqs[2:4])] == ["m2", "m3"]  # still answered, from the table
    db.close()


def _reads_of(db: Database, column: str) -> list[str]:
    """The statements that read a customer's or thread's rows from the table, as they run."""
    seen: list[str] = []
    db.conn.set_trace_callback(lambda sql: seen.append(sql) if f"WHERE {column} " in sql and "FROM messages" in sql else None)
    return seen


def _tail(store: SqliteMessageStore, at: datetime, window: timedelta, last: int) -> list[str]:
    """The ids the contact stage reads for a message at ``at``: 30 days back, all of ``window``."""
    until = to_us(at)
    return [r.id for r in store.rows_tail(customer="ann@example.com", since_us=until - 30 * _DAY_US, until_us=until,
                                          window_us=int(window / timedelta(microseconds=1)), last=last)]


def _written(store: SqliteMessageStore, count: int, gap: timedelta) -> tuple[datetime, list[str]]:
    """``count`` messages of one customer ``gap`` apart, then the reads of their rows from here on."""
    start = T0 + 10 * DAY
    store.record_many((msg(i, start + i * gap), [], Fingerprints()) for i in range(count))
    return start, _reads_of(store.db, "customer")


def test_a_customer_with_thousands_of_messages_stays_in_memory(tmp_path: Path) -> None:
    """A customer who wrote 2,400 messages within the lookback (a flood, or a busy business
    account) is read from the table once, then answered from memory as their messages go on: the
    rate windows and the duplicate check read that customer for every message."""
    db = Database.open(tmp_path / "g.db")
    store = SqliteMessageStore(db)
    start, reads = _written(store, 2400, timedelta(minutes=4))
    window, last = timedelta(days=7), 201
    for i in range(2400, 2460):
        at = start + i * timedelta(minutes=4)
        got = _tail(store, at, window, last)
        assert got[-1] == f"m{i - 1}" and len(got) == i  # every earlier row: all within the 7 days
        store.record(msg(i, at), [])
    assert len(reads) == 1, reads  # (one read for each message while a span was capped at 2,000 rows)
    db.close()


def test_a_span_too_heavy_for_its_share_is_kept_cut_to_what_its_readers_need(tmp_path: Path) -> None:
    """With a small budget, a customer's whole lookback outweighs the share one span may take; what
    the windows and the duplicate check read of it (the last rows and the window's rows) does not.
    That much is kept, the answers are the table's, and the table is read once."""
    db = Database.open(tmp_path / "g.db")
    store = SqliteMessageStore(db, cache_bytes=120_000)  # a span may weigh 30,000 bytes: ~60 of these rows
    start, reads = _written(store, 300, timedelta(hours=1))
    window, last = timedelta(hours=3), 20
    for i in range(300, 340):
        at = start + i * timedelta(hours=1)
        got = _tail(store, at, window, last)
        assert got == [f"m{k}" for k in range(i - len(got), i)] and len(got) >= last  # a suffix, deep enough
        span = store._cache.spans[("customer", "ann@example.com")]
        assert span.bytes <= 30_000 and len(span.rows) < 60  # (from the first read on)
        store.record(msg(i, at), [])
    assert len(reads) == 1, reads
    assert store._cache.span_bytes == _spans_weight(store)
    db.close()


def test_a_need_too_heavy_to_keep_is_read_each_time_and_said_once(tmp_path: Path, caplog, monkeypatch) -> None:
    """When even what the readers need of one customer (here: 3 days of hourly mail) outweighs a
    span's share, nothing is kept and each message reads the rows again: correct, but slow for a
    flood, so the operator is told (once an hour per customer) what to do about it."""
    db = Database.open(tmp_path / "g.db")
    store = SqliteMessageStore(db, cache_bytes=40_000)  # a span may weigh 10,000 bytes: ~20 of these rows
    start, reads = _written(store, 300, timedelta(hours=1))
    clock = [1000.0]
    monkeypatch.setattr(message_cache.time, "monotonic", lambda: clock[0])
    with caplog.at_level("WARNING", logger="gateway.store.message_cache"):
        for i in range(300, 304):
            at = start + i * timedelta(hours=1)
            got = _tail(store, at, timedelta(days=3), 20)
            assert got == [f"m{k}" for k in range(i)]  # the answer is still the table's (the whole range)
            assert ("customer", "ann@example.com") not in store._cache.spans
            store.record(msg(i, at), [])
        clock[0] += message_cache.HEAVY_WARN_EVERY
        _tail(store, start + 305 * timedelta(hours=1), timedelta(days=3), 20)
    assert len(reads) == 5
    warnings = [r for r in caplog.records if "too heavy for the row cache" in r.getMessage()]
    assert len(warnings) == 2  # once, and again an hour later
    assert warnings[0].customer == "ann@example.com" and warnings[0].count >= 72
    assert "store.cache_mb" in warnings[0].getMessage()
    from gateway.logging import JsonFormatter

    line = JsonFormatter().format(warnings[0])
    assert '"customer": "ann@example.com"' in line and '"count": ' in line
    db.close()


def test_a_long_range_is_handed_out_as_a_view_that_reads_as_the_list() -> None:
    """More than ``VIEW_MIN`` rows come as a view of the cached list (no copy per message for a
    flood's customer); it answers indexing, slicing, iteration and ``bisect`` as the copy would."""
    import bisect
    import random

    from gateway.store.message_cache import VIEW_MIN, RowsView, _range_of

    rows = list(range(1000, 3000, 2))  # (stand-ins: anything a list holds)
    rng = random.Random(5)
    for _ in range(200):
        lo = rng.randrange(0, len(rows))
        hi = rng.randrange(lo, len(rows) + 1)
        got, want = _range_of(rows, lo, hi), rows[lo:hi]
        assert isinstance(got, RowsView) == (hi - lo > VIEW_MIN)
        assert len(got) == len(want) and bool(got) == bool(want) and list(got) == want
        for i in (0, -1, len(want) // 2, -len(want)) if want else ():
            assert got[i] == want[i]
        for a, b in ((None, 10), (5, None), (-300, None), (None, -7), (3, 2), (0, 10**6)):
            assert list(got[a:b]) == want[a:b]
        assert list(got[::3]) == want[::3]
        for x in (999, 1500, 2001, 4000):
            assert bisect.bisect_right(got, x) == bisect.bisect_right(want, x)
            assert bisect.bisect_left(got, x, key=lambda v: v) == bisect.bisect_left(want, x)
        if want:
            with pytest.raises(IndexError):
                got[len(want)]


def test_the_store_hands_a_flood_s_rows_out_without_copying_them(tmp_path: Path) -> None:
    db = Database.open(tmp_path / "g.db")
    store = SqliteMessageStore(db)
    start, _ = _written(store, 600, timedelta(minutes=1))
    at = start + 600 * timedelta(minutes=1)
    until = to_us(at)
    for _ in range(2):  # the first read fills the cache from the table; the second is answered from it
        got = store.rows_tail(customer="ann@example.com", since_us=until - 30 * _DAY_US, until_us=until,
                              window_us=7 * _DAY_US, last=201)
    span = store._cache.spans[("customer", "ann@example.com")]
    assert [r.id for r in got] == [f"m{i}" for i in range(600)]
    assert all(a is b for a, b in zip(got, span.rows)) and type(got) is not list
    db.close()
