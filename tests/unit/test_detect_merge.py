"""Rules of one category that fire on the same passage give one finding, which names every rule."""

from __future__ import annotations


from gateway.cli.classify import categories_json
from gateway.detect import Detector, mask
from gateway.detect.merge import merge_overlapping
from gateway.model import Evidence, Finding, Message, Severity

TEXT = "you idiot, I will find you and hurt you"


def finding(rule: str, category: str, severity: Severity, score: float, *spans: tuple[int, int]) -> Finding:
    return Finding(category, severity, score, [Evidence(s, e, TEXT[s:e]) for s, e in spans], rule,
                   f"note of {rule}: \u201c{TEXT[spans[0][0]:spans[0][1]]}\u201d", details={"lang": "en"})


def test_two_rules_on_one_passage_become_one_finding_led_by_the_strongest() -> None:
    weak = finding("en.threat.vague", "threat", Severity.MEDIUM, 0.9, (11, 26))
    strong = finding("en.threat.hurt", "threat", Severity.HIGH, 0.7, (11, 39))
    [merged] = merge_overlapping([weak, strong])
    assert merged.rule == "en.threat.hurt"
    assert merged.severity is Severity.HIGH and merged.score == 0.9
    assert [(e.start, e.end) for e in merged.evidence] == [(11, 39)]  # the shorter passage lies inside
    assert merged.details["rules"] == ["en.threat.hurt", "en.threat.vague"]
    assert merged.reason.startswith("note of en.threat.hurt")
    assert "also matched en.threat.vague (medium, 0.90)" in merged.reason


def test_partly_overlapping_passages_are_both_kept() -> None:
    a = finding("en.threat.a", "threat", Severity.HIGH, 0.8, (11, 26))
    b = finding("en.threat.b", "threat", Severity.HIGH, 0.8, (20, 39))
    [merged] = merge_overlapping([a, b])
    assert merged.rule == "en.threat.a"  # equal strength: the first rule leads
    assert [(e.start, e.end, e.text) for e in merged.evidence] == [(11, 26, TEXT[11:26]), (20, 39, TEXT[20:39])]


def test_a_phrase_rule_leads_the_statistical_model_at_equal_severity() -> None:
    model = finding("model:en-abuse-1", "verbal_abuse", Severity.MEDIUM, 0.93, (0, 9))
    rule = finding("en.verbal_abuse.insult_at_reader", "verbal_abuse", Severity.MEDIUM, 0.8, (4, 9))
    [merged] = merge_overlapping([rule, model])
    assert merged.rule == "en.verbal_abuse.insult_at_reader" and merged.score == 0.93
    assert merged.details["rules"] == ["en.verbal_abuse.insult_at_reader", "model:en-abuse-1"]
    assert [(e.start, e.end) for e in merged.evidence] == [(0, 9)]


def test_overlap_chains_merge_into_one_group() -> None:
    a = finding("en.threat.a", "threat", Severity.HIGH, 0.8, (11, 22))
    b = finding("en.threat.b", "threat", Severity.HIGH, 0.8, (20, 30))
    c = finding("en.threat.c", "threat", Severity.CRITICAL, 0.8, (28, 39))
    [merged] = merge_overlapping([a, b, c])
    assert merged.details["rules"] == ["en.threat.c", "en.threat.a", "en.threat.b"]


def test_other_categories_and_other_passages_stay_apart() -> None:
    insult = finding("en.verbal_abuse.x", "verbal_abuse", Severity.MEDIUM, 0.8, (0, 9))
    threat = finding("en.threat.x", "threat", Severity.HIGH, 0.8, (0, 9))
    later = finding("en.verbal_abuse.y", "verbal_abuse", Severity.MEDIUM, 0.8, (30, 39))
    assert merge_overlapping([insult, threat, later]) == [insult, threat, later]


def test_shipped_rules_report_one_exposure_finding_for_one_passage(detector: Detector) -> None:
    text = "お前の名前をネットに晒してやる"
    m = Message(id="x", text=text, lang="ja")
    findings = detector.detect(m)
    exposure = [f for f in findings if f.category == "online_exposure"]
    assert len(exposure) == 1
    [f] = exposure
    assert len(f.details["rules"]) >= 2 and f.rule == f.details["rules"][0]
    assert all(text[e.start:e.end] == e.text for e in f.evidence)
    assert [x.to_json() for x in detector.detect_exhaustive(m)] == [x.to_json() for x in findings]
    [cat] = [c for c in categories_json(findings) if c["name"] == "online_exposure"]
    assert set(cat["rules"]) == set(f.details["rules"])  # classify still names every rule that fired
    assert mask(text, findings) == "[exposure threat]"


def test_merged_english_findings_still_mask_the_passage(detector: Detector) -> None:
    text = "Put me through to a man, women can't understand technical stuff. Order 5521."
    findings = detector.detect(Message(id="y", text=text))
    [f] = [f for f in findings if f.category == "discrimination"]
    assert len(f.details["rules"]) == 2
    assert [e.text for e in f.evidence] == ["Put me through to a man", "women can't understand"]
    masked = mask(text, findings)
    assert masked.count("[discriminatory remark]") == 2 and masked.endswith(" technical stuff. Order 5521.")
