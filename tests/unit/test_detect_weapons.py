"""Threats that mention weapons: plural and singular alike, and returns of goods left alone."""

from __future__ import annotations

import pytest

from gateway.detect import Detector
from gateway.model import Message


def threat_rules(detector: Detector, text: str) -> list[str]:
    return [f.rule for f in detector.detect(Message(id="t", text=text)) if f.category == "threat"]


@pytest.mark.parametrize("text", [
    "I'm coming to your office with guns.",
    "I will be waiting with knives outside your office.",
    "I am coming with my rifles.",
    "I'll bring my guns next time.",
    "Next time I'll bring a gun.",
])
def test_weapons_brought_to_staff_are_threats_in_the_plural_too(detector: Detector, text: str) -> None:
    rules = threat_rules(detector, text)
    assert rules and all(r.startswith("en.threat.") for r in rules)


@pytest.mark.parametrize("text", [
    "I'll bring the rifles back for a refund.",
    "I'll bring my rifle back for a refund.",
    "I will bring my pistol in for repair.",
    "I am bringing my knives to the store to be sharpened.",
    "The guns you sold me are defective.",
])
def test_bringing_goods_back_is_not_a_threat(detector: Detector, text: str) -> None:
    assert threat_rules(detector, text) == []
