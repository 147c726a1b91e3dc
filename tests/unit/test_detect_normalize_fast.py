"""The fast forms of normalization's checks decide exactly what their plain definitions decide."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.detect.normalize import _LEET_ANY, _has_spaced_letters, words_of

# The plain definitions: a letter then a leet digit or symbol, or a leading 0134@$ then a letter;
# three single-letter words in a row.
_PLAIN_LEET = re.compile(r"[a-z*][0134578@$!|+#%]|[0134@$][a-z*]")


def _plain_spaced(words: list[str]) -> bool:
    run = 0
    for w in words:
        run = run + 1 if len(w) == 1 else 0
        if run >= 3:
            return True
    return False


@settings(max_examples=2000, deadline=None, derandomize=True)
@given(st.text(alphabet="abz*0134578@$!|+#% .é-", max_size=12))
def test_leet_check_agrees_with_its_plain_definition(text: str) -> None:
    assert bool(_LEET_ANY.search(text)) == bool(_PLAIN_LEET.search(text))


@settings(max_examples=2000, deadline=None, derandomize=True)
@given(st.text(alphabet="ab* .-\né死", max_size=16))
def test_spaced_letters_check_agrees_with_its_plain_definition(text: str) -> None:
    words = words_of(text)
    assert _has_spaced_letters(words) == _plain_spaced(words)


@settings(max_examples=3000, deadline=None, derandomize=True)
@given(st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=24) | st.text(alphabet="ab*Z_9 .-\té死", max_size=16))
def test_words_are_the_runs_of_letters_and_stars(text: str) -> None:
    # words_of reads an ASCII text through a translate table (by index, not a dict): the same
    # words as the plain definition, for every ASCII character and for other texts.
    assert words_of(text) == re.findall(r"[a-z*]+", text)
