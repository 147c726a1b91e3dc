"""A quicker way to the same parsed message for plain single-part mail.

``email.message_from_bytes(data, policy=compat32)`` runs the feed parser line by line over the
whole message, body included. Most support mail is one text part, and for those the result is
simple: the header fields as ``(name, value)`` pairs and the body as one string. ``parse_simple``
builds exactly that ``email.message.Message`` directly, and answers None for anything else
(multipart, ``message/*``, a Unix ``From`` line, a header block without its blank line, any line
the feed parser would treat as a defect), which the caller then hands to the standard parser.
tests/unit/test_ingest_fastparse.py checks both give the same message.
"""

from __future__ import annotations

import re
from email.message import Message
from email.policy import compat32

__all__ = ["parse_simple"]

#: A field line as the feed parser accepts it: printable ASCII name without ':' and spaces, then ':'.
_FIELD = re.compile(r"[\041-\071\073-\176]+:")


def parse_simple(data: bytes) -> Message | None:
    """The compat32 message for ``data`` when it is a single non-multipart, non-message part with a
    clean header block; None when the standard parser must do it."""
    text = data.decode("ascii", "surrogateescape")
    split = _split_uniform(text)
    if split is None:
        return None
    lines, eol, body_start = split
    fields: list[tuple[str, list[str]]] = []
    for line in lines:
        if line[0] in " \t":
            if not fields:
                return None  # a continuation line first: the parser records a defect
            fields[-1][1].append(line + eol)
        elif line.startswith("From ") or not _FIELD.match(line):
            return None  # Unix From line, or not a field: the parser's special cases
        else:
            fields.append((line, [eol]))
    msg = Message(policy=compat32)
    for first, rest in fields:
        name, value = first.split(":", 1)
        # compat32 header_source_parse: the first line's ending and any continuation lines, joined.
        msg.set_raw(name, (value.lstrip(" \t") + "".join(rest)).rstrip("\r\n"))
    if msg.get_content_maintype() in ("multipart", "message"):
        return None
    msg.set_payload(text[body_start:])
    return msg


def _split_uniform(text: str) -> tuple[list[str], str, int] | None:
    """The header lines, their line ending and where the body starts, when the header block ends
    with a blank line and uses one kind of line ending throughout (CRLF, or LF); else None."""
    end = text.find("\r\n\r\n")
    if end >= 0:
        head = text[:end]
        crlf = head.count("\r\n")
        if head.count("\r") == crlf and head.count("\n") == crlf and not text.startswith("\r\n"):
            return head.split("\r\n"), "\r\n", end + 4
    end = text.find("\n\n")
    if end >= 0:
        head = text[:end]
        if "\r" not in head and not text.startswith("\n"):
            return head.split("\n"), "\n", end + 2
    return None
