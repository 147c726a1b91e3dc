"""Raw messages shaped like real clients (tests/data/mail/*.eml) read into the expected clean text."""

from __future__ import annotations

from datetime import datetime, timezone
from email import message_from_bytes
from email.policy import compat32
from pathlib import Path

import pytest

from gateway.ingest import automated_reason, ingest, message_from_text
from gateway.model import Attachment

MAIL = Path(__file__).resolve().parent.parent / "data" / "mail"


def read(name: str):
    return ingest((MAIL / name).read_bytes())


# file, decoder, lang, clean text
EXPECTED_TEXT = [
    (
        "gmail_reply.eml", "utf-8", "en",
        "Hi,\n\nThe replacement kettle arrived today but it has the same crack in the lid.\n"
        "Could you send a prepaid return label, please?\n\nThanks,\nDana",
    ),
    (
        "gmail_reply_ja.eml", "utf-8", "ja",
        "サポートご担当者様\n\nお世話になっております。\n商品はまだ届いていません。配送状況を確認していただけますか。\n\n"
        "よろしくお願いいたします。\n佐藤",
    ),
    (
        "outlook_reply.eml", "us-ascii", "en",
        "Hello,\n\nI still have not received the refund you promised on 2 January. Please confirm the date it "
        "will be paid.\n\nRegards,\nMartin Keller",
    ),
    (
        "outlook_ja_html.eml", "cp50220", "ja",
        "Acme株式会社\u3000ご担当者様\n\n返品の手続きについて、①返送先の住所と②返金の時期を教えてください。\n\n髙橋",
    ),
    ("apple_mail.eml", "utf-8", "en", "Still broken. I would like a call back today, please."),
    ("apple_mail_ja.eml", "utf-8", "ja", "確認しました。明日もう一度試します。"),
    (
        "carrier_iso2022jp.eml", "cp50220", "ja",
        "お世話になります。\n注文番号①と②の商品が届きません。\n㈱アクメの髙橋様からの連絡もありません。\n至急確認してください。",
    ),
    ("sjis_mislabeled_iso2022jp.eml", "cp932", "ja", "返金はいつになりますか。①の商品は未開封です。\n高田"),
    ("eucjp.eml", "euc-jp", "ja", "いつもお世話になっております。\n請求書の再発行をお願いできますでしょうか。"),
    ("latin1.eml", "iso-8859-1", "en", "Bonjour,\n\nMa commande n'est pas arrivée. Merci de vérifier.\n\nRenée Lefèvre"),
    ("windows1252.eml", "windows-1252", "en", "I was charged €49 twice — that’s “unacceptable”. Please fix it."),
    ("rfc2047_subjects.eml", "utf-8", "en", "Necesito cambiar la dirección de entrega."),
    (
        "html_only.eml", "utf-8", "en",
        "Contact form submission\n\nName: Lee Morgan\nOrder: 40077\n\nThe charger & cable don't fit – I need a UK "
        'plug.\n\n- Model: X200\n- Bought: "last week"\n\nPriority normal',
    ),
    ("forwarded_chain.eml", "utf-8", "en", "This is the third time I am sending this. Please answer."),
    ("forward_as_attachment.eml", "us-ascii", "en", "See my original claim attached."),
    ("auto_reply.eml", "us-ascii", "en", "I am out of the office until 22 January with limited access to email."),
    ("lying_charset.eml", "windows-1252", "en", "Die Lieferung ist beschädigt. Grüße, Zoë"),
    ("unknown_charset.eml", "utf-8", "en", "Prosím o fakturu. Děkuji."),
    ("attachments.eml", "utf-8", "en", "The box arrived crushed. Photo and invoice attached."),
    ("outlook_original_message.eml", "us-ascii", "en", "Please cancel my subscription from next month.\n\nBest,\nOmar"),
    (
        "outlook_original_message_ja.eml", "cp932", "ja",
        "お世話になっております。\n先日の件、担当の方から折り返しのお電話をお願いします。",
    ),
    ("thunderbird_ja.eml", "utf-8", "ja", "回答ありがとうございます。\nでは来週までに交換品を送ってください。"),
]


