"""A quicker way to the same parsed message for plain single-part and plain multipart mail.

``email.message_from_bytes(data, policy=compat32)`` runs the feed parser line by line over the
whole message, body included, and for each multipart compiles a regular expression for its
boundary (most of the time a multipart message takes). Most support mail is one text part, or a
``multipart/alternative`` of text and HTML, and for those the result is simple: the header fields
as ``(name, value)`` pairs, the body as one string, and for a multipart its parts split at the
boundary lines (RFC 2046: the line break before a boundary belongs to the boundary), with the
preamble and epilogue kept as the feed parser keeps them. ``parse_simple`` builds exactly that
``email.message.Message`` tree directly, and answers None for anything else (``message/*`` parts,
``multipart/digest``, a Unix ``From`` line, a header block without its blank line, mixed line
endings in a multipart body, repeated or missing boundaries, any line the feed parser would treat
as a defect), which the caller then hands to the standard parser.
tests/unit/test_ingest_fastparse.py checks both give the same message.

The messages it builds look their header fields up through a dict of each name's first field
(``Message.get`` lowercases and compares every field on every call, and reading one message asks
for a handful of fields several times each); any change to the fields drops the dict.
"""

from __future__ import annotations

import re
from email.message import Message
from email.policy import compat32
from typing import Any, NamedTuple

__all__ = ["Head", "parse_simple", "split_head"]

#: Multiparts nested deeper than this go to the standard parser (which the reader bounds).
_MAX_DEPTH = 8
#: A field line as the feed parser accepts it: printable ASCII name without ':' and spaces, then
#: ':'; the name is group 1, and the blanks after the colon are not part of the value.
_FIELD_START = re.compile(r"([\041-\071\073-\176]+):[ \t]*")


_MISSING = object()


class _Parsed(Message):
    """A compat32 ``Message`` whose ``get`` (and so ``[]``, ``get_param``, ``get_payload``...)
    answers from an index of each field name's first field: the same value ``Message.get``
    returns. The index is rebuilt whenever the field list is another list or has another length,
    and dropped by ``replace_header`` (the one change made in place). ``get_content_type``, asked
    several times per part, is kept with the index it was read from."""

    _index: tuple[list[tuple[str, str]], int, dict[str, object]] | None = None
    _ctype: tuple[object, str, str] | None = None

    def _fields(self) -> tuple[list[tuple[str, str]], int, dict[str, object]]:
        headers = self._headers
        index = self._index
        if index is None or index[0] is not headers or index[1] != len(headers):
            first: dict[str, object] = {}
            for k, v in headers:
                key = k.lower()
                if key not in first:
                    first[key] = v
            index = self._index = (headers, len(headers), first)
        return index

    def get(self, name: str, failobj: object = None) -> object:
        index = self._index  # ``_fields()``, its check spelled out: a look-up is asked often
        headers = self._headers
        if index is None or index[0] is not headers or index[1] != len(headers):
            index = self._fields()
        value = index[2].get(name.lower(), _MISSING)
        if value is _MISSING:
            return failobj
        if type(value) is str and value.isascii():
            return value  # what compat32's header_fetch_parse gives a plain value
        return super().get(name, failobj)  # the policy's treatment of escaped 8-bit bytes

    def first_fields(self) -> dict[str, Any]:
        """Each field name (lowercased) with its first field's raw value, in order: a new dict."""
        return dict(self._fields()[2])

    def get_content_type(self) -> str:
        index = self._fields()
        kept = self._ctype
        if kept is not None and kept[0] is index and kept[1] == self._default_type:
            return kept[2]
        ctype = super().get_content_type()
        self._ctype = (index, self._default_type, ctype)
        return ctype

    def replace_header(self, _name: str, _value: str) -> None:
        self._index = None
        super().replace_header(_name, _value)


#: A header block (lines without their line endings, joined by one kind of line ending) that the
#: feed parser reads as fields only: every line a field line (a printable ASCII name without ':'
#: and blanks, then ':') or a continuation (starting with a blank), the first a field line.
_NAME = r"[\041-\071\073-\176]+"
_BLOCK = {
    eol: re.compile(rf"{_NAME}:[^{eol}]*(?:{eol}[ \t][^{eol}]*)*(?:{eol}{_NAME}:[^{eol}]*(?:{eol}[ \t][^{eol}]*)*)*")
    for eol in ("\n", "\r\n")
}
#: Each field of such a block: the name, and the value as compat32's ``header_source_parse`` keeps
#: it (the blanks after the colon dropped, continuation lines joined by the line ending).
_FIELD = {
    eol: re.compile(rf"^({_NAME}):[ \t]*([^{eol}]*(?:{eol}[ \t][^{eol}]*)*)", re.MULTILINE)
    for eol in ("\n", "\r\n")
}


