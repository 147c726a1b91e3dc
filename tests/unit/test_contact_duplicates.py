"""Near-duplicates among a customer's own messages: the same demand again is found, reworded, in
English and Japanese, with a quote below it; an ordinary reply in a thread is not."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from gateway.contact import ContactSettings, ContactTracker
from gateway.contact.fingerprint import comparable, core_span
from gateway.model import Finding, Message
from gateway.store.memory import MemoryMessageStore

T0 = datetime(2026, 4, 1, 8, 0, tzinfo=timezone.utc)
DEMAND_EN = (
    "Hi,\nI still have not received the refund for order 48213. "
    "Please send the money back to my card today.\nThanks,\nMaria"
)
DEMAND_JA = "お世話になっております。\n注文番号48213の返金がまだ届いていません。今日中にカードへ返金してください。\nよろしくお願いします。"


def observe_pair(first: str, second: str, *, quoted: list[str] | None = None, gap: timedelta = timedelta(hours=3)):
    tracker = ContactTracker(MemoryMessageStore(), ContactSettings.load())
    tracker.observe(Message(id="first", text=first, sender="maria@example.com", thread="t1", received_at=T0), [])
    second_msg = Message(
        id="second", text=second, sender="maria@example.com", thread="t1", received_at=T0 + gap, quoted=quoted or []
    )
    return second_msg, tracker.observe(second_msg, [])


def duplicate(findings: list[Finding]) -> Finding | None:
    return next((f for f in findings if f.rule == "contact.near_duplicate"), None)


@pytest.mark.parametrize(
    "again",
    [
        # reordered, new greeting and sign-off
        "Hello again,\n\nPlease send the money back to my card today. I still have not received the refund "
        "for order 48213.\n\nRegards,\nMaria",
        # reworded a little, shouting punctuation
        "I still haven't received my refund for order 48213. Please send the money back to my card today!!",
        # full-width digits and capitals
        "I STILL have not received the refund for order ４８２１３. Please send the money back to my card today.",
    ],
)
def test_english_rewording_of_the_same_demand_is_a_duplicate(again: str) -> None:
    msg, findings = observe_pair(DEMAND_EN, again)
    finding = duplicate(findings)
    assert finding is not None, "the same demand again was not found"
    assert finding.related == ["first"]
    assert finding.details["matches"][0]["similarity"] >= 85
    ev = finding.evidence[0]
    assert msg.text[ev.start : ev.end] == ev.text
    assert "refund" in ev.text and not ev.text.lower().startswith("hello")


@pytest.mark.parametrize(
    "again",
    [
        "注文番号４８２１３の返金が、まだ届いていません。本日中にカードへ返金をお願いします。",
        "こんにちは。\n注文番号48213の返金がまだ届いていません！今日中にカードへ返金してください！",
    ],
)
def test_japanese_rewording_is_compared_by_character(again: str) -> None:
    msg, findings = observe_pair(DEMAND_JA, again)
    finding = duplicate(findings)
    assert finding is not None
    assert finding.related == ["first"]
    ev = finding.evidence[0]
    assert msg.text[ev.start : ev.end] == ev.text


def test_ordinary_reply_in_the_thread_is_not_a_duplicate() -> None:
    _, findings = observe_pair(
        "My order 48213 arrived with a cracked screen. Can you send a replacement?",
        "Thanks for the quick answer. I attached the photos of the cracked screen you asked for. The order number is 48213.",
    )
    assert findings == []


def test_ordinary_japanese_reply_is_not_a_duplicate() -> None:
    _, findings = observe_pair(
        "注文番号48213の商品の画面が割れていました。交換をお願いできますか。",
        "ご連絡ありがとうございます。ご依頼の写真を添付しました。注文番号は48213です。",
    )
    assert findings == []


def test_reply_quoting_the_earlier_demand_is_judged_on_its_new_text() -> None:
    # Ingest moves the quote to Message.quoted; the new words are what is compared.
    _, findings = observe_pair(
        DEMAND_EN,
        "Thank you, the refund arrived this morning. Sorry for the trouble!",
        quoted=[DEMAND_EN],
    )
    assert duplicate(findings) is None


def test_quoted_lines_left_in_the_text_do_not_make_a_reply_a_duplicate() -> None:
    reply = "Thank you, the refund arrived this morning. Sorry for the trouble!\n\n" + "\n".join(
        "> " + line for line in DEMAND_EN.splitlines()
    )
    _, findings = observe_pair(DEMAND_EN, reply)
    assert duplicate(findings) is None


def test_same_demand_with_the_previous_message_quoted_below_is_a_duplicate() -> None:
    again = (
        "I still have not received the refund for order 48213! Send the money back to my card today.\n\n"
        "On Mon, Maria wrote:\n" + "\n".join("> " + line for line in DEMAND_EN.splitlines())
    )
    msg, findings = observe_pair(DEMAND_EN, again, quoted=[DEMAND_EN])
    finding = duplicate(findings)
    assert finding is not None
    ev = finding.evidence[0]
    assert msg.text[ev.start : ev.end] == ev.text


def test_a_short_demand_contained_in_a_longer_message_is_not_a_duplicate() -> None:
    # token_set_ratio would score this 100 (one text's words are a subset of the other's).
    _, findings = observe_pair(
        "I want a refund for order 48213.",
        "I want a refund for order 48213. Also the driver was rude, the box was wet and I waited three weeks for it.",
    )
    assert duplicate(findings) is None


def test_short_courtesies_are_never_duplicates() -> None:
    _, findings = observe_pair("Thank you!", "Thank you!")
    assert findings == []


def test_a_demand_older_than_the_lookback_is_not_a_duplicate() -> None:
    _, findings = observe_pair(DEMAND_EN, DEMAND_EN, gap=timedelta(days=31))
    assert duplicate(findings) is None


def test_third_repeat_is_also_persistent_contact() -> None:
    tracker = ContactTracker(MemoryMessageStore(), ContactSettings.load())
    out = [
        tracker.observe(Message(id=f"m{i}", text=DEMAND_EN, sender="maria@example.com", received_at=T0 + timedelta(days=i)), [])
        for i in range(3)
    ]
    assert [f.rule for f in out[1]] == ["contact.near_duplicate"]
    repeated = next(f for f in out[2] if f.rule == "contact.repeated_demand")
    assert repeated.category == "persistent_contact"
    assert repeated.related == ["m0", "m1"] and repeated.details["times"] == 3


def test_exact_repeat_is_found_after_the_old_text_was_purged() -> None:
    store = MemoryMessageStore()
    tracker = ContactTracker(store, ContactSettings.load())
    tracker.observe(Message(id="old", text=DEMAND_EN, sender="maria@example.com", received_at=T0), [])
    assert store.purge_text(T0 + timedelta(days=1)) == 1
    findings = tracker.observe(Message(id="new", text=DEMAND_EN, sender="maria@example.com", received_at=T0 + timedelta(days=2)), [])
    finding = duplicate(findings)
    assert finding is not None and finding.details["matches"][0]["method"] == "exact_hash"


def test_core_span_drops_greeting_signoff_and_quote() -> None:
    text = "Hello,\n\nWhere is my parcel?\nIt is late.\n\nBest regards,\nTom\n> old quoted line"
    start, end = core_span(text, ContactSettings.defaults().ignore_lines)
    assert text[start:end] == "Where is my parcel?\nIt is late."
    assert comparable(text, ContactSettings.defaults().ignore_lines) == "where is my parcel it is late"


def test_replies_read_by_ingest_compare_only_the_new_text() -> None:
    from gateway.ingest import message_from_text

    tracker = ContactTracker(MemoryMessageStore(), ContactSettings.load())
    demand = "注文番号48213の返金がまだ届いていません。今日中にカードへ返金してください。"
    first = message_from_text("j1", demand, sender="Taro <taro@example.jp>", received_at=T0)
    tracker.observe(first, [])
    thanks = message_from_text(
        "j2",
        "返金を確認しました。ありがとうございました。\n\n2026年4月1日 17:00 Taro <taro@example.jp>:\n> " + demand,
        sender="taro@example.jp", received_at=T0 + timedelta(hours=2),
    )
    assert thanks.quoted, "ingest kept the quote apart"
    assert duplicate(tracker.observe(thanks, [])) is None
    again = message_from_text(
        "j3",
        "注文番号48213の返金が、まだ届いていません！今日中にカードへ返金してください。\n\n"
        "2026年4月1日 17:00 Taro <taro@example.jp>:\n> " + demand,
        sender="TARO@example.jp", received_at=T0 + timedelta(hours=5),
    )
    finding = duplicate(tracker.observe(again, []))
    assert finding is not None and finding.related == ["j1"]
    ev = finding.evidence[0]
    assert again.text[ev.start : ev.end] == ev.text and ">" not in ev.text
