"""Detection quality on labeled JSON Lines: precision, recall, F1, flagged share, confusion.

Two label forms are read:

* ours: ``{"id", "text", "labels": [category, ...]}`` (an empty list is a negative);
* the public sets in ``../shared/data``: ``{"id", "text", "abusive": 0|1, "labels": {name: 0|1|str}}``.

"Flagged" means at least one finding of severity medium or above outside ``escalation_pressure``
(escalation is never acted on alone). For our form a row's gold "flag" is any label other than
``escalation_pressure``; for the public form it is ``abusive``.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from gateway.model import Finding, Severity

NOT_FLAGGED = frozenset({"escalation_pressure"})


def is_flagged(findings: Iterable[Finding]) -> bool:
    """At least one finding of severity medium+ outside escalation_pressure."""
    return any(f.severity >= Severity.MEDIUM and f.category not in NOT_FLAGGED for f in findings)


@dataclass
class Row:
    """One labeled example."""

    id: str
    text: str
    gold_flag: bool
    gold_categories: frozenset[str] | None  # None: the row's form has no categories
    labels: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)


def parse_row(data: dict[str, Any], where: str) -> Row:
    """A row in either label form; raises ValueError naming ``where`` otherwise."""
    if not isinstance(data, dict) or not isinstance(data.get("text"), str):
        raise ValueError(f"{where}: expected an object with a string 'text'")
    rid = str(data.get("id", where))
    labels = data.get("labels")
    if isinstance(labels, list):
        cats = frozenset(str(c) for c in labels)
        return Row(rid, data["text"], bool(cats - NOT_FLAGGED), cats, {}, data)
    if "abusive" in data:
        return Row(rid, data["text"], bool(int(data["abusive"])), None,
                   labels if isinstance(labels, dict) else {}, data)
    raise ValueError(f"{where}: no labels: need 'labels' as a list, or 'abusive'")


def read_rows(path: Path) -> list[Row]:
    rows = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path} line {n}: not JSON ({exc.msg})") from None
            rows.append(parse_row(data, f"{path} line {n}"))
    return rows


def text_digest(text: str) -> str:
    """A short digest of a row's text: a model manifest names its training rows by file, id and
    this, so a different row that happens to share an id is not mistaken for one."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def exclude_trained(rows: list[Row], file_name: str,
                    training_ids: dict[str, dict[str, str]]) -> tuple[list[Row], int]:
    """``rows`` without those a model was trained on (same file name, id and text), and how many
    were left out: a model is measured only on data it has not seen."""
    trained = training_ids.get(file_name)
    if not trained:
        return rows, 0
    kept = [r for r in rows if trained.get(r.id) != text_digest(r.text)]
    return kept, len(rows) - len(kept)


