"""The English sets read the ASCII copy between two PAD bytes, with patterns that hold no anchor:
the text's edges are matched as bytes. The padded forms must still match wherever the real
patterns do (the engine's result is exact only then), and must stay free of anchors (the reason
for them: an automaton with no ``^``/``$`` builds fewer and smaller states)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.detect import Detector
from gateway.detect import prefilter as PF
from gateway.model import Message

pytest.importorskip("re2")

EDGE = r"(?<![\w*])(?:{})(?![\w*])"
ANCHORED = EDGE.format(r"^\W*(?:idiot|moron)\W*$")
BRANCHED = EDGE.format(r"(?:^|[,.!?]\W*|\b(?:you|u)\W+)(?:idiot|moron)(?=\W*$)")
PLAIN = EDGE.format(r"(?:stupid\W+)?(?:idiot|moron)s?")


def _anchors(loose: str) -> str:
    """The anchors left in an RE2 pattern once classes' ``^`` and escaped ones are set aside."""
    return re.sub(r"\[\^|\\\^|\\\$", "", loose).translate({ord(c): None for c in "abcdefghijklmnopqrstuvwxyz"})


def _padded(pattern: str) -> str:
    return PF.loosen(pattern, True, loosener=PF._Loosener(True, padded=True))


@pytest.fixture(scope="module")
def detector() -> Detector:
    return Detector.load()


def test_no_shipped_english_pattern_keeps_an_anchor_in_its_padded_form(detector: Detector) -> None:
    loosener = PF._Loosener(True, padded=True)
    checked = 0
    for spec in detector.lexicon.rules:
        if spec.lang != "en":
            continue
        for pattern in spec.patterns:
            loose = PF.loosen(pattern, True, loosener=loosener)
            left = _anchors(loose)
            assert "^" not in left and "$" not in left, (spec.name, loose[:200])
            checked += 1
    assert checked > 100


def test_padded_forms_replace_anchors_by_the_pad_byte() -> None:
    assert _padded(EDGE.format("idiot")) == r"[^0-9A-Za-z_\x{2A}]\x{69}\x{64}\x{69}\x{6F}\x{74}[^0-9A-Za-z_\x{2A}]"
    # a pattern anchored at the text's start follows the start's PAD, not any edge character
    assert _padded(ANCHORED).startswith(r"\x{80}")
    # only the anchored alternatives do: the others follow the leading edge
    assert _padded(BRANCHED).startswith(r"(?:\x{80}|[^0-9A-Za-z_\x{2A}](?:")
    # the unpadded form (each pattern's own automaton, offsets of the text) keeps its anchors
    assert PF.loosen(ANCHORED, True).startswith(r"(?:^|[^0-9A-Za-z_\x{2A}])^")


@pytest.mark.parametrize("pattern, text, reported", [
    (PLAIN, "idiot", True),
    (PLAIN, "you stupid  morons!", True),
    (PLAIN, "idiotic", False),
    (PLAIN, "an xidiot", False),
    (ANCHORED, "idiot", True),
    (ANCHORED, " — moron!! ", True),
    (ANCHORED, "you idiot", False),  # anchored at the start: not after other words
    (BRANCHED, "idiot", True),
    (BRANCHED, "you moron", True),
    (BRANCHED, "fine , idiot", True),
    (BRANCHED, "fine. idiot", False),  # the opener needs an edge before it
    (BRANCHED, "the idiot", False),  # neither at the start nor after one of its openers
])
def test_padded_sets_report_the_edges_as_the_real_pattern_does(pattern: str, text: str, reported: bool) -> None:
    assert bool(re.search(pattern, text)) == reported
    assert PF.Prefilter([(pattern, True)]).possible(text) == ({0} if reported else set())


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.lists(st.sampled_from(["idiot", "moron", "s", "you", "u", "stupid", " ", "  ", ",", ".", "!",
                                 "x", "é", "\n", "*", "_", "—"]), max_size=12).map("".join))
def test_padded_sets_name_every_pattern_that_matches(text: str) -> None:
    patterns = [PLAIN, ANCHORED, BRANCHED]
    possible = PF.Prefilter([(p, True) for p in patterns]).possible(text)
    assert possible is not None
    for k, pattern in enumerate(patterns):
        if re.search(pattern, text):
            assert k in possible, (pattern, text)


def test_reported_patterns_whose_looser_form_matches_nowhere_are_skipped_exactly(
        detector: Detector, monkeypatch: pytest.MonkeyPatch) -> None:
    # Reporting every pattern: each one's own automaton then rules out most English ones (the
    # Japanese ones are searched whole), and what is left finds exactly what the full scan finds.
    everything = set(range(len(detector._flat)))
    monkeypatch.setattr(detector.prefilter, "possible", lambda text, narrow=None: set(everything))
    texts = ["You are a useless idiot and I know where you live.", "idiot", "My parcel is late again.",
             "Fire that agent now, she is a st*pid cow!!", "shut up"]
    for n, text in enumerate(texts):
        m = Message(id=str(n), text=text)
        planned = sum(len(which) for _, which in detector._plan(detector.normalizer.normalize(text).text))
        assert planned < len(everything) // 2
        assert detector.detect(m) == detector.detect_exhaustive(m), text
