"""The contact stage's second round of fast paths gives exactly what the plain computations give:
stored time texts from integers, the remembered ``to_us``, campaign candidates counted by
scanning and looked up a batch at a time, the store cache's written-out span steps and row
weights, and ``prepare``'s ``_Prepared`` made once."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from gateway.contact.campaigns import CampaignIndex
from gateway.contact.fingerprint import Comparable
from gateway.store import message_cache
from gateway.store.message_cache import MessageCache, Span, row_bytes
from gateway.store.messages import Candidate, from_us, isoformat_utc, iso_utc_us, to_us

US = 1_000_000


def test_iso_text_from_integers_equals_isoformat() -> None:
    rng = random.Random(21)
    cases = [0, 1, -1, 59 * US, 60 * US, 60 * US - 1, -60 * US, 1_772_355_600 * US, 1_772_355_600 * US + 7]
    cases += [rng.randrange(-2_000_000_000 * US, 4_000_000_000 * US) for _ in range(5000)]
    cases += [rng.randrange(-10**9, 10**9) * 60 * US + rng.choice([0, US, 7, 59 * US + 999_999]) for _ in range(2000)]
    for us in cases:
        assert iso_utc_us(us) == isoformat_utc(from_us(us)) == from_us(us).isoformat(), us


def test_to_us_remembers_only_the_same_object() -> None:
    rng = random.Random(22)
    base = datetime(2026, 3, 1, tzinfo=timezone.utc)
    plain = lambda d: ((d if d.tzinfo else d.replace(tzinfo=timezone.utc)) - datetime(1970, 1, 1, tzinfo=timezone.utc)) // timedelta(microseconds=1)  # noqa: E731
    moments = []
    for _ in range(300):
        d = base + timedelta(microseconds=rng.randrange(-10**12, 10**12))
        moments += [d, d.replace(tzinfo=None), d.astimezone(timezone(timedelta(hours=9))), d + timedelta(microseconds=1)]
    for _ in range(3000):
        d = rng.choice(moments)
        assert to_us(d) == plain(d)
        assert to_us(d) == plain(d)  # asked again: the remembered answer


@pytest.mark.parametrize(("buffer_size", "messages"), [(64, 900), (2048, 1500)])
def test_batch_lookups_and_adds_rank_as_the_counts_say(buffer_size: int, messages: int) -> None:
    """Batches looked up at once, their messages then added in any order (some not at all, some
    keys repeated within a batch, now and then a message from outside the batch added between):
    each answer equals the ranking counted from everything added before it — across the
    buffer's sorting into its small level, the small level's merges into the large one (with
    the larger buffer) and the buffer's merges into the sorted arrays."""
    rng = random.Random(23 + buffer_size)
    bands = 8
    index = CampaignIndex(bands, buffer_size=buffer_size)
    generation = index.generation
    pool = [rng.randrange(0, 1 << 32) for _ in range(40)]  # few keys: many shared bands
    added_seqs: list[int] = []
    added_keys = np.zeros((0, bands), dtype=np.uint32)
    seq = 0
    held = asked = 0  # look-ups the batch's answer still held for (not left to a search)

    def some_keys() -> np.ndarray:
        return np.array([rng.choice(pool) if rng.random() < 0.7 else rng.randrange(0, 1 << 32) for _ in range(bands)],
                        dtype=np.uint32)

    def counted(keys: np.ndarray, limit: int) -> list[int]:
        shared = (added_keys == keys).sum(axis=1).tolist()
        return [s for n, s in sorted(zip(shared, added_seqs), reverse=True) if n][:limit]

    def remember(number: int, keys: np.ndarray) -> None:
        nonlocal added_keys
        added_seqs.append(number)
        added_keys = np.vstack([added_keys, keys])

    while seq < messages:
        rows = [some_keys() for _ in range(rng.randrange(1, 40))]
        for i in range(1, len(rows)):
            if rng.random() < 0.15:
                rows[i] = rows[rng.randrange(i)]  # the same text twice in one batch
        matrix = np.stack(rows)
        batch = index.lookup_batch(matrix, 10)
        for row in rng.sample(range(len(rows)), len(rows)):
            keys = matrix[row]
            asked += 1
            held += batch.generation == index.generation and batch.adds == index._adds
            assert index.candidates(keys, 10, batch=batch, row=row) == counted(keys, 10)
            assert index.candidates(keys, 3, batch=batch, row=row) == counted(keys, 3)
            if rng.random() < 0.1:
                continue  # looked up, never added (already stored, say)
            seq += 1
            index.add(seq, keys, None, batch, row)
            remember(seq, keys)
            if rng.random() < 0.03:  # another message, added without the batch
                seq += 1
                other = some_keys()
                index.add(seq, other)
                remember(seq, other)
    assert len(index) == len(added_seqs)
    assert (index.generation != generation) == (messages > buffer_size)  # merged on the way when it filled
    assert held > asked * 0.6  # the batch's own adds keep its answer (a merge or an outside add ends it)
    if buffer_size > 512:
        assert len(index._levels[0][0])  # the small level was merged into the large one


