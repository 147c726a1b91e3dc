"""The contact stage's shortcuts never change an answer: band keys computed for a whole batch are
the one-by-one keys; a batch prepared ahead (``ContactTracker.prepare``), the store's cache held to
a tiny byte budget with span fronts cut to what the readers need, and the breached windows
``history`` reuses from ``observe`` all give the findings and histories of the plain in-memory
store — with messages out of time order, re-deliveries, a shared thread and a link made mid-way."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import timedelta

import numpy as np
import pytest

from gateway.contact import ContactSettings, ContactTracker, fingerprint
from gateway.contact.fingerprint import MinHasher, comparable
from gateway.model import Message
from gateway.store import message_cache
from gateway.store.db import Database
from gateway.store.memory import MemoryMessageStore
from gateway.store.messages import _CACHES, SqliteMessageStore
from tests.integration.test_contact_differential import LETTERS, T0  # the same letters

SHORT = ["Thanks!", "Any news?", "ok", "Where is my parcel?", "ありがとうございます。", "", "word"]


def _edit(rng: random.Random, text: str) -> str:
    words = text.split(" ")
    if len(words) > 4 and rng.random() < 0.5:
        words[rng.randrange(len(words))] = rng.choice(["please", "now", "again", "today"])
    return rng.choice(["", "Hello,\n", "Hi team,\n"]) + " ".join(words) + rng.choice(["", "\n\nRegards,\nSam"])


def _stream(seed: int, count: int) -> list[Message]:
    """Mail mostly in time order, every few messages one that arrives late (hours before the
    newest), now and then a re-delivery, threads shared by two customers."""
    rng = random.Random(seed)
    out: list[Message] = []
    t = T0
    for i in range(count):
        t += timedelta(seconds=rng.choice([0, 30, 90, 600, 3000, 9000]))
        at = t - timedelta(hours=rng.choice([1, 5, 30])) if rng.random() < 0.12 else t
        customer = rng.randrange(12)
        text = _edit(rng, rng.choice(LETTERS)) if rng.random() < 0.7 else rng.choice(SHORT)
        thread = f"t{customer // 2}-{rng.randrange(2)}" if rng.random() < 0.8 else ""
        out.append(Message(id=f"p{i}", text=text, sender=f"c{customer}@example.com", thread=thread,
                           received_at=at, lang="en"))
        if i % 37 == 36:
            out.append(replace(out[rng.randrange(len(out) - 1)]))  # a re-delivery of an earlier one
    return out


def _settings() -> ContactSettings:
    return ContactSettings.from_policy({"contact": {
        "windows": [{"within": "1h", "limit": 2}, {"within": "6h", "limit": 4}],
        "burst": "1m",
        "campaigns": {"lookback": "1d", "min_chars": 40, "min_customers": 3},
        "duplicates": {"lookback": "2d", "max_compare": 4},
    }})


def test_band_keys_of_a_batch_are_the_one_by_one_keys() -> None:
    rng = random.Random(3)
    texts = [comparable(_edit(rng, rng.choice(LETTERS))) for _ in range(60)]
    texts += [comparable(s) for s in SHORT] + ["refund", "two words", texts[0], texts[1]]  # short, repeated
    batch = MinHasher().bands_for_texts(texts)
    single = MinHasher()
    for text, keys in zip(texts, batch):
        want = single.bands_for(text)
        assert (keys is None) == (want is None), text
        if want is not None:
            assert keys.dtype == np.uint32 and np.array_equal(keys, want), text
    plain = MinHasher()
    assert all(np.array_equal(k, plain._bands_for(t)) for t, k in zip(texts, batch) if k is not None)


@pytest.mark.parametrize("room", [50_000, 40])
def test_band_keys_of_batches_whose_tokens_are_partly_known(monkeypatch, room) -> None:
    """Later batches reuse the tokens the earlier ones mixed and mix only the new ones; with a
    token cache smaller than a batch's new tokens (40), the oldest are dropped as they come.
    Either way the keys are the one-by-one keys, and the cache stays within its bound."""
    monkeypatch.setattr(fingerprint, "TOKEN_CACHE", room)
    rng = random.Random(5)
    hasher, single = MinHasher(), MinHasher()
    for round_ in range(4):
        texts = [comparable(_edit(rng, rng.choice(LETTERS))) for _ in range(15)]
        texts.append(comparable(f"a new word {round_} zq{round_}x and yet another fresh token {round_}y"))
        for text, keys in zip(texts, hasher.bands_for_texts(texts)):
            assert np.array_equal(keys, single._bands_for(text)), text
        assert len(hasher._mixed_cache) <= room and len(hasher._token_cache) <= room


@pytest.mark.parametrize("budget", [message_cache.MAX_SPAN_BYTES, 6_000])
def test_prepared_batches_and_a_bounded_cache_answer_as_the_plain_store(tmp_path, monkeypatch, budget) -> None:
    monkeypatch.setattr(message_cache, "MAX_SPAN_BYTES", budget)
    monkeypatch.setattr(message_cache, "TRIM_SLACK", 2)  # cut span fronts as soon as possible
    messages = _stream(7, 700)
    db = Database.open(tmp_path / "p.db")
    fast = ContactTracker(SqliteMessageStore(db), _settings())
    plain = ContactTracker(MemoryMessageStore(), _settings())
    reused = 0
    known = fast._known_breaches

    def counting(*args):  # type: ignore[no-untyped-def]
        nonlocal reused
        found = known(*args)
        reused += found is not None
        return found

    fast._known_breaches = counting  # type: ignore[method-assign]
    seen = {"rate": 0, "dup": 0, "campaign": 0}
    for start in range(0, len(messages), 25):
        if start == 350:
            for tracker in (fast, plain):
                tracker.store.link_customers("c1@example.com", "c2@example.com")
        batch = [replace(m) for m in messages[start : start + 25]]
        if start % 50 == 0:
            fast.prepare(batch)  # every other batch prepared ahead, as the pipeline may or may not
        with db.tx():
            for m in batch:
                with db.tx():
                    got = [f.to_json() for f in fast.observe(m, [])]
                    got_history = fast.history(m.sender, exclude_id=m.id).to_json()
                want = [f.to_json() for f in plain.observe(replace(m), [])]
                assert got == want, m.id
                assert got_history == plain.history(m.sender, exclude_id=m.id).to_json(), m.id
                rules = {f["rule"] for f in got}
                seen["rate"] += "contact.rate_window" in rules
                seen["dup"] += "contact.near_duplicate" in rules
                seen["campaign"] += "contact.campaign" in rules
        cache = _CACHES[db]
        assert cache.span_bytes <= max(budget, max((s.bytes for s in cache.spans.values()), default=0) + 400)
    assert min(seen.values()) > 5, seen  # every kind of finding was exercised
    if budget > 1_000_000:
        assert reused > 100  # history reused observe's windows most of the time (not when evicted)
    db.close()


def test_spans_keep_only_what_windows_and_the_duplicate_check_read(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(message_cache, "TRIM_SLACK", 2)
    monkeypatch.setattr(message_cache, "SWEEP_EVERY", 16)
    db = Database.open(tmp_path / "s.db")
    tracker = ContactTracker(SqliteMessageStore(db), _settings())  # 6h windows, last 4 compared, 2d lookback
    for i in range(300):  # one message an hour from one customer, each its own thread
        m = Message(id=f"s{i}", text=f"Order {i} is late again, please call me back today about it.",
                    sender="ann@example.com", thread=f"s{i}", received_at=T0 + timedelta(hours=i))
        tracker.observe(m, [])
        tracker.history(m.sender, exclude_id=m.id)
    cache = _CACHES[db]
    span = cache.spans[("customer", "ann@example.com")]
    # 6 hours of rows (one an hour) and the last 4 + 1 before the newest, plus the slack: not 300
    assert 6 <= len(span.rows) <= 6 + 1 + 2 + 1
    threads = [name for name in cache.spans if name[0] == "thread"]
    assert len(threads) <= 7 + 16  # one-message threads older than every window are swept
    db.close()


def test_batched_similarities_are_the_pairwise_ones() -> None:
    from gateway.contact.duplicates import similarities, similarity_from
    from gateway.contact.fingerprint import Comparable

    rng = random.Random(5)
    texts = [Comparable.of(comparable(_edit(rng, rng.choice(LETTERS + SHORT)))) for _ in range(80)]
    texts.append(Comparable.of(comparable(LETTERS[1])))
    reordered = Comparable.of(" ".join(reversed(texts[-1].text.split())))  # only token_sort_ratio matches it
    for new in texts[:10] + [reordered]:
        for cutoff in (80.0, 85.0, 90.0):
            got = similarities(new, texts, cutoff)
            want = [similarity_from(new, other, cutoff) for other in texts]
            assert [g for g in got if g[0] >= cutoff] == [w for w in want if w[0] >= cutoff]
            assert [i for i, g in enumerate(got) if g[0] >= cutoff] == [i for i, w in enumerate(want) if w[0] >= cutoff]
    assert any(m == "token_sort_ratio" for _, m in similarities(reordered, texts, 85.0))
