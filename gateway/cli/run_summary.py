"""What ``harassment-gateway run --once`` prints when the pass is over: a summary for a person.

The JSON logs on stderr are for machines and never carry subjects or bodies. This summary goes to
the operator's own terminal (stdout): per message processed in this pass its sender, subject,
language, the categories found, the tags and what was done (hold proposed or applied, reply draft
waiting for approval, escalation); then the totals and what to do next.

Everything is read back from the store (the decision log with each message's effects report, the
holds, drafts, escalations and quarantine tables), so the daemon needs no extra bookkeeping and the
summary shows what was actually recorded.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from gateway.audit import iso
from gateway.drafts import DraftError, DraftStore
from gateway.effects import DecisionLog, EscalationStore
from gateway.holds import HoldError, HoldStore
from gateway.quarantine import Quarantine, QuarantinedItem
from gateway.store.db import Database

__all__ = ["MessageLine", "RunSummary", "format_summary", "read_summary"]

SUBJECT_WIDTH = 60


@dataclass
class MessageLine:
    """One processed message as the summary shows it."""

    message_id: str
    sender: str
    subject: str
    lang: str
    categories: list[str]
    tags: list[str]
    actions: list[str] = field(default_factory=list)  # human sentences: "hold #1 applied (...)"
    hold_ids: list[int] = field(default_factory=list)
    draft_ids: list[int] = field(default_factory=list)


@dataclass
class RunSummary:
    """The pass (messages decided since it started) and the store's open work afterwards."""

    messages: list[MessageLine]
    quarantined: list[QuarantinedItem]
    holds_proposed: int
    holds_active: int
    drafts_waiting: int
    escalations_open: int  # not acknowledged by a lead yet (mailed or not)

    @property
    def tagged(self) -> int:
        return sum(1 for m in self.messages if m.tags)


def read_summary(db: Database, since: datetime) -> RunSummary:
    """Collect what was decided at or after ``since`` (the pass's start), and the open work."""
    decisions = DecisionLog(db)
    holds = HoldStore(db)
    drafts = DraftStore(db)
    escalations = EscalationStore(db)
    start = iso(since)  # stored timestamps are fixed-width UTC ISO text, so they compare as strings
    rows = db.query("SELECT message_id FROM decisions WHERE decided_at >= ? ORDER BY decided_at, received_at",
                    (start,))
    lines: list[MessageLine] = []
    for row in rows:
        record = decisions.get(row["message_id"])
        if record is None:
            continue
        decision = record.decision
        line = MessageLine(
            message_id=record.message_id,
            sender=record.sender_address or record.customer,
            subject=record.subject,
            lang=record.lang,
            categories=_unique(f.category for f in record.findings),
            tags=list(decision.get("tags", [])),
        )
        report = record.report
        if report.hold_id is not None:
            line.hold_ids.append(report.hold_id)
            line.actions.append(_hold_text(holds, report.hold_id, report.hold_state, record.message_id))
        if report.escalation_id is not None:
            line.actions.append(_escalation_text(escalations, report.escalation_id))
        if report.draft_id is not None:
            line.draft_ids.append(report.draft_id)
            line.actions.append(_draft_text(drafts, report.draft_id))
        if decision.get("held"):
            line.actions.append("message held (the customer is on hold)")
        line.actions += [f"not done: {why}" for why in report.suppressed]
        line.actions += [f"error: {why}" for why in report.errors]
        lines.append(line)
    quarantined = [q for q in Quarantine(db).list() if q.recorded_at >= start]
    return RunSummary(
        messages=lines,
        quarantined=quarantined,
        holds_proposed=len(holds.list(state="proposed")),
        holds_active=len(holds.list(state="active")),
        drafts_waiting=len(drafts.pending()),
        escalations_open=len(escalations.waiting()),
    )


