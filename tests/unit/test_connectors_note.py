"""The private note agents read: findings with evidence, abuse masked, rules hit and missed, draft."""

from __future__ import annotations

from connectors.note import mask_spans, render_note
from gateway.model import Action, Decision, Evidence, Finding, Message, Severity

TEXT = "I want my refund. You are a useless idiot and I know where you live."


def ev(needle):
    start = TEXT.index(needle)
    return Evidence(start, start + len(needle), needle)


FINDINGS = [
    Finding("verbal_abuse", Severity.MEDIUM, 0.8, [ev("useless idiot")], "abuse.insult", "insults the agent"),
    Finding("threat", Severity.HIGH, 0.9, [ev("I know where you live")], "threat.home", "implies stalking"),
]
MESSAGE = Message(id="m1", text=TEXT)


def test_note_masks_abuse_and_keeps_the_complaint_readable():
    decision = Decision("m1", tags=["hg_threat", "hg_verbal_abuse"], categories=["threat", "verbal_abuse"],
                        actions=[Action("propose_hold", {"scope": "customer"})],
                        hits=["threat_proposes_hold"], misses=["violence_hold"])
    note = render_note(MESSAGE, FINDINGS, decision, draft="Dear customer, ...")
    assert "useless idiot" not in note and "where you live" not in note
    assert "I want my refund." in note
    assert note.index("threat (high") < note.index("verbal_abuse (medium")  # most severe first
    assert "Policy rules that fired: threat_proposes_hold" in note
    assert "Checked, did not fire: violence_hold" in note
    assert "proposed (customer), waiting for a team lead's approval" in note
    assert note.rstrip().endswith("-----") and "Dear customer, ..." in note


def test_immediate_hold_and_no_draft():
    decision = Decision("m1", tags=["hg_threat"], categories=["threat"], actions=[Action("apply_hold", {})])
    note = render_note(MESSAGE, FINDINGS[1:], decision, masker=mask_spans)
    assert "applied at once (thread)" in note
    assert "Drafted reply" not in note


def test_mask_spans_merges_overlaps():
    a = Finding("threat", Severity.HIGH, 1, [Evidence(0, 6, "I want")], "r", "")
    b = Finding("verbal_abuse", Severity.LOW, 1, [Evidence(2, 10, "want my ")], "r", "")
    assert mask_spans(TEXT, [a, b]) == "[threat]refund. You are a useless idiot and I know where you live."


def test_a_reason_quoting_the_evidence_is_masked_too():
    f = Finding("threat", Severity.HIGH, 0.9, [ev("I know where you live")], "threat.home",
                "the writer implies stalking: \u201cI know where you live\u201d")
    note = render_note(MESSAGE, [f], Decision("m1", tags=["hg_threat"], categories=["threat"]))
    assert "where you live" not in note
    assert "the writer implies stalking" in note
