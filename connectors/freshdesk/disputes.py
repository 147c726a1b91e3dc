"""An agent says the gateway's tags on a ticket are wrong, inside Freshdesk, by adding a tag.

The agent adds ``hg_dispute`` (``dispute_tag``) to a ticket the gateway tagged. On the next poll
(or the automation rule's webhook), here:

- every category still standing on the ticket's messages that the gateway tagged is disputed in
  the gateway (gateway/disputes.py): it no longer counts against the customer, with the audit
  entry ``message.dispute``;
- the dispute tag and the disputed categories' tags are removed from the ticket (other tags stay),
  and a private note says what was done and that a hold stays until a lead lifts it.

Freshdesk's API does not say who added a tag, so the actor names the tag and the ticket, as for
the leads' approval tags. Only tickets the gateway tagged are looked at; a list answer without
tags is completed by reading the ticket.

Disputes made in the console or the CLI on messages whose verdict tagged a ticket here reach that
ticket on the next cycle (:meth:`DisputeTags.carry`, connectors/dispute_queue.py): the tags of
categories no longer standing on any of the ticket's tagged messages go (``change_tags``, other
tags kept), then one private note names who disputed what. A failed call leaves the ticket queued
for the next cycle, resuming after the step that landed; a ticket gone (404) is dropped. The
dispute tag's own handler queues the same way: its tag write failing queues the whole carry, its
note failing (after the tags came off) queues the note alone.
"""

from __future__ import annotations

import logging
from typing import Any

from connectors.base import TicketDispute
from connectors.dispute_queue import DisputeQueue, TicketWork, carried, carry_each, no_longer_standing, plan
from connectors.dispute_queue import note as carry_note
from connectors.freshdesk.store import FreshdeskState
from connectors.freshdesk.sync import TicketSync
from connectors.freshdesk.sync import _html as html_body
from connectors.freshdesk.tags import change_tags
from connectors.note import MARKER
from gateway.errors import HelpdeskError

log = logging.getLogger(__name__)


class DisputeTags:
    """Finds dispute tags on tickets the gateway tagged and acts on them."""

    def __init__(self, sync: TicketSync, state: FreshdeskState) -> None:
        self.sync = sync
        self.state = state
        self.config = sync.config

    @property
    def origin(self) -> str:
        """The ``origin`` of the disputes this connector records (from its dispute tag)."""
        return f"freshdesk:{self.config.name}"

    async def check(self, tickets: list[dict[str, Any]]) -> list[TicketDispute]:
        from gateway.disputes import Disputes

        cfg = self.config
        tagged = self.state.tagged_messages([str(t.get("id")) for t in tickets])
        out: list[TicketDispute] = []
        disputes: Disputes | None = None
        for ticket in tickets:
            tid = str(ticket.get("id"))
            if tid not in tagged:
                continue
            if "tags" not in ticket:  # a list answer without tags: read the ticket
                ticket = await self.sync.client.view_ticket(tid)
            if cfg.dispute_tag not in set(ticket.get("tags") or []):
                continue
            disputes = disputes or Disputes(self.state.db)
            actor = f"freshdesk:{cfg.name} tag {cfg.dispute_tag} on ticket {tid}"
            reason = f"{cfg.dispute_tag} tag added in Freshdesk on ticket {tid}"
            withdrawn_now = disputes.dispute_standing(tagged[tid], actor, reason, origin=self.origin)
            done = TicketDispute(cfg.name, tid, actor, withdrawn_now)
            present = set(ticket.get("tags") or [])
            # also a category disputed before whose tag is still on the ticket (a console dispute
            # not carried yet, or the write of an earlier try that failed)
            earlier = {c for c in no_longer_standing(disputes, tagged[tid]) if cfg.helpdesk_tag(c) in present}
            withdrawn = sorted({c for cats in withdrawn_now.values() for c in cats} | earlier)
            try:
                await change_tags(self.sync.client, tid, ticket=ticket,
                                  remove=[cfg.dispute_tag] + [cfg.helpdesk_tag(c) for c in withdrawn])
            except HelpdeskError:  # recorded already: the next cycle's carry takes the tags off
                ids = [d.id for mid, cats in withdrawn_now.items() for d in disputes.for_message(mid) if d.category in cats]
                DisputeQueue(self.state.db, self.origin).enqueue(tid, ids)
                raise
            if withdrawn:
                note = (f"{MARKER}: dispute recorded ({cfg.dispute_tag}).\n\nWithdrawn: {', '.join(withdrawn)}. These "
                        "no longer count against the customer. A hold already in place stays until a team lead "
                        "lifts it.")
            else:
                note = f"{MARKER}: {cfg.dispute_tag} seen, but no tag of the gateway's stands on this ticket."
            try:
                await self.sync.client.create_note(tid, html_body(note))
            except HelpdeskError:  # the tags are off: the next cycle's carry posts the note alone
                ids = [d.id for mid in tagged[tid] for d in disputes.for_message(mid) if d.category in withdrawn]
                if ids:
                    DisputeQueue(self.state.db, self.origin).enqueue_note(
                        tid, ids, {"removed": [cfg.helpdesk_tag(c) for c in withdrawn if cfg.helpdesk_tag(c) in present],
                                   "withdrawn": withdrawn, "kept": []})
                raise
            log.info("Freshdesk (%s): dispute on ticket %s: %s", cfg.name, tid, ", ".join(withdrawn) or "nothing standing")
            out.append(done)
        return out

    async def carry(self) -> list[TicketDispute]:
        """Disputes made in the console or the CLI on this helpdesk's tagged messages, carried to
        their tickets (see the module docstring). Failures come back with ``error`` set."""
        queue = DisputeQueue(self.state.db, self.origin)
        return await carry_each(queue, f"Freshdesk ({self.config.name})", self.state.tagged_tickets_of,
                                lambda disputes, work: self._carry_to_ticket(queue, disputes, work))

    async def _carry_to_ticket(self, queue: DisputeQueue, disputes: Any, work: TicketWork) -> TicketDispute | None:
        cfg, client, tid = self.config, self.sync.client, work.ticket_id
        if work.step != "tags":
            ticket = await client.view_ticket(tid)
            tagged = self.state.tagged_messages([tid]).get(tid, [])
            todo = plan(disputes, work, tagged, ticket.get("tags") or [], cfg.helpdesk_tag)
            ours = any(d.origin == self.origin for d in work.disputes)  # a dispute tag whose write failed
            tag_left = [cfg.dispute_tag] if ours and cfg.dispute_tag in (ticket.get("tags") or []) else []
            if not todo.anything and not tag_left:  # the tags are gone already (an agent, or an hg_dispute)
                queue.done(work)
                return None
            if todo.remove or tag_left:
                await change_tags(client, tid, remove=tag_left + todo.remove, ticket=ticket)
            queue.step_done(work, "tags", {"removed": todo.remove, "withdrawn": todo.withdrawn, "kept": todo.kept})
        detail = work.detail
        await client.create_note(tid, html_body(carry_note(work, detail["withdrawn"], detail["kept"])))
        queue.done(work)
        log.info("Freshdesk (%s): dispute carried to ticket %s: removed %s", cfg.name, tid,
                 ", ".join(detail["removed"]) or "nothing")
        return carried(cfg.name, work, detail["removed"])
