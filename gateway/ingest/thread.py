"""Which conversation a message belongs to.

References and In-Reply-To name the conversation when the client kept them; otherwise the subject
does, once reply/forward prefixes and helpdesk ticket tokens are taken off.
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
    """The conversation key: the thread's first Message-ID from References, else In-Reply-To,
    else ``subject:<normalized subject>``, else the message's own id."""
    if references:
        return references[0]
    if in_reply_to:
        return in_reply_to
    normalized = normalize_subject(subject)
    if normalized:
        return f"subject:{normalized}"
    return message_id
