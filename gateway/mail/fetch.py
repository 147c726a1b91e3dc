"""UID FETCH for the two requests the IMAP source makes, read without imapclient's general parser.

The source asks for ``(FLAGS RFC822.SIZE)`` and then for ``(BODY.PEEK[])``. imapclient's response
parser is written for every shape of FETCH response and, in pure Python, lexes each one token by
token (a fifth of the mailbox side's time). The answers to these two requests have few shapes::

    * 7 FETCH (UID 42 FLAGS (\\Seen $HGChecked) RFC822.SIZE 5120)
    * 7 FETCH (UID 42 BODY[] {5120}
    <5120 bytes>)

which imaplib already splits into lines and literals. ``uid_fetch`` reads those directly and
returns what ``IMAPClient.fetch`` returns (``{uid: {b"FLAGS": (...), b"RFC822.SIZE": n, b"SEQ":
seq}}`` or ``{uid: {b"BODY[]": bytes, b"SEQ": seq}}``, only for the UIDs asked for). Any response
it does not recognise in full (quoted flags, an unsolicited response without a UID, other items)
sends the whole answer to imapclient's own parser, so the result never depends on which path read
it. tests/unit/test_mail_fetch.py checks both agree.
"""

from __future__ import annotations

import re
from typing import Any

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError
from imapclient.response_parser import parse_fetch_response

__all__ = ["parse_fetch", "uid_fetch"]

#: ``SEQ (items)`` of a response without a literal.
_PLAIN = re.compile(rb"(\d+) \((.*)\)", re.DOTALL)
#: ``SEQ (items BODY[] {n}`` : the line before a message literal.
_LITERAL_HEAD = re.compile(rb"(\d+) \((.*?) ?BODY\[\] \{(\d+)\}", re.DOTALL)
#: One item of the answer: ``UID n``, ``FLAGS (atoms)``, ``RFC822.SIZE n``.
_ITEM = re.compile(rb" ?(?:UID (\d+)|FLAGS \(([^()\"{}]*)\)|RFC822\.SIZE (\d+))")


def uid_fetch(client: IMAPClient, uids: list[int], items: str) -> dict[int, dict[bytes, Any]]:
    """``client.fetch(uids, items)`` for ``items`` ``"(FLAGS RFC822.SIZE)"`` or ``"(BODY.PEEK[])"``.
    Raises what ``IMAPClient.fetch`` raises (imaplib's abort on a broken connection,
    IMAPClientError when the server refuses)."""
    if not uids:
        return {}
    imap = client._imap  # imaplib.IMAP4, which imapclient wraps
    typ, data = imap.uid("FETCH", ",".join(str(u) for u in uids), items)
    if typ != "OK":
        raise IMAPClientError(f"fetch failed: {data!r}"[:300])
    return parse_fetch(data, uids, normalise_times=client.normalise_times)


def parse_fetch(data: list[Any], uids: list[int], *, normalise_times: bool = True) -> dict[int, dict[bytes, Any]]:
    """imaplib's FETCH lines and literals as ``IMAPClient.fetch`` returns them, for ``uids``."""
    parsed = _parse_known(data)
    if parsed is None:
        parsed = parse_fetch_response([d for d in data if d is not None], normalise_times, True)
    wanted = set(uids)
    return {uid: item for uid, item in parsed.items() if uid in wanted}


def _items(text: bytes, into: dict[bytes, Any]) -> bool:
    """Read ``UID``, ``FLAGS`` and ``RFC822.SIZE`` items from ``text`` into ``into``; False when
    ``text`` holds anything else."""
    pos = 0
    while pos < len(text):
        m = _ITEM.match(text, pos)
        if m is None or m.end() == pos:
            return False
        uid, flags, size = m.groups()
        if uid is not None:
            into[b"UID"] = int(uid)
        elif flags is not None:
            words = tuple(flags.split())
            if any(w == b"NIL" or w.isdigit() for w in words):
                return False  # imapclient turns these into None and numbers
            into[b"FLAGS"] = words
        else:
            if size[:1] == b"0" and len(size) > 1:
                return False  # imapclient keeps such a number as bytes
            into[b"RFC822.SIZE"] = int(size)
        pos = m.end()
    return True


def _parse_known(data: list[Any]) -> dict[int, dict[bytes, Any]] | None:
    out: dict[int, dict[bytes, Any]] = {}
    i = 0
    while i < len(data):
        entry = data[i]
        i += 1
        if entry is None:
            continue
        item: dict[bytes, Any] = {}
        if isinstance(entry, tuple) and len(entry) == 2 and isinstance(entry[1], bytes):
            head = _LITERAL_HEAD.fullmatch(entry[0])
            if head is None or len(entry[1]) != int(head.group(3)) or not _items(head.group(2), item):
                return None
            # The rest of the response follows the literal: ")" or " UID 42)".
            if i >= len(data) or not isinstance(data[i], bytes) or not data[i].endswith(b")"):
                return None
            if not _items(data[i][:-1], item):
                return None
            i += 1
            item[b"BODY[]"] = entry[1]
            seq = int(head.group(1))
        elif isinstance(entry, bytes):
            line = _PLAIN.fullmatch(entry)
            if line is None or not _items(line.group(2), item):
                return None
            seq = int(line.group(1))
        else:
            return None
        uid = item.pop(b"UID", None)
        if uid is None or uid in out:
            return None  # an unsolicited response without a UID, or two for one message
        item[b"SEQ"] = seq
        out[uid] = item
    return out
