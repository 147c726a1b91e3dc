"""Eval metrics on a tiny fixture whose numbers are computed by hand."""

from __future__ import annotations

import json
from pathlib import Path

from gateway.evaluate import PRF, evaluate, field_value, is_flagged, parse_row, read_rows
from gateway.model import Finding, Severity


def finding(cat: str, sev: Severity = Severity.MEDIUM) -> Finding:
    return Finding(cat, sev, 0.9, [], "r", "")


# Our form: predictions are keyed by text.
PRED = {
    "a": [finding("threat", Severity.CRITICAL)],       # gold threat      -> TP
    "b": [finding("verbal_abuse")],                     # gold threat      -> FN for threat, FP for verbal_abuse
    "c": [],                                            # gold none        -> TN
    "d": [finding("verbal_abuse")],                     # gold none        -> FP
    "e": [finding("escalation_pressure", Severity.LOW)],  # gold escalation -> not flagged either way
}
GOLD = {"a": ["threat"], "b": ["threat"], "c": [], "d": [], "e": ["escalation_pressure"]}


def rows_file(tmp_path: Path) -> Path:
    p = tmp_path / "ours.jsonl"
    p.write_text("".join(json.dumps({"id": k, "text": k, "labels": v}) + "\n" for k, v in GOLD.items()))
    return p


def test_flagged_counts_and_rates(tmp_path: Path) -> None:
    report = evaluate(read_rows(rows_file(tmp_path)), lambda row: PRED[row.text])
    f = report.flag
    # gold flag: a, b ; predicted flag: a, b, d
    assert (f.tp, f.fp, f.fn, f.tn) == (2, 1, 0, 2)
    assert f.precision == 2 / 3
    assert f.recall == 1.0
    assert abs(f.f1 - 0.8) < 1e-9
    assert f.negatives_flagged == 1 / 3


def test_per_category_and_confusion(tmp_path: Path) -> None:
    report = evaluate(read_rows(rows_file(tmp_path)), lambda row: PRED[row.text])
    threat = report.categories["threat"]
    assert (threat.tp, threat.fp, threat.fn) == (1, 0, 1)
    assert threat.recall == 0.5 and threat.precision == 1.0
    abuse = report.categories["verbal_abuse"]
    assert (abuse.tp, abuse.fp, abuse.fn) == (0, 2, 0)
    assert abuse.precision == 0.0
    assert report.categories["escalation_pressure"].tp == 1
    assert report.confusion["threat"] == {"threat": 1, "verbal_abuse": 1}
    assert report.confusion["(none)"] == {"(none)": 1, "verbal_abuse": 1}


def test_public_form_sublabels_and_groups(tmp_path: Path) -> None:
    rows = [
        {"id": "1", "text": "x1", "abusive": 1, "labels": {"threat": 1, "functionality": "threat_h"}},
        {"id": "2", "text": "x2", "abusive": 1, "labels": {"threat": 1, "functionality": "threat_h"}},
        {"id": "3", "text": "x3", "abusive": 0, "labels": {"threat": 0, "functionality": "profanity_nh"}},
        {"id": "4", "text": "x4", "abusive": 0, "labels": {"threat": 0, "functionality": "profanity_nh"}},
    ]
    p = tmp_path / "pub.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in rows))
    preds = {"x1": [finding("threat")], "x2": [], "x3": [finding("verbal_abuse")], "x4": []}
    report = evaluate(read_rows(p), lambda row: preds[row.text], by=["labels.functionality"])
    assert report.sublabels["threat"].recall == 0.5
    groups = report.to_json()["groups"]["labels.functionality"]
    assert groups["threat_h"]["flagged_share"] == 0.5
    assert groups["profanity_nh"]["flagged_share"] == 0.5
    assert report.flag.f1 == 0.5


def test_flagged_means_medium_or_above_outside_escalation() -> None:
    assert not is_flagged([finding("escalation_pressure", Severity.HIGH)])
    assert not is_flagged([finding("verbal_abuse", Severity.LOW)])
    assert is_flagged([finding("verbal_abuse", Severity.MEDIUM)])


def test_rows_without_labels_are_refused() -> None:
    import pytest

    with pytest.raises(ValueError, match="no labels"):
        parse_row({"id": "1", "text": "t"}, "f line 1")
    assert field_value({"a": {"b": 2}}, "a.b") == 2 and field_value({}, "a.b") is None


def test_empty_counts_have_no_rates() -> None:
    assert PRF().precision is None and PRF().f1 is None
