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

Reported once per tag. ``DisputeTags`` is a mixin of :class:`connectors.zendesk.sync.ZendeskConnector`,
whose state, client and safe ``_update`` it uses.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from connectors.base import TicketDispute
from connectors.note import MARKER

if TYPE_CHECKING:
    from connectors.zendesk.sync import ZendeskConnector

log = logging.getLogger(__name__)


class DisputeTags:
    """Dispute-tag handling for the connector (see the module docstring)."""

    def _notice_dispute_tag(self: "ZendeskConnector", ticket: dict[str, Any]) -> None:
        if self.config.dispute_tag in set(ticket.get("tags") or []):
            self.state.stage_dispute(int(ticket["id"]))

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
            done = TicketDispute(self.name, str(tid), actor,
                                 disputes.dispute_standing(self.state.ticket_messages(tid), actor, reason))
            withdrawn = sorted({c for cats in done.categories.values() for c in cats})
            remove = [self.config.dispute_tag] + [self.config.helpdesk_tag(f"hg_{c}") for c in withdrawn]
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
