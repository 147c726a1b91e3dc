"""The decoder fallback chain: the label when the bytes agree, else what the bytes are, with a warning."""

from __future__ import annotations

import pytest

from gateway.ingest import decode_bytes
from gateway.ingest.charset import canonical_charset, decode_cp50220
from gateway.ingest.headers import decode_header_value

# JIS X 0208 as Microsoft's CP50220 writes it, made by hand: ESC $ B, JIS row/cell pairs, ESC ( B.
CIRCLED_ONE_TWO = b"\x1b$B-!-\"\x1b(B"  # ①② (NEC row 13)
TAKAHASHI = b"\x1b$B|b66\x1b(B"  # 髙橋 (髙 is an NEC-selected IBM kanji, row 92)
HALF_WIDTH_KANA = b"\x1b(I12\x1b(B"  # ｱｲ (JIS X 0201 katakana)


def test_plain_iso_2022_jp_uses_the_standard_codec():
    decoded = decode_bytes("日本語のメール".encode("iso2022_jp"), "ISO-2022-JP")
    assert (decoded.text, decoded.decoder, decoded.warning) == ("日本語のメール", "iso-2022-jp", None)


def test_microsoft_extensions_fall_back_to_cp50220():
    for raw, text in ((CIRCLED_ONE_TWO, "①②"), (TAKAHASHI, "髙橋"), (HALF_WIDTH_KANA, "ｱｲ")):
        decoded = decode_bytes(b"No." + raw, "iso-2022-jp")
        assert decoded.text == "No." + text
        assert decoded.decoder == "cp50220"
        assert decoded.warning is None


def test_cp50220_passes_line_breaks_left_inside_a_double_byte_run():
    assert decode_cp50220(b"\x1b$B$\"\r\n$$\x1b(B") == "あ\r\nい"


def test_cp50220_refuses_garbage_strictly_and_replaces_on_request():
    with pytest.raises(UnicodeDecodeError):
        decode_cp50220(b"\x1b$B\x7f\x7f\x1b(B")
    assert decode_cp50220(b"ok\x1b$B\x7f\x7f\x1b(B", errors="replace") == "ok\ufffd\ufffd"


def test_raw_shift_jis_labeled_iso_2022_jp_is_read_as_cp932():
    decoded = decode_bytes("①の返金をお願いします".encode("cp932"), "iso-2022-jp")
    assert decoded.text == "①の返金をお願いします"
    assert decoded.decoder == "cp932"
    assert "does not match the bytes" in decoded.warning


def test_shift_jis_label_decodes_with_cp932_superset():
    decoded = decode_bytes("髙橋①".encode("cp932"), "Shift_JIS")
    assert (decoded.text, decoded.decoder, decoded.warning) == ("髙橋①", "cp932", None)


def test_euc_jp_mislabeled_as_ascii_is_told_from_shift_jis_by_its_kana():
    decoded = decode_bytes("配送状況を確認してください".encode("euc_jp"), "us-ascii")
    assert decoded.text == "配送状況を確認してください"
    assert decoded.decoder == "euc-jp"
    assert decoded.warning == "body: charset 'us-ascii' does not match the bytes; decoded as euc-jp"


def test_euc_jp_with_nec_row_13_uses_jis_x_0213_table():
    decoded = decode_bytes(b"\xad\xa1" + "です".encode("euc_jp"), "euc-jp")
    assert decoded.text == "①です"
    assert decoded.decoder == "euc-jis-2004"


def test_iso_8859_1_label_with_c1_bytes_is_windows_1252():
    assert decode_bytes(b"caf\xe9", "ISO-8859-1").decoder == "iso-8859-1"
    decoded = decode_bytes(b"\x93quoted\x94 \x80", "iso-8859-1")
    assert (decoded.text, decoded.decoder) == ("\u201cquoted\u201d \u20ac", "windows-1252")


def test_utf8_label_on_latin_bytes_is_sniffed_with_a_warning():
    decoded = decode_bytes("naïve café".encode("cp1252"), "utf-8")
    assert decoded.text == "naïve café"
    assert decoded.decoder == "windows-1252"
    assert decoded.warning == "body: charset 'utf-8' does not match the bytes; decoded as windows-1252"


