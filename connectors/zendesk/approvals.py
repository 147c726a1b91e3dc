"""Leads' verdicts on proposed holds, made in Zendesk with a tag (or in the console).

A lead adds ``hg_hold_approve`` or ``hg_hold_reject`` to a ticket whose hold the gateway proposed.
The tag is noticed in the export (or announced by a webhook, which also names the person); the
gateway then finds who added it (the webhook's ``updated_by``, else the ticket's audits), carries
the verdict to the ticket (approve: hold tag and status; reject: the proposal tag goes; the
verdict tag is removed either way), records it in the audit trail and in the gateway's own hold,
suspends the requester when the config allows it for a customer-wide hold, and reports it once.

``ApprovalTags`` is a mixin of :class:`connectors.zendesk.sync.ZendeskConnector`, whose state,
client and safe ``_update`` it uses.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from connectors.base import EXT_TICKET, Approval
from connectors.zendesk.holds import hold_fields
from connectors.zendesk.messages import actor_label
from connectors.zendesk.state import HoldRecord
from gateway.model import Message

if TYPE_CHECKING:
    from connectors.zendesk.sync import ZendeskConnector

log = logging.getLogger(__name__)


class ApprovalTags:
    """Approval handling for the connector (see the module docstring)."""

    def _notice_verdict_tags(self: "ZendeskConnector", ticket: dict[str, Any]) -> None:
        tags = set(ticket.get("tags") or [])
        verdict = "approve" if self.config.approve_tag in tags else "reject" if self.config.reject_tag in tags else None
        if verdict is None:
            return
        hold = self.state.hold(int(ticket["id"]))
        if hold is not None and hold.state == "proposed":
            self.state.stage_approval(int(ticket["id"]), verdict)

    def stage_webhook_verdict(
        self: "ZendeskConnector", ticket_id: int, tags: list[str], actor: str, actor_id: str, at: str
    ) -> None:
        """A webhook told us the ticket's tags and who changed it; remember a verdict tag."""
        verdict = ("approve" if self.config.approve_tag in tags
                   else "reject" if self.config.reject_tag in tags else None)
        hold = self.state.hold(ticket_id)
        if verdict and hold is not None and hold.state == "proposed":
            self.state.stage_approval(ticket_id, verdict, actor=actor, actor_id=actor_id, source="webhook", at=at)

    async def poll_approvals(self: "ZendeskConnector") -> list[Approval]:
        """Handle the verdict tags seen since the last call: find who added the tag (from the
        webhook, else the ticket's audits), carry the verdict to the ticket (approve: the hold
        status and tag; reject: the proposal tag goes), record it, and report it once."""
        out: list[Approval] = []
        for staged in self.state.staged_approvals():
            tid, verdict = int(staged["ticket_id"]), staged["verdict"]
            hold = self.state.hold(tid)
            if hold is None or hold.state != "proposed":
                with self.state.db.tx() as c:
                    self.state.drop_approval(tid, c)
                continue
            actor, actor_id, at, source = staged["actor"], staged["actor_id"], staged["at"], staged["source"]
            if not actor:
                actor, actor_id, at = await self._who_added(tid, verdict)
                source = "audit"
            approval = Approval(helpdesk=self.name, ticket_id=str(tid), verdict=verdict, actor=actor,
                                actor_id=actor_id, at=_parse_time(at), requester_id=str(hold.requester_id or ""),
                                source=source)
            await self._carry_verdict(hold, verdict)
            with self.state.db.tx() as c:
                hold.state = "active" if verdict == "approve" else "rejected"
                hold.decided_by = actor
                self.state.save_hold(hold, c)
                self.state.drop_approval(tid, c)
                if self.audit is not None:
                    self.audit.append(actor, f"zendesk.hold_{verdict}", f"zendesk:{self.name}:ticket:{tid}",
                                      f"{verdict} tag added in Zendesk (seen via {source})",
                                      {"ticket_id": tid, "actor_id": actor_id, "message_id": hold.message_id,
                                       "at": at}, conn=c)
            self._record_in_holds(hold, approval)
            if verdict == "approve" and self.config.suspend_on_customer_hold and hold.scope != "thread":
                fake = Message(id=hold.message_id, text="", external={EXT_TICKET: str(tid)})
                await self.suspend_requester(fake, actor=actor)
            out.append(approval)
        return out

    async def carry_console_verdict(self: "ZendeskConnector", message: Message, verdict: str, *, actor: str) -> bool:
        """A lead decided a proposed hold in the console: show it on the ticket as a Zendesk
        verdict tag would (approve: hold tag and status; reject: the proposal tag goes)."""
        if verdict not in ("approve", "reject"):
            raise ValueError(f"verdict must be approve or reject, got {verdict!r}")
        tid = int(message.external[EXT_TICKET])
        hold = self.state.hold(tid)
        if hold is None or hold.state != "proposed":
            return False
        await self._carry_verdict(hold, verdict)
        with self.state.db.tx() as c:
            hold.state = "active" if verdict == "approve" else "rejected"
            hold.decided_by = actor
            self.state.save_hold(hold, c)
        if verdict == "approve" and self.config.suspend_on_customer_hold and hold.scope != "thread":
            await self.suspend_requester(message, actor=actor)
        return True

    async def sync_gateway_holds(self: "ZendeskConnector", holds: Any = None) -> int:
        """Carry decisions made in the console to the tickets: a proposal approved or rejected
        there, or a hold lifted or expired there. Returns how many tickets changed.

        Gateway holds are matched to tickets by the message that led to them."""
        store = holds if holds is not None else self.holds
        if store is None:
            return 0
        ours = self.state.holds_in_state("proposed") + self.state.holds_in_state("active")
        if not ours:
            return 0
        latest: dict[str, Any] = {}
        for h in reversed(store.list()):  # oldest first, so the newest hold per message wins
            for mid in h.message_ids:
                latest[mid] = h
        changed = 0
        for rec in ours:
            h = latest.get(rec.message_id)
            if h is None:
                continue
            target = Message(id=rec.message_id, text="", external={EXT_TICKET: str(rec.ticket_id)})
            if rec.state == "proposed" and h.state in ("active", "rejected"):
                verdict = "approve" if h.state == "active" else "reject"
                changed += await self.carry_console_verdict(target, verdict, actor=h.decided_by or "console")
            elif rec.state == "active" and h.state in ("lifted", "expired"):
                reason = h.close_reason or f"hold {h.state} in the gateway"
                changed += await self.lift_hold(target, actor=h.closed_by or "system", reason=reason)
        return changed

    async def _carry_verdict(self: "ZendeskConnector", hold: HoldRecord, verdict: str) -> None:
        cfg = self.config
        if verdict == "approve":
            add, remove = [cfg.hold_tag], [cfg.proposed_tag, cfg.approve_tag]

            def fields(ticket: dict[str, Any]) -> dict[str, Any]:
                hold.prev_status = str(ticket.get("status") or "")
                hold.prev_custom_status_id = ticket.get("custom_status_id")
                return hold_fields(cfg)

            hold.tag = cfg.hold_tag
        else:
            add, remove = [], [cfg.proposed_tag, cfg.reject_tag]

            def fields(ticket: dict[str, Any]) -> dict[str, Any]:
                return {}

        response, _ = await self._update(hold.ticket_id, add=add, remove=remove, fields=fields)
        if response is not None and (response.get("ticket") or {}).get("updated_at"):
            with self.state.db.tx() as c:
                self.state.set_our_updated_at(hold.ticket_id, str(response["ticket"]["updated_at"]), c)

    async def _who_added(self: "ZendeskConnector", tid: int, verdict: str) -> tuple[str, str, str]:
        """The newest audit whose tag change added the verdict tag: its author, as a readable actor."""
        return await self._who_added_tag(tid, self.config.approve_tag if verdict == "approve" else self.config.reject_tag)

    async def _who_added_tag(self: "ZendeskConnector", tid: int, tag: str) -> tuple[str, str, str]:
        """The newest audit whose tag change added ``tag``: its author (as a readable actor), the
        author's id and when."""
        audits, users = await self.client.ticket_audits(tid)
        for audit in sorted(audits, key=lambda a: str(a.get("created_at") or ""), reverse=True):
            for event in audit.get("events") or []:
                if event.get("field_name") != "tags":
                    continue
                value, previous = _tag_list(event.get("value")), _tag_list(event.get("previous_value"))
                if tag in value and tag not in previous:
                    author_id = str(audit.get("author_id") or "")
                    actor = actor_label(self.name, author_id, users.get(author_id))
                    return actor, author_id, str(audit.get("created_at") or "")
        return f"zendesk:{self.name}:unknown", "", ""

    def _record_in_holds(self: "ZendeskConnector", hold: HoldRecord, approval: Approval) -> None:
        """Carry the verdict to the gateway's own hold (gateway.holds), when one matches."""
        if self.holds is None:
            return
        try:
            matches = [h for h in self.holds.list(state="proposed") if hold.message_id in h.message_ids]
            for h in matches:
                reason = f"{approval.verdict} tag added in Zendesk ticket {approval.ticket_id}"
                if approval.verdict == "approve":
                    self.holds.approve(h.id, approval.actor, reason)
                else:
                    self.holds.reject(h.id, approval.actor, reason)
        except Exception as exc:  # the console may have decided first; the Zendesk side is done
            log.warning("zendesk %s: could not update the gateway hold for ticket %s: %s",
                        self.name, approval.ticket_id, exc)


def _tag_list(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value]
    if isinstance(value, str):
        return value.split()
    return []


def _parse_time(value: str) -> datetime | None:
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)
