"""The contact stage's fast paths give exactly what the plain computations give: window counts
with prefix sums, band keys with cached token mixing, the campaign index with a dict buffer and
expiry, and the store's cached customer summaries."""

from __future__ import annotations

import random
from collections import Counter
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from gateway.contact.campaigns import CampaignIndex
from gateway.contact.fingerprint import MinHasher, _mix64, comparable
from gateway.contact.settings import ContactSettings, RateWindow
from gateway.contact.windows import Stamp, _count_slowly, count_windows
from gateway.model import Evidence, Finding, Message, Severity
from gateway.store.db import Database
from gateway.store.messages import SqliteMessageStore

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
US = 1_000_000
MINUTE = 60 * US


def _history(rng: random.Random, n: int) -> list[Stamp]:
    """Sorted stamps with ties (same microsecond, ids decide) and bursts (seconds apart)."""
    out, t = [], 0
    for i in range(n):
        t += rng.choice([0, 1, 30 * US, 90 * US, 3600 * US, 20 * 3600 * US])
        out.append(Stamp(t, f"m{rng.randrange(10_000):05d}-{i}"))
    return sorted(out, key=lambda s: s.key)


@pytest.mark.parametrize("burst", [timedelta(0), timedelta(minutes=2)])
def test_window_counts_equal_the_message_by_message_count(burst: timedelta) -> None:
    rng = random.Random(3)
    windows = ContactSettings.defaults().windows + (RateWindow(timedelta(seconds=45), 2, "customer"),)
    burst_us = int(burst.total_seconds() * US)
    for _ in range(300):
        customer, thread = _history(rng, rng.randrange(0, 40)), _history(rng, rng.randrange(0, 12))
        pool = customer + thread
        at = rng.choice(pool) if pool and rng.random() < 0.5 else Stamp(rng.randrange(0, 40 * 86400 * US), "zz")
        fast = count_windows(windows, at, customer, thread, burst)
        slow = [_count_slowly(w, at, customer if w.scope == "customer" else thread, burst_us) for w in windows]
        assert fast == slow


@pytest.mark.parametrize("burst", [timedelta(0), timedelta(minutes=2)])
def test_breached_counts_are_the_counts_when_a_window_is_breached_else_none(burst: timedelta) -> None:
    from gateway.contact.windows import breached_counts

    rng = random.Random(4)
    windows = ContactSettings.defaults().windows + (RateWindow(timedelta(seconds=45), 2, "customer"),
                                                    RateWindow(timedelta(hours=2), 1, "thread"))
    seen = Counter()
    for _ in range(600):
        customer, thread = _history(rng, rng.randrange(0, 40)), _history(rng, rng.randrange(0, 12))
        pool = customer + thread
        at = rng.choice(pool) if pool and rng.random() < 0.5 else Stamp(rng.randrange(0, 40 * 86400 * US), "zz")
        counts = count_windows(windows, at, customer, thread, burst)
        got = breached_counts(windows, at, customer, thread, burst)
        breached = any(c.breached for c in counts)
        assert got == (counts if breached else None)
        seen[breached] += 1
    assert seen[True] > 50 and seen[False] > 50  # both answers were exercised


def test_a_history_holding_the_message_itself_is_counted_without_it() -> None:
    window = RateWindow(timedelta(hours=1), 1, "customer")
    history = [Stamp(0, "b"), Stamp(10, "c"), Stamp(20, "a")]  # "a" again, at an earlier time than at
    (count,) = count_windows([window], Stamp(30, "a"), history, [])
    assert (count.count, count.related) == (3, ["b", "c"])


def _reference_bands(hasher: MinHasher, text: str) -> np.ndarray:
    """Band keys computed the plain way, from the public shingle hashes: the stored format."""
    sh = hasher.shingle_hashes(text)
    values = ((hasher._a[:, None] * sh[None, :] + hasher._b[:, None]) >> np.uint64(32)).min(axis=1)
    v = values.reshape(hasher.bands, hasher.rows)
    acc = hasher._band_salt
    for r in range(hasher.rows):
        acc = _mix64(acc ^ (v[:, r] + hasher._row_salt[r]))
    return (acc >> np.uint64(32)).astype(np.uint32)