class Head(NamedTuple):
    """A message's header block as the feed parser reads it, and where its body starts."""

    fields: list[tuple[str, str]]  # (name, value) in order, as ``set_raw`` stores them
    first: dict[str, str]  # each lowercased name with its first field's value, in order
    eol: str  # the line ending used throughout the header block ("\r\n" or "\n")
    body_start: int  # offset of the body in the bytes


def split_head(data: bytes) -> Head | None:
    """The header fields of ``data`` when its header block ends with a blank line, uses one kind of
    line ending throughout, and holds field lines only (what the feed parser reads without special
    cases); None when the standard parser must read it."""
    end = data.find(b"\r\n\r\n")
    eol = "\r\n"
    if end >= 0:
        raw = data[:end]
        crlf = raw.count(b"\r\n")
        if raw.count(b"\r") != crlf or raw.count(b"\n") != crlf or data.startswith(b"\r\n"):
            raw = None
    else:
        raw = None
    if raw is None:
        end = data.find(b"\n\n")
        if end < 0:
            return None
        raw = data[:end]
        if b"\r" in raw or data.startswith(b"\n"):
            return None
        eol = "\n"
    head = raw.decode("ascii", "surrogateescape")
    if _BLOCK[eol].fullmatch(head) is None:
        return None  # a continuation line first, or a line that is no field: the parser's special cases
    fields: list[tuple[str, str]] = _FIELD[eol].findall(head)
    first: dict[str, str] = {}
    for name, value in fields:
        key = name.lower()
        if key not in first:
            first[key] = value
    return Head(fields, first, eol, end + 2 * len(eol))


def parse_simple(data: bytes, head: Head | None = None) -> Message | None:
    """The compat32 message for ``data`` when it is a non-``message`` part, or a multipart of such
    parts, with clean header blocks; None when the standard parser must do it. ``head``: what
    ``split_head(data)`` gave, when the caller has it."""
    if head is None:
        head = split_head(data)
        if head is None:
            return None
    msg = _Parsed(policy=compat32)
    msg._headers = head.fields
    msg._index = (head.fields, len(head.fields), head.first)
    maintype = msg.get_content_maintype()
    if maintype == "message":
        return None
    eol = head.eol
    body = data[head.body_start:].decode("ascii", "surrogateescape")
    if maintype == "multipart":
        if eol == "\r\n":
            crlf = body.count("\r\n")
            if body.count("\r") != crlf or body.count("\n") != crlf:
                return None  # mixed line endings: the feed parser splits at each kind
        elif "\r" in body:
            return None
        pieces = body.split(eol)
        # pieces[k] is line k without its line ending; the last piece has none (empty: no line).
        count = len(pieces) - 1 if pieces[-1] == "" else len(pieces)
        end = _multipart(msg, pieces, 0, count, (), eol)
        if end != count:
            return None
        return msg
    msg.set_payload(body)
    return msg


def _message(lines: list[str], eol: str) -> Message | None:
    """A Message with the header fields of ``lines`` (a header block without its blank line)."""
    # compat32 header_source_parse: the value after the colon (leading blanks dropped) and any
    # continuation lines, joined by the line ending (the last one stripped). The lines hold no
    # line-break characters, so that is the pieces joined by ``eol``. A Unix From line
    # ("From " has a blank before any colon) is no field line either.
    fields: list[tuple[str, str]] = []  # what set_raw appends for each field (compat32 keeps the pair)
    match = _FIELD_START.match
    for line in lines:
        if line[0] in " \t":
            if not fields:
                return None  # a continuation line first: the parser records a defect
            name, value = fields[-1]
            fields[-1] = (name, value + eol + line)
            continue
        field = match(line)
        if field is None:
            return None  # not a field: the parser's special cases
        fields.append((field[1], line[field.end():]))
    msg = _Parsed(policy=compat32)
    msg._headers = fields
    return msg


