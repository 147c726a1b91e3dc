"""The shipped model as the Detector runs it: what it flags, what it leaves alone, the switch."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gateway.detect import Detector
from gateway.model import Message
from gateway.resources import rules_dir


def model_findings(detector: Detector, text: str) -> list:  # type: ignore[type-arg]
    found = detector.detect(Message(id="m", text=text, lang="en"))
    return [f for f in found if f.rule.startswith("model:") or any(
        r.startswith("model:") for r in f.details.get("rules", []))]


def test_the_shipped_rules_enable_the_model(detector: Detector) -> None:
    assert detector.model is not None
    assert detector.model.model.manifest["training_ids"], "the manifest names its training rows"


@pytest.mark.parametrize("text", ["fuck yoiu", "ur a thick shit", "f u c k you bitch"])
def test_a_clear_insult_at_staff_is_flagged_with_evidence(detector: Detector, text: str) -> None:
    found = model_findings(detector, text)
    assert found, text
    f = found[0]
    assert f.category == "verbal_abuse" and f.severity.label == "medium"
    for ev in f.evidence:
        assert text[ev.start:ev.end] == ev.text
    model_reason = f.reason if f.rule.startswith("model:") else ""
    assert not model_reason or "probability" in model_reason


@pytest.mark.parametrize("text", [
    "this stupid router keeps dropping",
    'Your agent told me "fuck you, bitch" on the phone yesterday.',
    "He called me a thick shit.",
    "I want a full refund for the broken blender, please.",
    "I demand my money back for this order.",
])
def test_complaints_reports_and_demands_are_left_alone(detector: Detector, text: str) -> None:
    assert model_findings(detector, text) == [], text


def test_switching_the_model_off_in_rules_removes_its_findings(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(rules_dir(), rules)
    text = (rules / "detect.yaml").read_text(encoding="utf-8")
    assert "enabled: true" in text
    (rules / "detect.yaml").write_text(text.replace("enabled: true", "enabled: false"), encoding="utf-8")
    off = Detector.load(rules)
    assert off.model is None
    assert model_findings(off, "fuck yoiu") == []
    assert model_findings(Detector.load(), "fuck yoiu")


def test_japanese_is_left_to_the_rules(detector: Detector) -> None:
    assert model_findings(detector, "fuck yoiu") and detector.model is not None
    msg = Message(id="j", text="fuck yoiu", lang="ja")
    assert not [f for f in detector.detect(msg) if f.rule.startswith("model:")]
