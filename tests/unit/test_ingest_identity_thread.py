"""Customer key, thread key, subject normalization and language guess."""

from __future__ import annotations

import pytest

from gateway.ingest import customer_key, guess_lang, ingest, message_from_text, normalize_subject
from gateway.errors import IngestError


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("Taro.Yamada+order123@Example.JP", "taro.yamada@example.jp"),
        ("  <Kim@Example.com> ", "kim@example.com"),
        ('"Kim, Lee" <Kim+x+y@example.com>', "kim@example.com"),
        ("mailto:Someone@Example.org", "someone@example.org"),
        ("+tag@example.org", "+tag@example.org"),
        ("not an address", "not an address"),
        ("", ""),
    ],
)
def test_customer_key(address, key):
    assert customer_key(address) == key


@pytest.mark.parametrize(
    ("subject", "normalized"),
    [
        ("Re: Where is my order?", "where is my order?"),
        ("RE: RE: Fwd: Where is my order?", "where is my order?"),
        ("FW: AW: Re[2]: Where is my order?", "where is my order?"),
        ("[#123] Re: Where is my order?", "where is my order?"),
        ("Re: [Ticket #40021] Where is my order?", "where is my order?"),
        ("返信: 転送: 注文について", "注文について"),
        ("Ｒｅ：　注文について", "注文について"),
        ("Refund: please", "refund: please"),
        ("", ""),
    ],
)
def test_normalize_subject(subject, normalized):
    assert normalize_subject(subject) == normalized


def raw(headers: str) -> bytes:
    return (headers + "From: a@example.net\r\nContent-Type: text/plain\r\n\r\nHello\r\n").encode("ascii")


def test_thread_key_prefers_references_then_in_reply_to_then_own_message_id_then_subject():
    assert ingest(raw("References: <root@x> <mid@x>\r\nIn-Reply-To: <mid@x>\r\nSubject: Re: A\r\n")).thread == "<root@x>"
    assert ingest(raw("In-Reply-To: <mid@x>\r\nSubject: Re: A\r\n")).thread == "<mid@x>"
    assert ingest(raw("Message-ID: <root@x>\r\nSubject: A\r\n")).thread == "<root@x>"
    # no Message-ID (the id is a content hash nothing can refer to): the subject names the thread
    assert ingest(raw("Subject: RE: [#9] Broken lid\r\n")).thread == "subject:broken lid"


def test_first_message_and_its_replies_share_one_thread():
    first = ingest(raw("Subject: Broken lid\r\nMessage-ID: <1@x>\r\n"))
    reply = ingest(raw("Subject: Re: Broken lid\r\nMessage-ID: <2@x>\r\nIn-Reply-To: <1@x>\r\n"
                       "References: <1@x>\r\n"))
    later = ingest(raw("Subject: Re: Re: Broken lid\r\nMessage-ID: <4@x>\r\nIn-Reply-To: <3@x>\r\n"
                       "References: <1@x> <2@x> <3@x>\r\n"))
    parent_only = ingest(raw("Subject: Re: Broken lid\r\nMessage-ID: <5@x>\r\nIn-Reply-To: <1@x>\r\n"))
    assert first.thread == reply.thread == later.thread == parent_only.thread == "<1@x>"


def test_fresh_mails_repeating_a_subject_are_separate_threads_of_one_customer():
    one = ingest(raw("Subject: Refund now\r\nMessage-ID: <a@x>\r\n"))
    two = ingest(raw("Subject: Refund now\r\nMessage-ID: <b@x>\r\n"))
    other = ingest(raw("Subject: Refund now\r\nMessage-ID: <c@x>\r\n").replace(b"a@example.net", b"z@example.net"))
    assert one.thread != two.thread and one.sender == two.sender  # grouped per customer, not per subject
    assert other.thread not in (one.thread, two.thread)  # nor with a stranger's everyday subject


def test_id_is_message_id_else_content_hash():
    with_id = ingest(raw("Message-ID: <abc@example.net>\r\n"))
    assert with_id.id == "<abc@example.net>"
    without = ingest(raw("Subject: x\r\n"))
    assert without.id == without.content_hash and without.id.startswith("sha256:")
    assert ingest(raw("Subject: x\r\n")).id == without.id  # re-delivery gives the same id
    malformed = ingest(raw("Message-ID: no brackets here\r\n"))
    assert malformed.id == malformed.content_hash
    assert any("malformed Message-ID" in w for w in malformed.warnings)


def test_date_header_absent_or_unreadable_gives_none():
    assert ingest(raw("Subject: x\r\n")).received_at is None
    bad = ingest(raw("Date: yesterday-ish\r\n"))
    assert bad.received_at is None
    assert any("unreadable Date" in w for w in bad.warnings)


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("Where is my order? I paid two weeks ago.", "en"),
        ("注文した商品がまだ届きません。", "ja"),
        ("iPhone 15 Pro の修理について、Apple Store で確認しました。", "ja"),
        ("Your order ABC-123 has shipped (配送)", "en"),
        ("", "en"),
        ("ｶﾀｶﾅ ﾃﾞｽ", "ja"),
    ],
)
def test_guess_lang(text, lang):
    assert guess_lang(text) == lang


def test_message_from_text_for_classify_lines_and_helpdesk_comments():
    message = message_from_text(
        "c-1", "<p>Where is it?</p><blockquote>Earlier agent reply</blockquote>",
        sender="Kim+zd@Example.com", subject="Re: [#77] Order", received_at="2024-01-08T09:00:00Z", html=True,
        source="zendesk", external={"ticket": 77},
    )
    assert message.text == "Where is it?"
    assert message.quoted == ["> Earlier agent reply"]
    assert message.sender == "kim@example.com"
    assert message.thread == "subject:order"
    assert message.received_at.isoformat() == "2024-01-08T09:00:00+00:00"
    assert message.lang == "en"
    assert message.external == {"ticket": 77}
    assert message_from_text("c-2", "返金して", lang=None).lang == "ja"
    assert message_from_text("c-3", "hello", lang="ja").lang == "ja"
    assert message_from_text("c-4", "hello", thread="t-9").thread == "t-9"


def test_message_from_text_rejects_bad_input_with_ingest_error():
    with pytest.raises(IngestError, match="ISO 8601"):
        message_from_text("x", "hi", received_at="next tuesday")
    with pytest.raises(IngestError):
        message_from_text("", "hi")
    with pytest.raises(IngestError):
        message_from_text("x", None)  # type: ignore[arg-type]