def test_candidates_counted_by_scans_and_by_a_counter_agree() -> None:
    from gateway.contact import campaigns

    rng = random.Random(24)
    index = CampaignIndex(4, buffer_size=4096)
    for seq in range(1, 400):
        index.add(seq, np.array([rng.randrange(6) for _ in range(4)], dtype=np.uint32))
    saved = campaigns._COUNT_SCANS
    try:
        for _ in range(200):
            keys = np.array([rng.randrange(8) for _ in range(4)], dtype=np.uint32)
            limit = rng.choice([1, 5, 50])
            campaigns._COUNT_SCANS = 10**9
            scanned = index.candidates(keys, limit)
            campaigns._COUNT_SCANS = 0
            assert scanned == index.candidates(keys, limit)
    finally:
        campaigns._COUNT_SCANS = saved


def test_row_weights_equal_the_general_sum() -> None:
    def general(row: Candidate) -> int:
        if row.text:
            return message_cache.ROW_BYTES + 3 * __import__("sys").getsizeof(row.text)
        prepared = row.comparable
        if isinstance(prepared, tuple):
            return message_cache.ROW_BYTES + sum(__import__("sys").getsizeof(p) for p in prepared if type(p) is str)
        return message_cache.ROW_BYTES

    shapes = [Comparable.of("where is my refund"), Comparable.of("返金はまだですか"), ("a", "b", "c"), ("a", 1),
              ("x", True, "y", "z"), None, Comparable("", False, "")]
    for text in ["", "raw text", None]:
        for shape in shapes:
            row = Candidate(1, "m", "c", 5, text, "h", "t", shape)
            assert row_bytes(row) == general(row), (text, shape)


def test_inserted_rows_land_in_spans_as_add_and_cut_place_them() -> None:
    """``MessageCache.inserted`` appends a newer row and skips a cut of a short span itself; the
    spans must hold what ``Span.add`` and ``Span.cut`` make of the same rows."""
    rng = random.Random(25)
    cache = MessageCache()
    need = (3, 50, 400)
    cache.needs["customer"] = need
    mirror: dict[str, Span] = {}
    for c in "abcd":
        cache.spans[("customer", c)] = Span(0)
        mirror[c] = Span(0)
    t = 0
    for seq in range(1, 800):
        t += rng.choice([0, 1, 5, 20])
        at = t - rng.choice([0, 0, 0, 3, 30])  # now and then older than the newest row
        customer = rng.choice("abcd")
        row = Candidate(seq, f"m{seq:04d}", customer, at, "text", "h", f"t{seq}")
        cache.inserted(row)
        span = mirror[customer]
        if at < span.since_us:
            span.disorder += 1  # (older than the span's front: left out)
        else:
            if span.add(row) < len(span.rows) - 1:
                span.disorder += 1
            span.cut(*need)
        assert cache.spans[("customer", customer)].disorder == span.disorder
        assert cache.spans[("customer", customer)].rows == span.rows
        assert cache.spans[("customer", customer)].us == span.us
        assert cache.spans[("customer", customer)].since_us == span.since_us


