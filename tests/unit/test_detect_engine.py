"""The fast path (rules picked by trigger words, searched near them) finds what a full scan finds."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.detect import Detector
from gateway.model import Message

LABELED = Path(__file__).resolve().parent.parent / "data" / "labeled"


def rules_fired(findings: list) -> set[tuple[str, tuple]]:
    return {(f.rule, tuple((e.start, e.end) for e in f.evidence)) for f in findings}


def test_fast_path_agrees_with_a_full_scan_on_the_labeled_set(detector: Detector) -> None:
    for path in sorted(LABELED.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            m = Message(id=row["id"], text=row["text"])
            assert rules_fired(detector.detect(m)) == rules_fired(detector.detect_exhaustive(m)), row["text"]


def test_long_messages_are_searched_everywhere(detector: Detector) -> None:
    filler = "My order number is 12345 and the parcel is late again. " * 30
    text = filler + "Honestly, you are a useless idiot. " + filler + "I know where you live."
    m = Message(id="long", text=text)
    fast = rules_fired(detector.detect(m))
    assert fast == rules_fired(detector.detect_exhaustive(m))
    assert {r for r, _ in fast} >= {"en.verbal_abuse.insult_at_reader", "en.threat.intimidation"}


_pieces = st.sampled_from([
    "you ", "are ", "a ", "stupid ", "idiot", "I will ", "kill ", "you", ". ", "\n", "fire ", "that agent ",
    "now", "get me your manager ", "please ", "refund ", "my order ", "women ", "are scum ", "send nudes ",
    "土下座しろ", "お前", "バカ", "殺すぞ", "社長を出せ", "。", "、", "please could I speak to a supervisor ",
    "post your name online ", "i know where you live ", "f*ck you ", "i d i o t ", "stuuupid ",
])


@settings(max_examples=150, deadline=None, derandomize=True)
@given(st.lists(_pieces, max_size=60).map("".join))
def test_fast_path_agrees_with_a_full_scan_on_generated_text(detector: Detector, text: str) -> None:
    m = Message(id="g", text=text)
    assert rules_fired(detector.detect(m)) == rules_fired(detector.detect_exhaustive(m))
