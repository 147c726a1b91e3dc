"""The leet and masking rewrites find exactly the matches of their plain (lookbehind-first) forms.

normalize.py writes each pattern to start with its symbol class so that ``re`` skips ahead to the
rare symbols; the plain forms below are what they must equal, match for match, and the rewrite of
a text by both must be the same.
"""

from __future__ import annotations

import random
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.detect.normalize import (
    _LEET,
    _LEET_INNER,
    _LEET_LEAD,
    _LEET_TAIL,
    _MASK_INNER,
    _leet_passes,
    normalize,
)

_PLAIN = {
    "inner": (_LEET_INNER, re.compile(r"(?<=[a-z*])[0134578@$!|+]+(?=[a-z*])")),
    "lead": (_LEET_LEAD, re.compile(r"(?<![\w*@$])[0134@$](?=[a-z*]{2,})")),
    "tail": (_LEET_TAIL, re.compile(r"(?<=[a-z]{2})\$+|(?<=[a-z]{3})[0137](?![\w*])")),
    "mask": (_MASK_INNER, re.compile(r"(?<=[a-z])[#%]+(?=[a-z])")),
}
_ALPHABET = "abz*0134578@$!|+#%_ .\n'é死A9"


def _spans(rx: re.Pattern[str], text: str) -> list[tuple[int, int]]:
    return [m.span() for m in rx.finditer(text)]


def _same(text: str) -> None:
    for name, (fast, plain) in _PLAIN.items():
        assert _spans(fast, text) == _spans(plain, text), (name, text)
        assert fast.sub(lambda m: m.group().translate(_LEET), text) == plain.sub(
            lambda m: m.group().translate(_LEET), text), (name, text)


@settings(max_examples=1500, deadline=None, derandomize=True)
@given(st.text(alphabet=_ALPHABET, max_size=14))
def test_fast_leet_patterns_match_their_plain_forms(text: str) -> None:
    _same(text)


def test_fast_leet_patterns_on_many_random_texts() -> None:
    rng = random.Random(5)
    for _ in range(8000):
        _same("".join(rng.choice(_ALPHABET) for _ in range(rng.randrange(0, 10))))


def test_known_evasions_still_fold() -> None:
    assert normalize("you 1d10t").text == "you idiot"
    assert normalize("f#%k off").text == "f**k off"
    assert normalize("@bob is a b1tch$").text == "abob is a bitchs"
    assert normalize("4ss").text == "ass"


def _all_passes(text: str) -> str:
    """The four rewrites in order, each run whatever the text holds (no quick checks)."""
    text = _MASK_INNER.sub(lambda m: "*" * len(m.group()), text)
    for rx in (_LEET_INNER, _LEET_LEAD, _LEET_TAIL):
        text = rx.sub(lambda m: m.group().translate(_LEET), text)
    return text


@settings(max_examples=3000, deadline=None, derandomize=True)
@given(st.text(alphabet=_ALPHABET, max_size=16))
def test_skipping_passes_that_cannot_match_changes_no_text(text: str) -> None:
    assert _leet_passes(text) == _all_passes(text)


def test_skipping_passes_on_many_random_texts() -> None:
    rng = random.Random(9)
    alphabet = _ALPHABET + "bcdefghijklmnopqrstuvwxy" * 2 + "2568#-"
    for _ in range(20000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 14)))
        assert _leet_passes(text) == _all_passes(text), repr(text)