def test_band_keys_keep_their_stored_values() -> None:
    hasher = MinHasher()
    texts = [
        comparable("Refund all of us in full by Friday or we publish the names of your support staff."),
        comparable("先週の障害で被害を受けた顧客を御社は無視し続けています。全額返金してください。"),
        "two words", "one", "mixed 日本語 text 123",
    ]
    for text in texts + texts:  # the second round comes from the caches
        assert (hasher.bands_for(text) == _reference_bands(hasher, text)).all()
    assert hasher.bands_for("") is None


def _brute_candidates(entries: dict[int, np.ndarray], keys: np.ndarray, limit: int) -> list[int]:
    shared = Counter({seq: int((k == keys).sum()) for seq, k in entries.items()})
    ranked = sorted(((n, seq) for seq, n in shared.items() if n), reverse=True)
    return [seq for _, seq in ranked[:limit]]


@pytest.mark.parametrize("buffer_size", [16, 1024])
def test_index_candidates_equal_a_scan_of_every_entry_across_merges_and_expiry(buffer_size: int) -> None:
    """One message looked up at a time (no batch): across merges, expiry and — with the larger
    buffer — the buffer's own sorted levels, which take the waiting messages in once more than
    a few wait."""
    rng = np.random.default_rng(11)
    bands = 8
    index = CampaignIndex(bands, buffer_size=buffer_size)
    entries: dict[int, np.ndarray] = {}
    times: dict[int, int] = {}
    templates = rng.integers(0, 50, size=(6, bands), dtype=np.uint32)  # few values: many collisions
    count, every = (400, 50) if buffer_size < 100 else (1300, 600)
    for seq in range(1, count):
        keys = templates[rng.integers(0, 6)].copy()
        keys[rng.random(bands) < 0.4] = rng.integers(0, 50)
        index.add(seq, keys, seq * MINUTE)  # one message a minute (expiry keeps whole minutes)
        entries[seq], times[seq] = keys, seq * MINUTE
        if seq % every == 0:
            horizon = (seq - 100) * MINUTE
            index.expire(horizon)
            index._merge()  # expiry applies at a merge; force one
            entries = {s: k for s, k in entries.items() if times[s] >= horizon}
            assert len(index) == len(entries)
        query = templates[rng.integers(0, 6)]
        assert index.candidates(query, 12) == _brute_candidates(entries, query, 12)
        if seq == 590 and buffer_size > 100:
            assert len(index._levels[0][0])  # the small level was merged into the large one


def _finding(category: str) -> Finding:
    return Finding(category, Severity.MEDIUM, 0.8, [Evidence(0, 2, "hi")], "test.rule", "test")


def _sql_summary(db: Database, keys: list[str], exclude: str) -> tuple[int, dict[str, int]]:
    marks = ",".join("?" * len(keys))
    total = db.query_one(f"SELECT COUNT(*) FROM messages WHERE customer IN ({marks}) AND id != ?", (*keys, exclude))[0]
    rows = db.query(
        "SELECT f.category, COUNT(*) FROM message_findings f JOIN messages m ON m.seq = f.message_seq "
        f"WHERE m.customer IN ({marks}) AND m.id != ? GROUP BY f.category ORDER BY 1",
        (*keys, exclude),
    )
    return total, {r[0]: r[1] for r in rows}


