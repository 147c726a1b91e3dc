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
"""

from __future__ import annotations

import logging
from typing import Any

from connectors.base import TicketDispute
from connectors.freshdesk.store import FreshdeskState
from connectors.freshdesk.sync import TicketSync
from connectors.freshdesk.sync import _html as html_body
from connectors.freshdesk.tags import change_tags
from connectors.note import MARKER

log = logging.getLogger(__name__)


class DisputeTags:
    """Finds dispute tags on tickets the gateway tagged and acts on them."""

    def __init__(self, sync: TicketSync, state: FreshdeskState) -> None:
        self.sync = sync
        self.state = state
        self.config = sync.config

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
            done = TicketDispute(cfg.name, tid, actor, disputes.dispute_standing(tagged[tid], actor, reason))
            withdrawn = sorted({c for cats in done.categories.values() for c in cats})
            await change_tags(self.sync.client, tid, remove=[cfg.dispute_tag] + [cfg.helpdesk_tag(c) for c in withdrawn],
                              ticket=ticket)
            if withdrawn:
                note = (f"{MARKER}: dispute recorded ({cfg.dispute_tag}).\n\nWithdrawn: {', '.join(withdrawn)}. These "
                        "no longer count against the customer. A hold already in place stays until a team lead "
                        "lifts it.")
            else:
                note = f"{MARKER}: {cfg.dispute_tag} seen, but no tag of the gateway's stands on this ticket."
            await self.sync.client.create_note(tid, html_body(note))
            log.info("Freshdesk (%s): dispute on ticket %s: %s", cfg.name, tid, ", ".join(withdrawn) or "nothing standing")
            out.append(done)
        return out
