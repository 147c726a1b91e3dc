"""The Zendesk connector: new end-user comments in, verdicts out, in as few calls as possible.

API budget per processed comment: the comments read of its ticket, then **one** Update Ticket
carrying the tags, the private note and the hold status together (the export page that found the
ticket is shared by up to 1,000 tickets). Our own update's echo in the next export is recognised
by its ``updated_at`` and costs nothing.

Tags: ``tags`` on Update Ticket *replaces* the ticket's list, and ``additional_tags`` is documented
for bulk updates only. So the update sends the full merged list (the ticket's tags plus ours) with
``safe_update: true`` and ``updated_stamp`` = the ``updated_at`` we merged from; if anyone changed
the ticket meanwhile Zendesk answers 409, and we re-read the ticket, merge again and resend. An
agent's tag is never lost, and tag, note and status still travel in one call.

Idempotence: each comment's state is stored (pending/applied/failed). Every private note ends with
a reference line naming the message, so after an ambiguous failure (a timeout or 5xx on an update
that did land) the next read finds the note and does not post it twice.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import httpx

from connectors.base import EXT_COMMENT, EXT_REQUESTER, EXT_TICKET, ApplyResult
from connectors.http import RetryPolicy, Sleep
from connectors.note import MARKER
from connectors.zendesk.approvals import ApprovalTags
from connectors.zendesk.client import ZendeskClient
from connectors.zendesk.config import ZendeskConfig, load_zendesk_config
from connectors.zendesk.disputes import DisputeTags
from connectors.zendesk.export import TicketExport
from connectors.zendesk.holds import hold_fields, hold_intent, restore_fields, still_as_we_set
from connectors.zendesk.messages import (
    comment_to_message,
    is_end_user_comment,
    message_id,
    user_key,
)
from connectors.zendesk.state import HoldRecord, ZendeskState
from gateway.config import Config, HelpdeskConfig
from gateway.errors import HelpdeskError
from gateway.model import Decision, Message
from gateway.store.db import Database

if TYPE_CHECKING:
    from starlette.routing import BaseRoute

log = logging.getLogger(__name__)

MAX_CONFLICTS = 3  # 409 re-reads before giving up on one update
_CLOSED = {"closed", "deleted"}  # closed tickets take no updates (a follow-up ticket would)


def note_reference(message_id_: str) -> str:
    return f"[{MARKER} ref {message_id_}]"


_REF = re.compile(re.escape(f"[{MARKER} ref ") + r"([^\]\s]+)\]")


class ZendeskConnector(ApprovalTags, DisputeTags):
    """One Zendesk account (one ``helpdesks`` entry). See :class:`connectors.base.Connector`."""

    def __init__(
        self,
        config: ZendeskConfig,
        db: Database,
        *,
        client: ZendeskClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        retry: RetryPolicy | None = None,
        sleep: Sleep | None = None,
        rng: Callable[[], float] | None = None,
        clock: Callable[[], datetime] | None = None,
        audit: Any = None,  # gateway.audit.AuditLog
        holds: Any = None,  # gateway.holds.HoldStore
        customers: Any = None,  # gateway.store.messages.MessageStore (link_customers)
    ) -> None:
        self.config = config
        self.name = config.name
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self.client = client or ZendeskClient(
            config, transport=transport, policy=retry, sleep=sleep, rng=rng, clock=self.clock
        )
        self.state = ZendeskState(db, config.name)
        self.export = TicketExport(self.client, self.state, start_time=config.start_time, clock=self.clock)
        self.audit = audit
        self.holds = holds
        self.customers = customers
        self._tickets: dict[int, dict[str, Any]] = {}  # latest version of each ticket we have seen

    @classmethod
    def from_config(cls, entry: HelpdeskConfig, db: Database, env: Config | Mapping[str, str], *,
                    key: str = "helpdesks", **kwargs: Any) -> "ZendeskConnector":
        """Build from a ``helpdesks`` entry; ``env`` is the loaded Config (its environment) or a mapping."""
        mapping = env.env if isinstance(env, Config) else env
        return cls(load_zendesk_config(entry, mapping, key=key), db, **kwargs)

    async def aclose(self) -> None:
        await self.client.aclose()

    # -- tickets in -----------------------------------------------------------------------------

    async def fetch_new(self) -> list[Message]:
        """New end-user comments on tickets changed since the stored cursor (and on tickets a
        webhook or an earlier failure asked us to re-read), oldest first per ticket."""
        tickets, users = await self.export.changed_tickets()
        by_id = {int(t["id"]): t for t in tickets}
        queued = self.state.reread_queue()
        missing = [str(t) for t in queued if t not in by_id]
        for t in await self.client.show_many_tickets(missing):
            by_id[int(t["id"])] = t
        need_users = sorted({str(t.get("requester_id")) for t in by_id.values()
                             if t.get("requester_id") and str(t.get("requester_id")) not in users})
        for u in await self.client.show_many_users(need_users):
            users[str(u["id"])] = u

        messages: list[Message] = []
        for tid in sorted(by_id):
            ticket = by_id[tid]
            self._remember(ticket)
            self._notice_verdict_tags(ticket)
            self._notice_dispute_tag(ticket)
            if ticket.get("status") in _CLOSED:
                continue
            if tid not in queued and ticket.get("updated_at") == self.state.our_updated_at(tid):
                continue  # the export's echo of our own update
            messages.extend(await self._new_comments(ticket, users))
        self.state.clear_reread([t for t in queued if t in by_id])
        return messages

    async def commit_cursor(self) -> None:
        self.export.commit()

    async def _new_comments(self, ticket: dict[str, Any], users: dict[str, dict]) -> list[Message]:
        tid = int(ticket["id"])
        floor = self.state.floor(tid)
        not_before = ""
        epoch = self.state.epoch()
        if floor == 0 and epoch is not None:  # a ticket we never read: its older history is not new
            not_before = datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        comments, authors = await self.client.recent_comments(tid, newer_than=floor, not_before=not_before)
        everyone = {**users, **authors}
        requester = everyone.get(str(ticket.get("requester_id")))
        for c in comments:  # our own notes first: they settle updates we thought had failed
            landed = _REF.search(str(c.get("body") or c.get("plain_body") or ""))
            if landed and not c.get("public", True):
                self._confirm_landed(landed.group(1), tid)
        out: list[Message] = []
        for c in comments:
            cid = int(c["id"])
            if not is_end_user_comment(c, ticket, everyone):
                continue
            if self.state.comment_state(cid) == "applied":
                continue
            msg = comment_to_message(self.name, ticket, c, requester)
            self.state.record_seen(cid, tid, msg.id)
            self._link_customer(msg)
            out.append(msg)
        if comments:
            self.state.set_seen_top(tid, max(int(c["id"]) for c in comments))
        return out

    def _confirm_landed(self, mid: str, tid: int) -> None:
        """Our note for ``mid`` is on the ticket: an update we thought failed did land."""
        cid = _comment_id_of(mid)
        if cid is not None and self.state.comment_state(cid) in ("pending", "failed"):
            log.info("zendesk %s: ticket %s already carries the note for %s; marking it applied", self.name, tid, mid)
            with self.state.db.tx() as c:
                self.state.mark_applied(cid, c)

    def _link_customer(self, msg: Message) -> None:
        if self.customers is None or not msg.sender_address:
            return
        try:
            self.customers.link_customers(msg.sender, msg.external["requester_key"])
        except Exception as exc:  # linking is an aid; never lose the message over it
            log.warning("zendesk %s: could not link customer keys: %s", self.name, exc)

    # -- effects out ----------------------------------------------------------------------------

    async def apply(self, message: Message, decision: Decision, note: str) -> ApplyResult:
        tid, cid = int(message.external[EXT_TICKET]), int(message.external[EXT_COMMENT])
        result = ApplyResult(message_id=message.id, ticket_id=str(tid), applied=False)
        prior = self.state.comment_state(cid)
        if prior == "applied":
            return result
        if prior is None:
            self.state.record_seen(cid, tid, message.id)
        calls_before = self.client.calls

        intent = hold_intent(decision)
        existing = self.state.hold(tid)
        # The hold tag follows the hold logic below (set only when the hold is really active here).
        tags = [t for t in (self.config.helpdesk_tag(x) for x in decision.tags) if t != self.config.hold_tag]
        remove: list[str] = []
        new_hold: HoldRecord | None = None
        status_fields: dict[str, Any] = {}
        if intent is not None and not decision.shadow:
            open_state = existing.state if existing and existing.state in ("proposed", "active") else None
            if intent.state == "active" and open_state != "active":
                tags.append(self.config.hold_tag)
                remove.append(self.config.proposed_tag)
                status_fields = hold_fields(self.config)
                new_hold = self._hold_record(tid, message, intent.scope, "active")
            elif intent.state == "proposed" and open_state is None:
                tags.append(self.config.proposed_tag)
                new_hold = self._hold_record(tid, message, intent.scope, "proposed")

        if decision.shadow or (not tags and not new_hold and not decision.categories):
            with self.state.db.tx() as c:
                self.state.mark_applied(cid, c)
            result.applied = True
            return result

        hint = ""
        if decision.categories:  # agents read the note: say how to correct the gateway
            hint = (f"\n\nIf a tag is wrong, add the tag {self.config.dispute_tag}: the gateway withdraws it and it "
                    "no longer counts against the customer.")
        comment = {"body": f"{note.rstrip()}{hint}\n\n{note_reference(message.id)}", "public": False}

        def fields(ticket: dict[str, Any]) -> dict[str, Any]:
            if new_hold is not None and new_hold.state == "active":
                new_hold.prev_status = str(ticket.get("status") or "")
                new_hold.prev_custom_status_id = ticket.get("custom_status_id")
            return {"comment": comment, **status_fields}

        try:
            response, _ = await self._update(tid, add=tags, remove=remove, fields=fields, landed_ref=message.id)
        except HelpdeskError as exc:
            self.state.mark_failed(cid, tid, str(exc))
            raise
        after = (response or {}).get("ticket") or {}
        with self.state.db.tx() as c:
            self.state.mark_applied(cid, c)
            if after.get("updated_at"):
                self.state.set_our_updated_at(tid, str(after["updated_at"]), c)
            if new_hold is not None:  # also when an earlier attempt had landed (response None)
                if new_hold.state == "active" and existing is not None and existing.state == "proposed":
                    new_hold.scope = existing.scope
                self.state.save_hold(new_hold, c)
        result.applied = True
        result.tags_added = tags
        result.note_added = True
        result.hold_applied = new_hold is not None and new_hold.state == "active"
        result.api_calls = self.client.calls - calls_before
        return result

    def _hold_record(self, tid: int, message: Message, scope: str, state: str) -> HoldRecord:
        requester = message.external.get(EXT_REQUESTER) or None
        return HoldRecord(
            ticket_id=tid, state=state, message_id=message.id, requester_id=int(requester) if requester else None,
            scope=scope, tag=self.config.hold_tag if state == "active" else self.config.proposed_tag,
            prev_status="", prev_custom_status_id=None,
            set_status="" if self.config.hold_custom_status_id is not None else self.config.hold_status,
            set_custom_status_id=self.config.hold_custom_status_id, suspended=False, decided_by="",
        )

    async def _update(
        self,
        tid: int,
        *,
        add: list[str],
        remove: list[str],
        fields: Callable[[dict[str, Any]], dict[str, Any]],
        landed_ref: str | None = None,
    ) -> tuple[dict[str, Any] | None, dict[str, Any]]:
        """One safe Update Ticket: our fields plus the merged tag list, guarded by updated_stamp.

        Returns the response and the ticket version the update was based on. On 409, re-read and
        merge again; when ``landed_ref`` names a note that is already on the ticket (an earlier
        attempt landed), nothing is sent and the response is None."""
        ticket = self._tickets.get(tid) or self._remember(await self.client.show_ticket(tid))
        for attempt in range(MAX_CONFLICTS + 1):
            body = dict(fields(ticket))
            current = [str(t) for t in ticket.get("tags") or []]
            merged = [t for t in current if t not in remove] + [t for t in dict.fromkeys(add) if t not in current]
            if merged != current:
                body["tags"] = merged
            body["safe_update"] = True
            body["updated_stamp"] = ticket.get("updated_at")
            try:
                response = await self.client.update_ticket(tid, body, idempotent=True)
            except HelpdeskError as exc:
                if exc.status != 409 or attempt == MAX_CONFLICTS:
                    raise
                log.info("zendesk %s: ticket %s changed meanwhile (409); re-reading", self.name, tid)
                ticket = self._remember(await self.client.show_ticket(tid))
                if landed_ref and await self._note_on_ticket(tid, landed_ref):
                    return None, ticket
                continue
            self._remember(response.get("ticket") or {})
            return response, ticket
        raise AssertionError("unreachable")

    async def _note_on_ticket(self, tid: int, mid: str) -> bool:
        """Is the private note for ``mid`` already on the ticket? (Only asked after a 409.)"""
        cid = _comment_id_of(mid) or 0
        comments, _ = await self.client.recent_comments(tid, newer_than=cid)
        ref = note_reference(mid)
        return any(ref in str(c.get("body") or "") and not c.get("public", True) for c in comments)

    def _remember(self, ticket: dict[str, Any]) -> dict[str, Any]:
        if ticket.get("id") is not None:
            self._tickets[int(ticket["id"])] = ticket
        return ticket

    # -- holds ----------------------------------------------------------------------------------

    async def lift_hold(self, message: Message, *, actor: str, reason: str) -> bool:
        """Undo the hold on this message's ticket (and, for a customer hold, on the requester's
        other held tickets): remove the gateway's hold tags, restore the status if it is still the
        one we set, and unsuspend the requester if we suspended them."""
        tid = int(message.external[EXT_TICKET])
        hold = self.state.hold(tid)
        if hold is None or hold.state not in ("proposed", "active"):
            return False
        targets = [hold]
        if hold.scope != "thread" and hold.requester_id is not None:
            targets += [h for h in self.state.holds_in_state("active")
                        if h.requester_id == hold.requester_id and h.ticket_id != tid]
        unsuspend = any(h.suspended for h in targets)
        for h in targets:
            await self._undo_on_ticket(h)
        if unsuspend and hold.requester_id is not None:
            await self.client.set_user_suspended(hold.requester_id, False)
        with self.state.db.tx() as c:
            for h in targets:
                h.state, h.suspended, h.decided_by = "lifted", False, actor
                self.state.save_hold(h, c)
            if self.audit is not None:
                self.audit.append(actor, "zendesk.hold_lift", f"zendesk:{self.name}:ticket:{tid}", reason,
                                  {"tickets": [h.ticket_id for h in targets], "unsuspended": unsuspend}, conn=c)
        return True

    async def _undo_on_ticket(self, h: HoldRecord) -> None:
        def fields(ticket: dict[str, Any]) -> dict[str, Any]:
            if h.state == "active" and still_as_we_set(ticket, h.set_status, h.set_custom_status_id):
                return restore_fields(h.prev_status, h.prev_custom_status_id)
            return {}

        ticket = self._remember(await self.client.show_ticket(h.ticket_id))
        if ticket.get("status") in _CLOSED:
            return
        drop = [self.config.hold_tag, self.config.proposed_tag]
        response, _ = await self._update(h.ticket_id, add=[], remove=drop, fields=fields)
        if response is not None and (response.get("ticket") or {}).get("updated_at"):
            with self.state.db.tx() as c:
                self.state.set_our_updated_at(h.ticket_id, str(response["ticket"]["updated_at"]), c)

    async def suspend_requester(self, message: Message, *, actor: str) -> bool:
        """Suspend the requester: only when enabled, only for an active customer-wide hold."""
        tid = int(message.external[EXT_TICKET])
        hold = self.state.hold(tid)
        if (not self.config.suspend_on_customer_hold or hold is None or hold.state != "active"
                or hold.scope == "thread" or hold.suspended or hold.requester_id is None):
            return False
        await self.client.set_user_suspended(hold.requester_id, True)
        with self.state.db.tx() as c:
            hold.suspended = True
            self.state.save_hold(hold, c)
            if self.audit is not None:
                self.audit.append(actor, "zendesk.suspend_requester", user_key(self.name, hold.requester_id),
                                  "customer hold approved; suspension enabled in the config",
                                  {"ticket_id": tid}, conn=c)
        return True

    # -- replies --------------------------------------------------------------------------------

    async def send_reply(self, message: Message, body: str, *, draft_id: str) -> str:
        """Post an approved draft as a public comment by the configured agent (once per draft)."""
        sent = self.state.reply_sent(draft_id)
        if sent is not None:
            return sent
        tid = int(message.external[EXT_TICKET])
        comment: dict[str, Any] = {"body": body, "public": True}
        if self.config.agent_id is not None:
            comment["author_id"] = self.config.agent_id
        # Not retried on an ambiguous failure: a customer must not get the same reply twice.
        response = await self.client.update_ticket(tid, {"comment": comment}, idempotent=False)
        audit_id = str(((response or {}).get("audit") or {}).get("id") or "")
        self.state.record_reply(draft_id, tid, audit_id)
        after = (response or {}).get("ticket") or {}
        if after.get("updated_at"):
            with self.state.db.tx() as c:
                self.state.set_our_updated_at(tid, str(after["updated_at"]), c)
        return audit_id

    # -- webhooks -------------------------------------------------------------------------------

    def webhook_routes(self) -> list["BaseRoute"]:
        from connectors.zendesk.webhooks import webhook_routes

        return webhook_routes(self)


def _comment_id_of(mid: str) -> int | None:
    tail = mid.rsplit(":", 1)[-1]
    return int(tail) if tail.isdigit() else None


__all__ = ["ZendeskConnector", "message_id", "note_reference"]
