"""The model turns a message of more than ``max_words`` words away after one regex search
(``model._more_than``) instead of tokenizing it: that search must never turn away a message the
tokenizer would have judged, whatever mentions, links, apostrophes and leetspeak it holds."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from gateway.detect.model import _more_than, _tokenize, tokenize
from gateway.detect.normalize import Normalizer

normalize = Normalizer().normalize

PIECES = ["you", "are", "a", "an", "idiot", "st*pid", "don't", "it's", "'", "''", "o'", "@bob", "@", "@ ",
          "@_x", "＠ann", "a@b", "http://x.y/z", "https://q", "http", "www.x.org", "www.", "h", "w", " ",
          "  ", ".", "!", "?", "\n", ";", ",", "-", "4ss", "h3ll0", "1d10t", "$hit", "_", "2", "ｆｕｃｋ",
          "バカ", "é", "naïve", "aaa", "soooo", "i d i o t", "youre", "k1ll"]


def _words(text: str) -> int:
    return sum(len(sentence) for sentence in tokenize(normalize(text)))


@settings(max_examples=600, deadline=None, derandomize=True)
@given(st.lists(st.sampled_from(PIECES), max_size=30).map("".join), st.sampled_from([0, 1, 3, 8]))
@example("@united @delta thanks for nothing you useless lot", 8)
@example("@a @b @c @d one two three four five six seven eight", 8)
def test_the_count_turns_away_only_what_the_tokenizer_would(text: str, limit: int) -> None:
    norm = normalize(text)
    words = _words(text)
    if _more_than(norm, norm.text, norm.original, limit):
        assert words > limit, text
    got = _tokenize(norm, limit)
    assert (got is None) == (words > limit), text
    if got is not None:
        assert got == tokenize(norm)


@pytest.mark.parametrize("text, limit, turned_away", [
    ("one two three four five six seven eight nine", 8, True),
    ("one two three four five six seven eight", 8, False),
    ("@united @delta @jetblue you lost my bag again and again and again", 8, True),  # mentions are not words
    ("@united @delta @jetblue you lost my bag again", 8, False),
    ("don't won't can't isn't aren't wasn't weren't hasn't", 8, False),  # one word each
    ("see http://a.b/c http://d.e/f www.g.h i j k l m n", 8, False),  # links are not words
])
def test_the_count_reads_words_as_the_tokenizer_does(text: str, limit: int, turned_away: bool) -> None:
    norm = normalize(text)
    assert _more_than(norm, norm.text, norm.original, limit) == turned_away
    assert (_words(text) > limit) == turned_away
