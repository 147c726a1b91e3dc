"""The direct path's messages answer header look-ups (``get``, ``[]``, ``get_content_type``,
``get_param``...) from an index of each field name's first field: the answers are the standard
parser's, before and after any change to the fields. And a leaf part with 8-bit bytes and an
RFC 2231 charset parameter is read, not quarantined."""

from __future__ import annotations

from collections.abc import Callable
from email import message_from_bytes
from email.message import Message
from email.policy import compat32

import pytest

from gateway.ingest import ingest
from gateway.ingest.fastparse import parse_simple

RAW = (b"From: =?utf-8?b?5bGx55Sw?= <taro@example.jp>\r\nTo: support@example.com\r\n"
       b"Subject: caf\xc3\xa9 order\r\nsubject: second subject\r\n"
       b"Content-Type: text/plain;\r\n charset=\"utf-8\"; format=flowed\r\n"
       b"Content-Transfer-Encoding: 8bit\r\n\r\nHello \xe3\x81\x82\r\n")
NAMES = ["from", "FROM", "subject", "Subject", "content-type", "content-transfer-encoding", "x-missing", "to"]


def answers(msg: Message) -> list[object]:
    out: list[object] = [str(msg.get(n, "<none>")) for n in NAMES] + [msg.get("x-missing")]
    out += [msg.get_content_type(), msg.get_content_maintype(), msg.get_param("charset"),
            msg.get_param("format"), msg.get_boundary(), msg.get_filename(), "x-missing" in msg]
    out.append(msg.get_payload(decode=True))
    return out


CHANGES: list[tuple[str, Callable[[Message], None]]] = [
    ("none", lambda m: None),
    ("replace_header", lambda m: m.replace_header("Content-Type", "text/html; charset=iso-2022-jp")),
    ("delete", lambda m: m.__delitem__("subject")),
    ("add", lambda m: m.__setitem__("X-Missing", "now here")),
    ("set_param", lambda m: m.set_param("charset", "shift_jis")),
    ("set_type", lambda m: m.set_type("multipart/mixed")),
    ("delete content-type", lambda m: m.__delitem__("content-type")),
    ("default type", lambda m: (m.__delitem__("content-type"), m.set_default_type("message/rfc822"))),
    ("set_boundary", lambda m: (m.set_type("multipart/mixed"), m.set_boundary("b0"))),
]


@pytest.mark.parametrize("change", CHANGES, ids=[c[0] for c in CHANGES])
def test_header_look_ups_answer_as_the_standard_parser_does(change: tuple[str, Callable[[Message], None]]) -> None:
    fast = parse_simple(RAW)
    assert fast is not None
    std = message_from_bytes(RAW, policy=compat32)
    answers(fast)  # look-ups before the change must not leave stale answers behind
    change[1](fast)
    change[1](std)
    assert answers(fast) == answers(std)


def test_a_header_with_8bit_bytes_comes_back_as_the_policy_makes_it() -> None:
    fast = parse_simple(RAW)
    std = message_from_bytes(RAW, policy=compat32)
    assert fast is not None
    assert type(fast["subject"]) is type(std["subject"])  # an email.header.Header: escaped bytes
    assert str(fast["subject"]) == str(std["subject"])


def test_8bit_body_with_an_rfc2231_charset_parameter_is_read() -> None:
    raw = (b"From: a@example.com\r\nMessage-ID: <x1@example.com>\r\nSubject: s\r\n"
           b"Content-Type: text/plain; charset*=utf-8''utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
           + "返金してください。\r\n".encode("utf-8"))
    message = ingest(raw, source="t")
    assert message.text == "返金してください。"
