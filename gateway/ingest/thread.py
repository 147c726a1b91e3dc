"""Which conversation a message belongs to.

A conversation is named by its root's Message-ID: a reply carries it first in References (or, from
clients that keep only the parent, in In-Reply-To), and the root is keyed by its own Message-ID, so
the customer's first message and every reply to it share one key for per-thread rate windows and
thread holds. Only mail with no Message-ID at all, which nothing can reply to by id, falls back to
its subject, once reply/forward prefixes and helpdesk ticket tokens are taken off.

Fresh mails that repeat a subject without References are separate threads on purpose. A stateless
key cannot name such a mail by its subject and still match the replies to it, which carry its
Message-ID; and a subject key counted every sender using an everyday subject ("Order",
"お問い合わせ") in one thread window. Repeats are grouped where they belong: per customer (the
customer windows count every message of the customer, on every linked address) and as
``duplicate_contact`` when they repeat the demand.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["normalize_subject", "thread_key", "parse_msg_ids"]

# Reply and forward prefixes as clients write them, in several languages, with counters like
# "Re[2]:" or "RE^3:" and full-width colons (NFKC turns "：" into ":").
_PREFIX = re.compile(
    r"^\s*(?:re|fwd?|aw|wg|sv|vs|antw|tr|r|rif|odp|enc|res|返信|転送|回复|回覆|答复|转发|轉寄)"
    r"\s*(?:\[\d+\]|\^\d+|\(\d+\))?\s*:\s*",
    re.IGNORECASE,
)
# Helpdesk ticket tokens: [#123], [Ticket #123], [Case #00012345], (#123).
_TICKET = re.compile(r"[\[(][^\[\]()]{0,30}#\s*\d+[\])]")
_SPACE = re.compile(r"\s+")
_MSG_ID = re.compile(r"<[^<>\s]{1,900}>")


def normalize_subject(subject: str) -> str:
    """A subject reduced to what stays the same across a conversation.

    Prefixes (Re:, RE:, Fwd:, FW:, AW:, 返信:, 転送:...) and ticket tokens ([#123]) are removed,
    full-width forms folded (NFKC), whitespace collapsed, and the result case-folded.
    """
    text = unicodedata.normalize("NFKC", subject or "")
    previous = None
    while previous != text:
        previous = text
        text = _TICKET.sub(" ", text)
        text = _PREFIX.sub("", text)
        text = text.strip()
    return _SPACE.sub(" ", text).strip().casefold()


def parse_msg_ids(value: str) -> list[str]:
    """Message-IDs (with angle brackets) in a References or In-Reply-To value, in order."""
    if not value:
        return []
    return _MSG_ID.findall(value)


def thread_key(references: list[str], in_reply_to: str, subject: str, message_id: str) -> str:
    """The conversation key: the root's Message-ID, which is the first of References, else
    In-Reply-To, else the message's own Message-ID (it is a root); for mail without a Message-ID
    (``message_id`` is then a content hash), ``subject:<normalized subject>``, else ``message_id``."""
    if references:
        return references[0]
    if in_reply_to:
        return in_reply_to
    if message_id.startswith("<"):
        return message_id
    normalized = normalize_subject(subject)
    if normalized:
        return f"subject:{normalized}"
    return message_id