def _boundary(line: str, seps: tuple[str, ...]) -> int:
    """0 when ``line`` is no boundary line of ``seps``; 1 for a delimiter (``--b``), 2 for a close
    delimiter (``--b--``), of the innermost separator it matches, each followed by spaces or tabs
    only (the feed parser's ``boundaryre``)."""
    if not line.startswith("--"):
        return 0
    for sep in reversed(seps):
        if line.startswith(sep):
            rest = line[len(sep):]
            if not rest.strip(" \t"):
                return 1
            if rest[:2] == "--" and not rest[2:].strip(" \t"):
                return 2
    return 0


def _region_end(pieces: list[str], start: int, count: int, seps: tuple[str, ...]) -> int:
    """The first line at or after ``start`` that is a boundary of any enclosing multipart (where
    the feed parser sees the end of the part), else ``count``."""
    for k in range(start, count):
        if _boundary(pieces[k], seps):
            return k
    return count


def _multipart(msg: Message, pieces: list[str], start: int, count: int, outer: tuple[str, ...],
               eol: str) -> int | None:
    """Fill ``msg`` (a multipart whose body is lines ``start`` to the first boundary line of
    ``outer``) with its parts, preamble and epilogue, as the feed parser does. Returns the line
    where it ended, or None where the feed parser would record a defect or do something unusual."""
    if len(outer) >= _MAX_DEPTH:
        return None
    boundary = msg.get_boundary()
    if boundary is None or msg.get_content_type() == "multipart/digest":
        return None  # no boundary (a defect); digest parts default to message/rfc822
    if str(msg.get("content-transfer-encoding", "8bit")).lower() not in ("7bit", "8bit", "binary"):
        return None  # InvalidMultipartContentTransferEncodingDefect
    sep = "--" + boundary
    seps = (*outer, sep)
    end = _region_end(pieces, start, count, outer)
    k = start
    while k < end and not _boundary(pieces[k], (sep,)):
        k += 1
    if k == end or _boundary(pieces[k], (sep,)) != 1:
        return None  # no opening delimiter (a defect), or a close delimiter first
    if k > start:
        msg.preamble = eol.join(pieces[start:k])  # the line break before the boundary is its own
    while True:
        # pieces[k] is a delimiter line; the part starts on the next line.
        if k + 1 < end and _boundary(pieces[k + 1], (sep,)):
            return None  # repeated delimiters: the feed parser skips them
        part = _part(pieces, k + 1, count, seps, eol)
        if part is None:
            return None
        sub, k = part
        if k >= end or _boundary(pieces[k], outer):
            return None  # ended by an enclosing boundary or the end: no close delimiter (a defect)
        msg.attach(sub)
        if _boundary(pieces[k], (sep,)) == 2:
            break
    # The close delimiter's line ending starts the epilogue; the rest up to the enclosing boundary
    # (or the end) is the epilogue.
    epilogue = "".join(pieces[x] + eol for x in range(k + 1, end))
    if end == count and end > k + 1 and end == len(pieces):
        epilogue = epilogue[: -len(eol)]  # the last line has no line ending
    msg.epilogue = epilogue
    return end


def _part(pieces: list[str], start: int, count: int, seps: tuple[str, ...],
          eol: str) -> tuple[Message, int] | None:
    """The part whose first line is ``start`` (its header block, a blank line, its body) and the
    line where it ends (the next boundary line of ``seps``), as its multipart keeps it."""
    end = _region_end(pieces, start, count, seps)
    k = start
    while k < end and pieces[k] != "":
        k += 1
    if k == end:
        return None  # the header block runs into the boundary: unusual, left to the parser
    if k > start:
        sub = _message(pieces[start:k], eol)
    else:
        sub = _Parsed(policy=compat32)  # a part without header fields starts with its blank line
    if sub is None:
        return None
    maintype = sub.get_content_maintype()
    if maintype == "message":
        return None
    if maintype == "multipart":
        inner_end = _multipart(sub, pieces, k + 1, count, seps, eol)
        if inner_end is None:
            return None
        # The line break before the enclosing boundary belongs to it, not to the epilogue.
        if sub.epilogue == "":
            sub.epilogue = None
        elif sub.epilogue is not None and sub.epilogue.endswith(eol):
            sub.epilogue = sub.epilogue[: -len(eol)]
        return sub, inner_end
    # The body up to the boundary, without the line break before it.
    sub.set_payload(eol.join(pieces[k + 1 : end]) if end > k + 1 else "")
    return sub, end
