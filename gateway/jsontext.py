"""JSON text written with one C encoder kept per spelling.

``json.dumps(value, **options)`` and ``json.JSONEncoder(**options).encode(value)`` build a new C
encoder on every call, which costs more than encoding a short list. The stores write JSON for
every message (findings, decisions, audit evidence), so each spelling keeps one encoder.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any


def json_encoder(**options: Any) -> Callable[[Any], str]:
    """``json.JSONEncoder(**options).encode``, the same text, with one C encoder kept for every
    call instead of a new one per call (``json.dumps`` builds one each time). It skips the
    circular-reference check: the values encoded here are plain data the gateway builds."""
    encoder = json.JSONEncoder(**options)
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None or encoder.indent is not None:
        return encoder.encode
    spell = json.encoder.encode_basestring_ascii if encoder.ensure_ascii else json.encoder.encode_basestring
    c_encode = make(None, encoder.default, spell, None, encoder.key_separator, encoder.item_separator,
                    encoder.sort_keys, encoder.skipkeys, encoder.allow_nan)
    join = "".join

    def encode(value: Any) -> str:
        return join(c_encode(value, 0))

    return encode
