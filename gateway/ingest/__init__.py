"""Ingest: raw mail (or helpdesk text) to the clean :class:`gateway.model.Message` detection reads.

One module per concern: ``charset`` (decoder fallback chain), ``headers`` (RFC 2047), ``mime``
(which parts carry the text), ``html`` (HTML to text), ``quotes`` (quoted history and signatures),
``identity`` (customer key), ``thread`` (conversation key), ``lang`` (ja/en), ``limits``, ``auto``
(RFC 3834 automated mail) and ``reader`` (the two entry points).
"""

from gateway.ingest.auto import automated_reason
from gateway.ingest.charset import decode_bytes
from gateway.ingest.html import html_to_text
from gateway.ingest.identity import customer_key
from gateway.ingest.lang import guess_lang
from gateway.ingest.limits import Limits
from gateway.ingest.quotes import strip_quoted
from gateway.ingest.reader import ingest, message_from_text
from gateway.ingest.thread import normalize_subject

__all__ = [
    "Limits",
    "automated_reason",
    "customer_key",
    "decode_bytes",
    "guess_lang",
    "html_to_text",
    "ingest",
    "message_from_text",
    "normalize_subject",
    "strip_quoted",
]
