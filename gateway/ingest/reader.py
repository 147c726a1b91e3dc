"""Raw RFC 5322 bytes, or a plain text comment, to a :class:`gateway.model.Message`.

Parsing uses the standard library with the ``compat32`` policy (about five times faster than
``policy=default``, which re-parses Content-Type many times per message), with a direct path for
single-part mail (``fastparse``) that builds the same parsed message without the line-by-line
feed parser; headers, charsets and
HTML are then decoded here with fallbacks, so nothing the message contains raises anything but
:class:`gateway.errors.IngestError`.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta, timezone
from email import message_from_bytes
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import parsedate_to_datetime
from typing import Any

from gateway.errors import IngestError
from gateway.ingest.fastparse import parse_simple, split_head
from gateway.ingest.headers import decode_header_value
from gateway.ingest.html import html_to_text
from gateway.ingest.identity import customer_key, parse_sender
from gateway.ingest.lang import guess_lang
from gateway.ingest.limits import DEFAULT_LIMITS, Limits
from gateway.ingest.mime import Body, extract_body, simple_body
from gateway.ingest.quotes import strip_quoted
from gateway.ingest.thread import normalize_subject, parse_msg_ids, thread_key
from gateway.model import Message

__all__ = ["ingest", "message_from_text"]

_NEWLINES = re.compile(r"\r\n?")
_MAX_REFERENCES = 100


def _mb(n: int) -> str:
    if n < 1024 * 1024:
        return f"{n} bytes"
    return f"{n / (1024 * 1024):.1f}".removesuffix(".0") + " MB"


#: The Date shape nearly every client writes (RFC 5322 3.3): "Mon, 05 Jan 2026 08:00:00 +0000".
_DATE = re.compile(r"(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), )?(\d{1,2}) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
                   r"([1-9]\d{3}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)")
_MONTHS = {name: k for k, name in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), 1)}


def _common_date(value: str) -> datetime | None:
    """``parsedate_to_datetime(value)`` in UTC for the common shape, read directly; None for any
    other shape or a value the general path must judge (out of range: it warns)."""
    m = _DATE.fullmatch(value)
    if m is None:
        return None
    day, month, year, hh, mm, ss, sign, zh, zm = m.groups()
    offset = int(zh) * 3600 + int(zm) * 60
    try:
        if not offset:
            return datetime(int(year), _MONTHS[month], int(day), int(hh), int(mm), int(ss), tzinfo=timezone.utc)
        zone = timezone(timedelta(seconds=-offset if sign == "-" else offset))
        return datetime(int(year), _MONTHS[month], int(day), int(hh), int(mm), int(ss),
                        tzinfo=zone).astimezone(timezone.utc)
    except (ValueError, OverflowError):
        return None


def _received_at(value: str, warnings: list[str]) -> datetime | None:
    if not value:
        return None
    common = _common_date(value)
    if common is not None:
        return common
    try:
        when = parsedate_to_datetime(value)
    except Exception:
        warnings.append(f"unreadable Date header {value[:80]!r}")
        return None
    if when is None:
        return None
    if when.tzinfo is None:  # "-0000": the sender's zone is unknown, the time is UTC (RFC 5322 3.3)
        return when.replace(tzinfo=timezone.utc)
    try:
        return when.astimezone(timezone.utc)
    except (OverflowError, ValueError):
        warnings.append(f"Date header out of range {value[:80]!r}")
        return None


def _truncate_text(text: str, limits: Limits, warnings: list[str]) -> str:
    if len(text) > limits.max_text_chars:
        warnings.append(f"text is {len(text)} characters, over the {limits.max_text_chars} limit: analyzed truncated")
        return text[: limits.max_text_chars]
    return text


def ingest(raw: bytes, *, source: str = "cli", limits: Limits | None = None) -> Message:
    """Read one raw message. Raises :class:`IngestError` (only) when it cannot be read at all."""
    if isinstance(raw, (bytearray, memoryview)):
        raw = bytes(raw)
    if not isinstance(raw, bytes):
        raise IngestError(f"a raw message must be bytes, not {type(raw).__name__}")
    if not raw.strip():
        raise IngestError("empty message")
    limits = limits or DEFAULT_LIMITS
    try:
        return _ingest(raw, source, limits)
    except IngestError:
        raise
    except RecursionError as exc:
        raise IngestError("MIME structure nested too deeply to read") from exc
    except MemoryError as exc:
        raise IngestError("message too large to read in the memory available") from exc
    except Exception as exc:  # the last guard: a parser bug must quarantine the message, not stop the loop
        raise IngestError(f"unreadable message ({exc.__class__.__name__}: {exc})") from exc


def _ingest(raw: bytes, source: str, limits: Limits) -> Message:
    warnings: list[str] = []
    content_hash = "sha256:" + hashlib.sha256(raw).hexdigest()
    data = raw
    if len(raw) > limits.max_message_bytes:
        warnings.append(
            f"message is {_mb(len(raw))}, over the {_mb(limits.max_message_bytes)} limit: analyzed truncated"
        )
        data = raw[: limits.max_message_bytes]
    # Saved .eml files sometimes start with a byte-order mark or blank lines; headers follow.
    if data[:3] == b"\xef\xbb\xbf":
        data = data[3:]
    if data[:1] in (b"\r", b"\n", b" ", b"\t"):
        data = data.lstrip(b"\r\n \t")
    head = split_head(data)
    # Single-part text mail (most support mail) is read straight from its bytes; other mail the
    # direct path can take is parsed with the header block already read.
    body = simple_body(head.first, data[head.body_start:], limits) if head is not None else None
    msg = None
    if body is None:
        try:
            if head is not None:
                msg = parse_simple(data, head)
            if msg is None:
                msg = message_from_bytes(data, policy=compat32)
                head = None
        except RecursionError:
            # Thousands of nested parts: keep what identifies the message (sender, thread, date)
            # and quarantine nothing; the body is not analyzed.
            msg = BytesHeaderParser(policy=compat32).parsebytes(data)
            head = None
            body = Body()
            warnings.append("MIME nesting too deep to parse: only the headers were read, the body was not analyzed")
    # The first occurrence (for Received: the newest) stands for the field.
    if head is not None:
        raw_headers = head.first
    else:
        raw_headers = {}
        for name, value in msg.raw_items():
            key = str(name).strip().lower()
            if key not in raw_headers:
                raw_headers[key] = str(value)
    if not raw_headers:
        raise IngestError("no header fields: not an RFC 5322 message")
    headers: dict[str, str] = {}
    copied = False
    for key, value in raw_headers.items():
        if len(value) > limits.max_header_chars:
            warnings.append(f"{key} header over {limits.max_header_chars} characters: truncated")
            value = value[: limits.max_header_chars]
            if not copied:  # the parsed message's own fields stay as they are
                raw_headers = dict(raw_headers)
                copied = True
            raw_headers[key] = value
        if value.isascii() and "=?" not in value and "\n" not in value and "\r" not in value:
            headers[key] = value  # what decode_header_value gives for plain one-line ASCII
        else:
            headers[key] = decode_header_value(value, key, warnings)

    raw_from = raw_headers.get("from") or raw_headers.get("sender") or ""
    if not raw_from:
        warnings.append("no From header: the sender is unknown")
    sender = parse_sender(raw_from, raw_headers.get("reply-to", ""), warnings)
    subject = headers.get("subject", "")

    raw_id = headers.get("message-id", "")
    ids = parse_msg_ids(raw_id)
    message_id = ids[0] if ids else ""
    if raw_id and not message_id:
        warnings.append(f"malformed Message-ID {raw_id[:80]!r}: the content hash identifies the message")
    in_reply_to = (parse_msg_ids(headers.get("in-reply-to", "")) or [""])[0]
    references = parse_msg_ids(headers.get("references", ""))[:_MAX_REFERENCES]

    if body is None:
        body = extract_body(msg, limits)
    warnings.extend(body.warnings)
    text = _truncate_text(body.text, limits, warnings)
    clean, quoted = strip_quoted(text)
    quoted.extend(body.forwarded)
    if not text.strip() and not body.attachments:
        warnings.append("no text body")

    ident = message_id or content_hash
    return Message(
        id=ident,
        text=clean,
        source=source,
        subject=subject,
        sender=sender.key,
        sender_address=sender.address,
        display_name=sender.display_name,
        reply_to=sender.reply_to,
        thread=thread_key(references, in_reply_to, subject, ident),
        received_at=_received_at(headers.get("date", ""), warnings),
        lang=guess_lang(clean or subject),
        decoder=body.decoder,
        warnings=warnings,
        quoted=quoted,
        attachments=body.attachments,
        headers=headers,
        message_id=message_id,
        in_reply_to=in_reply_to,
        references=references,
        content_hash=content_hash,
        raw_size=len(raw),
    )


def _parse_when(value: datetime | str | None) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            raise IngestError(f"received_at {value!r} is not an ISO 8601 date-time") from None
    if not isinstance(value, datetime):
        raise IngestError(f"received_at must be a datetime or ISO 8601 text, not {type(value).__name__}")
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def message_from_text(
    id: str,
    text: str,
    *,
    subject: str = "",
    sender: str = "",
    thread: str = "",
    received_at: datetime | str | None = None,
    lang: str | None = None,
    source: str = "cli",
    html: bool = False,
    external: dict[str, Any] | None = None,
    limits: Limits | None = None,
) -> Message:
    """A Message from text that is already decoded: a ``classify`` line or a helpdesk comment.

    ``html=True`` converts HTML to text first; quoted history is removed as for mail; ``lang`` is
    guessed when None; ``sender`` becomes the customer key. Raises IngestError on bad input.
    """
    if not isinstance(text, str):
        raise IngestError(f"text must be a string, not {type(text).__name__}")
    if not isinstance(id, str) or not id:
        raise IngestError("a message needs a non-empty string id")
    limits = limits or DEFAULT_LIMITS
    warnings: list[str] = []
    content_hash = "sha256:" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    if html:
        if len(text) > limits.max_html_bytes:
            warnings.append(f"HTML over {limits.max_html_bytes} characters: analyzed truncated")
            text = text[: limits.max_html_bytes]
        text = html_to_text(text)
    elif "\r" in text:
        text = _NEWLINES.sub("\n", text)
    text = _truncate_text(text, limits, warnings)
    clean, quoted = strip_quoted(text)
    if lang not in (None, "ja", "en"):
        lang = None
    subject = subject or ""
    if not thread:
        normalized = normalize_subject(subject)
        thread = f"subject:{normalized}" if normalized else id
    return Message(
        id=id,
        text=clean,
        source=source,
        subject=subject,
        sender=customer_key(sender) if sender else "",
        sender_address=sender or "",
        thread=thread,
        received_at=_parse_when(received_at),
        lang=lang or guess_lang(clean or subject),
        decoder="text",
        warnings=warnings,
        quoted=quoted,
        content_hash=content_hash,
        raw_size=len(text),
        external=dict(external or {}),
    )
