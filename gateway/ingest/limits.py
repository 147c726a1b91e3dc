"""How much of a message ingest will look at.

Limits keep one hostile or enormous message from exhausting memory or time: what is over a limit is
analyzed truncated, with a warning on the Message, never silently.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Limits"]

MB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """Configurable bounds for one message.

    ``max_message_bytes``: raw bytes parsed (the content hash still covers every byte).
    ``max_html_bytes``: bytes of one HTML part converted to text.
    ``max_depth``: MIME nesting levels read (multipart inside multipart, attached messages).
    ``max_parts``: MIME parts looked at in one message.
    ``max_text_chars``: characters of clean text handed to detection.
    ``max_header_chars``: characters of one header value decoded.
    """

    max_message_bytes: int = 10 * MB
    max_html_bytes: int = 2 * MB
    max_depth: int = 16
    max_parts: int = 500
    max_text_chars: int = 1_000_000
    max_header_chars: int = 16_384

    def __post_init__(self) -> None:
        for name in ("max_message_bytes", "max_html_bytes", "max_depth", "max_parts", "max_text_chars",
                     "max_header_chars"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"Limits.{name} must be a positive integer, not {value!r}")


DEFAULT_LIMITS = Limits()
