"""Quoted history, forwards and signatures are removed from the text detection reads, and kept."""

from __future__ import annotations

from gateway.ingest import ingest, strip_quoted


def raw(body: str, charset: str = "utf-8", subject: str = "Re: order") -> bytes:
    head = (
        "From: Customer <customer@example.net>\r\nTo: support@example.com\r\n"
        f"Subject: {subject}\r\nMessage-ID: <q-test@example.net>\r\n"
        f"Content-Type: text/plain; charset={charset}\r\n\r\n"
    )
    return head.encode("ascii") + body.replace("\n", "\r\n").encode(charset)


def test_bottom_posted_reply_keeps_text_between_and_after_quotes():
    message = ingest(raw(
        "On Tue, 9 Jan 2024 10:00, Acme Support wrote:\n> Which colour did you order?\n\nBlue.\n\n"
        "> And the size?\n\nLarge, please.\n"
    ))
    assert message.text == "Blue.\n\nLarge, please."
    assert message.quoted == [
        "On Tue, 9 Jan 2024 10:00, Acme Support wrote:\n> Which colour did you order?",
        "> And the size?",
    ]


def test_top_posted_reply_with_unprefixed_history_cuts_at_the_attribution():
    message = ingest(raw("Thanks, that works.\n\nOn Mon, Jan 8, 2024 at 9:00 AM Acme <a@example.com> wrote:\nTry again.\n"))
    assert message.text == "Thanks, that works."
    assert message.quoted == ["On Mon, Jan 8, 2024 at 9:00 AM Acme <a@example.com> wrote:\nTry again."]


def test_german_attribution_line():
    message = ingest(raw("Danke.\n\nAm 08.01.2024 um 09:00 schrieb Acme Support:\n> Bitte neu starten.\n"))
    assert message.text == "Danke."


def test_gmail_japanese_attribution_wrapped_over_two_lines():
    message = ingest(raw(
        "了解しました。\n\n2024年1月8日(月) 9:00 Acme サポート <\nsupport@example.com>:\n\n> 再起動してください。\n"
    ))
    assert message.text == "了解しました。"
    assert message.quoted == ["2024年1月8日(月) 9:00 Acme サポート <\nsupport@example.com>:\n\n> 再起動してください。"]


def test_san_wa_kakimashita_attribution_in_iso_2022_jp_mail():
    message = ingest(raw("交換をお願いします。\n\nサポート さんは書きました:\n> 在庫を確認します。\n", charset="iso-2022-jp"))
    assert message.text == "交換をお願いします。"
    assert message.decoder == "iso-2022-jp"
    assert message.quoted == ["サポート さんは書きました:\n> 在庫を確認します。"]


def test_signature_after_dash_dash_space_is_removed():
    message = ingest(raw("Please call me back.\n\n-- \nKim Lee\nHead of Purchasing, Example Ltd\n"))
    assert message.text == "Please call me back."
    assert message.quoted == ["-- \nKim Lee\nHead of Purchasing, Example Ltd"]


def test_outlook_header_block_after_underscore_rule_in_plain_text():
    message = ingest(raw(
        "Fine, go ahead.\n\n________________________________\nFrom: Acme <support@example.com>\n"
        "Sent: Monday, January 8, 2024 9:00 AM\nTo: Kim Lee <kim@example.net>\nSubject: Your order\n\nOld text.\n"
    ))
    assert message.text == "Fine, go ahead."
    assert message.quoted[0].startswith("________________________________\nFrom: Acme")


def test_outlook_japanese_header_block_in_shift_jis():
    message = ingest(raw(
        "承知しました。\n\n差出人: Acme サポート <support@example.com>\n送信日時: 2024年1月8日 9:00\n"
        "宛先: 木村 <kimura@example.jp>\n件名: ご注文について\n\n以前の本文\n", charset="shift_jis",
    ))
    assert message.text == "承知しました。"
    assert message.decoder == "cp932"
    assert message.quoted[0].startswith("差出人: Acme サポート")


def test_original_message_separator_in_japanese():
    message = ingest(raw("再送します。\n\n-----元のメッセージ-----\n差出人: 私\n件名: 注文\n\n前回の本文\n"))
    assert message.text == "再送します。"
    assert message.quoted == ["-----元のメッセージ-----\n差出人: 私\n件名: 注文\n\n前回の本文"]


def test_apple_and_thunderbird_forward_markers():
    apple = ingest(raw("FYI\n\nBegin forwarded message:\n\nFrom: Acme <a@example.com>\nSubject: Invoice\n\nPay now.\n"))
    assert apple.text == "FYI"
    thunderbird = ingest(raw("転送します。\n\n-------- 転送メッセージ --------\n件名: 請求書\n\n支払ってください。\n"))
    assert thunderbird.text == "転送します。"
    assert thunderbird.quoted[0].startswith("-------- 転送メッセージ --------")


def test_everything_quoted_leaves_empty_text_and_keeps_it_all():
    message = ingest(raw("> I want a refund.\n> Now.\n"))
    assert message.text == ""
    assert message.quoted == ["> I want a refund.\n> Now."]


def test_customer_words_that_look_like_markers_are_kept():
    text = (
        "From: my account page I could not order.\n"
        "2024年1月8日に注文した商品について:\n"
        "- the lid is cracked\n"
        "Today: still no answer.\n"
        "On Monday I called twice.\n"
    )
    clean, quoted = strip_quoted(text)
    assert clean == text.strip()
    assert quoted == []


def test_device_footer_is_removed_in_both_languages():
    assert strip_quoted("Call me.\n\nSent from my iPhone")[0] == "Call me."
    assert strip_quoted("電話ください。\n\niPhoneから送信")[0] == "電話ください。"


def test_format_flowed_soft_breaks_are_joined_before_quotes_are_removed():
    head = (
        b"From: Customer <customer@example.net>\r\nSubject: Re: x\r\n"
        b"Content-Type: text/plain; charset=utf-8; format=flowed\r\n\r\n"
    )
    body = (
        b"I will come to your \r\noffice tomorrow and \r\nmake you pay.\r\n\r\n"
        b"On Mon, 8 Jan 2024, Acme wrote:\r\n> we are sorry \r\n> for the delay\r\n"
    )
    message = ingest(head + body)
    assert message.text == "I will come to your office tomorrow and make you pay."
    assert message.quoted == ["On Mon, 8 Jan 2024, Acme wrote:\n> we are sorry for the delay"]


def test_text_long_after_a_signature_marker_is_still_read():
    filler = "\n".join(f"line {k}" for k in range(8))
    message = ingest(raw(f"Hello.\n-- \n{filler}\nI know where you live.\n"))
    assert message.text.endswith("I know where you live.")
    assert message.quoted == ["-- \n" + filler]


def test_signature_followed_by_quoted_history():
    message = ingest(raw("Thanks.\n\n-- \nKim\n\nOn Mon, 8 Jan 2024 Acme wrote:\n> old\n"))
    assert message.text == "Thanks."
    assert message.quoted == ["-- \nKim", "On Mon, 8 Jan 2024 Acme wrote:\n> old"]
