"""Carrying a decision to a Freshdesk ticket, and undoing a hold.

Per processed conversation, at most: the category tags and the hold (tag + status) in one
read-merge-write-reread (:mod:`connectors.freshdesk.tags`), then one private note
(``POST /api/v2/tickets/{id}/notes`` with ``private: true`` — never ``/reply``, which emails the
customer). Each step is recorded in the store under the message id before the next starts, so a
conversation delivered twice is applied once, and one that failed half-way resumes where it stopped.
Nothing here deletes a ticket or a contact, and nothing is sent to the customer except
:meth:`TicketSync.send_reply` of a draft a person approved.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Sequence
from typing import Literal

from connectors.base import EXT_REQUESTER, EXT_TICKET, ApplyResult
from connectors.freshdesk.client import FreshdeskClient
from connectors.freshdesk.statuses import HoldStatus
from connectors.freshdesk.store import FreshdeskState
from connectors.freshdesk.tags import TagChange, change_tags
from gateway.errors import HelpdeskError
from gateway.model import Decision, Message

log = logging.getLogger(__name__)

HoldIntent = Literal["active", "proposed"] | None


def hold_intent(decision: Decision) -> HoldIntent:
    """What the decision asks of a hold: ``active`` (the customer is held, or the policy applies a
    hold at once), ``proposed`` (waiting for a lead), or None."""
    if decision.held:
        return "active"
    for action in decision.actions:
        if action.type == "hold":  # gateway.policy.engine: params["mode"] is "apply" or "propose"
            return "active" if action.params.get("mode") == "apply" else "proposed"
    return None


def ticket_of(message: Message) -> str:
    ticket_id = str(message.external.get(EXT_TICKET, "")).strip()
    if not ticket_id.isdigit():
        raise HelpdeskError(f"message {message.id} carries no Freshdesk ticket id (external={message.external!r})")
    return ticket_id


class TicketSync:
    """Effects on tickets for one Freshdesk account."""

    def __init__(self, client: FreshdeskClient, state: FreshdeskState, statuses: HoldStatus | None = None) -> None:
        self.client = client
        self.config = client.config
        self.state = state
        self.statuses = statuses or HoldStatus(client)

    async def apply(self, message: Message, decision: Decision, note: str) -> ApplyResult:
        """Tags, hold and private note for one conversation; a no-op the second time."""
        ticket_id = ticket_of(message)
        result = ApplyResult(message_id=message.id, ticket_id=ticket_id, applied=False)
        done = self.state.done_steps(message.id)
        if "complete" in done:
            return result
        intent = hold_intent(decision)
        if decision.shadow or (not decision.tags and not decision.categories and intent is None):
            # shadow mode records without applying; a clean message leaves the ticket alone
            self.state.record_step(message.id, ticket_id, "complete", {"shadow": decision.shadow})
            return result
        if intent == "proposed" and self.state.active_hold(ticket_id) is not None:
            intent = None  # the ticket is held already: nothing left to propose
        calls_before = self.client.calls
        if intent == "proposed" and note.strip():
            note = note.rstrip("\n") + (
                f"\n\nTeam leads: add the tag {self.config.approve_tag} to approve this hold, "
                f"or {self.config.reject_tag} to reject it.\n"
            )
        if decision.categories and note.strip():  # agents read the note: say how to correct the gateway
            note = note.rstrip("\n") + (
                f"\n\nIf a tag is wrong, add the tag {self.config.dispute_tag}: the gateway withdraws it and it no "
                "longer counts against the customer.\n"
            )
        step = "tags"
        try:
            if "tags" not in done:
                await self._tags_and_hold(message, ticket_id, decision, intent, result)
            step = "note"
            if note.strip() and "note" not in done:
                created = await self.client.create_note(ticket_id, _html(note))
                self.state.record_step(message.id, ticket_id, "note", {"conversation_id": created.get("id")})
                result.note_added = True
        except HelpdeskError as exc:
            self.state.record_failure(message.id, ticket_id, step, str(exc), exc.status)
            raise
        finally:
            result.api_calls = self.client.calls - calls_before
        self.state.record_step(message.id, ticket_id, "complete")
        result.applied = True
        return result

    async def _tags_and_hold(self, message: Message, ticket_id: str, decision: Decision, intent: HoldIntent,
                             result: ApplyResult) -> None:
        cfg = self.config
        add = [cfg.helpdesk_tag(t) for t in decision.tags]
        add = [t for t in add if t != cfg.hold_tag]  # the hold tag goes with the hold status, below
        existing = self.state.active_hold(ticket_id)
        if intent == "active" and (existing is None or existing.message_id == message.id):
            self.state.decide_proposals(ticket_id, "overtaken")  # an earlier proposal is moot now
            change = await self._write_hold(ticket_id, message.id, add=add, remove=[cfg.proposed_tag])
            result.hold_applied = True
        else:
            if intent == "proposed":
                add.append(cfg.proposed_tag)
            if not add:
                self.state.record_step(message.id, ticket_id, "tags", {"added": []})
                return
            change = await change_tags(self.client, ticket_id, add=add)
            if intent == "proposed":
                self.state.record_proposal(ticket_id, message.id, str(message.external.get(EXT_REQUESTER, "")))
        self.state.record_step(message.id, ticket_id, "tags", {"added": change.added})
        result.tags_added = change.added

    async def _write_hold(self, ticket_id: str, message_id: str, *, add: Sequence[str] = (),
                          remove: Sequence[str] = ()) -> TagChange:
        """The hold tag and status (plus ``add``/``remove``) in one tag write. What the hold changes
        is recorded *before* the write, from a fresh read, so a crash in between cannot leave a
        hold that lifting would not undo; a retry for the same message continues it."""
        cfg = self.config
        ticket = await self.client.view_ticket(ticket_id)
        hold = self.state.active_hold(ticket_id)
        if hold is None:
            status = await self.statuses.status_id()
            changes_status = status is not None and ticket.get("status") != status
            self.state.record_hold(
                ticket_id, message_id, tag=cfg.hold_tag, tag_added=cfg.hold_tag not in (ticket.get("tags") or []),
                status_before=ticket.get("status") if changes_status else None,
                status_applied=status if changes_status else None,
            )
        else:
            status = hold.status_applied
        return await change_tags(self.client, ticket_id, add=[*add, cfg.hold_tag], remove=list(remove),
                                 status=status, ticket=ticket)

    async def hold_ticket(self, ticket_id: str, message_id: str, *, remove: Sequence[str] = ()) -> bool:
        """Apply a hold to a ticket (after a lead approved it): the hold tag and status, removing
        ``remove`` (the proposal and verdict tags) in the same write. False if already held."""
        if self.state.active_hold(ticket_id) is not None:
            if remove:
                await change_tags(self.client, ticket_id, remove=list(remove))
            return False
        await self._write_hold(ticket_id, message_id, remove=remove)
        return True

    async def lift(self, ticket_id: str, *, actor: str, reason: str) -> bool:
        """Undo what the active hold on this ticket changed: remove the hold tag if the gateway added
        it, and put the status back if the ticket still has the status the hold set (an agent who
        moved the ticket on since then is not overruled). False when no hold is recorded."""
        hold = self.state.active_hold(ticket_id)
        if hold is None:
            return False
        ticket = await self.client.view_ticket(ticket_id)
        status = None
        if hold.status_applied is not None and ticket.get("status") == hold.status_applied:
            status = hold.status_before
        remove = [hold.tag] if hold.tag_added else []
        if remove or status is not None:
            await change_tags(self.client, ticket_id, remove=remove, status=status, ticket=ticket)
        self.state.record_lift(hold.id, actor=actor, reason=reason)
        return True

    async def send_reply(self, message: Message, body: str, *, draft_id: str) -> str:
        """Send an approved draft to the customer as the configured agent; once per draft."""
        ticket_id = ticket_of(message)
        sent = self.state.sent_reply(draft_id)
        if sent is not None:
            return sent
        try:
            created = await self.client.create_reply(ticket_id, _html(body), user_id=self.config.agent_id)
        except HelpdeskError as exc:
            self.state.record_failure(message.id, ticket_id, f"reply:{draft_id}", str(exc), exc.status)
            raise
        conversation_id = str(created.get("id", ""))
        self.state.record_reply(draft_id, ticket_id, conversation_id)
        return conversation_id


def _html(text: str) -> str:
    """Freshdesk bodies are HTML: escape the plain text and keep its line breaks."""
    return "<div>" + "<br>".join(html.escape(line) for line in text.split("\n")) + "</div>"
