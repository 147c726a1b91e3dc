"""Masking for agents: abusive passages replaced by a category marker, the rest left readable."""

from __future__ import annotations

from gateway.model import Finding

#: The marker an agent sees in place of a passage; demands (refunds, managers...) stay readable.
MARKERS = {
    "threat": "[threat]",
    "verbal_abuse": "[insult]",
    "sexual_harassment": "[sexual remark]",
    "discrimination": "[discriminatory remark]",
    "online_exposure": "[exposure threat]",
    "privacy_intrusion": "[personal question]",
}


def mask(text: str, findings: list[Finding]) -> str:
    """``text`` with every masked category's evidence replaced by its marker.

    Overlapping passages merge into one marker (the first category by position wins).
    """
    spans: list[tuple[int, int, str]] = []
    for f in findings:
        marker = MARKERS.get(f.category)
        if marker is None:
            continue
        for ev in f.evidence:
            if 0 <= ev.start < ev.end <= len(text):
                spans.append((ev.start, ev.end, marker))
    if not spans:
        return text
    spans.sort()
    merged: list[list] = []
    for s, e, marker in spans:
        if merged and s < merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e, marker])
    out = []
    pos = 0
    for s, e, marker in merged:
        out.append(text[pos:s])
        out.append(marker)
        pos = e
    out.append(text[pos:])
    return "".join(out)
