"""Python's ``re`` is tried only where the RE2 prefilter's looser patterns matched: every match a
full ``finditer`` finds is still found, at the same place, with the same extent."""

from __future__ import annotations

import random
import re

import pytest

from gateway.detect import Detector
from gateway.detect.engine import _where
from gateway.detect.rules import Starts, _matches
from gateway.model import Message

pytest.importorskip("re2")


def test_tried_only_at_starts_finds_what_finditer_finds() -> None:
    rx = re.compile(r"(?<![\w*])(?:idiot|stupid idiot)s?(?![\w*])")
    text = "stupid idiot, idiots and stupid idiots; xidiot idiotx idiot"
    every = Starts(range(len(text) + 1))
    assert [m.span() for m in _matches(rx, text, every)] == [m.span() for m in rx.finditer(text)]
    # Positions that cannot start a match may be left out; a real start may not.
    starts = Starts(m.start() for m in rx.finditer(text))
    assert [m.span() for m in _matches(rx, text, starts)] == [m.span() for m in rx.finditer(text)]
    assert len(list(_matches(rx, text, Starts([starts[0]])))) == 1


def test_where_covers_each_span_and_the_position_after_it() -> None:
    where = _where([(3, 6), (10, 10)], 20, nonempty=True)
    assert isinstance(where, Starts)
    assert list(where) == [3, 4, 5, 6, 10, 11]
    assert _where([(3, 6)], 20, nonempty=False) == [(3, 20)]
    assert _where([(0, 6)], 20, nonempty=False) is None
    assert _where(None, 20, nonempty=True) is None


def test_every_python_match_starts_where_the_loose_pattern_matched(detector: Detector) -> None:
    """For each pattern the prefilter names, the candidate starts hold every real match start
    (the edge character the loose form consumes shifts its start one to the left)."""
    rng = random.Random(5)
    words = ["you", "are", "an", "idiot", "stupid", "I", "know", "where", "you", "live", "manager",
             "fire", "her", "now", "post", "your", "name", "online", "kill", "not", ",", ".", "\"",
             "café", "お前", "無能", "！", "*", "f*ck", "idiooot", "\n"]
    checked = 0
    for _ in range(300):
        text = " ".join(rng.choice(words) for _ in range(rng.randrange(5, 60)))
        norm = detector.normalizer.normalize(text).text
        for i, which in detector._plan(norm):
            for j, where in which.items():
                rx = detector.rules[i].patterns[j]
                real = [m.span() for m in rx.finditer(norm)]
                if isinstance(where, Starts):
                    assert {s for s, _ in real} <= set(where), (rx.pattern[:60], norm)
                    checked += 1
                assert [m.span() for m in _matches(rx, norm, where)] == real, norm
    assert checked > 100


def test_detect_equals_exhaustive_when_matches_repeat(detector: Detector) -> None:
    text = ("You are a useless idiot and I know where you live. " * 6
            + "Fire that agent immediately, she is a stupid cow. お前は本当に無能だな。土下座しろ。")
    m = Message(id="r", text=text)
    fast = detector.detect(m)
    assert fast and fast == detector.detect_exhaustive(m)