def test_every_corpus_file_has_an_expectation():
    assert {p.name for p in MAIL.glob("*.eml")} == {row[0] for row in EXPECTED_TEXT} | {"bounce.eml"}


@pytest.mark.parametrize(("name", "decoder", "lang", "text"), EXPECTED_TEXT, ids=[r[0] for r in EXPECTED_TEXT])
def test_clean_text_decoder_and_language(name, decoder, lang, text):
    message = read(name)
    assert message.text == text
    assert message.decoder == decoder
    assert message.lang == lang
    assert message.content_hash.startswith("sha256:") and len(message.content_hash) == 7 + 64


def test_carrier_mail_with_circled_digits_decodes_subject_split_over_encoded_words():
    raw = (MAIL / "carrier_iso2022jp.eml").read_bytes()
    body = raw.split(b"\r\n\r\n", 1)[1]
    assert b"-!" in body  # ① is NEC row 13 (JIS 0x2D21), which Python's own codec refuses:
    with pytest.raises(UnicodeDecodeError):
        body.decode("iso2022_jp")
    message = ingest(raw)
    assert message.subject == "①②の注文について"
    assert message.display_name == "三浦恵子"
    assert message.sender == "keiko-m.0312@docomo.example.ne.jp"
    assert message.warnings == []


def test_shift_jis_labeled_iso_2022_jp_is_decoded_with_a_warning():
    message = read("sjis_mislabeled_iso2022jp.eml")
    assert message.warnings == ["body: charset 'ISO-2022-JP' does not match the bytes; decoded as cp932"]
    assert message.subject == "返金について"


def test_lying_and_unknown_charsets_are_recorded_as_warnings():
    assert read("lying_charset.eml").warnings == [
        "body: charset 'utf-8' does not match the bytes; decoded as windows-1252"
    ]
    assert read("unknown_charset.eml").warnings == ["body: unknown charset 'x-mac-unheard-of'; decoded as utf-8"]


def test_rfc2047_b_and_q_words_in_subject_from_and_reply_to():
    message = read("rfc2047_subjects.eml")
    assert message.subject == "Re: Αλλαγή de dirección and plain words ¿Ayuda?"
    assert message.display_name == "José Martínez"
    assert message.reply_to == "jose+replies@example.es"
    assert message.headers["reply-to"] == "José <jose+replies@example.es>"
    assert read("latin1.eml").subject == "Commande non reçue"
    assert read("eucjp.eml").subject == "請求書の再発行"
    assert read("outlook_original_message_ja.eml").subject == "RE: お問い合わせの件"


def test_gmail_reply_identity_thread_and_quoted_history():
    message = read("gmail_reply.eml")
    assert message.id == "<CAJ8x1=second+abc@mail.example.net>"
    assert message.message_id == message.id
    assert message.sender == "dana.whitfield@example.net"
    assert message.sender_address == "Dana.Whitfield+orders@example.net"
    assert message.display_name == "Dana Whitfield"
    assert message.thread == "<CAJ8x1=first@mail.example.net>"
    assert message.in_reply_to == "<reply-8812@example.com>"
    assert message.references == ["<CAJ8x1=first@mail.example.net>", "<reply-8812@example.com>"]
    assert message.received_at == datetime(2024, 1, 8, 9, 12, 44, tzinfo=timezone.utc)
    assert message.quoted[0] == "-- \nDana Whitfield\n+1 555 0100"
    assert message.quoted[1].startswith("On Fri, Jan 5, 2024 at 4:02\u202fPM Acme Support <support@example.com>\nwrote:")
    assert "> We are sorry to hear about the kettle." in message.quoted[1]
    assert len(message.quoted) == 2


def test_received_at_is_converted_to_utc():
    message = read("carrier_iso2022jp.eml")
    assert message.received_at == datetime(2024, 1, 8, 22, 40, 58, tzinfo=timezone.utc)
    assert message.received_at.tzinfo is timezone.utc


def _html_part(name: str) -> str:
    msg = message_from_bytes((MAIL / name).read_bytes(), policy=compat32)
    part = next(p for p in msg.walk() if p.get_content_type() == "text/html")
    return part.get_payload(decode=True).decode(part.get_content_charset())


