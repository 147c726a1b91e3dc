"""``classify``: JSON Lines in and out, same order, an error object for a bad line."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest

from gateway.cli.classify import Classifier, categories_json, classify_stream, fallback_tags, remap_evidence
from gateway.model import Evidence, Finding, Severity


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    return Classifier(stateful=False, db_path=None, rules=None, policy=None)


def run_lines(classifier: Classifier, lines: list[str]) -> list[dict]:
    out = io.StringIO()
    classify_stream(io.StringIO("\n".join(lines) + "\n"), out, classifier)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_outputs_one_line_per_input_in_order_with_errors_in_place(classifier: Classifier) -> None:
    lines = [
        json.dumps({"id": "a", "text": "You are a stupid idiot."}),
        "{not json",
        json.dumps({"id": "b"}),
        json.dumps({"id": "c", "text": "I want a refund please."}),
        json.dumps(["not", "an", "object"]),
        json.dumps({"id": "d", "text": "お前の名前をネットに晒してやる", "lang": "ja"}),
    ]
    results = run_lines(classifier, lines)
    assert [r.get("id") for r in results] == ["a", None, "b", "c", None, "d"]
    assert "error" in results[1] and "line 2" in results[1]["error"]
    assert "'text'" in results[2]["error"]
    assert results[3]["categories"] == []
    assert "error" in results[4]
    assert [c["name"] for c in results[0]["categories"]] == ["verbal_abuse"]
    assert [c["name"] for c in results[5]["categories"]] == ["online_exposure"]


def test_evidence_indexes_the_input_text(classifier: Classifier) -> None:
    text = "Ｈｅｌｌｏ.\u200b You 1d10t, I will k i l l you."
    (result,) = run_lines(classifier, [json.dumps({"id": "x", "text": text})])
    names = {c["name"] for c in result["categories"]}
    assert {"verbal_abuse", "threat"} <= names
    for cat in result["categories"]:
        assert set(cat) >= {"name", "severity", "score", "evidence"}
        for ev in cat["evidence"]:
            assert text[ev["start"]:ev["end"]] == ev["text"]


def test_tags_and_actions_come_with_every_result(classifier: Classifier) -> None:
    (result,) = run_lines(classifier, [json.dumps({"id": "t", "text": "I will kill you."})])
    assert isinstance(result["tags"], list) and isinstance(result["actions"], list)
    assert "hg_threat" in result["tags"]


def test_evidence_moves_to_the_input_when_ingest_trimmed_it() -> None:
    f = Finding("verbal_abuse", Severity.MEDIUM, 0.9, [Evidence(4, 9, "idiot")], "r", "why")
    (moved,) = remap_evidence([f], "you idiot", "hi\n you idiot\n> quoted")
    original = "hi\n you idiot\n> quoted"
    e = moved.evidence[0]
    assert original[e.start:e.end] == "idiot"
    lost = Finding("threat", Severity.HIGH, 0.9, [Evidence(0, 4, "gone")], "r", "why")
    assert remap_evidence([lost], "gone", "something else entirely") == []


def test_categories_merge_findings_of_one_category() -> None:
    a = Finding("threat", Severity.HIGH, 0.5, [Evidence(0, 3, "abc")], "r1", "one")
    b = Finding("threat", Severity.CRITICAL, 0.5, [Evidence(5, 8, "def")], "r2", "two")
    (cat,) = categories_json([a, b])
    assert cat["severity"] == "critical"
    assert cat["score"] == 0.75
    assert [e["start"] for e in cat["evidence"]] == [0, 5]


def test_fallback_tags_skip_low_and_escalation() -> None:
    fs = [Finding("threat", Severity.HIGH, 0.9, [], "r", ""),
          Finding("escalation_pressure", Severity.LOW, 0.6, [], "r", ""),
          Finding("verbal_abuse", Severity.LOW, 0.4, [], "r", "")]
    assert fallback_tags(fs) == ["hg_threat"]


def test_command_line_round_trip() -> None:
    lines = json.dumps({"id": "1", "text": "Fire that agent now."}) + "\nnope\n"
    proc = subprocess.run([sys.executable, "-m", "gateway", "classify"], input=lines, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = [json.loads(x) for x in proc.stdout.splitlines()]
    assert out[0]["id"] == "1" and out[0]["categories"][0]["name"] == "staff_punishment_demand"
    assert "error" in out[1]
