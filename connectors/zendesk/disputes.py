"""An agent says the gateway's tags on a ticket are wrong, inside Zendesk, by adding a tag.

Agents work in Zendesk, where they see the gateway's ``hg_<category>`` tags and private note. When
a tag is wrong (the customer swore about a router, or quoted what a courier said), the agent adds
``hg_dispute`` (``dispute_tag``). The export (or a webhook) shows the tag; then here:

- who added it is read from the ticket's audits (or the webhook that named them);
- every category still standing on the ticket's customer messages is disputed in the gateway
  (gateway/disputes.py): it no longer counts against the customer, with the audit entry
  ``message.dispute`` under that agent's name;
- the dispute tag and the disputed categories' tags are removed from the ticket in one safe
  update, with a private note saying what was done and that a hold stays until a lead lifts it.

Reported once per tag. Disputes made in the console or the CLI on this helpdesk's comments reach
their tickets on the next cycle (:meth:`DisputeTags.carry_disputes`, connectors/dispute_queue.py):
the tags of categories no longer standing on any of the ticket's comments go, in one safe update
with a private note naming who disputed what. A 429 or a failed call leaves the ticket queued for
the next cycle; a ticket gone (404) or closed is dropped, with the reason in the cycle report.

``DisputeTags`` is a mixin of :class:`connectors.zendesk.sync.ZendeskConnector`, whose state,
client and safe ``_update`` it uses.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from connectors.base import TicketDispute
from connectors.dispute_queue import (
    DisputeQueue,
    TicketWork,
    carried,
    carry_each,
    no_longer_standing,
    note,
    plan,
)
from connectors.note import MARKER

if TYPE_CHECKING:
    from connectors.zendesk.sync import ZendeskConnector

log = logging.getLogger(__name__)


class DisputeTags:
    """Dispute-tag handling for the connector (see the module docstring)."""

    def _notice_dispute_tag(self: "ZendeskConnector", ticket: dict[str, Any]) -> None:
        if self.config.dispute_tag in set(ticket.get("tags") or []):
            self.state.stage_dispute(int(ticket["id"]))

    @property
    def dispute_origin(self: "ZendeskConnector") -> str:
        """The ``origin`` of the disputes this connector records (from its dispute tag)."""
        return f"zendesk:{self.name}"

    def _category_tag(self: "ZendeskConnector", category: str) -> str:
        return self.config.helpdesk_tag(f"hg_{category}")

    async def poll_disputes(self: "ZendeskConnector") -> list[TicketDispute]:
        """Handle the dispute tags seen since the last call (see the module docstring)."""
        from gateway.disputes import Disputes

        out: list[TicketDispute] = []
        disputes = Disputes(self.state.db)
        for staged in self.state.staged_disputes():
            tid = int(staged["ticket_id"])
            actor = staged["actor"]
            if not actor:
                actor, _, _ = await self._who_added_tag(tid, self.config.dispute_tag)
            reason = f"{self.config.dispute_tag} tag added in Zendesk on ticket {tid}"
            messages = self.state.ticket_messages(tid)
            ticket = self._tickets.get(tid) or self._remember(await self.client.show_ticket(tid))
            done = TicketDispute(self.name, str(tid), actor,
                                 disputes.dispute_standing(messages, actor, reason, origin=self.dispute_origin))
            present = {str(t) for t in ticket.get("tags") or []}
            # also a category disputed before whose tag is still on the ticket: the update of an
            # earlier try that failed, or a console dispute not carried yet
            earlier = {c for c in no_longer_standing(disputes, messages) if self._category_tag(c) in present}
            withdrawn = sorted({c for cats in done.categories.values() for c in cats} | earlier)
            remove = [self.config.dispute_tag] + [self._category_tag(c) for c in withdrawn]
            if withdrawn:
                body = (f"{MARKER}: dispute recorded for {actor}.\n\nWithdrawn: {', '.join(withdrawn)}. These no "
                        "longer count against the customer. A hold already in place stays until a team lead "
                        "lifts it.")
            else:
                body = f"{MARKER}: {self.config.dispute_tag} seen, but no tag of the gateway's stands on this ticket."
            response, _ = await self._update(tid, add=[], remove=remove,
                                             fields=lambda _t, body=body: {"comment": {"body": body, "public": False}})
            after = (response or {}).get("ticket") or {}
            with self.state.db.tx() as c:
                self.state.drop_dispute(tid, c)
                if after.get("updated_at"):
                    self.state.set_our_updated_at(tid, str(after["updated_at"]), c)
            log.info("zendesk %s: dispute on ticket %s: %s", self.name, tid, ", ".join(withdrawn) or "nothing standing")
            out.append(done)
        return out

    async def carry_disputes(self: "ZendeskConnector") -> list[TicketDispute]:
        """Disputes made in the console or the CLI on this helpdesk's comments, carried to their
        tickets (see the module docstring). Failures come back with ``error`` set."""
        queue = DisputeQueue(self.state.db, self.dispute_origin)
        return await carry_each(queue, f"zendesk {self.name}", self.state.tickets_of,
                                lambda disputes, work: self._carry_to_ticket(queue, disputes, work))

    async def _carry_to_ticket(self: "ZendeskConnector", queue: DisputeQueue, disputes: Any,
                               work: TicketWork) -> TicketDispute | None:
        from connectors.zendesk.sync import _CLOSED, note_reference

        tid = int(work.ticket_id)
        ticket = self._remember(await self.client.show_ticket(tid))
        if ticket.get("status") in _CLOSED:
            queue.done(work)
            log.info("zendesk %s: ticket %s is closed; its tags stay as they are", self.name, tid)
            return TicketDispute(self.name, str(tid), work.actors(), work.categories(), via="gateway",
                                 error="the ticket is closed and takes no updates; dropped")
        todo = plan(disputes, work, self.state.ticket_messages(tid), [str(t) for t in ticket.get("tags") or []],
                    self._category_tag)
        if not todo.anything:  # the tags are gone already (an agent, or an earlier hg_dispute)
            queue.done(work)
            return None
        ref = "disputes-" + "-".join(str(i) for i in work.ids)
        body = f"{note(work, todo.withdrawn, todo.kept)}\n\n{note_reference(ref)}"
        response, _ = await self._update(tid, add=[], remove=todo.remove, landed_ref=ref,
                                         fields=lambda _t: {"comment": {"body": body, "public": False}})
        after = (response or {}).get("ticket") or {}
        with self.state.db.tx() as c:
            queue.done(work, c)
            if after.get("updated_at"):
                self.state.set_our_updated_at(tid, str(after["updated_at"]), c)
        log.info("zendesk %s: dispute carried to ticket %s: removed %s", self.name, tid,
                 ", ".join(todo.remove) or "nothing")
        return carried(self.name, work, todo.remove)
