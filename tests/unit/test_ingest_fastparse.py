"""The direct path for single-part mail gives exactly what the standard parser gives, and steps
aside (None) for everything it does not handle."""

from __future__ import annotations

from email import message_from_bytes
from email.policy import compat32
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gateway.ingest.reader as reader
from gateway.errors import IngestError
from gateway.ingest import ingest
from gateway.ingest.fastparse import parse_simple

ROOT = Path(__file__).resolve().parents[2]
MAIL = sorted((ROOT / "tests" / "data" / "mail").glob("*.eml")) + sorted(
    p for p in (ROOT / "gateway" / "samples" / "maildir").rglob("*") if p.is_file() and not p.name.startswith("."))


def same_as_standard(raw: bytes) -> bool:
    """Assert the direct path agrees with the standard parser; True when it took the message."""
    fast = parse_simple(raw)
    if fast is None:
        return False
    std = message_from_bytes(raw, policy=compat32)
    assert fast._headers == std._headers  # type: ignore[attr-defined]
    assert fast.get_payload() == std.get_payload()
    assert fast.get_content_type() == std.get_content_type()
    assert not std.defects and std.get_unixfrom() is None and not std.is_multipart()
    return True


def _read(raw: bytes) -> object:
    try:
        return ingest(raw, source="t")
    except IngestError as exc:
        return f"IngestError: {exc}"


def ingest_both(raw: bytes, monkeypatch: pytest.MonkeyPatch) -> tuple[object, object]:
    """What ingest makes of ``raw`` (a Message or the error) with and without the direct path."""
    fast = _read(raw)
    with monkeypatch.context() as m:
        m.setattr(reader, "parse_simple", lambda data: None)
        std = _read(raw)
    return fast, std


@pytest.mark.parametrize("path", MAIL, ids=lambda p: p.name)
def test_the_test_mail_reads_the_same_either_way(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    raw = path.read_bytes()
    same_as_standard(raw)
    fast, std = ingest_both(raw, monkeypatch)
    assert fast == std


def test_plain_single_part_mail_takes_the_direct_path(monkeypatch: pytest.MonkeyPatch) -> None:
    from bench.mailcorpus import corpus

    raws = corpus(200, seed=3)
    taken = sum(same_as_standard(raw) for raw in raws)
    assert taken >= 150  # 9 in 10 of the benchmark's mail is one part; the rest is multipart
    for raw in raws[:40]:
        fast, std = ingest_both(raw, monkeypatch)
        assert fast == std


@pytest.mark.parametrize("raw", [
    b"From someone Mon Jan 1 00:00:00 2026\nSubject: x\n\nbody\n",  # Unix From line
    b" folded: first\nSubject: x\n\nbody\n",  # continuation before any field
    b"Subject: x\nnot a header line\n\nbody\n",  # the parser ends the header block here
    b"Subject: x\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\n\r\nhi\r\n--B--\r\n",
    b"Subject: x\nContent-Type: message/rfc822\n\nSubject: inner\n\nhi\n",
    b"Subject: x\r\nFrom: a@b\n\r\nmixed line endings\r\n",
    b"Subject: no body and no blank line",
    b"\r\n\r\nbody only\r\n",
])
def test_unusual_mail_goes_to_the_standard_parser(raw: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    assert parse_simple(raw) is None
    fast, std = ingest_both(raw, monkeypatch)
    assert fast == std


_names = st.sampled_from(["Subject", "From", "To", "Date", "Message-ID", "References", "In-Reply-To",
                          "Content-Type", "Content-Transfer-Encoding", "X-Custom", "from", "X:Y"])
_values = st.binary(max_size=60).filter(lambda b: b"\n" not in b and b"\r" not in b)
_ctypes = st.sampled_from([b"", b"text/plain; charset=utf-8", b"text/html", b"text/plain; charset=iso-2022-jp",
                           b"application/pdf", b"multipart/alternative; boundary=B", b"message/rfc822", b"TEXT/PLAIN"])


@settings(max_examples=300, deadline=2000, derandomize=True, database=None)
@given(fields=st.lists(st.tuples(_names, _values, st.booleans()), max_size=8), ctype=_ctypes,
       eol=st.sampled_from([b"\r\n", b"\n"]), body=st.binary(max_size=200))
def test_generated_mail_reads_the_same_either_way(fields: list[tuple[str, bytes, bool]], ctype: bytes, eol: bytes,
                                                  body: bytes) -> None:
    head = b""
    for name, value, folded in fields:
        head += name.encode() + b": " + value + (eol + b"\t" + value if folded else b"") + eol
    if ctype:
        head += b"Content-Type: " + ctype + eol
    same_as_standard(head + eol + body)
