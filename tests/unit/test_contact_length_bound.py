"""Campaign candidates too short to reach the threshold are left out before scoring (and before
counting customers): judged on the comparable text a cached row carries, the bound is exact — a
text just long enough can still match, one character shorter cannot."""

from __future__ import annotations

import pytest
from rapidfuzz import fuzz

from gateway.contact.fingerprint import Comparable
from gateway.contact.tracker import _length_floors, _scores, _too_short
from gateway.store.messages import Candidate


def _row(text: str, *, carried: bool) -> Candidate:
    prepared = Comparable.of(text)
    if carried:  # as the cache keeps a row the contact stage recorded: no raw text, its comparable form
        return Candidate(1, "m1", "bob@example.com", 0, "", "", "", prepared)
    return Candidate(1, "m1", "bob@example.com", 0, text, "", "")


@pytest.mark.parametrize("threshold", [80.0, 85.0, 90.0, 87.5])
@pytest.mark.parametrize("length", [30, 60, 97, 160])
def test_a_carried_text_is_too_short_exactly_when_no_score_can_reach_the_threshold(threshold, length) -> None:
    # A prefix shares every character of the shorter text: its ratio is exactly the bound
    # 200 * shorter / (sum of lengths), so the rule must be neither looser nor tighter.
    new = Comparable.of("a" * length)
    for other in range(1, length + 1):
        row = _row("a" * other, carried=True)
        reachable = fuzz.ratio(new.text, row.comparable.text) >= threshold
        assert _too_short(row, _length_floors(length, threshold)) == (not reachable), (length, other)
        assert (_scores(new, [row.comparable], threshold)[0] >= threshold) == reachable


def test_a_raw_text_is_judged_with_a_margin_and_never_drops_a_reachable_one() -> None:
    new = Comparable.of("a" * 100)
    for other in range(1, 101):
        row = _row("a" * other, carried=False)
        if _too_short(row, _length_floors(100, 90.0)):
            assert fuzz.ratio(new.text, "a" * other) < 90.0
    assert _too_short(_row("", carried=False), _length_floors(100, 90.0))  # an empty text never matches
