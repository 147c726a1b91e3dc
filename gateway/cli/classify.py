"""``harassment-gateway classify``: JSON Lines in on stdin, one JSON line out per input line.

In: ``{"id", "text", "subject"?, "sender"?, "thread"?, "received_at"?, "lang"?}``.
Out: ``{"id", "categories": [{"name", "severity", "score", "evidence": [...], "related"?}],
"tags", "actions"}`` in input order, or ``{"id", "error"}`` for a line that is not valid input
(processing goes on). Evidence offsets index the input ``text``: ``text[start:end] == evidence.text``.

Each line stands alone unless ``--stateful`` keeps contact history across lines (in memory, or in
the SQLite store given by ``--db``), with ``received_at`` as the clock.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any, Callable

from gateway.errors import GatewayError
from gateway.model import Evidence, Finding, Message, Severity


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser("classify", help="classify JSON Lines from stdin (one JSON result per line)")
    p.add_argument("--stateful", action="store_true",
                   help="keep contact history across lines (rate windows, duplicates)")
    p.add_argument("--db", metavar="PATH", default=None,
                   help="with --stateful: keep history in this SQLite store instead of memory")
    p.add_argument("--rules", metavar="DIR", default=None, help="rules directory (default: the shipped rules/)")
    p.add_argument("--policy", metavar="FILE", default=None, help="policy file (default: rules/policy.yaml)")
    p.set_defaults(func=run)


def build_message(data: dict[str, Any]) -> Message:
    """A Message from one input object; raises ValueError with a reason for bad input."""
    if not isinstance(data, dict):
        raise ValueError("each line must be a JSON object")
    mid, text = data.get("id"), data.get("text")
    if not isinstance(mid, str) or not mid:
        raise ValueError("'id' must be a non-empty string")
    if not isinstance(text, str):
        raise ValueError("'text' must be a string")
    for key in ("subject", "sender", "thread", "received_at", "lang"):
        if key in data and data[key] is not None and not isinstance(data[key], str):
            raise ValueError(f"'{key}' must be a string")
    try:
        from gateway.ingest import message_from_text
    except ImportError:  # pragma: no cover - ingest not installed
        return _local_message(data)
    try:
        return message_from_text(mid, text, subject=data.get("subject") or "", sender=data.get("sender") or "",
                                 thread=data.get("thread") or "", received_at=data.get("received_at"),
                                 lang=data.get("lang"))
    except GatewayError as exc:
        raise ValueError(str(exc)) from None


def _local_message(data: dict[str, Any]) -> Message:  # pragma: no cover - used only without ingest
    received = data.get("received_at")
    when = None
    if received:
        try:
            when = datetime.fromisoformat(received.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError("'received_at' must be ISO 8601") from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
    return Message(id=data["id"], text=data["text"], subject=data.get("subject") or "",
                   sender=(data.get("sender") or "").lower(), thread=data.get("thread") or data["id"],
                   received_at=when, lang=data.get("lang") or "en")


def remap_evidence(findings: list[Finding], analyzed: str, original: str) -> list[Finding]:
    """Make evidence index ``original`` when ingest analyzed a cleaned copy of it.

    Ingest may drop quoted history or normalize newlines; evidence found in the cleaned text is
    moved to where the same passage stands in the input. A passage that cannot be found is dropped,
    and so is a finding left without evidence: the output never shows evidence it cannot point to.
    """
    if analyzed == original:
        return findings
    shift = original.find(analyzed) if analyzed else -1
    out = []
    for f in findings:
        if not f.evidence:
            out.append(f)
            continue
        moved = []
        for ev in f.evidence:
            if shift >= 0:
                moved.append(Evidence(ev.start + shift, ev.end + shift, ev.text))
                continue
            pos = original.find(ev.text, max(0, ev.start - 64))
            if pos < 0:
                pos = original.find(ev.text)
            if pos >= 0:
                moved.append(Evidence(pos, pos + len(ev.text), ev.text))
        if moved:
            f.evidence = moved
            out.append(f)
    return out


def categories_json(findings: list[Finding]) -> list[dict[str, Any]]:
    """One entry per category: highest severity, combined score, all evidence, related ids."""
    by_cat: dict[str, list[Finding]] = {}
    for f in findings:
        by_cat.setdefault(f.category, []).append(f)
    out = []
    for cat, fs in by_cat.items():
        sev = max(f.severity for f in fs)
        miss = 1.0
        for f in fs:
            miss *= 1.0 - max(0.0, min(1.0, f.score))
        evidence: list[Evidence] = []
        for f in fs:
            for ev in f.evidence:
                if ev not in evidence:
                    evidence.append(ev)
        evidence.sort(key=lambda e: (e.start, e.end))
        entry: dict[str, Any] = {"name": cat, "severity": sev.label, "score": round(1.0 - miss, 4),
                                 "evidence": [e.to_json() for e in evidence],
                                 "rules": sorted({r for f in fs for r in f.details.get("rules", [f.rule])}),
                                 "reasons": [f.reason for f in fs]}
        related = sorted({r for f in fs for r in f.related})
        if related:
            entry["related"] = related
        out.append(entry)
    out.sort(key=lambda c: (-Severity.parse(c["severity"]), c["name"]))
    return out


def fallback_tags(findings: list[Finding]) -> list[str]:
    """FALLBACK, used only when the policy pipeline cannot be imported: ``hg_<category>`` for
    categories found at medium severity or above, escalation_pressure excluded; no actions."""
    cats = {f.category for f in findings if f.severity >= Severity.MEDIUM and f.category != "escalation_pressure"}
    return [f"hg_{c}" for c in sorted(cats)]


class Classifier:
    """Turns one input object into one output object, with the pipeline when it is available."""

    def __init__(self, *, stateful: bool, db_path: str | None, rules: str | None, policy: str | None) -> None:
        self.stateful = stateful
        self._process: Callable[[Message], tuple[list[Finding], list[str], list[dict[str, Any]]]]
        rules_dir = Path(rules) if rules else None
        try:
            from gateway.pipeline import Pipeline
        except ImportError:  # pragma: no cover - policy part not installed
            Pipeline = None  # type: ignore[assignment,misc]
        if Pipeline is None:  # pragma: no cover
            from gateway.detect import Detector

            detector = Detector.load(rules_dir)
            self._process = lambda m: (lambda fs: (fs, fallback_tags(fs), []))(detector.detect(m))
            return
        db = None
        if stateful and db_path:
            from gateway.store.db import Database

            db = Database.open(Path(db_path))
        self.pipeline = Pipeline.create(db, rules_dir=rules_dir, policy_path=policy)
        self._process = self._with_pipeline

    def _with_pipeline(self, message: Message) -> tuple[list[Finding], list[str], list[dict[str, Any]]]:
        if not self.stateful:
            self._reset_history()
        result = self.pipeline.process(message)
        return result.findings, list(result.decision.tags), [a.to_json() for a in result.decision.actions]

    def _reset_history(self) -> None:
        """Each line stands alone: a fresh in-memory history per line."""
        from gateway.contact import ContactSettings, ContactTracker
        from gateway.store.memory import MemoryMessageStore

        self.pipeline.tracker = ContactTracker(MemoryMessageStore(),  # type: ignore[arg-type]
                                               ContactSettings.from_policy(self.pipeline.policy.raw))

    def classify(self, data: dict[str, Any]) -> dict[str, Any]:
        message = build_message(data)
        findings, tags, actions = self._process(message)
        findings = remap_evidence(findings, message.text, data["text"])
        return {"id": data["id"], "categories": categories_json(findings), "tags": tags, "actions": actions}


def classify_stream(lines: IO[str], out: IO[str], classifier: Classifier) -> int:
    """Process every line; returns the number of lines that got an error object."""
    errors = 0
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        data: Any = None
        try:
            data = json.loads(line)
            result = classifier.classify(data)
        except (ValueError, GatewayError) as exc:
            errors += 1
            rid = data.get("id") if isinstance(data, dict) and isinstance(data.get("id"), str) else None
            reason = f"line {n}: not JSON ({exc.msg})" if isinstance(exc, json.JSONDecodeError) else f"line {n}: {exc}"
            result = {"id": rid, "error": reason}
        out.write(json.dumps(result, ensure_ascii=False) + "\n")
        out.flush()
    return errors


def run(args: argparse.Namespace) -> int:
    if args.db and not args.stateful:
        print("harassment-gateway classify: --db needs --stateful", file=sys.stderr)
        return 2
    classifier = Classifier(stateful=args.stateful, db_path=args.db, rules=args.rules, policy=args.policy)
    classify_stream(sys.stdin, sys.stdout, classifier)
    return 0
