"""Single-part text mail read straight from its bytes (``simple_body``) gives exactly the Message the
standard parser and ``extract_body`` give, and steps aside for every part it does not handle."""

from __future__ import annotations

import base64
import quopri

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.ingest.fastparse import split_head
from gateway.ingest.limits import DEFAULT_LIMITS
from gateway.ingest.mime import simple_body
from tests.ingest_paths import ingest_both
from tests.ingest_paths import read as _read

HEAD = b"From: Ann <ann@example.org>\nTo: support@example.com\nSubject: Order 7\nMessage-ID: <m1@example.org>\n"


def took_direct(raw: bytes) -> bool:
    head = split_head(raw)
    return head is not None and simple_body(head.first, raw[head.body_start:], DEFAULT_LIMITS) is not None


TAKEN = {
    "no content-type": HEAD + b"\nPlain words, nothing declared.\n",
    "utf-8 8bit": HEAD + b"Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n"
    + "返金してください。今すぐに。\n".encode(),
    "quoted charset, upper case": HEAD + b'Content-Type: TEXT/PLAIN; CHARSET="ISO-8859-1"\n\ncaf\xe9 ferm\xe9\n',
    "quoted-printable soft breaks": HEAD + b"Content-Type: text/plain; charset=utf-8\n"
    b"Content-Transfer-Encoding: quoted-printable\n\nThis line is long and it is wr=\napped =E2=80=94 and =3D kept\n",
    "quoted-printable, bad escape": HEAD + b"Content-Transfer-Encoding: Quoted-Printable\n\nhalf =ZZ escape =\n",
    "base64 without padding": HEAD + b"Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\n"
    + base64.b64encode("もう三回目の連絡です".encode()).rstrip(b"=") + b"\n",
    "base64 with junk": HEAD + b"Content-Transfer-Encoding: base64\n\nSGVsbG8g!!d29y\nbGQ=\n",
    "base64 split over lines, CRLF": (HEAD + b"Content-Transfer-Encoding: base64\n\n").replace(b"\n", b"\r\n")
    + b"\r\n".join(base64.encodebytes(b"I will keep calling until someone answers. " * 4).splitlines()) + b"\r\n",
    "html": HEAD + b"Content-Type: text/html; charset=utf-8\n\n<p>You <b>idiots</b> &amp; your&nbsp;refunds</p>\n",
    "inline disposition": HEAD + b"Content-Disposition: inline\n\nHello there\n",
    "shift_jis": HEAD + b"Content-Type: text/plain; charset=Shift_JIS\n\n" + "担当者を出せ".encode("shift_jis") + b"\n",
    "unknown charset": HEAD + b"Content-Type: text/plain; charset=x-nothing\n\nhello\n",
    "empty body": HEAD + b"\n",
    "blank body": HEAD + b"Content-Type: text/plain\n\n \n\n",
    "identity 7bit": HEAD + b"Content-Transfer-Encoding: 7BIT\n\nok\n",
    "unknown encoding": HEAD + b"Content-Transfer-Encoding: x-weird\n\nkept as it is\n",
}

STEPS_ASIDE = {
    "attachment": HEAD + b"Content-Type: text/plain\nContent-Disposition: attachment; filename=a.txt\n\nfile\n",
    "RFC 2231 charset": HEAD + b"Content-Type: text/plain; charset*=utf-8''utf-8\n\nhello\n",
    "uuencode": HEAD + b"Content-Transfer-Encoding: x-uuencode\n\nbegin 644 a\n#86)C\n`\nend\n",
    "8-bit content-type": HEAD + "Content-Type: text/plain; name=\"é\"\n\nhello\n".encode(),
    "not text": HEAD + b"Content-Type: application/pdf\n\n%PDF\n",
    "multipart": HEAD + b"Content-Type: multipart/alternative; boundary=b\n\n--b\n\nhi\n--b--\n",
    "message/rfc822": HEAD + b"Content-Type: message/rfc822\n\nFrom: x@example.org\n\nhi\n",
    "continuation first": b" folded\n" + HEAD + b"\nhi\n",
}


@pytest.mark.parametrize("raw", TAKEN.values(), ids=TAKEN.keys())
def test_single_part_text_is_read_directly_and_the_same(raw: bytes) -> None:
    assert took_direct(raw)
    fast, std = ingest_both(raw)
    assert fast == std


@pytest.mark.parametrize("raw", STEPS_ASIDE.values(), ids=STEPS_ASIDE.keys())
def test_other_parts_go_the_general_way_and_read_the_same(raw: bytes) -> None:
    assert not took_direct(raw)
    fast, std = ingest_both(raw)
    assert fast == std


def test_the_direct_reading_decodes_what_the_customer_wrote() -> None:
    """Not only the same as the general path: right. The quoted-printable and base64 bodies say
    what was encoded."""
    qp = _read(TAKEN["quoted-printable soft breaks"])
    assert qp.text == "This line is long and it is wrapped — and = kept"  # type: ignore[attr-defined]
    b64 = _read(TAKEN["base64 without padding"])
    assert b64.text == "もう三回目の連絡です"  # type: ignore[attr-defined]
    html = _read(TAKEN["html"])
    assert "idiots & your" in html.text  # type: ignore[attr-defined]


_texts = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=120)
_ctes = st.sampled_from(["", "7bit", "8bit", "binary", "quoted-printable", "base64", "BASE64", "x-uuencode"])
_ctypes = st.sampled_from(["", "text/plain", "text/html", "text/plain; charset=utf-8", 'text/html; charset="utf-8"',
                           "text/plain; charset=iso-2022-jp", "text/plain; format=flowed; charset=us-ascii",
                           "text/plain; charset*=utf-8''utf-8", "text/plain;charset=shift_jis", "image/png"])
_dispositions = st.sampled_from(["", "inline", "attachment", 'inline; filename="x.txt"'])


def _encode(text: str, cte: str, charset: str) -> bytes:
    try:
        data = text.encode(charset)
    except (UnicodeEncodeError, LookupError):
        data = text.encode("utf-8")
    if cte.lower() == "base64":
        return base64.encodebytes(data)
    if cte == "quoted-printable":
        return quopri.encodestring(data)
    return data


@settings(max_examples=400, deadline=2000, derandomize=True, database=None)
@given(text=_texts, cte=_ctes, ctype=_ctypes, disposition=_dispositions, eol=st.sampled_from(["\n", "\r\n"]),
       damage=st.sampled_from([b"", b"=", b"==\n", b"=4", b"!", b"\xff"]))
def test_generated_single_part_mail_reads_the_same_either_way(text: str, cte: str, ctype: str, disposition: str,
                                                              eol: str, damage: bytes) -> None:
    charset = ctype.partition("charset=")[2].strip('"') or "utf-8"
    head = HEAD.decode()
    if ctype:
        head += f"Content-Type: {ctype}\n"
    if cte:
        head += f"Content-Transfer-Encoding: {cte}\n"
    if disposition:
        head += f"Content-Disposition: {disposition}\n"
    raw = (head + "\n").replace("\n", eol).encode() + _encode(text, cte, charset) + damage
    fast, std = ingest_both(raw)
    assert fast == std
