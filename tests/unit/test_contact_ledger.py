"""The rate windows' ledger: a customer (or thread) with thousands of rows costs the rows added
since its last message, not all of them again, and every count is what the windows count
from scratch."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest

import gateway.contact.tracker as tracker_module
from gateway.contact import ContactSettings, ContactTracker
from gateway.contact.windows import LEDGER_MIN_ROWS, Ledger, Stamp, _scope, breached_counts
from gateway.model import Message
from gateway.store.db import Database
from gateway.store.messages import SqliteMessageStore

T0 = datetime(2026, 5, 4, 8, 0, tzinfo=timezone.utc)
US = 1_000_000


def _history(rng: random.Random, n: int, start_us: int = 0) -> list[Stamp]:
    """``n`` stamps in time order: mostly seconds apart (a flood), sometimes minutes or hours,
    sometimes two at the same microsecond (ties are ordered by id)."""
    out: list[Stamp] = []
    t = start_us
    for i in range(n):
        t += rng.choice([0, 1, 5 * US, 30 * US, 90 * US, 150 * US, 3600 * US])
        out.append(Stamp(t, f"m{i:06d}"))
    return out


@pytest.mark.parametrize("burst_us,max_run", [(0, 0), (120 * US, 0), (120 * US, 10), (120 * US, 1)])
def test_the_ledger_gives_what_scope_computes_afresh_as_a_history_slides(burst_us: int, max_run: int) -> None:
    rng = random.Random(burst_us + max_run)
    rows = _history(rng, 3000)
    ledger = Ledger()
    lo = 0
    for hi in range(LEDGER_MIN_ROWS, len(rows), 7):
        # the window moves: rows leave at the front, the messages since arrive at the end
        lo = max(lo, hi - rng.randint(200, 900))
        history = rows[lo:hi]
        at = Stamp(rows[hi].received_us + 1, "next")
        us, ids, top, marks = ledger.scope(history, ("token",), burst_us, max_run)
        fresh = _scope(history, at.received_us, at.id, burst_us, max_run)
        assert fresh is not None
        f_us, f_ids, f_hi, f_marks = fresh
        base = top - f_hi  # rows the ledger still keeps before the history's first
        assert base >= 0 and us[base:top] == f_us and ids[base:top] == f_ids
        # every window counts the same rows either way (what breached_counts reads)
        for within_s in (60, 3600, 86_400, 7 * 86_400):
            start = at.received_us - within_s * US
            if start < history[0].received_us:
                continue  # (the caller's history always reaches back past its longest window)
            got = _window(us, top, marks, at.received_us, start, burst_us, max_run)
            want = _window(f_us, f_hi, f_marks, at.received_us, start, burst_us, max_run)
            assert got == want


def _window(us, hi, marks, at_us, start_us, burst_us, max_run):
    import bisect

    from gateway.contact.windows import _capped_contacts

    lo = bisect.bisect_right(us, start_us, 0, hi)
    if burst_us > 0 and hi and max_run > 0:
        return _capped_contacts(marks, lo, hi, at_us - us[hi - 1] <= burst_us, max_run), hi - lo
    if burst_us > 0 and hi:
        whole = 1 + marks[hi] + (at_us - us[hi - 1] > burst_us)
        return (whole - marks[lo + 1] if lo < hi else 1), hi - lo
    return hi - lo + 1, hi - lo


def test_the_ledger_starts_again_when_it_cannot_vouch_for_the_history() -> None:
    rng = random.Random(3)
    rows = _history(rng, 600)
    ledger = Ledger()
    ledger.scope(rows[:400], ("t", 1), 120 * US, 10)
    kept = ledger.ids
    # a new token (the store reloaded the key, or a row arrived out of order)
    ledger.scope(rows[:401], ("t", 2), 120 * US, 10)
    assert ledger.ids is not kept and ledger.ids == [r.id for r in rows[:401]]
    kept = ledger.ids
    ledger.scope(rows[:402], ("t", 2), 120 * US, 10)  # the same token: extended, not started again
    assert ledger.ids is kept and ledger.ids[-1] == rows[401].id
    # the same token, but a row missing from the middle (the message's own row left out)
    history = rows[10:200] + rows[201:420]
    us, ids, hi, marks = ledger.scope(history, ("t", 2), 120 * US, 10)
    assert ids[:hi] == [r.id for r in history]
    # other settings
    us, ids, hi, marks = ledger.scope(history + rows[420:430], ("t", 2), 0, 0)
    assert ids == [r.id for r in history + rows[420:430]] and marks == []


def test_breached_counts_with_a_prepared_scope_matches_the_plain_call() -> None:
    settings = ContactSettings.defaults()
    rng = random.Random(11)
    rows = _history(rng, 700)
    at = Stamp(rows[-1].received_us + 30 * US, "last")
    ledger = Ledger()
    ledger.scope(rows[:500], ("k",), int(settings.burst.total_seconds() * US), settings.burst_max)
    prepared = {True: ledger.scope(rows, ("k",), int(settings.burst.total_seconds() * US), settings.burst_max)}
    plain = breached_counts(settings.windows, at, rows, [], settings.burst, settings.burst_max)
    fast = breached_counts(settings.windows, at, rows, [], settings.burst, settings.burst_max, prepared)
    assert plain is not None and fast is not None
    assert [(c.window.name, c.count, c.messages, c.related) for c in fast] == \
        [(c.window.name, c.count, c.messages, c.related) for c in plain]


def _flood(count: int, *, late: set[int] = frozenset()) -> list[Message]:  # type: ignore[assignment]
    """One customer writing every 20 seconds in one thread; the messages in ``late`` carry a
    time an hour earlier (mail delivered late: it sorts before rows already stored)."""
    out = []
    for i in range(count):
        at = T0 + timedelta(seconds=20 * i) - (timedelta(hours=1) if i in late else timedelta(0))
        out.append(Message(id=f"f{i:05d}", text=f"Where is my refund for order {i}? Answer me now.",
                           sender="flood@example.com", thread="t-flood", received_at=at))
    return out


def _observe_all(tmp_path, name: str, messages: list[Message]) -> tuple[list[list[dict]], ContactTracker]:
    db = Database.open(tmp_path / f"{name}.db")
    tracker = ContactTracker(SqliteMessageStore(db), ContactSettings.defaults())
    out = []
    for m in messages:
        with db.tx():
            out.append([f.to_json() for f in tracker.observe(m, [])])
    return out, tracker


def test_a_flood_through_the_tracker_finds_what_it_finds_without_the_ledger(tmp_path, monkeypatch) -> None:
    messages = _flood(700, late={300, 301, 550})
    messages.insert(450, messages[200])  # a re-delivery: the same message again
    with_ledger, tracker = _observe_all(tmp_path, "a", messages)
    assert set(tracker._ledgers) == {("customer", "flood@example.com"), ("thread", "t-flood")}
    monkeypatch.setattr(tracker_module, "LEDGER_MIN_ROWS", 10**9)
    without, other = _observe_all(tmp_path, "b", messages)
    assert not other._ledgers
    assert with_ledger == without
    rate = [f for f in with_ledger[-1] if f["rule"] == "contact.rate_window"]
    assert rate and "in 24h" in rate[0]["reason"]  # the flood is counted, not only the last hour


def test_ledgers_are_bounded_and_dropped_with_the_store_cache(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(tracker_module, "LEDGERS", 3)
    db = Database.open(tmp_path / "s.db")
    store = SqliteMessageStore(db)
    tracker = ContactTracker(store, ContactSettings.defaults())
    for c in range(5):
        for i in range(LEDGER_MIN_ROWS + 2):
            m = Message(id=f"c{c}-{i}", text=f"message {i} from {c}", sender=f"c{c}@example.com",
                        thread=f"c{c}-{i}", received_at=T0 + timedelta(seconds=10 * i + c))
            with db.tx():
                tracker.observe(m, [])
    assert len(tracker._ledgers) <= 3
    assert ("customer", "c4@example.com") in tracker._ledgers
    store._cache.clear()  # (what another connection's commit does)
    m = Message(id="c4-last", text="and again", sender="c4@example.com", thread="x",
                received_at=T0 + timedelta(hours=1))
    with db.tx():
        tracker.observe(m, [])
    # the rows were read again after the cache was emptied (a new token): the ledger started
    # again from them
    ledger = tracker._ledgers[("customer", "c4@example.com")]
    span = store._cache.spans[("customer", "c4@example.com")]
    assert span.rows[-1].id == "c4-last" and ledger.token == store.watch(customer="c4@example.com")
    assert ledger.ids == [r.id for r in span.rows[-1 - len(ledger.ids) : -1]]


def test_a_flood_too_heavy_for_a_span_is_kept_with_light_rows_and_finds_the_same(tmp_path) -> None:
    """With a budget where one customer's week of full rows no longer fits a span's share but its
    light rows do (times and ids: what the windows read; the last rows the duplicate check reads
    stay whole), the flood stays cached (no read of the table per message), and every finding is
    what a cache large enough for everything finds, late-delivered messages included."""
    from gateway.store.message_cache import LIGHT_ROW_BYTES, row_bytes

    messages = _flood(700, late={300, 301, 550, 690})
    wide, _ = _observe_all(tmp_path, "wide", messages)
    db = Database.open(tmp_path / "narrow.db")
    store = SqliteMessageStore(db, cache_bytes=4 * 380_000)  # a span may weigh 380,000 bytes
    tracker = ContactTracker(store, ContactSettings.defaults())
    reads: list[str] = []
    db.conn.set_trace_callback(lambda sql: reads.append(sql) if "FROM messages WHERE customer =" in sql else None)
    narrow = []
    for m in messages:
        with db.tx():
            narrow.append([f.to_json() for f in tracker.observe(m, [])])
    assert narrow == wide
    span = store._cache.spans[("customer", "flood@example.com")]
    full = [r for r in span.rows if row_bytes(r) != LIGHT_ROW_BYTES]
    assert span.light > 300 and len(full) >= ContactSettings.defaults().duplicates.max_compare + 1
    assert all(r.text is None for r in span.rows[: span.light])
    assert span.bytes <= 380_000 < sum(len(m.text) for m in messages) * 3 + 450 * len(messages)
    assert store._cache.span_bytes == sum(s.bytes for s in store._cache.spans.values()) + 300 * len(store._cache.spans)
    assert len(reads) < 20, len(reads)  # (a read per message before light rows: 700)