def format_summary(summary: RunSummary, *, db_path: Path | None = None, console: str = "127.0.0.1:8080") -> str:
    """The summary as text for the terminal. ``db_path`` is added to the suggested commands when
    the store is not ``./gateway.db`` (their default)."""
    out: list[str] = []
    n = len(summary.messages)
    if n:
        out.append(f"Processed {n} message{'s' if n != 1 else ''}:")
        out.append("")
        width = len(str(n))
        for i, m in enumerate(summary.messages, 1):
            head = f"{i:>{width}}. {m.sender} — {_truncate(m.subject) or '(no subject)'} [{m.lang or '?'}]"
            out.append(head)
            pad = " " * (width + 2)
            if not m.categories and not m.actions:
                out.append(f"{pad}nothing found")
            else:
                found = ", ".join(m.categories) or "nothing"
                out.append(f"{pad}found: {found}" + (f"   tags: {', '.join(m.tags)}" if m.tags else ""))
                out += [f"{pad}→ {a}" for a in m.actions]
        out.append("")
    else:
        out.append("No new messages: everything waiting had been processed before (the store remembers).")
        out.append("")
    for q in summary.quarantined:
        out.append(f"Quarantined (could not be read; kept with the reason): {q.source} {q.location}: {q.reason}")
    if summary.quarantined:
        out.append("")
    out.append(
        f"This pass: {n} processed, {summary.tagged} tagged, {len(summary.quarantined)} quarantined."
    )
    out.append(
        f"Waiting in the store: {summary.holds_proposed} hold{_s(summary.holds_proposed)} proposed "
        f"(a team lead decides), {summary.holds_active} active; {summary.drafts_waiting} "
        f"draft{_s(summary.drafts_waiting)} waiting for approval; {summary.escalations_open} "
        f"escalation{_s(summary.escalations_open)} for a lead to acknowledge."
    )
    db = f" --db {db_path}" if db_path is not None and db_path.resolve() != (Path.cwd() / "gateway.db").resolve() else ""
    steps = [
        (f"harassment-gateway holds list{db}", "the holds; `holds show ID` gives the evidence, a lead approves or rejects"),
        (f"harassment-gateway drafts list{db}", "the reply drafts; `drafts show ID`, then approve or discard"),
        (f"harassment-gateway escalations list{db}", "threats escalated to leads; `escalations ack ID --reason ...`"),
        ("harassment-gateway run", f"keep running, with the console on http://{console}"),
    ]
    width = max(len(cmd) for cmd, _ in steps)
    out.append("")
    out.append("Next:")
    out += [f"  {cmd:<{width}}  {what}" for cmd, what in steps]
    return "\n".join(out)


def _hold_text(holds: HoldStore, hold_id: int, state_then: str | None, message_id: str) -> str:
    try:
        hold = holds.get(hold_id)
    except HoldError:
        return f"hold #{hold_id} {state_then or ''}".rstrip()
    days = f", {hold.expiry_days} days" if hold.expiry_days else ""
    if hold.message_ids and hold.message_ids[0] != message_id:  # a later message of the same conduct
        text = f"evidence added to hold #{hold.id} ({state_then or hold.state})"
    elif state_then == "active":
        text = f"hold #{hold.id} applied at once ({hold.scope}{days})"
    elif state_then == "proposed":
        text = f"hold #{hold.id} proposed ({hold.scope}{days}): waiting for a team lead's approval"
    else:
        text = f"hold #{hold.id} ({state_then or hold.state})"
    if state_then and hold.state != state_then:
        text += f"; now {hold.state}"
    return text


def _draft_text(drafts: DraftStore, draft_id: int) -> str:
    try:
        draft = drafts.get(draft_id)
    except DraftError:
        return f"draft #{draft_id}"
    what = f"reply draft #{draft.id} ({draft.lang}/{draft.template})"
    return f"{what} waiting for approval" if draft.state == "pending" else f"{what} {draft.state}"


def _escalation_text(escalations: EscalationStore, esc_id: int) -> str:
    try:
        esc = escalations.get(esc_id)
    except HoldError:  # what EscalationStore.get raises for a missing id
        return f"escalation #{esc_id}"
    return f"escalated to {', '.join(esc.recipients)} ({esc.priority})"


def _truncate(text: str, width: int = SUBJECT_WIDTH) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _unique(items: Iterable[str]) -> list[str]:
    seen: list[str] = []
    for item in items:
        if item not in seen:
            seen.append(item)
    return seen


def _s(n: int) -> str:
    return "" if n == 1 else "s"
