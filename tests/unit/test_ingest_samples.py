"""The sample Maildir the daemon ships as embedded defaults reads cleanly."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from gateway.ingest import automated_reason, ingest, normalize_subject
from gateway.resources import samples_dir

MAILDIR = samples_dir() / "maildir"
FILES = sorted((MAILDIR / "cur").iterdir(), key=lambda p: int(p.name.split(".", 1)[0]))

# decoder and language of each sample, in delivery order
EXPECTED = [
    ("utf-8", "en"),       # ordinary question (Gmail-style multipart)
    ("cp50220", "ja"),     # ordinary question from a mobile carrier, ISO-2022-JP with ①②
    ("utf-8", "en"),       # angry but legitimate complaint
    ("utf-8", "ja"),       # refund request under the terms
    ("us-ascii", "en"),    # polite supervisor request
    ("us-ascii", "en"),    # verbal abuse
    ("cp932", "ja"),       # threat of violence (Shift_JIS)
    ("us-ascii", "en"),    # demand to fire a staff member
    ("utf-8", "ja"),       # dogeza demand
    ("us-ascii", "en"),    # the same demand, three times
    ("us-ascii", "en"),
    ("us-ascii", "en"),
]


def test_maildir_layout_and_file_names():
    assert (MAILDIR / "new" / ".keep").is_file()
    assert (MAILDIR / "tmp" / ".keep").is_file()
    assert len(FILES) == len(EXPECTED)
    for path in FILES:
        assert re.fullmatch(r"\d{10}\.M\d+P\d+\.sample:2,", path.name)


@pytest.mark.parametrize(("path", "expected"), list(zip(FILES, EXPECTED)), ids=[p.name for p in FILES])
def test_each_sample_ingests_cleanly(path, expected):
    message = ingest(path.read_bytes(), source="maildir")
    assert (message.decoder, message.lang) == expected
    assert message.warnings == []
    assert message.text and "\ufffd" not in message.text and "=?" not in message.subject
    assert message.message_id and message.received_at is not None
    assert automated_reason(message) is None
    # Maildir names start with the delivery time; the Date header agrees
    assert int(message.received_at.timestamp()) == int(path.name.split(".", 1)[0])


def test_samples_cover_both_languages_and_the_key_shapes():
    messages = [ingest(p.read_bytes()) for p in FILES]
    texts = "\n".join(m.text for m in messages)
    for phrase in ("①領収書", "土下座", "殴ってやる", "useless idiot", "fired today", "supervisor", "全額返金"):
        assert phrase in texts


def test_repeated_demands_come_from_one_customer_within_hours():
    repeated = [ingest(p.read_bytes()) for p in FILES[-3:]]
    assert {m.sender for m in repeated} == {"rick.dawson@example.com"}
    # three fresh mails, no References: three roots, grouped by their customer (windows, duplicates)
    assert [m.thread for m in repeated] == [m.message_id for m in repeated]
    assert {normalize_subject(m.subject) for m in repeated} == {"refund now"}
    assert repeated[-1].received_at - repeated[0].received_at <= timedelta(hours=2)
    assert len({m.id for m in repeated}) == 3
