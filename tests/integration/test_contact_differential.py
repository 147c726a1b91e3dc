"""The contact stage on a SQLite file (its caches, cached summaries, the campaign index bounded to
its lookback) gives the findings and histories the plain in-memory store gives, message for
message, on mixed mail: repeats across customers, edited re-sends, Japanese, bursts, ties,
re-deliveries and a customer link made mid-way."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

from gateway.contact import ContactSettings, ContactTracker
from gateway.model import Message
from gateway.store.db import Database
from gateway.store.memory import MemoryMessageStore
from gateway.store.messages import SqliteMessageStore

T0 = datetime(2026, 2, 1, 8, 0, tzinfo=timezone.utc)
LETTERS = [
    "Your company ignored every customer hurt by the outage last week. Refund all of us in full by Friday "
    "or we publish the names of your support staff online.",
    "I have written four times about invoice 5521 and nobody answers. Fix the double charge on my card today.",
    "The replacement blender arrived broken again, the second one this month, and I want my money back now.",
    "先週の障害で被害を受けた顧客を御社は無視し続けています。金曜日までに全額返金しなければ担当者の名前を公開します。",
    "注文番号123456の商品がまだ届きません。何度も問い合わせていますが返事がありません。至急対応してください。",
]
SHORT = ["Thanks!", "Any news?", "ok", "Where is my parcel?", "ありがとうございます。"]


def _edit(rng: random.Random, text: str) -> str:
    words = text.split(" ")
    if len(words) > 4 and rng.random() < 0.5:
        words[rng.randrange(len(words))] = rng.choice(["please", "now", "again", "today"])
    prefix = rng.choice(["", "Hello,\n", "Hi team,\n"])
    return prefix + " ".join(words) + rng.choice(["", "\n\nRegards,\nSam"])


def _corpus(seed: int, count: int) -> list[Message]:
    rng = random.Random(seed)
    out, t = [], T0
    for i in range(count):
        t += timedelta(seconds=rng.choice([0, 20, 60, 400, 3000, 9000]))
        customer = rng.randrange(25)
        text = _edit(rng, rng.choice(LETTERS)) if rng.random() < 0.7 else rng.choice(SHORT)
        out.append(Message(id=f"d{i}", text=text, sender=f"c{customer}@example.com",
                           thread=f"t{customer}-{rng.randrange(2)}" if rng.random() < 0.8 else "",
                           received_at=t, lang="en"))
    return out


def _settings() -> ContactSettings:
    return ContactSettings.from_policy({"contact": {
        "campaigns": {"lookback": "1d", "min_chars": 40, "min_customers": 3},
        "duplicates": {"lookback": "2d", "max_compare": 20},
    }})


def test_sqlite_tracker_answers_as_the_in_memory_one(tmp_path) -> None:
    messages = _corpus(1, 900)  # about three weeks: the campaign index expires most of it
    db = Database.open(tmp_path / "diff.db")
    fast = ContactTracker(SqliteMessageStore(db), _settings())
    plain = ContactTracker(MemoryMessageStore(), _settings())
    campaigns = 0
    for i, msg in enumerate(messages):
        if i == 450:
            for tracker in (fast, plain):
                tracker.store.link_customers("c1@example.com", "c2@example.com")
        batch = [msg] + ([messages[i - 7]] if i % 50 == 49 else [])  # now and then a re-delivery
        for m in batch:
            with db.tx():
                got = [f.to_json() for f in fast.observe(_copy(m), [])]
                got_history = fast.history(m.sender, exclude_id=m.id).to_json()
            want = [f.to_json() for f in plain.observe(_copy(m), [])]
            want_history = plain.history(m.sender, exclude_id=m.id).to_json()
            assert got == want, m.id
            assert got_history == want_history, m.id
            campaigns += any(f["rule"] == "contact.campaign" for f in got)
    assert campaigns > 20  # the corpus does exercise the campaign path
    fast.index._merge()  # expiry applies when the insert buffer is merged
    assert 0 < len(fast.index) < len(messages) // 4  # bounded to the lookback, not all history
    db.close()


def _copy(m: Message) -> Message:
    return Message(id=m.id, text=m.text, sender=m.sender, thread=m.thread, received_at=m.received_at, lang=m.lang)
