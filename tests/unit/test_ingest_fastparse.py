"""The direct path for single-part and multipart mail gives exactly what the standard parser gives
(the whole parsed tree: header fields, payloads, preamble, epilogue, defects), and steps aside
(None) for everything it does not handle."""

from __future__ import annotations

from email import message_from_bytes
from email.message import Message
from email.policy import compat32
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.ingest.fastparse import parse_simple
from tests.ingest_paths import ingest_both, standard_path
from tests.ingest_paths import read as _read

ROOT = Path(__file__).resolve().parents[2]
MAIL = sorted((ROOT / "tests" / "data" / "mail").glob("*.eml")) + sorted(
    p for p in (ROOT / "gateway" / "samples" / "maildir").rglob("*") if p.is_file() and not p.name.startswith("."))


def tree(msg: Message) -> dict[str, object]:
    """Everything the parser decided about ``msg`` and its parts."""
    payload = msg._payload  # type: ignore[attr-defined]
    return {
        "headers": msg._headers,  # type: ignore[attr-defined]
        "unixfrom": msg.get_unixfrom(), "defects": [type(d).__name__ for d in msg.defects],
        "preamble": msg.preamble, "epilogue": msg.epilogue, "default_type": msg.get_default_type(),
        "payload": [tree(p) for p in payload] if isinstance(payload, list) else payload,
    }


def same_as_standard(raw: bytes) -> bool:
    """Assert the direct path agrees with the standard parser; True when it took the message."""
    fast = parse_simple(raw)
    if fast is None:
        return False
    std = message_from_bytes(raw, policy=compat32)
    assert tree(fast) == tree(std)
    assert fast.as_bytes() == std.as_bytes()
    assert not std.defects and std.get_unixfrom() is None
    return True


@pytest.mark.parametrize("path", MAIL, ids=lambda p: p.name)
def test_the_test_mail_reads_the_same_either_way(path: Path) -> None:
    raw = path.read_bytes()
    same_as_standard(raw)
    fast, std = ingest_both(raw)
    assert fast == std


def test_the_benchmark_mail_takes_the_direct_path() -> None:
    from bench.mailcorpus import corpus

    raws = corpus(200, seed=3)
    assert all(same_as_standard(raw) for raw in raws)  # single-part and multipart/alternative
    for raw in raws[:40]:
        fast, std = ingest_both(raw)
        assert fast == std


def test_the_benchmark_mail_ingests_the_same_either_way() -> None:
    """Every Message field, over 1,000 benchmark messages (10 % multipart, 10 % HTML only)."""
    from bench.mailcorpus import corpus

    raws = corpus(1000, seed=5)
    fast = [_read(raw) for raw in raws]
    with standard_path():
        std = [_read(raw) for raw in raws]
    assert fast == std


@pytest.mark.parametrize("raw", [
    b"From someone Mon Jan 1 00:00:00 2026\nSubject: x\n\nbody\n",  # Unix From line
    b" folded: first\nSubject: x\n\nbody\n",  # continuation before any field
    b"Subject: x\nnot a header line\n\nbody\n",  # the parser ends the header block here
    b"Subject: x\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\n\r\nhi\n--B--\r\n",  # mixed endings
    b"Subject: x\nContent-Type: multipart/mixed; boundary=B\n\n--B\n\nhi\n",  # no close delimiter
    b"Subject: x\nContent-Type: multipart/mixed; boundary=B\n\nno delimiter at all\n",
    b"Subject: x\nContent-Type: multipart/mixed\n\n--B\n\nhi\n--B--\n",  # no boundary parameter
    b"Subject: x\nContent-Type: multipart/mixed; boundary=B\n\n--B\n--B\n\nhi\n--B--\n",  # repeated delimiter
    (b"Subject: x\nContent-Type: multipart/mixed; boundary=B\n\n--B\nContent-Type: message/rfc822\n\n"
     b"Subject: inner\n\nhi\n--B--\n"),
    b"Subject: x\nContent-Type: multipart/digest; boundary=B\n\n--B\n\nSubject: y\n\nhi\n--B--\n",
    (b"Subject: x\nContent-Type: multipart/mixed; boundary=B\nContent-Transfer-Encoding: base64\n\n"
     b"--B\n\nhi\n--B--\n"),
    b"Subject: x\nContent-Type: multipart/mixed; boundary=B\n\n--B\nno header block\n--B--\n",
    b"Subject: x\nContent-Type: message/rfc822\n\nSubject: inner\n\nhi\n",
    b"Subject: x\r\nFrom: a@b\n\r\nmixed line endings\r\n",
    b"Subject: no body and no blank line",
    b"\r\n\r\nbody only\r\n",
])
def test_unusual_mail_goes_to_the_standard_parser(raw: bytes) -> None:
    assert parse_simple(raw) is None
    fast, std = ingest_both(raw)
    assert fast == std


