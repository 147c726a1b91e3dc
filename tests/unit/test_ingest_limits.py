"""Oversized and hostile input is analyzed truncated with a warning, or refused with IngestError."""

from __future__ import annotations

import pytest

from gateway.errors import IngestError
from gateway.ingest import Limits, ingest

HEAD = b"From: a@example.net\r\nSubject: x\r\nMessage-ID: <lim@example.net>\r\n"


def test_message_over_the_size_limit_is_analyzed_truncated_and_hashed_whole():
    raw = HEAD + b"Content-Type: text/plain\r\n\r\n" + b"complaint " * 2000
    small = Limits(max_message_bytes=1000)
    message = ingest(raw, limits=small)
    assert message.warnings[0].startswith(f"message is {len(raw)} bytes, over the 1000 bytes limit")
    assert len(message.text) < 1000
    assert message.raw_size == len(raw)
    assert message.content_hash == ingest(raw).content_hash  # the hash covers every byte


def test_html_over_the_limit_is_truncated_with_a_warning():
    raw = HEAD + b"Content-Type: text/html\r\n\r\n" + b"<p>abusive words</p>" * 500
    message = ingest(raw, limits=Limits(max_html_bytes=200))
    assert "HTML part is 10000 bytes, over the 200-byte limit: analyzed truncated" in message.warnings
    assert message.text.count("abusive words") == 10


def test_text_over_the_character_limit_is_truncated():
    raw = HEAD + b"Content-Type: text/plain\r\n\r\n" + b"x" * 5000
    message = ingest(raw, limits=Limits(max_text_chars=100))
    assert len(message.text) == 100
    assert any("over the 100 limit" in w for w in message.warnings)


def _nested(depth: int) -> bytes:
    body = b""
    for i in range(depth):
        body += b"Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n" % (i, i)
    return HEAD + body + b"Content-Type: text/plain\r\n\r\ninnermost words\r\n"


def test_nesting_beyond_the_depth_limit_is_skipped_with_a_warning():
    assert ingest(_nested(5)).text == "innermost words"
    message = ingest(_nested(5), limits=Limits(max_depth=3))
    assert message.text == ""
    assert "MIME nesting deeper than 3 levels: inner parts skipped" in message.warnings


@pytest.mark.timeout(60)
def test_thousands_of_nested_parts_keep_the_headers_and_skip_the_body():
    message = ingest(_nested(3000))
    assert message.id == "<lim@example.net>"
    assert message.sender == "a@example.net"
    assert message.text == ""
    assert message.warnings[0].startswith("MIME nesting too deep to parse")


@pytest.mark.timeout(60)
def test_many_parts_are_bounded():
    parts = b"".join(b"--B\r\nContent-Type: text/plain\r\n\r\npart %d\r\n" % i for i in range(50))
    raw = HEAD + b"Content-Type: multipart/mixed; boundary=B\r\n\r\n" + parts + b"--B--\r\n"
    message = ingest(raw, limits=Limits(max_parts=10))
    assert "more than 10 MIME parts: the rest skipped" in message.warnings
    assert message.text.count("part ") == 9  # the container counts as one part


@pytest.mark.timeout(60)
def test_huge_header_is_truncated():
    raw = b"From: a@example.net\r\nSubject: " + b"=?utf-8?q?x?= " * 10_000 + b"\r\n\r\nhi"
    message = ingest(raw, limits=Limits(max_header_chars=1000))
    assert "subject header over 1000 characters: truncated" in message.warnings
    assert len(message.subject) <= 1000


def test_invalid_limits_are_refused():
    with pytest.raises(ValueError, match="max_depth"):
        Limits(max_depth=0)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "empty message"),
        (b"   \r\n ", "empty message"),
        (b"just some text without any header\r\n", "no header fields"),
        ("From: a@b\r\n\r\nstr, not bytes", "must be bytes"),
    ],
)
def test_unreadable_input_raises_ingest_error(raw, reason):
    with pytest.raises(IngestError, match=reason):
        ingest(raw)  # type: ignore[arg-type]


def test_multipart_without_boundary_is_read_as_text_with_a_warning():
    message = ingest(HEAD + b"Content-Type: multipart/mixed\r\n\r\nplain words\r\n")
    assert message.text == "plain words"
    assert any("without a usable boundary" in w for w in message.warnings)


def test_broken_base64_body_does_not_raise():
    message = ingest(HEAD + b"Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!not base64***\r\n")
    assert message.id == "<lim@example.net>"


def test_leading_blank_lines_and_byte_order_mark_before_the_headers_are_ignored():
    raw = HEAD + b"Content-Type: text/plain\r\n\r\nhello\r\n"
    assert ingest(b"\r\n\r\n" + raw).text == "hello"
    assert ingest(b"\xef\xbb\xbf" + raw).sender == "a@example.net"


@pytest.mark.timeout(120)
def test_twelve_megabyte_message_at_default_limits_is_analyzed_truncated():
    line = b"> " + b"q" * 70 + b"\r\n"
    raw = HEAD + b"Content-Type: text/plain\r\n\r\nMy own words.\r\n" + line * (12 * 1024 * 1024 // len(line))
    message = ingest(raw)
    assert message.raw_size > 12_000_000
    assert message.warnings[0] == "message is 12 MB, over the 10 MB limit: analyzed truncated"
    assert message.text == "My own words."
    assert sum(len(q) for q in message.quoted) <= 1_000_000
