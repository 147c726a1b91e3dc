"""The trigger path (what runs where RE2 is missing or cannot decide) finds what a full scan finds,
including rules whose trigger is a stem shorter than four letters with an ending (``dies?``,
``dox``+``xed``), which the message's four-letter word keys used to miss."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from gateway.detect import Detector
from gateway.detect import prefilter as PF
from gateway.model import Message

LABELED = Path(__file__).resolve().parent.parent / "data" / "labeled"


def fired(findings: list) -> set[tuple[str, tuple]]:
    return {(f.rule, tuple((e.start, e.end, e.text) for e in f.evidence)) for f in findings}


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("I hope she dies slowly.", "en.threat.death_wish"),
        ("I hope your agent dies in a fire", "en.threat.death_wish"),
        ("I will find your address and get you doxxed", "en.online_exposure.publish_employee_data"),
    ],
)
def test_short_stem_with_an_ending_is_found_without_re2(detector: Detector, text: str, rule: str) -> None:
    m = Message(id="s", text=text)
    by_triggers = fired(detector.detect_by_triggers(m))
    assert rule in {r for r, _ in by_triggers}
    assert by_triggers == fired(detector.detect_exhaustive(m))


def test_engine_built_without_re2_finds_short_stems(detector: Detector, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(PF, "_re2", None)
    plain = Detector(detector.lexicon)
    assert not plain.prefilter.available
    m = Message(id="s", text="Honestly I hope she dies.")
    assert {f.rule for f in plain.detect(m)} == {"en.threat.death_wish"}


def test_trigger_path_agrees_with_a_full_scan_on_the_labeled_set(detector: Detector) -> None:
    checked = 0
    for path in sorted(LABELED.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            m = Message(id=row["id"], text=row["text"])
            found = fired(detector.detect_by_triggers(m))
            assert found == fired(detector.detect_exhaustive(m)), row["text"]
            checked += bool(found)
    assert checked > 100


def test_trigger_path_agrees_with_a_full_scan_on_inflected_lexicon_words(detector: Detector) -> None:
    rng = random.Random(7)
    terms = sorted(t for (lang, _), s in detector.lexicon.slots.items() if lang == "en" for t in s.terms)
    filler = "the parcel is late and I hope that she you they will die bring my your agent".split()
    endings = ["", "", "s", "es", "ed", "ing", "er"]
    hits = 0
    for n in range(300):
        words = [(rng.choice(terms) if rng.random() < 0.4 else rng.choice(filler)) + rng.choice(endings)
                 for _ in range(rng.randrange(3, 30))]
        m = Message(id=str(n), text=" ".join(words))
        found = fired(detector.detect_by_triggers(m))
        assert found == fired(detector.detect_exhaustive(m)), m.text
        hits += bool(found)
    assert hits > 30
