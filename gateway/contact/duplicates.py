"""Near-duplicates: the same demand again among a customer's own recent messages.

Reworded, reordered, with a new greeting or sign-off, or with the previous message quoted below:
all compare equal enough, because only the customer's new words are compared (``core_span``) and
the score is rapidfuzz's ``ratio`` or, for English, ``token_sort_ratio`` (word order ignored).
Never ``token_set_ratio``: it scores 100 whenever one text's words are a subset of the other's, so
every short follow-up would match. Japanese is compared character by character.

Texts whose stored text was purged by retention still match on their exact-repeat hash.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from rapidfuzz import fuzz

from gateway.contact.fingerprint import comparable, content_hash, is_cjk
from gateway.store.messages import Candidate


@dataclass(frozen=True)
class DuplicateMatch:
    """An earlier message the new one nearly repeats."""

    id: str
    customer: str
    received_at: datetime
    similarity: float  # 0..100
    method: str  # "ratio", "token_sort_ratio" or "exact_hash"

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "customer": self.customer,
            "received_at": self.received_at.isoformat(),
            "similarity": round(self.similarity, 1),
            "method": self.method,
        }


def similarity(a: str, b: str) -> tuple[float, str]:
    """The score of two comparable texts and the scorer that gave it."""
    if not a or not b:
        return 0.0, "ratio"
    plain = fuzz.ratio(a, b)
    if is_cjk(a) or is_cjk(b):
        return plain, "ratio"
    sorted_score = fuzz.token_sort_ratio(a, b)
    return (sorted_score, "token_sort_ratio") if sorted_score > plain else (plain, "ratio")


def find_duplicates(
    new_text: str,
    earlier: Sequence[Candidate],
    *,
    threshold: float,
    min_chars: int,
    ignore_lines: Sequence[re.Pattern[str]] = (),
    comparable_of: Callable[[Candidate], str] | None = None,
) -> list[DuplicateMatch]:
    """Earlier messages whose comparable text scores at least ``threshold`` against
    ``new_text`` (already comparable), best first. Texts shorter than ``min_chars`` never match.
    ``comparable_of`` gives a candidate's comparable text (a caller's cache), default computed here."""
    if len(new_text) < min_chars:
        return []
    new_hash = content_hash(new_text)
    matches: list[DuplicateMatch] = []
    for old in earlier:
        if old.text is None:
            if old.content_hash and old.content_hash == new_hash:
                matches.append(DuplicateMatch(old.id, old.customer, old.received_at, 100.0, "exact_hash"))
            continue
        old_text = comparable_of(old) if comparable_of else comparable(old.text, ignore_lines)
        if len(old_text) < min_chars:
            continue
        score, method = similarity(new_text, old_text)
        if score >= threshold:
            matches.append(DuplicateMatch(old.id, old.customer, old.received_at, score, method))
    matches.sort(key=lambda m: (-m.similarity, m.received_at, m.id))
    return matches