def test_prepared_batches_with_repeated_ids_keep_the_last_message() -> None:
    """``prepare`` keeps per id the last message's text, span and comparable text, with the band
    keys of the last of its copies that was indexed (as when each copy replaced the one before)."""
    from gateway.contact.settings import ContactSettings
    from gateway.contact.tracker import ContactTracker
    from gateway.model import Message
    from gateway.store.db import Database
    from gateway.store.messages import SqliteMessageStore

    at = datetime(2026, 3, 1, 9, tzinfo=timezone.utc)
    long_text = "Where is my refund for order 12345? I have asked three times already and nobody answers."
    batch = [
        Message(id="a", source="t", sender="ann@example.com", text=long_text, received_at=at),
        Message(id="b", source="t", sender="bob@example.com", text="ok", received_at=at),
        Message(id="a", source="t", sender="ann@example.com", text="short", received_at=at),
        Message(id="c", source="t", sender="cy@example.com", text=long_text + " Again!", received_at=at),
        Message(id="c", source="t", sender="cy@example.com", text=long_text + " Once more!", received_at=at),
    ]
    db = Database.open(":memory:")
    tracker = ContactTracker(SqliteMessageStore(db), ContactSettings.defaults())
    tracker.prepare(batch)
    got = tracker._prepared
    assert list(got) == ["a", "b", "c"]
    assert got["a"].text == "short" and got["a"].comparable == Comparable.of("short")
    assert got["a"].keys is not None  # the first copy's keys: it was the one indexed
    assert got["a"].keys.tolist() == tracker.hasher.bands_for(Comparable.of_core(long_text).text).tolist()
    assert got["b"].keys is None and got["b"][4:] == (None, None, -1)
    assert got["c"].text == long_text + " Once more!"
    assert got["c"].keys.tolist() == tracker.hasher.bands_for(got["c"].comparable.text).tolist()
    assert got["c"].bands == got["c"].keys.astype("<u4").tobytes()
    assert type(got["b"]).__name__ == "_Prepared" and got["b"]._fields == got["c"]._fields
    db.close()


def test_prepare_preloads_from_the_earliest_instant_whatever_the_zones() -> None:
    from gateway.contact.settings import ContactSettings
    from gateway.contact.tracker import ContactTracker
    from gateway.model import Message
    from gateway.store.db import Database
    from gateway.store.messages import SqliteMessageStore

    rng = random.Random(26)
    db = Database.open(":memory:")
    store = SqliteMessageStore(db)
    asked: list[int] = []
    store.preload = lambda **kw: asked.append(kw["customers_since_us"])  # type: ignore[method-assign]
    tracker = ContactTracker(store, ContactSettings.defaults())
    base = datetime(2026, 3, 1, 9, tzinfo=timezone.utc)
    zones = [timezone.utc, timezone(timedelta(hours=9)), timezone(timedelta(hours=-5))]
    for round_ in range(60):
        batch = []
        for i in range(rng.randrange(1, 8)):
            t = base + timedelta(seconds=rng.randrange(-50_000, 50_000))
            kind = rng.random() if round_ % 2 else 0.0  # even rounds: every time in UTC
            t = t.astimezone(rng.choice(zones)) if kind > 0.5 else t
            batch.append(Message(id=f"m{round_}-{i}", source="t", sender=f"c{i}@example.com", text="hello there",
                                 received_at=t))
        tracker.prepare(batch)
        assert asked[-1] == min(to_us(m.received_at) for m in batch) - tracker._lookback_us
    db.close()


def test_from_us_equals_the_epoch_plus_a_timedelta() -> None:
    rng = random.Random(27)
    epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)
    for _ in range(20000):
        us = rng.randrange(-62_135_596_800 * US, 253_402_300_799 * US)
        assert from_us(us) == epoch + timedelta(microseconds=us)
