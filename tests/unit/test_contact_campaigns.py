"""The cross-customer candidate index and the campaign finding it feeds."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np

from gateway.contact import ContactSettings, ContactTracker
from gateway.contact.campaigns import CampaignIndex
from gateway.contact.fingerprint import MinHasher, comparable
from gateway.model import Message
from gateway.store.db import Database
from gateway.store.memory import MemoryMessageStore
from gateway.store.messages import SqliteMessageStore

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=timezone.utc)
LETTER = (
    "Your company has ignored every customer hurt by last week's outage. Refund all of us in full by Friday "
    "or we will publish the names of your support staff online."
)
LETTER_JA = "先週の障害で被害を受けた顧客を御社は無視し続けています。金曜日までに全額返金しなければ、担当者の名前をネットで公開します。"


def test_bands_for_many_equals_one_at_a_time() -> None:
    hasher = MinHasher()
    texts = [comparable(LETTER), comparable(LETTER_JA), "", "two words", comparable(LETTER.replace("Friday", "Monday"))]
    keys, ok = hasher.bands_for_many(texts)
    assert ok.tolist() == [True, True, False, True, True]
    for text, row, good in zip(texts, keys, ok):
        single = hasher.bands_for(text)
        assert (single is None) == (not good)
        if good:
            assert (single == row).all()


def test_edited_resend_shares_band_keys_and_unrelated_text_does_not() -> None:
    hasher = MinHasher()
    base = hasher.bands_for(comparable(LETTER))
    edited = hasher.bands_for(comparable("Hello,\n" + LETTER.replace("in full", "completely").replace("Friday", "Monday")))
    other = hasher.bands_for(comparable("My parcel 4411 was left in the rain and the box is soaked. Can you resend it please?"))
    assert (base == edited).sum() >= 3
    assert (base == other).sum() == 0


def test_index_finds_candidates_in_buffer_and_after_merges() -> None:
    hasher = MinHasher()
    index = CampaignIndex(hasher.bands, buffer_size=4)
    rng = np.random.default_rng(1)
    for seq in range(1, 11):  # crosses the buffer twice
        index.add(seq, rng.integers(0, 2**32, size=hasher.bands, dtype=np.uint32))
    target = hasher.bands_for(comparable(LETTER))
    index.add(11, target)
    assert len(index) == 11
    for seq in range(12, 15):
        index.add(seq, rng.integers(0, 2**32, size=hasher.bands, dtype=np.uint32))
    assert index.candidates(target, 10) == [11]
    index.add(15, target)
    assert index.candidates(target, 10) == [15, 11]  # most band hits first, then most recent


def test_a_huge_bucket_is_cut_to_its_most_recent_entries() -> None:
    index = CampaignIndex(4, buffer_size=8, bucket_cap=5)
    key = np.array([7, 7, 7, 7], dtype=np.uint32)
    seqs = np.arange(1, 101)
    index.add_many(seqs, np.tile(key, (100, 1)))
    assert index.candidates(key, 100) == [100, 99, 98, 97, 96]


def test_memory_stays_compact() -> None:
    index = CampaignIndex(32, buffer_size=1024)
    n = 50_000
    empty = index.memory_bytes  # what does not grow: the buffer's filter and its few unsorted rows
    assert empty <= 1.1 * 2**20
    keys = np.random.default_rng(2).integers(0, 2**32, size=(2 * n, 32), dtype=np.uint32)
    index.add_many(np.arange(1, n + 1), keys[:n])
    half = index.memory_bytes
    index.add_many(np.arange(n + 1, 2 * n + 1), keys[n:])
    per_message = (index.memory_bytes - half) / n  # (the insert buffer is empty after a bulk load)
    assert 32 * 8 < per_message <= 32 * 8 + 8  # band keys and sequence numbers, plus the lookup directory
    before = index.memory_bytes
    for seq in range(n + 1, n + 301):  # past the few that wait unsorted: most are in the sorted buffer
        index.add(seq, np.arange(32, dtype=np.uint32) + np.uint32(seq))
    index._sync()
    grown = (index.memory_bytes - before) / 300
    # a buffered message: its keys as added, and as sorted (8-byte band key and 4-byte number each)
    assert 32 * 4 + 32 * 12 <= grown <= 32 * 4 + 32 * 12 + 200


def test_the_directory_lookup_finds_what_a_search_band_by_band_finds() -> None:
    rng = np.random.default_rng(5)
    keys = rng.integers(0, 2**32, size=(3000, 8), dtype=np.uint32)
    keys[::7, :3] = keys[0, :3]  # one big bucket per band for three bands
    keys[1::50] = keys[1]  # an exact repeat, every band
    keys[:, 5] = rng.integers(0, 40, size=3000).astype(np.uint32)  # many small keys in one directory slot
    probes = [keys[0], keys[1], keys[7], keys[2500], keys[2999], rng.integers(0, 2**32, size=8, dtype=np.uint32)]
    for cap in (6, 1000):  # big buckets cut to their most recent entries, or kept whole
        index = CampaignIndex(8, buffer_size=64, bucket_cap=cap)
        index.add_many(np.arange(1, 2001), keys[:2000])
        for seq in range(2001, 3001):  # crosses the buffer: merges rebuild the directory
            index.add(seq, keys[seq - 1])
        for probe in probes:
            assert sorted(index._sorted_hits(probe).tolist()) == sorted(index._sorted_hits_per_band(probe).tolist())
            assert index.candidates(probe, 10) == index.candidates(probe, 10000)[:10]
        if cap == 1000:  # the 60 exact repeats share 7 or 8 bands and come before one-band matches
            assert set(index.candidates(keys[1], 60)) == set(range(2, 3001, 50))


def test_a_batch_looked_up_at_once_finds_what_one_by_one_finds() -> None:
    rng = np.random.default_rng(8)
    keys = rng.integers(0, 2**32, size=(3000, 8), dtype=np.uint32)
    keys[::7, :3] = keys[0, :3]  # big buckets in three bands (cut when the cap is small)
    keys[1::50] = keys[1]
    keys[:, 5] = rng.integers(0, 40, size=3000).astype(np.uint32)
    probes = np.stack([keys[0], keys[1], keys[7], keys[2500], keys[2999], keys[3],
                       rng.integers(0, 2**32, size=8, dtype=np.uint32)])
    for cap in (6, 1000):
        index = CampaignIndex(8, buffer_size=64, bucket_cap=cap)
        assert index.lookup_batch(probes, 10).seqs == [[]] * len(probes)  # an empty index
        index.add_many(np.arange(1, 2001), keys[:2000])
        for seq in range(2001, 2030):  # some in the insert buffer, probed at the time of asking
            index.add(seq, keys[seq - 1])
        generation = index.generation
        # the sorted arrays' hits of the whole batch, in one pass, row by row
        slot, pos, slow = index._sorted_pairs(probes)
        found = index._seqs_flat[pos]
        rows = slot // index.bands
        if cap == 6:
            assert slow[0]  # a run longer than the cap: left to the band-by-band search
        for row, probe in enumerate(probes):
            if not slow[row]:
                assert sorted(found[rows == row].tolist()) == sorted(index._sorted_hits(probe).tolist())
        batch = index.lookup_batch(probes, 10)
        for row, probe in enumerate(probes):
            alone = index.candidates(probe, 10)
            assert index.candidates(probe, 10, batch=batch, row=row) == alone
            assert batch.seqs[row] == (None if slow[row] else alone)  # ranked for the batch
        other = CampaignIndex(8, buffer_size=64, bucket_cap=cap)
        other.add_many(np.arange(1, 2001), keys[:2000])
        assert other.generation != index.generation  # another index's answers never hold here
        index.add(3000, keys[2999])
        assert index.generation == generation  # an insert into the buffer leaves the sorted arrays alone
        for seq in range(3001, 3100):
            index.add(seq, keys[seq % 3000])
        assert index.generation != generation  # a merge: earlier answers no longer hold


def send(tracker: ContactTracker, i: int, sender: str, text: str, hours: float = 0):
    m = Message(id=f"c{i}", text=text, sender=sender, received_at=T0 + timedelta(hours=hours))
    return m, tracker.observe(m, [])


def campaign(findings):
    return next((f for f in findings if f.rule == "contact.campaign"), None)


def test_the_same_letter_from_three_customers_is_a_campaign() -> None:
    tracker = ContactTracker(MemoryMessageStore(), ContactSettings.load())
    _, first = send(tracker, 1, "a@example.com", LETTER)
    _, second = send(tracker, 2, "b@example.org", "Hi,\n" + LETTER.replace("in full", "completely"), 1)
    msg, third = send(tracker, 3, "c@example.net", LETTER.replace("Friday", "Monday") + "\nRegards", 2)
    assert campaign(first) is None and campaign(second) is None
    finding = campaign(third)
    assert finding is not None and finding.category == "duplicate_contact"
    assert finding.related == ["c1", "c2"]
    assert finding.details["customers"] == 3
    assert all(m["similarity"] >= 90 for m in finding.details["matches"])
    ev = finding.evidence[0]
    assert msg.text[ev.start : ev.end] == ev.text


def test_japanese_campaign_is_found() -> None:
    tracker = ContactTracker(MemoryMessageStore(), ContactSettings.load())
    send(tracker, 1, "a@example.jp", LETTER_JA)
    send(tracker, 2, "b@example.jp", LETTER_JA.replace("金曜日", "月曜日"), 1)
    _, third = send(tracker, 3, "c@example.jp", "お世話になっております。\n" + LETTER_JA, 2)
    assert campaign(third) is not None


def test_one_customers_linked_addresses_are_not_a_campaign() -> None:
    store = MemoryMessageStore()
    store.link_customers("a@example.com", "zendesk:77")
    store.link_customers("a@example.com", "a.alt@example.org")
    tracker = ContactTracker(store, ContactSettings.load())
    send(tracker, 1, "a@example.com", LETTER)
    send(tracker, 2, "zendesk:77", LETTER, 1)
    _, third = send(tracker, 3, "a.alt@example.org", LETTER, 2)
    assert campaign(third) is None
    assert any(f.rule == "contact.near_duplicate" for f in third)  # it is the customer's own repeat


def test_different_letters_from_many_customers_are_not_a_campaign() -> None:
    tracker = ContactTracker(MemoryMessageStore(), ContactSettings.load())
    texts = [
        "My parcel 4411 was left in the rain and the box is soaked through. Can you resend it please, thank you.",
        "The invoice for March charged me twice for the same subscription. Please refund the second charge.",
        "I cannot log in to my account since the update yesterday, the password reset email never arrives.",
        "Your company has ignored my emails about the outage. I would like a partial refund for last week.",
    ]
    results = [send(tracker, i, f"u{i}@example.com", t, i)[1] for i, t in enumerate(texts)]
    assert all(campaign(r) is None for r in results)


def test_index_is_rebuilt_from_the_sqlite_store(tmp_path) -> None:
    db = Database.open(tmp_path / "c.db")
    tracker = ContactTracker(SqliteMessageStore(db), ContactSettings.load())
    send(tracker, 1, "a@example.com", LETTER)
    send(tracker, 2, "b@example.com", LETTER, 1)
    db.close()
    db = Database.open(tmp_path / "c.db")
    fresh = ContactTracker(SqliteMessageStore(db), ContactSettings.load())  # a restarted daemon
    _, third = send(fresh, 3, "c@example.com", LETTER, 2)
    assert campaign(third) is not None and campaign(third).related == ["c1", "c2"]
    assert len(fresh.index) == 3
    db.close()
