"""On any bytes, ingest returns a Message or raises IngestError, quickly, and never hands on
text that cannot be written out (lone surrogates)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.errors import IngestError
from gateway.ingest import Limits, decode_bytes, ingest
from gateway.model import Message

# Bounded input and an explicit per-example deadline: "never hangs" is what is being tested.
# derandomize: the same examples every run (tests here must be deterministic); no example database.
PROPERTY = settings(max_examples=300, deadline=2000, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow])
SMALL = Limits(max_message_bytes=64 * 1024, max_html_bytes=16 * 1024)


def _writable(message: Message) -> None:
    for value in (message.text, message.subject, message.sender, message.display_name, message.decoder,
                  *message.quoted, *message.warnings, *message.headers.values(), *message.headers.keys()):
        value.encode("utf-8")  # raises on lone surrogates


@PROPERTY
@given(st.binary(max_size=4096))
def test_arbitrary_bytes_give_a_message_or_ingest_error(raw):
    try:
        message = ingest(raw, limits=SMALL)
    except IngestError:
        return
    assert isinstance(message, Message)
    _writable(message)


_header_names = st.sampled_from(["Subject", "From", "Reply-To", "Date", "Message-ID", "References", "In-Reply-To",
                                 "Content-Type", "Content-Transfer-Encoding", "X-Custom"])
_content_types = st.sampled_from([
    b"text/plain", b"text/plain; charset=iso-2022-jp", b"text/plain; charset=utf-8", b"text/plain; charset=bogus",
    b"text/html; charset=shift_jis", b"multipart/alternative; boundary=B", b"multipart/mixed; boundary=B",
    b"message/rfc822", b"application/octet-stream",
])


@PROPERTY
@given(
    headers=st.lists(st.tuples(_header_names, st.binary(max_size=80).filter(lambda b: b"\n" not in b and b"\r" not in b)),
                     max_size=8),
    content_type=_content_types,
    body=st.binary(max_size=2048),
)
def test_any_body_under_valid_headers_gives_a_message(headers, content_type, body):
    head = b"From: someone@example.net\r\nContent-Type: " + content_type + b"\r\n"
    head += b"".join(name.encode() + b": " + value + b"\r\n" for name, value in headers)
    message = ingest(head + b"\r\n" + body, limits=SMALL)
    assert message.id
    assert message.content_hash.startswith("sha256:")
    _writable(message)


@PROPERTY
@given(st.text(max_size=500))
def test_any_utf8_text_body_survives_the_round_trip(text):
    raw = b"From: a@example.net\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    message = ingest(raw + text.encode("utf-8", "surrogatepass"), limits=SMALL)
    _writable(message)
    # What is kept plus what is quoted covers every non-blank line of the input.
    kept = message.text + "\n" + "\n".join(message.quoted)
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if line.strip():
            assert line.strip() in kept


@PROPERTY
@given(data=st.binary(max_size=1024), label=st.one_of(st.none(), st.text(max_size=30), st.sampled_from(
    ["iso-2022-jp", "shift_jis", "euc-jp", "utf-8", "us-ascii", "iso-8859-1", "utf-16", "x-unknown", "cp50220"])))
def test_decode_bytes_never_raises_and_always_names_its_decoder(data, label):
    decoded = decode_bytes(data, label)
    assert decoded.decoder
    decoded.text.encode("utf-8")  # no lone surrogates, whatever the label
    if decoded.decoder.endswith("+replace"):
        assert decoded.warning