@dataclass
class PRF:
    """Counts for one binary decision."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def add(self, gold: bool, pred: bool) -> None:
        if gold and pred:
            self.tp += 1
        elif pred:
            self.fp += 1
        elif gold:
            self.fn += 1
        else:
            self.tn += 1

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None

    @property
    def f1(self) -> float | None:
        p, r = self.precision, self.recall
        if p is None or r is None or p + r == 0:
            return None if p is None or r is None else 0.0
        return 2 * p * r / (p + r)

    @property
    def negatives_flagged(self) -> float | None:
        """Share of gold-negative rows predicted positive."""
        return self.fp / (self.fp + self.tn) if self.fp + self.tn else None

    def to_json(self) -> dict[str, Any]:
        r = lambda v: None if v is None else round(v, 4)  # noqa: E731
        return {"tp": self.tp, "fp": self.fp, "fn": self.fn, "tn": self.tn,
                "precision": r(self.precision), "recall": r(self.recall), "f1": r(self.f1),
                "negatives_flagged": r(self.negatives_flagged)}


def field_value(data: dict[str, Any], dotted: str) -> Any:
    """``labels.functionality`` -> data["labels"]["functionality"] (None if absent)."""
    cur: Any = data
    for part in dotted.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return cur


@dataclass
class Report:
    """Everything ``eval`` prints for one file."""

    name: str
    rows: int = 0
    excluded: int = 0  # rows left out because the model was trained on them
    flag: PRF = field(default_factory=PRF)
    categories: dict[str, PRF] = field(default_factory=lambda: defaultdict(PRF))
    confusion: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    sublabels: dict[str, PRF] = field(default_factory=lambda: defaultdict(PRF))
    groups: dict[str, dict[str, PRF]] = field(default_factory=dict)
    examples: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: {"fp": [], "fn": []})

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.name,
            "rows": self.rows,
            "excluded_training_rows": self.excluded,
            "flagged": self.flag.to_json(),
            "categories": {c: p.to_json() for c, p in sorted(self.categories.items())},
            "confusion": {g: dict(sorted(c.items())) for g, c in sorted(self.confusion.items())},
            "sublabels": {k: {"positives": p.tp + p.fn, "recall": p.to_json()["recall"],
                              "flagged": p.tp + p.fp}
                          for k, p in sorted(self.sublabels.items())},
            "groups": {by: {v: {"rows": p.tp + p.fp + p.fn + p.tn,
                                "flagged_share": round((p.tp + p.fp) / max(1, p.tp + p.fp + p.fn + p.tn), 4),
                                **p.to_json()}
                            for v, p in sorted(vals.items())}
                       for by, vals in self.groups.items()},
        }


def evaluate(rows: Iterable[Row], detect: Callable[[Row], list[Finding]], *, name: str = "",
             by: Iterable[str] = (), show: int = 0) -> Report:
    """Run ``detect`` over ``rows`` and count."""
    report = Report(name)
    by = list(by)
    for field_name in by:
        report.groups[field_name] = defaultdict(PRF)
    for row in rows:
        findings = detect(row)
        flagged = is_flagged(findings)
        predicted = {f.category for f in findings}
        report.rows += 1
        report.flag.add(row.gold_flag, flagged)
        if row.gold_categories is not None:
            for cat in sorted(row.gold_categories | predicted):
                report.categories[cat].add(cat in row.gold_categories, cat in predicted)
            for g in sorted(row.gold_categories) or ["(none)"]:
                for p in sorted(predicted) or ["(none)"]:
                    report.confusion[g][p] += 1
        for key, value in row.labels.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool) and value in (0, 1):
                report.sublabels[key].add(bool(value), flagged)
        for field_name in by:
            value = field_value(row.raw, field_name)
            report.groups[field_name][str(value)].add(row.gold_flag, flagged)
        if show and flagged != row.gold_flag:
            kind = "fp" if flagged else "fn"
            if len(report.examples[kind]) < show:
                report.examples[kind].append({"id": row.id, "text": row.text[:300],
                                              "findings": [f"{f.category}:{f.rule}" for f in findings]})
    return report


def _pct(v: float | None) -> str:
    return "   -  " if v is None else f"{v * 100:5.1f}%"


def _num(v: float | None) -> str:
    return "  -  " if v is None else f"{v:.3f}"


def format_report(report: Report) -> str:
    """The human-readable summary."""
    f = report.flag
    left_out = f" ({report.excluded} rows the model was trained on left out)" if report.excluded else ""
    out = [f"== {report.name}: {report.rows} rows{left_out}",
           f"flagged vs gold: P {_num(f.precision)}  R {_num(f.recall)}  F1 {_num(f.f1)}  "
           f"(tp {f.tp} fp {f.fp} fn {f.fn} tn {f.tn}); negatives flagged {_pct(f.negatives_flagged)}"]
    if report.categories:
        out.append(f"{'category':34} {'P':>6} {'R':>6} {'F1':>6} {'gold':>5} {'pred':>5}")
        for cat, p in sorted(report.categories.items()):
            out.append(f"{cat:34} {_num(p.precision):>6} {_num(p.recall):>6} {_num(p.f1):>6} "
                       f"{p.tp + p.fn:5d} {p.tp + p.fp:5d}")
        out.append("confusion (gold -> predicted):")
        for g, c in sorted(report.confusion.items()):
            out.append(f"  {g}: " + ", ".join(f"{k} {v}" for k, v in c.most_common()))
    if report.sublabels:
        out.append("sub-labels (recall = share of rows with the label that are flagged):")
        for k, p in sorted(report.sublabels.items()):
            if p.tp + p.fn:
                out.append(f"  {k:34} positives {p.tp + p.fn:5d}  recall {_num(p.recall)}  "
                           f"flagged among 0s {_pct(p.negatives_flagged)}")
    for by, groups in report.groups.items():
        out.append(f"by {by}:")
        for value, p in sorted(groups.items()):
            n = p.tp + p.fp + p.fn + p.tn
            out.append(f"  {value:34} rows {n:5d}  flagged {_pct((p.tp + p.fp) / n if n else None)}")
    for kind in ("fp", "fn"):
        for ex in report.examples[kind]:
            out.append(f"  [{kind}] {ex['id']}: {ex['text']!r} {ex['findings']}")
    return "\n".join(out)