def test_cached_customer_summaries_equal_the_tables(tmp_path) -> None:
    db = Database.open(tmp_path / "s.db")
    store = SqliteMessageStore(db)
    rng = random.Random(5)
    customers = ["ann@example.com", "bob@example.com", "zendesk:7"]
    categories = ["verbal_abuse", "threat", "persistent_contact"]
    ids: list[str] = []
    for i in range(120):
        msg = Message(id=f"m{i}", text=f"text {i}", sender=rng.choice(customers), received_at=T0 + timedelta(minutes=i))
        findings = [_finding(c) for c in rng.sample(categories, rng.randrange(0, 3))]
        if i % 17 == 5 and ids:  # a re-delivery: its findings are replaced
            again = store.get(rng.choice(ids))
            msg = Message(id=again.id, text=again.text or "", sender=again.customer, received_at=again.received_at)
        if i % 23 == 11:  # a step that fails: the savepoint undoes the insert
            with pytest.raises(RuntimeError), db.tx(), db.tx():
                store.record(msg, findings)
                raise RuntimeError("step failed")
        else:
            with db.tx():
                store.record(msg, findings)
            ids.append(msg.id)
        if i == 60:
            store.link_customers("ann@example.com", "zendesk:7")
        for customer in customers:
            exclude = rng.choice([msg.id, "", rng.choice(ids) if ids else ""])
            total, counts, _ = store.customer_summary(customer, exclude)
            assert (total, counts) == _sql_summary(db, store.customer_keys(customer), exclude)
    db.close()


def test_words_of_ascii_and_other_texts_equal_the_regex_split() -> None:
    import unicodedata

    from gateway.contact.fingerprint import (
        _WORD,
        Comparable,
        _joined_words,
        comparable_core,
        is_cjk,
    )

    rng = random.Random(11)
    alphabet = "abcXYZ019 _-.,!?'\t\n\x0b\x0c\x1f\x7f~@#é€ーお客様ｶﾅ１２"
    for i in range(3000):
        text = "".join(rng.choice(alphabet if i % 2 else alphabet[:27]) for _ in range(rng.randrange(0, 40)))
        assert _joined_words(text) == " ".join(_WORD.findall(text)), repr(text)
        joined = " ".join(_WORD.findall(unicodedata.normalize("NFKC", text).lower()))
        plain = Comparable.of(joined.replace(" ", "") if is_cjk(joined) else joined)
        assert Comparable.of_core(text) == Comparable.of(comparable_core(text)) == plain, repr(text)


def test_earlier_rows_leave_out_the_message_and_later_ties() -> None:
    from gateway.contact.tracker import _earlier
    from gateway.store.messages import Candidate

    rng = random.Random(5)
    for _ in range(2000):
        rows = sorted((Candidate(i, rng.choice(["a", "b", "c", "m", "z"]) + str(rng.randrange(3)), "x",
                                 rng.randrange(5), "t") for i in range(rng.randrange(0, 8))),
                      key=lambda r: (r.received_us, r.id))
        at_us, at_id = rng.randrange(6), rng.choice(["b1", "m0", "m1", "c2"])
        rows = [r for r in rows if r.received_us <= at_us]
        plain = [r for r in rows if r.id != at_id and (r.received_us < at_us or r.id < at_id)]
        assert _earlier(list(rows), at_us, at_id) == plain


def test_core_span_is_the_same_with_and_without_quoted_lines() -> None:
    from gateway.contact.fingerprint import core_span

    ignore = ContactSettings.defaults().ignore_lines
    lines = ["Hello Tom,", "> quoted", "  > also quoted", "Where is my refund?", "a > b is not a quote",
             "Regards,", "Ann", "", "お世話になっております。", "返金はまだですか。", "よろしくお願いします。"]
    rng = random.Random(2)
    for _ in range(1500):
        text = "\n".join(rng.choice(lines) for _ in range(rng.randrange(0, 7)))
        start, end = core_span(text, ignore)
        # the same span as cutting quoted lines first (the text without ">" must not change)
        unquoted = "\n".join(line for line in text.split("\n") if not line.lstrip().startswith(">"))
        if ">" not in text:
            assert (start, end) == core_span(unquoted, ignore)
        assert text[start:end].strip() == text[start:end]


def test_tokens_mixed_for_a_batch_are_cached_as_one_by_one() -> None:
    rng = random.Random(9)
    tokens = list(dict.fromkeys("".join(rng.choice("abcxyz019éお") for _ in range(rng.randrange(1, 9)))
                                for _ in range(500)))
    batch, single = MinHasher(), MinHasher()
    batch._mix_new(tokens)
    for token in tokens:
        assert batch._mixed_cache[token] == single._mixed(token), token
        assert batch._token_cache[token] == single._token_hash(token), token
