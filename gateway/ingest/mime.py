"""Which MIME parts carry the customer's text, and which are attachments.

In ``multipart/alternative`` the text/plain part is read when it carries the content; otherwise the
HTML part is converted to text. ``multipart/related`` reads its root; ``multipart/mixed`` reads every
inline text part in order. Attached messages (``message/rfc822``) are forwarded history: listed as
attachments, their text kept aside. Everything else is listed (name, type, size), never parsed.
Nesting deeper than the limit and parts beyond the part limit are skipped with a warning.
"""

from __future__ import annotations

import binascii
import re
from dataclasses import dataclass, field
from email.message import Message as EmailMessage

from gateway.ingest.charset import decode_bytes
from gateway.ingest.headers import decode_header_value
from gateway.ingest.html import html_to_text
from gateway.ingest.limits import Limits
from gateway.model import Attachment

try:  # The standard library's own base64 body decoder (``Message.get_payload`` calls it): lenient the same way.
    from email._encoded_words import decode_b
except ImportError:  # a private module: should it go, base64 bodies take the general path
    decode_b = None

__all__ = ["Body", "extract_body", "simple_body"]

# text/plain alternatives that only say "read the HTML part".
_STUB = re.compile(
    r"(?:this is an? (?:html|multi-?part)|html (?:e-?mail|message)|(?:e-?mail|mail) (?:client|reader|program) "
    r"(?:does not|doesn't|cannot|can't) (?:support|display)|view (?:this|the) (?:e-?mail|message) in (?:a|your) "
    r"(?:web )?browser|htmlメール|html形式|html 形式)",
    re.IGNORECASE,
)
_FLOWED = re.compile(r';\s*format\s*=\s*"?flowed', re.IGNORECASE)
_DELSP = re.compile(r';\s*delsp\s*=\s*"?yes', re.IGNORECASE)
_CHARSET = re.compile(r';\s*charset\s*=\s*"?([^";\s]+)', re.IGNORECASE)


@dataclass
class Body:
    """The text of a message's body parts, before quoted history is removed."""

    text: str = ""
    decoder: str = ""
    html: bool = False  # the text came from an HTML part
    attachments: list[Attachment] = field(default_factory=list)
    forwarded: list[str] = field(default_factory=list)  # text of attached messages
    warnings: list[str] = field(default_factory=list)
    pieces: list[str] = field(default_factory=list)
    parts_seen: int = 0
    truncated_parts: bool = False
    deep: bool = False


def _payload_bytes(part: EmailMessage, body: Body) -> bytes:
    try:
        data = part.get_payload(decode=True)
    except Exception as exc:  # malformed transfer encodings: keep going without this part
        body.warnings.append(f"{part.get_content_type()} part: unreadable transfer encoding ({exc.__class__.__name__})")
        return b""
    if data is None:
        return b""
    if isinstance(data, str):
        return data.encode("utf-8", "surrogateescape")
    return bytes(data)


def _charset(part: EmailMessage, header: object = None) -> str | None:
    """The part's charset parameter; ``header``: its Content-Type value, when the caller has it."""
    if header is None:
        header = part.get("content-type")
    if header is None:
        return None
    fast = _CHARSET.search(str(header))
    if fast and "*" not in str(header):
        return fast.group(1).encode("utf-8", "surrogateescape").decode("ascii", "replace")
    try:
        value = part.get_param("charset")
    except Exception:
        return None
    if isinstance(value, tuple):  # RFC 2231 encoded parameter
        value = value[2]
    if not value or not isinstance(value, str):
        return None
    return value.encode("utf-8", "surrogateescape").decode("ascii", "replace")


def _decode_text(part: EmailMessage, body: Body, limits: Limits, *, html: bool) -> tuple[str, str]:
    data = _payload_bytes(part, body)
    header = part.get("content-type")
    return _text(data, header, _charset(part, header), body, limits, html=html)


def _text(data: bytes, header: object, charset: str | None, body: Body, limits: Limits, *,
          html: bool) -> tuple[str, str]:
    """The text of a part's decoded bytes; ``header``: its Content-Type value, ``charset``: its
    charset parameter."""
    if html and len(data) > limits.max_html_bytes:
        body.warnings.append(
            f"HTML part is {len(data)} bytes, over the {limits.max_html_bytes}-byte limit: analyzed truncated"
        )
        data = data[: limits.max_html_bytes]
    decoded = decode_bytes(data, charset, what="html part" if html else "body")
    if decoded.warning:
        body.warnings.append(decoded.warning)
    text = decoded.text
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if html:
        text = html_to_text(text)
    else:
        value = str(header) if header is not None else ""
        if _FLOWED.search(value):
            text = unflow(text, delsp=bool(_DELSP.search(value)))
    return text, decoded.decoder


