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
from operator import attrgetter, itemgetter

from rapidfuzz import fuzz, process

from gateway.contact.fingerprint import Comparable, comparable, content_hash, is_cjk
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


def similarity_from(a: Comparable, b: Comparable, cutoff: float) -> tuple[float, str]:
    """``similarity(a.text, b.text)`` whenever that reaches ``cutoff`` (the same score and scorer);
    below it, some score below ``cutoff``. Lets rapidfuzz stop early and skips re-checking
    languages and re-sorting words: the prepared texts carry both."""
    if not a.text or not b.text:
        return 0.0, "ratio"
    plain = fuzz.ratio(a.text, b.text, score_cutoff=cutoff)
    if a.cjk or b.cjk:
        return plain, "ratio"
    sorted_score = fuzz.ratio(a.sorted_words, b.sorted_words, score_cutoff=cutoff)
    return (sorted_score, "token_sort_ratio") if sorted_score > plain else (plain, "ratio")


def find_duplicates(
    new_text: str | Comparable,
    earlier: Sequence[Candidate],
    *,
    threshold: float,
    min_chars: int,
    ignore_lines: Sequence[re.Pattern[str]] = (),
    comparable_of: Callable[[Candidate], Comparable] | None = None,
    new_hash: str | None = None,
) -> list[DuplicateMatch]:
    """Earlier messages whose comparable text scores at least ``threshold`` against
    ``new_text`` (already comparable), best first. Texts shorter than ``min_chars`` never match.
    ``comparable_of`` gives a candidate's prepared comparable text (a caller's cache), default
    computed here; ``new_hash`` is the new text's content hash when the caller has it."""
    new = new_text if isinstance(new_text, Comparable) else Comparable.of(new_text)
    if len(new.text) < min_chars:
        return []
    matches: list[DuplicateMatch] = []
    rows = earlier if None not in map(_ROW_TEXT, earlier) else [old for old in earlier if old.text is not None]
    if len(rows) < len(earlier):  # purged texts: only their exact-repeat hash is left
        for old in earlier:
            if old.text is None:
                if new_hash is None:
                    new_hash = content_hash(new.text)
                if old.content_hash and old.content_hash == new_hash:
                    matches.append(DuplicateMatch(old.id, old.customer, old.received_at, 100.0, "exact_hash"))
    if comparable_of is None:
        texts = [Comparable.of(comparable(old.text or "", ignore_lines)) for old in rows]
    else:  # a row's own ``comparable`` is what ``comparable_of`` gives for it; asked only when missing
        texts = list(map(_ROW_COMPARABLE, rows))
        if None in texts:
            texts = [old.comparable or comparable_of(old) for old in rows]  # type: ignore[misc]
    if min_chars > 0 and texts and min(map(len, map(_TEXT, texts))) < min_chars:
        kept = [i for i, t in enumerate(texts) if len(t.text) >= min_chars]
        if len(kept) < len(texts):
            rows = [rows[i] for i in kept]
            texts = [texts[i] for i in kept]
    for i, (score, method) in enumerate(similarities(new, texts, threshold)):
        if score >= threshold:
            old = rows[i]
            matches.append(DuplicateMatch(old.id, old.customer, old.received_at, score, method))
    matches.sort(key=lambda m: (-m.similarity, m.received_at, m.id))
    return matches


def similarities(new: Comparable, others: list[Comparable], cutoff: float) -> list[tuple[float, str]]:
    """``similarity_from(new, other, cutoff)`` for each of ``others`` whenever it reaches
    ``cutoff`` (the same score and scorer; below it, 0), in two batched rapidfuzz calls instead
    of two calls per earlier message: a customer's history can be a couple of hundred long."""
    out: list[tuple[float, str]] = [(0.0, "ratio")] * len(others)
    if not others or not new.text:
        return out
    plain = [0.0] * len(others)
    texts = list(map(_TEXT, others))
    # (rapidfuzz skips a pair whose lengths alone keep it below the cutoff — ``ratio`` is at most
    # ``200 * min(la, lb) / (la + lb)`` — so a length filter here in Python only costs time.)
    for _, score, i in process.extract(new.text, texts, scorer=fuzz.ratio, score_cutoff=cutoff, limit=None):
        if texts[i]:
            plain[i] = score
            out[i] = (score, "ratio")
    if not new.cjk:
        if any(map(_CJK, others)) or not all(texts):
            latin: list[int] | None = [i for i, o in enumerate(others) if not o.cjk and o.text]
            words = [others[i].sorted_words for i in latin]
        else:  # (the usual case: every earlier text is a non-empty non-Japanese one)
            latin, words = None, list(map(_SORTED_WORDS, others))
        for _, score, j in process.extract(new.sorted_words, words, scorer=fuzz.ratio, score_cutoff=cutoff, limit=None):
            i = j if latin is None else latin[j]
            if score > plain[i]:
                out[i] = (score, "token_sort_ratio")
    return out


_ROW_TEXT = attrgetter("text")
_ROW_COMPARABLE = attrgetter("comparable")
_TEXT = itemgetter(0)  # Comparable.text
_CJK = itemgetter(1)  # Comparable.cjk
_SORTED_WORDS = itemgetter(2)  # Comparable.sorted_words
