"""Japanese or English: which lexicons detection should read a message with."""

from __future__ import annotations

import re

__all__ = ["guess_lang"]

# Kana, CJK ideographs, half-width katakana and full-width letters/punctuation.
_JA = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff01-\uff9f\u3000-\u303f]")
_LATIN = re.compile(r"[A-Za-z]")


def guess_lang(text: str) -> str:
    """``"ja"`` when Japanese script carries the text, else ``"en"``.

    Japanese mail often mixes in English product names and URLs, and each Japanese character says
    more than a Latin letter, so one Japanese character weighs as much as four Latin letters.
    """
    if not text:
        return "en"
    sample = text if len(text) <= 4_000 else text[:4_000]
    if not _JA.search(sample):
        return "en"
    ja = len(_JA.findall(sample))
    latin = len(_LATIN.findall(sample))
    return "ja" if ja * 4 >= latin else "en"