_UUENCODE = ("x-uuencode", "uuencode", "uue", "x-uue")


def simple_body(fields: dict[str, str], payload: bytes, limits: Limits) -> Body | None:
    """``extract_body`` of a single-part message read straight from its header fields (each
    lowercased name's first value, as the parser keeps it) and its body bytes, without building the
    parsed message: for an inline text/plain or text/html part in 7bit, 8bit, binary,
    quoted-printable or base64 whose Content-Type, Content-Transfer-Encoding and
    Content-Disposition are plain ASCII with a plain charset parameter. None for anything else,
    which the general path reads."""
    header = fields.get("content-type")
    charset = None
    if header is None:
        ctype = "text/plain"  # compat32's default type for a message
    else:
        if not header.isascii():
            return None  # the parser hands 8-bit values back as Header objects
        ctype = header.partition(";")[0].strip().lower()
        if ctype != "text/plain" and ctype != "text/html":
            return None
        found = _CHARSET.search(header)
        if found is not None and "*" not in header:
            charset = found.group(1)  # what ``_charset`` reads
        elif "charset" in header.lower():
            return None  # an RFC 2231 or unusual charset parameter: ``get_param`` reads it
    disposition = fields.get("content-disposition")
    if disposition:
        if not disposition.isascii() or disposition.split(";", 1)[0].strip().lower() == "attachment":
            return None
    cte = fields.get("content-transfer-encoding", "")
    if not cte.isascii():
        return None
    cte = cte.lower()
    # ``Message.get_payload(decode=True)`` of a leaf part: its body bytes as they arrived, decoded
    # by the transfer encoding exactly as the standard library does it.
    if cte == "quoted-printable":
        data = binascii.a2b_qp(payload)
    elif cte == "base64":
        if decode_b is None:
            return None
        data = decode_b(b"".join(payload.splitlines()))[0]
    elif cte in _UUENCODE:
        return None
    else:
        data = payload
    body = Body()
    html = ctype == "text/html"
    text, decoder = _text(data, header, charset, body, limits, html=html)
    body.parts_seen = 1
    if text.strip():
        body.pieces.append(text)
        body.text = text.strip("\n")
        body.decoder = decoder
        body.html = html
    return body


def unflow(text: str, *, delsp: bool = False) -> str:
    """Join the soft line breaks of format=flowed text (RFC 3676): a line ending in a space continues
    on the next line with the same quote depth. A phrase the client wrapped reads as one line."""
    out: list[str] = []
    pending: str | None = None
    pending_depth = 0
    for line in text.split("\n"):
        depth = len(line) - len(line.lstrip(">"))
        content = line[depth:]
        if content.startswith(" "):
            content = content[1:]  # space-stuffing (RFC 3676 section 4.4)
        if pending is not None and depth == pending_depth:
            content = pending + content
        elif pending is not None:
            out.append(_requote(pending_depth, pending.rstrip(" ")))
        pending = None
        if content.endswith(" ") and content != "-- ":
            pending = content[:-1] if delsp else content
            pending_depth = depth
            continue
        out.append(_requote(depth, content))
    if pending is not None:
        out.append(_requote(pending_depth, pending.rstrip(" ")))
    return "\n".join(out)


def _requote(depth: int, content: str) -> str:
    return (">" * depth + " " + content) if depth else content


def _filename(part: EmailMessage, body: Body) -> str:
    try:
        name = part.get_filename()
    except Exception:
        name = None
    if name is None:
        try:
            name = part.get_param("name")
            if isinstance(name, tuple):
                name = name[2]
        except Exception:
            name = None
    if not name or not isinstance(name, str):
        return ""
    return decode_header_value(name, "attachment name", body.warnings)


def _disposition(part: EmailMessage) -> str:
    value = part.get("content-disposition")
    if not value:
        return ""
    return str(value).split(";", 1)[0].strip().lower()


def _list_attachment(part: EmailMessage, body: Body, ctype: str) -> None:
    size = len(_payload_bytes(part, body)) if not part.is_multipart() else _size(part)
    body.attachments.append(Attachment(name=_filename(part, body), content_type=ctype, size=size))


def _is_stub(text: str) -> bool:
    stripped = text.strip()
    if not stripped:
        return True
    return len(stripped) < 400 and bool(_STUB.search(stripped))


