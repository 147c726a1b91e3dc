"""Header values to text: unfolding, RFC 2047 encoded words, raw 8-bit bytes.

The standard library's ``decode_header`` hands back bytes for parts it cannot decode and the email
package then shows a still-encoded subject. Here every encoded word goes through the same
charset fallback chain as bodies (:mod:`gateway.ingest.charset`), so an ISO-2022-JP subject with ①
decodes, and raw Shift_JIS or UTF-8 bytes in a header (common from older Japanese clients) are read
too.
"""

from __future__ import annotations

import binascii
import re

from gateway.ingest.charset import decode_bytes

__all__ = ["decode_header_value", "unfold"]

_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=")
_Q_UNDERSCORE = re.compile(rb"_")


def unfold(value: str) -> str:
    """Undo header folding (RFC 5322 section 2.2.3): the line break goes, the whitespace stays."""
    if "\n" not in value and "\r" not in value:
        return value
    value = value.replace("\r\n", "\n").replace("\r", "\n").rstrip("\n")
    return value.replace("\n ", " ").replace("\n\t", "\t").replace("\n", " ")


def _raw(text: str) -> bytes:
    """Bytes of a header value as it arrived (the parser keeps 8-bit bytes as surrogates)."""
    return text.encode("utf-8", "surrogateescape")


def _literal(text: str, what: str, warnings: list[str]) -> str:
    if text.isascii():
        return text
    decoded = decode_bytes(_raw(text), None, what=what)
    if decoded.decoder not in ("utf-8", "us-ascii"):
        warnings.append(f"{what}: raw 8-bit header decoded as {decoded.decoder}")
    elif decoded.warning and "+replace" in decoded.decoder:
        warnings.append(decoded.warning)
    return decoded.text


def _word_bytes(encoding: str, payload: str) -> bytes | None:
    try:
        if encoding in "bB":
            data = payload.encode("ascii")
            data += b"=" * (-len(data) % 4)
            try:
                return binascii.a2b_base64(data, strict_mode=True)
            except binascii.Error:
                lenient = binascii.a2b_base64(data)  # stray characters, as some encoders leave
                return lenient if lenient or not payload else None
        return binascii.a2b_qp(_Q_UNDERSCORE.sub(b" ", payload.encode("ascii")), header=False)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        return None


def decode_header_value(value: str | None, what: str = "header", warnings: list[str] | None = None) -> str:
    """Decode one header value to text. Problems are appended to ``warnings``; nothing raises."""
    if not value:
        return ""
    if warnings is None:
        warnings = []
    value = unfold(str(value))
    if "=?" not in value:
        return _literal(value, what, warnings)

    out: list[str] = []
    pending: bytearray = bytearray()
    pending_charset: str | None = None

    def flush() -> None:
        nonlocal pending, pending_charset
        if pending_charset is not None:
            decoded = decode_bytes(bytes(pending), pending_charset, what=what)
            if decoded.warning:
                warnings.append(decoded.warning)
            out.append(decoded.text)
        pending = bytearray()
        pending_charset = None

    pos = 0
    for match in _ENCODED_WORD.finditer(value):
        between = value[pos:match.start()]
        # Whitespace between two encoded words is not part of the text (RFC 2047 section 6.2).
        if between and not (pending_charset is not None and between.isspace()):
            flush()
            out.append(_literal(between, what, warnings))
        charset = match.group(1).split("*", 1)[0]  # RFC 2231 language suffix: =?utf-8*ja?...
        data = _word_bytes(match.group(2), match.group(3))
        if data is None:
            flush()
            warnings.append(f"{what}: malformed encoded word kept as written")
            out.append(_literal(match.group(0), what, warnings))
        else:
            # Adjacent words in one charset are joined first: encoders split multi-byte characters.
            if pending_charset is not None and pending_charset.lower() != charset.lower():
                flush()
            pending_charset = charset
            pending += data
        pos = match.end()
    flush()
    if pos < len(value):
        out.append(_literal(value[pos:], what, warnings))
    return "".join(out)