def test_unknown_charset_label_is_sniffed_with_a_warning():
    decoded = decode_bytes("Grüße".encode("utf-8"), "x-klingon")
    assert (decoded.text, decoded.decoder) == ("Grüße", "utf-8")
    assert decoded.warning == "body: unknown charset 'x-klingon'; decoded as utf-8"


def test_bytes_no_decoder_fits_decode_with_replacement_and_a_warning():
    data = bytes(range(0x80, 0x100)) * 2
    decoded = decode_bytes(data, "utf-8")
    assert decoded.decoder == "utf-8+replace"
    assert "\ufffd" in decoded.text
    assert "replacement characters" in decoded.warning


def test_ascii_text_under_any_ascii_compatible_label_is_not_a_warning():
    for label in ("us-ascii", "utf-8", "iso-2022-jp", "shift_jis", "windows-1252", None):
        decoded = decode_bytes(b"Where is my order?", label)
        assert decoded.text == "Where is my order?"
        assert decoded.warning is None


def test_label_aliases_mail_clients_write():
    assert canonical_charset('"x-sjis"') == "cp932"
    assert canonical_charset("ks_c_5601-1987") == "cp949"
    assert canonical_charset("UTF8") == "utf-8"
    assert canonical_charset("latin1") == "iso-8859-1"
    assert canonical_charset("unknown-8bit") == ""


def test_encoded_words_b_q_and_adjacent_words_sharing_a_split_character():
    assert decode_header_value("=?UTF-8?B?5pel?= =?UTF-8?B?5pys6Kqe?=") == "日本語"
    # "日" is e6 97 a5: an encoder split it over two words; the bytes are joined before decoding
    assert decode_header_value("=?utf-8?Q?=E6=97?= =?utf-8?Q?=A5?=") == "日"
    assert decode_header_value("=?iso-8859-1?q?Caf=E9_ouvert?= today") == "Café ouvert today"
    assert decode_header_value("=?ISO-2022-JP?B?GyRCLSEbKEI=?=") == "①"


def test_raw_8bit_header_bytes_are_decoded_and_noted():
    warnings: list[str] = []
    raw_sjis = "返金".encode("cp932").decode("ascii", "surrogateescape")
    assert decode_header_value(f"Re: {raw_sjis}", "subject", warnings) == "Re: 返金"
    assert warnings == ["subject: raw 8-bit header decoded as cp932"]


def test_malformed_encoded_word_is_kept_with_a_warning():
    warnings: list[str] = []
    assert decode_header_value("=?utf-8?B?####?=", "subject", warnings) == "=?utf-8?B?####?="
    assert warnings == ["subject: malformed encoded word kept as written"]


def test_folded_header_is_unfolded():
    assert decode_header_value("Where is\r\n my order") == "Where is my order"


@pytest.mark.parametrize("label", ["base64", "hex", "rot13", "idna", "unicode_escape", "undefined"])
def test_python_codecs_that_are_not_charsets_count_as_unknown(label):
    decoded = decode_bytes("Grüße".encode("utf-8"), label)
    assert (decoded.text, decoded.decoder) == ("Grüße", "utf-8")
    assert decoded.warning == f"body: unknown charset {label!r}; decoded as utf-8"


def test_utf8_under_a_latin1_label_is_read_as_utf8_with_a_warning():
    decoded = decode_bytes("Grüße, Zoë".encode("utf-8"), "iso-8859-1")
    assert (decoded.text, decoded.decoder) == ("Grüße, Zoë", "utf-8")
    assert decoded.warning == "body: charset 'iso-8859-1' does not match the bytes; decoded as utf-8"


def test_malformed_encoded_word_with_raw_8bit_bytes_is_still_text():
    raw_word = "=?UTF-8?B?\udcf0p2+5pys?="  # an 8-bit byte inside the word, as the parser hands it on
    value = decode_header_value(raw_word, "from", [])
    value.encode("utf-8")  # no lone surrogates left
    assert value.startswith("=?UTF-8?B?") and value.endswith("p2+5pys?=")
