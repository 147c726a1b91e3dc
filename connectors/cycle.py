"""One polling cycle of a helpdesk connector: the daemon's ``poll()`` for any :class:`Connector`.

::

    jobs.register_poller(connector.name, lambda: run_cycle(connector, pipeline), interval=60)

1. new end-user comments are fetched and each goes through the pipeline (detect, contact
   history, policy, core effects: holds, drafts, audit — idempotent per message id);
2. the verdict goes to the ticket: tags, the private note (findings with abuse masked, the
   hold's state, the drafted reply), the hold status;
3. the connector's cursor moves — unless a message failed for a reason other than the helpdesk
   refusing (a bug, a store error): then the same items are read again next cycle, which is
   harmless because every step is idempotent. Helpdesk refusals are recorded by the connector,
   which reads the ticket again next cycle;
4. leads' approve/reject tags are collected (the connector records them), holds decided in
   the console are shown on the tickets (connectors that offer ``sync_gateway_holds``), and
   agents' dispute tags withdraw the gateway's wrong tags (connectors that offer ``poll_disputes``),
   and disputes made in the console or the CLI reach the tickets (``carry_disputes``);
5. drafts approved for this helpdesk's tickets are posted as replies.

Each message is processed inside its own guard: one failure never stops the others.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import Any

from connectors.base import Approval, Connector
from connectors.note import render_note
from gateway.errors import HelpdeskError
from gateway.model import Decision, Message

log = logging.getLogger(__name__)


@dataclass
class CycleReport:
    fetched: int = 0
    applied: int = 0
    failed: int = 0
    cursor_committed: bool = False
    approvals: list[Approval] = field(default_factory=list)
    holds_synced: int = 0  # tickets changed after a hold was decided in the console
    disputes: list[Any] = field(default_factory=list)  # TicketDispute: dispute tags handled, disputes carried
    replies_sent: int = 0
    replies_failed: int = 0
    errors: list[str] = field(default_factory=list)  # reasons, never message text


def _hold_state(report: Any) -> str | None:
    state = getattr(report, "hold_state", None)
    hold_id = getattr(report, "hold_id", None)
    if not state:
        return None
    ref = f" (hold #{hold_id})" if hold_id is not None else ""
    if state == "proposed":
        return f"proposed, waiting for a team lead's approval{ref}"
    if state == "active":
        return f"active{ref}; a team lead can lift it"
    return f"{state}{ref}"


def _draft_text(pipeline: Any, report: Any) -> str | None:
    draft_id = getattr(report, "draft_id", None)
    drafts = getattr(getattr(pipeline, "effects", None), "drafts", None)
    if draft_id is None or drafts is None:
        return None
    try:
        return drafts.get(draft_id).body
    except Exception as exc:  # the note still goes out without the draft
        log.warning("draft %s could not be read for the note: %s", draft_id, exc)
        return None


def _without_disputed_tags(pipeline: Any, decision: Decision) -> Decision:
    """``decision`` less the tags of categories already disputed on its message. A message whose
    effects failed is decided again on a later cycle; if a lead disputed a category meanwhile
    (in the console, before the ticket had the tag, so there was no tag to take off), the retry
    must not put the withdrawn accusation on the ticket after all."""
    db = getattr(pipeline, "db", None)
    if db is None or not decision.tags:
        return decision
    from gateway.disputes import Disputes

    disputed = {f"hg_{d.category}" for d in Disputes(db).for_message(decision.message_id)}
    if not disputed & set(decision.tags):
        return decision
    return replace(decision, tags=[t for t in decision.tags if t not in disputed])


async def run_cycle(connector: Connector, pipeline: Any, *, drafts: Any = None) -> CycleReport:
    """Fetch, decide, apply, commit, collect approvals, send approved replies."""
    report = CycleReport()
    messages = await connector.fetch_new()
    report.fetched = len(messages)
    safe_to_commit = True
    for message in messages:
        try:
            result = pipeline.process(message)
            decision = _without_disputed_tags(pipeline, result.decision)
            note = render_note(message, result.findings, decision,
                               draft=_draft_text(pipeline, result.effects), hold_state=_hold_state(result.effects))
            outcome = await connector.apply(message, decision, note)
            report.applied += int(outcome.applied)
        except HelpdeskError as exc:  # recorded by the connector; its ticket is read again
            report.failed += 1
            report.errors.append(f"{message.id}: {exc}")
            log.warning("%s: effects for %s failed: %s", connector.name, message.id, exc)
        except Exception as exc:  # noqa: BLE001 - one bad message never stops the cycle
            report.failed += 1
            safe_to_commit = False
            report.errors.append(f"{message.id}: {type(exc).__name__}: {exc}")
            log.exception("%s: processing %s failed", connector.name, message.id)
    if safe_to_commit:
        await connector.commit_cursor()
        report.cursor_committed = True
    try:
        report.approvals = await connector.poll_approvals()
        sync = getattr(connector, "sync_gateway_holds", None)  # console decisions back to tickets
        if sync is not None:
            report.holds_synced = await sync()
        disputes = getattr(connector, "poll_disputes", None)  # agents' dispute tags
        if disputes is not None:
            report.disputes = await disputes()
    except HelpdeskError as exc:
        report.errors.append(f"approvals: {exc}")
        log.warning("%s: reading approvals failed: %s", connector.name, exc)
    carry = getattr(connector, "carry_disputes", None)  # disputes made in the console or the CLI
    if carry is not None:
        try:
            for done in await carry():
                if done.error:
                    report.errors.append(f"dispute on ticket {done.ticket_id}: {done.error}")
                else:
                    report.disputes.append(done)
        except HelpdeskError as exc:
            report.errors.append(f"disputes: {exc}")
            log.warning("%s: carrying disputes failed: %s", connector.name, exc)
    store = drafts if drafts is not None else getattr(getattr(pipeline, "effects", None), "drafts", None)
    if store is not None:
        await send_approved_replies(connector, store, report)
    return report


async def send_approved_replies(connector: Connector, drafts: Any, report: CycleReport | None = None) -> int:
    """Post every approved draft that answers this helpdesk's tickets; mark it sent or failed."""
    report = report or CycleReport()
    for draft in drafts.approved():
        if draft.source != connector.name or not draft.external:
            continue
        target = Message(id=draft.message_id, text="", source=draft.source, external=dict(draft.external))
        try:
            ref = await connector.send_reply(target, draft.body, draft_id=f"draft:{draft.id}")
        except HelpdeskError as exc:
            drafts.mark_failed(draft.id, f"{connector.name}: {exc}")
            report.replies_failed += 1
            continue
        drafts.mark_sent(draft.id, detail=f"{connector.name} reply {ref}".strip())
        report.replies_sent += 1
    return report.replies_sent
