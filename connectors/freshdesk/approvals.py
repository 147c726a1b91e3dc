"""A team lead's verdict on a proposed hold, given inside Freshdesk by adding a tag.

When the gateway proposes a hold it tags the ticket ``hg_hold_proposed`` and says in the private
note which tag approves (``hg_hold_approve``) and which rejects (``hg_hold_reject``). A lead adds
one; the poll (or the automation-rule webhook) sees the ticket change, and here:

- the proposal is closed with that verdict (reported once, as a :class:`connectors.base.Approval`);
- on approval the hold is applied in the same tag write (hold tag and hold status); the proposal
  and verdict tags are removed, so a later proposal on the ticket starts clean;
- the verdict is written to the hash-chained audit trail (``freshdesk.hold_approve`` /
  ``freshdesk.hold_reject``) and carried to the gateway's own hold by :func:`record_approval`
  (``HoldStore.approve`` / ``reject``, which audits the transition with the same actor).

Freshdesk's API does not say who added a tag, so the actor names the tag and the ticket; restrict
who may add these tags with an automation rule (see the readme's set-up section) or use the console.
Both tags at once are ambiguous and nothing is done (the tags stay for a person to sort out).
"""

from __future__ import annotations

import logging
from typing import Any

from connectors.base import Approval
from connectors.freshdesk.poll import parse_time
from connectors.freshdesk.store import FreshdeskState
from connectors.freshdesk.sync import TicketSync
from connectors.freshdesk.tags import change_tags

log = logging.getLogger(__name__)


class ApprovalTags:
    """Finds verdict tags on tickets with an open proposal and acts on them."""

    def __init__(self, sync: TicketSync, state: FreshdeskState, *, holds: Any = None, audit: Any = None) -> None:
        self.sync = sync
        self.state = state
        self.config = sync.config
        self.holds = holds  # gateway.holds.HoldStore: the gateway's own hold gets the verdict
        self.audit = audit  # gateway.audit.AuditLog: the verdict as seen in Freshdesk

    async def check(self, tickets: list[dict[str, Any]]) -> list[Approval]:
        cfg = self.config
        open_by_ticket: dict[str, list[Any]] = {}
        for p in self.state.open_proposals([str(t.get("id")) for t in tickets]):
            open_by_ticket.setdefault(p.ticket_id, []).append(p)
        out: list[Approval] = []
        for ticket in tickets:
            tid = str(ticket.get("id"))
            proposals = open_by_ticket.get(tid)
            if proposals and "tags" not in ticket:  # a list answer without tags: read the ticket
                ticket = await self.sync.client.view_ticket(tid)
            tags = set(ticket.get("tags") or [])
            approve, reject = cfg.approve_tag in tags, cfg.reject_tag in tags
            if not proposals or approve == reject:
                if proposals and approve and reject:
                    log.warning("ticket %s carries both %s and %s; waiting for a single verdict",
                                tid, cfg.approve_tag, cfg.reject_tag)
                continue
            verdict = "approve" if approve else "reject"
            tag = cfg.approve_tag if approve else cfg.reject_tag
            cleanup = [cfg.proposed_tag, tag]
            if approve:
                await self.sync.hold_ticket(tid, proposals[0].message_id, remove=cleanup)
            else:
                await change_tags(self.sync.client, tid, remove=cleanup)
            actor = f"freshdesk:{cfg.name} tag {tag} on ticket {tid}"
            approval = Approval(
                helpdesk=cfg.name, ticket_id=tid, verdict=verdict,  # type: ignore[arg-type]
                actor=actor, actor_id="", at=parse_time(ticket.get("updated_at")),
                requester_id=proposals[0].requester_id, source="tag",
            )
            self.state.decide_proposals(tid, verdict)
            if self.audit is not None:
                self.audit.append(actor, f"freshdesk.hold_{verdict}", f"freshdesk:{cfg.name}:ticket:{tid}",
                                  f"{verdict} tag {tag} added in Freshdesk",
                                  {"ticket_id": tid, "tag": tag, "message_ids": [p.message_id for p in proposals],
                                   "ticket_updated_at": ticket.get("updated_at")})
            if self.holds is not None:
                try:
                    record_approval(approval, self.holds, message_ids=[p.message_id for p in proposals])
                except Exception as exc:  # e.g. the console decided first; the Freshdesk side is done
                    log.warning("Freshdesk (%s): could not update the gateway hold for ticket %s: %s",
                                cfg.name, tid, exc)
            log.info("ticket %s: hold %s by tag %s", tid, verdict, tag)
            out.append(approval)
        return out


def record_approval(approval: Approval, holds: Any, *, message_ids: list[str] | None = None) -> list[int]:
    """Carry a helpdesk verdict to the gateway's proposed holds (``gateway.holds.HoldStore``): each
    proposed hold whose messages came from this ticket is approved or rejected, audited by the
    store with the actor. Returns the hold ids decided."""
    prefix = f"freshdesk:{approval.helpdesk}:{approval.ticket_id}:"
    decided: list[int] = []
    for hold in holds.pending():
        ids = hold.message_ids
        if not any(m.startswith(prefix) or (message_ids and m in message_ids) for m in ids):
            continue
        reason = f"{approval.verdict} by tag in Freshdesk ({approval.helpdesk}), ticket {approval.ticket_id}"
        if approval.verdict == "approve":
            holds.approve(hold.id, approval.actor, reason)
        else:
            holds.reject(hold.id, approval.actor, reason)
        decided.append(hold.id)
    return decided
