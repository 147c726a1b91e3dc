"""Evidence in the console: abusive spans masked, demands highlighted, offsets checked against the text."""

from gateway.model import Evidence, Finding, Severity
from gateway.web.evidence import Span, label_for, masked_text, segments, spans_from

TEXT = "Refund me 10000 yen now, you useless idiot, or I will post your name online."


def _span(piece: str, category: str) -> Span:
    start = TEXT.index(piece)
    return Span(start, start + len(piece), piece, category)


def test_abusive_span_is_masked_and_the_rest_of_the_text_is_kept():
    segs = segments(TEXT, [_span("useless idiot", "verbal_abuse")])
    assert "".join(s.text for s in segs) == TEXT
    masked = [s for s in segs if s.is_masked]
    assert [s.text for s in masked] == ["useless idiot"]
    assert masked[0].label and "idiot" not in masked[0].label
    assert "idiot" not in masked_text(TEXT, [_span("useless idiot", "verbal_abuse")])


def test_label_matches_the_detectors_mask():
    from gateway.detect import mask

    piece = "useless idiot"
    expected = mask(piece, [Finding("verbal_abuse", Severity.MEDIUM, 1.0, [Evidence(0, len(piece), piece)], "r", "")])
    assert label_for(piece, "verbal_abuse") == expected


def test_a_demand_is_highlighted_but_stays_readable():
    segs = segments(TEXT, [_span("Refund me 10000 yen now", "unreasonable_compensation_demand")])
    demand = [s for s in segs if s.is_evidence]
    assert len(demand) == 1 and not demand[0].is_masked


def test_overlapping_spans_merge_and_mask_if_any_part_is_abusive():
    spans = [_span("now, you useless", "unreasonable_compensation_demand"), _span("useless idiot", "verbal_abuse")]
    segs = segments(TEXT, spans)
    evidence = [s for s in segs if s.is_evidence]
    assert [s.text for s in evidence] == ["now, you useless idiot"]
    assert evidence[0].is_masked


def test_span_with_stale_offsets_is_found_by_its_text_and_unplaceable_spans_are_skipped():
    stale = Span(0, 13, "useless idiot", "verbal_abuse")  # offsets point at "Refund me 100"
    missing = Span(0, 5, "moron", "verbal_abuse")
    segs = segments(TEXT, [stale, missing])
    assert [s.text for s in segs if s.is_masked] == ["useless idiot"]
    assert "".join(s.text for s in segs) == TEXT


def test_spans_from_reads_findings_finding_json_and_filters_by_message():
    finding = Finding("threat", Severity.HIGH, 0.9, [Evidence(3, 7, "kill")], "r", "")
    items = [
        finding,
        {"message_id": "<a>", "category": "verbal_abuse", "evidence": [{"start": 0, "end": 5, "text": "idiot"}]},
        {"message_id": "<b>", "category": "verbal_abuse", "evidence": [{"start": 0, "end": 4, "text": "dumb"}]},
        {"start": 1, "end": 2, "text": "x", "category": "threat"},
    ]
    assert {s.text for s in spans_from(items, message_id="<a>")} == {"kill", "idiot", "x"}
    assert len(spans_from(items)) == 4
