"""Who wrote a message: a stable customer key, the display name, and where replies go.

The customer key is what contact history is counted under, so two spellings of one mailbox must
give one key: ``Taro.Yamada+order123@Example.JP`` and ``taro.yamada@example.jp`` are the same
customer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.utils import getaddresses

from gateway.ingest.headers import decode_header_value

__all__ = ["Sender", "customer_key", "parse_sender", "first_address"]

_NO_REPLY = re.compile(r"^(?:no-?reply|do-?not-?reply|donotreply|noreply-[^@]*)@", re.IGNORECASE)
_SIMPLE = re.compile(
    r'^\s*(?:(?:"([^"\\<>]*)"|([^"\\<>,;:@()]*?))\s*<([^<>@\s",;()]+@[^<>@\s",;()]+)>|([^<>@\s",;()]+@[^<>@\s",;()]+))\s*$'
)


def customer_key(address: str) -> str:
    """Lowercased address with plus-addressing (``user+tag@``) removed; '' for no address.

    Accepts a bare address, ``<addr>``, ``mailto:addr`` or a full ``Name <addr>`` header value.
    """
    text = (address or "").strip()
    if "<" in text and ">" in text:
        text = text[text.rfind("<") + 1:text.rfind(">")]
    text = text.strip().strip("<>").strip()
    if text.lower().startswith("mailto:"):
        text = text[7:]
    text = text.lower()
    local, at, domain = text.rpartition("@")
    if not at:
        return text
    if "+" in local:
        base = local.split("+", 1)[0]
        if base:  # "+tag@x" with nothing before the plus is kept as written
            local = base
    return f"{local}@{domain.rstrip('.')}"


def first_address(value: str) -> tuple[str, str]:
    """(raw display name, address) of the first mailbox in an address header value."""
    if not value:
        return "", ""
    simple = _SIMPLE.match(value)
    if simple:  # the common shapes: 'addr', '<addr>', 'Name <addr>', '"Name" <addr>'
        name = simple.group(1) if simple.group(1) is not None else (simple.group(2) or "")
        return name.strip(), simple.group(3) or simple.group(4)
    try:
        pairs = getaddresses([value])
    except Exception:  # the stdlib address parser has raised on hostile input before
        pairs = []
    for name, addr in pairs:
        if addr or name:
            return name, addr
    return "", value.strip() if "@" in value else ""


@dataclass(frozen=True)
class Sender:
    key: str
    address: str
    display_name: str
    reply_to: str


def parse_sender(from_value: str, reply_to_value: str = "", warnings: list[str] | None = None) -> Sender:
    """Sender identity from the raw (undecoded) From and Reply-To values."""
    warnings = [] if warnings is None else warnings
    # Parse addresses on the raw value: encoded words are atoms there, so a decoded display name
    # with commas or angle brackets cannot confuse the address parser.
    raw_name, address = first_address(from_value.replace("\r", "").replace("\n", " ") if from_value else "")
    display = decode_header_value(raw_name, "from", warnings) if raw_name else ""
    if address and not address.isascii():
        address = decode_header_value(address, "from", warnings)
    _, reply = first_address(reply_to_value.replace("\r", "").replace("\n", " ") if reply_to_value else "")
    if reply and not reply.isascii():
        reply = decode_header_value(reply, "reply-to", warnings)
    key = customer_key(address)
    if reply and _NO_REPLY.match(key):
        # Web forms and shop systems send from a no-reply address with the customer in Reply-To.
        key = customer_key(reply)
    return Sender(key, address.strip(), display.strip(), reply.strip())