@pytest.mark.parametrize("name", ["gmail_reply.eml", "outlook_reply.eml", "apple_mail.eml"])
def test_html_alternative_gives_the_same_clean_text_as_the_plain_part(name):
    plain = read(name).text
    assert message_from_text("x", _html_part(name), html=True).text == plain


def test_outlook_header_block_quote_is_removed_and_kept():
    message = read("outlook_reply.eml")
    assert len(message.quoted) == 1
    assert message.quoted[0].startswith("From: Acme Support <support@example.com>")
    assert "Your refund has been approved" in message.quoted[0]
    ja = read("outlook_ja_html.eml")
    assert ja.quoted[0].startswith("差出人: Acme サポート <support@example.com>\n送信日時: 2024年1月5日 16:02")
    assert "返品を承りました。" in ja.quoted[0]


def test_original_message_separators_in_english_and_japanese():
    assert read("outlook_original_message.eml").quoted[0].startswith("-----Original Message-----\nFrom: Acme Billing")
    assert read("outlook_original_message_ja.eml").quoted[0].startswith("-----元のメッセージ-----\n差出人: Acme サポート")


def test_japanese_attribution_lines_go_with_their_quote():
    assert read("gmail_reply_ja.eml").quoted == [
        "2024年1月5日(金) 16:02 Acme サポート <support@example.com>:\n\n> 佐藤様\n>\n"
        "> お問い合わせありがとうございます。\n> 本日発送いたしました。\n>"
    ]
    assert read("thunderbird_ja.eml").quoted == [
        "Acme サポート さんは書きました:\n> 交換品の発送には一週間ほどかかります。\n> ご了承ください。"
    ]
    assert read("apple_mail_ja.eml").quoted == [
        "iPhoneから送信",
        "2024/01/17 10:00、Acme サポート <support@example.com>のメール:\n\n> 再起動をお試しください。",
    ]


def test_apple_mail_device_footer_and_quoted_attribution():
    message = read("apple_mail.eml")
    assert message.quoted[0] == "Sent from my iPhone"
    assert message.quoted[1].startswith("> On Jan 5, 2024, at 16:02, Acme Support <support@example.com> wrote:")


def test_forwarded_chain_keeps_only_the_new_comment():
    message = read("forwarded_chain.eml")
    assert len(message.quoted) == 1
    assert message.quoted[0].startswith("---------- Forwarded message ---------\nFrom: Alex Chen")
    assert "My blender stopped working after two months." in message.quoted[0]
    assert message.thread == "<CAFwd-3@mail.example.com>"  # a new conversation: its own Message-ID


def test_forward_as_attachment_is_listed_and_its_text_kept_aside():
    message = read("forward_as_attachment.eml")
    assert message.attachments == [Attachment("Warranty claim.eml", "message/rfc822", 282)]
    assert message.quoted == ["My blender stopped working after two months. I would like a warranty repair."]


def test_attachments_are_listed_not_parsed():
    message = read("attachments.eml")
    assert message.attachments == [
        Attachment("請求書.pdf", "application/pdf", 92),
        Attachment("写真.png", "image/png", 70),
    ]
    assert "PDF" not in message.text


def test_bounce_reads_the_human_part_and_is_automated():
    message = read("bounce.eml")
    assert message.text.startswith("This is the mail system at host mx.example.com.")
    assert message.text.endswith("<nobody@example.org>: host mx.example.org said: 550 5.1.1 User unknown")
    assert [a.content_type for a in message.attachments] == ["message/delivery-status", "text/rfc822-headers"]
    assert "Final-Recipient" not in message.text
    assert automated_reason(message) == "Auto-Submitted: auto-replied"
    assert message.sender == "mailer-daemon@mx.example.com"


def test_auto_reply_is_automated_and_a_customer_reply_is_not():
    assert automated_reason(read("auto_reply.eml")) == "Auto-Submitted: auto-replied"
    assert automated_reason(read("gmail_reply.eml")) is None
    assert automated_reason(read("html_only.eml")) is None


def test_web_form_from_no_reply_is_keyed_by_reply_to():
    message = read("html_only.eml")
    assert message.sender == "lee.morgan@example.co.uk"
    assert message.sender_address == "no-reply@forms.example.com"
    assert message.reply_to == "lee.morgan@example.co.uk"