_names = st.sampled_from(["Subject", "From", "To", "Date", "Message-ID", "References", "In-Reply-To",
                          "Content-Type", "Content-Transfer-Encoding", "X-Custom", "from", "X:Y"])
_values = st.binary(max_size=60).filter(lambda b: b"\n" not in b and b"\r" not in b)
_ctypes = st.sampled_from([b"", b"text/plain; charset=utf-8", b"text/html", b"text/plain; charset=iso-2022-jp",
                           b"application/pdf", b"multipart/alternative; boundary=B", b"message/rfc822", b"TEXT/PLAIN"])


@pytest.mark.parametrize("raw", [
    b"Subject: x\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\n\r\nhi\r\n--B--\r\n",
    (b"Subject: x\nContent-Type: multipart/mixed; boundary=B\n\npreamble\n\n--B\nContent-Type: text/plain\n\n"
     b"one\n\n--B \t\nContent-Type: text/html\n\n<p>two</p>\n--B-- \nepilogue\nmore\n"),
    b"Subject: x\nContent-Type: multipart/mixed; boundary=B\n\n--B\n\nhi\n--B--",  # close without line ending
    b"Subject: x\nContent-Type: multipart/mixed; boundary=B\n\n--B\n\nhi\n--B--\nlast line, no ending",
    b"Subject: x\nContent-Type: multipart/mixed; boundary=B\n\n--B\n\n--Bx is text\n---B\n--B--\n",
    b"Subject: x\nContent-Type: multipart/mixed; boundary=\"a b\"\n\n--a b\n\nhi\n\n\n--a b--\n\n",
    (b"Subject: x\nContent-Type: multipart/mixed; boundary=O\n\n--O\nContent-Type: multipart/alternative; "
     b"boundary=I\n\npre\n--I\n\nplain\n--I\nContent-Type: text/html\n\n<b>x</b>\n--I--\n\n--O\n\nlast\n--O--\n"),
    (b"Subject: x\nContent-Type: multipart/mixed; boundary=O\n\n--O\nContent-Type: multipart/alternative; "
     b"boundary=I\n\n--I\n\nplain\n--I--\nepi\n--O--\n"),
    (b"Subject: x\nContent-Type: multipart/mixed; boundary=O\n\n--O\nContent-Type: multipart/alternative; "
     b"boundary=I\n\n--I\n\nplain\n--I--\n--O--\n"),
])
def test_multipart_mail_takes_the_direct_path(raw: bytes) -> None:
    assert same_as_standard(raw)
    fast, std = ingest_both(raw)
    assert fast == std


_lines = st.lists(st.sampled_from(["", "text", "--B", "--B--", "--B ", "--BB", "--I", "--I--", "-- ", "> quoted",
                                   "Content-Type: text/html", "X: y", " folded", "From here"]), max_size=5)


@settings(max_examples=400, deadline=2000, derandomize=True, database=None)
@given(preamble=_lines, parts=st.lists(st.tuples(st.sampled_from(["", "Content-Type: text/plain\n",
                                                                    "Content-Type: text/html\nX-A: 1\n",
                                                                    "Content-Type: multipart/alternative; boundary=I\n",
                                                                    "Content-Type: message/rfc822\n", "oops\n"]),
                                                   _lines, _lines), min_size=1, max_size=3),
       epilogue=_lines, close=st.sampled_from(["--B--\n", "--B--", "--B-- \n", ""]),
       eol=st.sampled_from(["\r\n", "\n"]))
def test_generated_multipart_mail_reads_the_same_either_way(preamble: list[str], parts: list[tuple[str, list[str],
                                                                                                   list[str]]],
                                                            epilogue: list[str], close: str, eol: str) -> None:
    """Parts with and without header fields, nested alternatives, text that looks like a boundary,
    preambles, epilogues: whenever the direct path takes the mail, it agrees with the parser."""
    text = "Subject: x\nContent-Type: multipart/mixed; boundary=B\n\n" + "".join(line + "\n" for line in preamble)
    for head, body, inner in parts:
        text += "--B\n" + head + "\n" + "".join(line + "\n" for line in body)
        if "multipart" in head:
            text += "--I\n\n" + "".join(line + "\n" for line in inner) + "--I--\n"
    text += close + "".join(line + "\n" for line in epilogue)
    same_as_standard(text.replace("\n", eol).encode("utf-8"))


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
