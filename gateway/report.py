"""What the gateway did over a period, and how often people overruled it: a team lead's review.

``build_report(db, since, until)`` reads the store (decisions, disputes, holds and their events,
drafts, quarantine) and returns plain numbers, never message content:

* messages analysed and tagged, per category, with how many of those tags agents or leads later
  disputed: the **dispute rate** is the team's own measure of how often the gateway accused
  someone wrongly (it is what people judged, not ground truth: an undisputed tag may still be
  wrong);
* holds proposed and what leads decided, with the **rejection rate** (the other place people
  overrule the gateway) and how long proposals waited for a decision; holds applied at once, lifted
  and expired;
* drafts by state, and messages quarantined.

Periods are by when the gateway decided (``decided_at``), proposed, drafted or quarantined.
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
from datetime import datetime
from typing import Any

from gateway.audit import iso, parse_iso
from gateway.store.db import Database


def build_report(db: Database, since: datetime, until: datetime) -> dict[str, Any]:
    # Each module registers its tables when imported; one never used is then created empty.
    import gateway.disputes
    import gateway.drafts
    import gateway.effects
    import gateway.holds
    import gateway.quarantine  # noqa: F401

    db.migrate()
    lo, hi = iso(since), iso(until)
    return {
        "since": lo,
        "until": hi,
        "messages": _messages(db, lo, hi),
        "holds": _holds(db, lo, hi, until),
        "drafts": dict(Counter(r["state"] for r in db.query(
            "SELECT state FROM drafts WHERE created_at >= ? AND created_at < ?", (lo, hi)))),
        "quarantined": int(db.query_one("SELECT count(*) AS n FROM quarantine WHERE recorded_at >= ? AND recorded_at < ?",
                                        (lo, hi))["n"]),  # type: ignore[index]
    }


def _messages(db: Database, lo: str, hi: str) -> dict[str, Any]:
    analysed = 0
    customers: set[str] = set()
    tagged = 0
    held = 0
    by_category: Counter[str] = Counter()
    tagged_ids: dict[str, set[str]] = {}
    for r in db.query("SELECT message_id, customer, decision FROM decisions WHERE decided_at >= ? AND decided_at < ?",
                      (lo, hi)):
        analysed += 1
        customers.add(r["customer"])
        decision = json.loads(r["decision"])
        categories = set(decision.get("categories") or [])
        held += bool(decision.get("held"))
        if categories:
            tagged += 1
            by_category.update(categories)
            tagged_ids[r["message_id"]] = categories
    disputed: Counter[str] = Counter()
    if tagged_ids:
        for r in db.query("SELECT message_id, category FROM disputes"):
            if r["category"] in tagged_ids.get(r["message_id"], ()):
                disputed[r["category"]] += 1
    return {
        "analysed": analysed,
        "customers": len(customers),
        "tagged": tagged,
        "held": held,
        "categories": {
            c: {"tagged": n, "disputed": disputed[c], "dispute_rate": round(disputed[c] / n, 4)}
            for c, n in sorted(by_category.items(), key=lambda kv: (-kv[1], kv[0]))
        },
        "disputed_tags": sum(disputed.values()),
    }


def _holds(db: Database, lo: str, hi: str, until: datetime) -> dict[str, Any]:
    rows = db.query("SELECT id, state, created_at, created_by FROM holds WHERE created_at >= ? AND created_at < ?",
                    (lo, hi))
    events: dict[int, list[Any]] = {}
    if rows:
        marks = ", ".join("?" * len(rows))
        for e in db.query(f"SELECT hold_id, action, actor, at FROM hold_events WHERE hold_id IN ({marks}) ORDER BY id",
                          tuple(r["id"] for r in rows)):
            events.setdefault(e["hold_id"], []).append(e)
    decided: Counter[str] = Counter()
    escalated = 0
    waits: list[float] = []
    waiting_since: list[datetime] = []
    proposed = applied = 0
    for r in rows:
        history = events.get(r["id"], [])
        if not history or history[0]["action"] != "propose":
            applied += bool(history and history[0]["action"] == "apply")
            continue
        proposed += 1
        verdict = next((e for e in history if e["action"] in ("approve", "reject")), None)
        if verdict is None:
            if r["state"] == "proposed":
                waiting_since.append(parse_iso(r["created_at"]))  # type: ignore[arg-type]
        elif verdict["action"] == "approve" and verdict["actor"] == r["created_by"]:
            escalated += 1  # a later message made the policy apply it: no person decided
        else:
            decided[verdict["action"]] += 1
            waits.append((parse_iso(verdict["at"]) - parse_iso(r["created_at"])).total_seconds() / 3600)  # type: ignore[operator]
    closed = Counter(e["action"] for e in db.query(
        "SELECT action FROM hold_events WHERE action IN ('lift', 'expire') AND at >= ? AND at < ?", (lo, hi)))
    verdicts = decided["approve"] + decided["reject"]
    return {
        "proposed": proposed,
        "approved": decided["approve"],
        "rejected": decided["reject"],
        "rejection_rate": round(decided["reject"] / verdicts, 4) if verdicts else None,
        "applied_by_a_later_message": escalated,
        "waiting": len(waiting_since),
        "oldest_waiting_hours": round(max((until - t).total_seconds() for t in waiting_since) / 3600, 1)
        if waiting_since else None,
        "decision_hours_median": round(statistics.median(waits), 1) if waits else None,
        "decision_hours_max": round(max(waits), 1) if waits else None,
        "applied_at_once": applied,
        "lifted": closed["lift"],
        "expired": closed["expire"],
    }


def format_report(report: dict[str, Any]) -> str:
    m, h, d = report["messages"], report["holds"], report["drafts"]

    def pct(part: float, whole: float) -> str:
        return f"{100 * part / whole:.1f}%" if whole else "-"

    lines = [f"From {report['since'][:16].replace('T', ' ')} to {report['until'][:16].replace('T', ' ')} UTC", ""]
    lines.append(f"Messages analysed        {m['analysed']:>7,}   from {m['customers']:,} customer(s)")
    lines.append(f"Tagged by the policy     {m['tagged']:>7,}   {pct(m['tagged'], m['analysed'])}")
    lines.append(f"From held customers      {m['held']:>7,}")
    if m["categories"]:
        lines.append("")
        lines.append(f"  {'category':<34} {'tagged':>7} {'disputed':>9} {'dispute rate':>13}")
        for c, v in m["categories"].items():
            lines.append(f"  {c:<34} {v['tagged']:>7,} {v['disputed']:>9,} {pct(v['disputed'], v['tagged']):>13}")
    lines.append("")
    verdicts = h["approved"] + h["rejected"]
    lines.append(f"Holds proposed           {h['proposed']:>7,}   approved {h['approved']}, rejected {h['rejected']}"
                 f" ({pct(h['rejected'], verdicts)} of decisions), waiting {h['waiting']}"
                 + (f" (oldest {h['oldest_waiting_hours']} h)" if h["waiting"] else "")
                 + (f", applied by a later message {h['applied_by_a_later_message']}"
                    if h["applied_by_a_later_message"] else ""))
    if h["decision_hours_median"] is not None:
        lines.append(f"Time to a lead's verdict  median {h['decision_hours_median']} h, longest {h['decision_hours_max']} h")
    lines.append(f"Holds applied at once    {h['applied_at_once']:>7,}")
    lines.append(f"Holds lifted / expired   {h['lifted']:>7,} / {h['expired']}")
    lines.append(f"Reply drafts             {sum(d.values()):>7,}   "
                 + (", ".join(f"{k} {v}" for k, v in sorted(d.items())) or "none"))
    lines.append(f"Quarantined messages     {report['quarantined']:>7,}")
    lines.append("")
    lines.append("Dispute and rejection rates are what agents and leads judged: the gateway's measured false "
                 "accusations. An undisputed tag may still be wrong.")
    return "\n".join(lines)


__all__ = ["build_report", "format_report"]
