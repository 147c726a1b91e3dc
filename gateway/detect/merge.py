"""One finding per passage: rules of one category that fire on the same words become one finding.

Several phrase rules of a category often describe one passage from different angles (``ネットに晒す``
is both "post it online" and "expose the employee"). Reported apart, they read as two offences to
a team lead and inflate per-finding counts. Findings of one category whose evidence overlaps are
merged. The strongest speaks for the group with its rule and reason: by severity; at equal severity
a phrase rule before the statistical model (a ``model:`` finding gives a probability, a rule's note
names the conduct); then by score. The severity and score are the group's highest, the evidence is
the union of the passages, and the other rules are named in the reason and listed, strongest
first, in ``details["rules"]``, so nothing that fired is hidden.
"""

from __future__ import annotations

from gateway.model import Evidence, Finding

__all__ = ["merge_overlapping"]


def _overlaps(a: Finding, b: Finding) -> bool:
    return any(x.start < y.end and y.start < x.end or (x.start, x.end) == (y.start, y.end)
               for x in a.evidence for y in b.evidence)


def merge_overlapping(findings: list[Finding]) -> list[Finding]:
    """``findings`` with each group of same-category findings on overlapping evidence merged into
    one (kept at the place of the group's first finding); findings that share nothing with another
    are returned unchanged."""
    if len(findings) < 2 or len({f.category for f in findings}) == len(findings):
        return findings  # the common case: no category found twice
    parent = list(range(len(findings)))

    def root(k: int) -> int:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    merged_any = False
    for i in range(len(findings)):
        for j in range(i + 1, len(findings)):
            a, b = findings[i], findings[j]
            if a.category == b.category and root(i) != root(j) and _overlaps(a, b):
                parent[root(j)] = root(i)
                merged_any = True
    if not merged_any:
        return findings
    groups: dict[int, list[Finding]] = {}
    for k, f in enumerate(findings):
        groups.setdefault(root(k), []).append(f)
    return [group[0] if len(group) == 1 else _merge(group) for group in groups.values()]


def _strength(f: Finding) -> tuple[int, bool, float]:
    return -int(f.severity), f.rule.startswith("model:"), -f.score


def _merge(group: list[Finding]) -> Finding:
    ranked = sorted(group, key=_strength)  # stable: rule order on ties
    best, others = ranked[0], ranked[1:]
    spans = sorted({(e.start, e.end): e for f in group for e in f.evidence}.values(),
                   key=lambda e: (e.start, -e.end))
    evidence: list[Evidence] = []
    for e in spans:
        if any(k.start <= e.start and e.end <= k.end for k in evidence):
            continue  # inside a longer passage already shown
        evidence.append(e)
    names = [best.rule] + [f.rule for f in others if f.rule != best.rule]
    also = ", ".join(f"{f.rule} ({f.severity.label}, {f.score:.2f})" for f in others)
    details = dict(best.details)
    details["rules"] = names
    related = list(dict.fromkeys(r for f in group for r in f.related))
    return Finding(category=best.category, severity=best.severity, score=max(f.score for f in group),
                   evidence=evidence,
                   rule=best.rule, reason=f"{best.reason}; the same passage also matched {also}",
                   related=related, details=details)