def extract_body(msg: EmailMessage, limits: Limits) -> Body:
    """Body text, decoder, attachments and forwarded text of a parsed message."""
    body = Body()
    _walk(msg, 0, body, limits, body.pieces)
    body.text = "\n\n".join(p.strip("\n") for p in body.pieces if p.strip())
    return body


def _walk(part: EmailMessage, depth: int, body: Body, limits: Limits, into: list[str]) -> None:
    if depth > limits.max_depth:
        if not body.deep:
            body.deep = True
            body.warnings.append(f"MIME nesting deeper than {limits.max_depth} levels: inner parts skipped")
        return
    body.parts_seen += 1
    if body.parts_seen > limits.max_parts:
        if not body.truncated_parts:
            body.truncated_parts = True
            body.warnings.append(f"more than {limits.max_parts} MIME parts: the rest skipped")
        return
    ctype = part.get_content_type()
    # ``is_multipart()`` rather than ``get_payload()``, which for a leaf part checks the whole
    # body for 8-bit bytes and decodes it with its charset parameter only to be thrown away here
    # (``_decode_text`` reads the bytes), and raised TypeError on an RFC 2231 charset parameter.
    if part.is_multipart():
        subparts = [p for p in part.get_payload() if isinstance(p, EmailMessage)]
        if ctype == "message/rfc822" or (ctype.startswith("message/") and subparts and ctype != "message/delivery-status"):
            _attached_message(part, subparts, depth, body, limits, ctype)
            return
        if ctype == "multipart/alternative":
            _alternative(subparts, depth, body, limits, into)
            return
        if ctype == "multipart/related" and subparts:
            _walk(subparts[0], depth + 1, body, limits, into)
            for sub in subparts[1:]:
                _list_attachment(sub, body, sub.get_content_type())
            return
        if ctype == "multipart/report":
            for sub in subparts:
                sub_type = sub.get_content_type()
                if sub_type.startswith("text/") and sub_type not in ("text/rfc822-headers",) and not body.pieces:
                    _walk(sub, depth + 1, body, limits, into)
                else:
                    _list_attachment(sub, body, sub_type)
            return
        for sub in subparts:
            _walk(sub, depth + 1, body, limits, into)
        return
    disposition = _disposition(part)
    if ctype.startswith("multipart/"):
        body.warnings.append(f"{ctype} without a usable boundary: read as plain text")
        ctype = "text/plain"
    if disposition != "attachment" and ctype in ("text/plain", "text/html"):
        text, decoder = _decode_text(part, body, limits, html=ctype == "text/html")
        if text.strip():
            into.append(text)
            if into is body.pieces and not body.decoder:
                body.decoder = decoder
                body.html = ctype == "text/html"
        return
    _list_attachment(part, body, ctype)


def _alternative(subparts: list[EmailMessage], depth: int, body: Body, limits: Limits, into: list[str]) -> None:
    plain = next((p for p in subparts if p.get_content_type() == "text/plain" and _disposition(p) != "attachment"), None)
    if plain is not None:
        text, decoder = _decode_text(plain, body, limits, html=False)
        if not _is_stub(text):
            body.parts_seen += 1
            into.append(text)
            if into is body.pieces and not body.decoder:
                body.decoder = decoder
            return
    # RFC 2046: the last alternative is the richest; read the last one that yields text.
    for sub in reversed(subparts):
        if sub is plain:
            continue
        before = len(into)
        _walk(sub, depth + 1, body, limits, into)
        if len(into) > before:
            return
    if plain is not None:
        _walk(plain, depth + 1, body, limits, into)


def _attached_message(part: EmailMessage, subparts: list[EmailMessage], depth: int, body: Body, limits: Limits,
                      ctype: str) -> None:
    inner = subparts[0] if subparts else None
    subject = decode_header_value(inner.get("subject", ""), "attached message subject", body.warnings) if inner else ""
    name = _filename(part, body) or subject or "message.eml"
    size = _size(inner) if inner is not None else 0
    body.attachments.append(Attachment(name=name, content_type=ctype, size=size))
    if inner is None:
        return
    text: list[str] = []
    _walk(inner, depth + 1, body, limits, text)
    joined = "\n\n".join(t.strip("\n") for t in text if t.strip())
    if joined:
        body.forwarded.append(joined)


def _size(inner: EmailMessage) -> int:
    try:
        return len(inner.as_bytes())
    except Exception:  # a malformed attached message has no well-defined size; listing it is enough
        return 0
