"""The quick checks in front of the leetspeak passes (``normalize._leet_passes``) skip a pass only
where it would change nothing: the passes with the checks give what the passes always run give,
and the checks are true wherever their pass finds a match."""

from __future__ import annotations

import importlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

N = importlib.import_module("gateway.detect.normalize")

ALPHABET = "abcz*0134578@$!|+#% .,'-\n"


def _reference(t: str) -> str:
    """The passes, each always run (what the checks stand in front of)."""
    if "#" in t or "%" in t:
        t = N._MASK_INNER.sub(N._masked, t)
    t = N._LEET_INNER.sub(N._unleet, t)
    t = N._LEET_LEAD.sub(N._unleet, t)
    return N._LEET_TAIL.sub(N._unleet, t)


def _checks(t: str) -> tuple[bool, bool]:
    data = t.encode("ascii")
    return (N._INNER_RUN.search(data.translate(N._INNER_KINDS)) is not None,
            b"aaT" in data.translate(N._TAIL_KINDS))


FIXED = ["help!", "help!!", "h3llo", "f*ck!ng", "id!0t", "stup1d", "kill3r", "$hit", "a$$", "cla$$",
         "sh!t.", "@united thanks!", "b!tch", "w0rd", "no1", "abc1", "abc1x", "ab$", "a!b", "*!*",
         "wow!!! great", "f+ck", "l0ser|", "it's 4pm", "1st", "idiot#", "i#d", "x%y"]


@pytest.mark.parametrize("text", FIXED)
def test_passes_with_checks_equal_passes_always_run(text: str) -> None:
    assert N._leet_passes(text) == _reference(text)


@settings(max_examples=2000, deadline=None)
@given(st.text(alphabet=ALPHABET, max_size=24))
def test_passes_with_checks_equal_passes_always_run_generated(text: str) -> None:
    assert N._leet_passes(text) == _reference(text)
    inner, tail = _checks(text)
    assert inner == (N._LEET_INNER.search(text) is not None)
    if N._LEET_TAIL.search(text) is not None:
        assert tail
