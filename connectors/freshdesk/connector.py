"""The Freshdesk connector: :class:`connectors.base.Connector` for one Freshdesk account.

It composes the parts, each in its own module: the HTTP client (:mod:`.client`), the poll
(:mod:`.poll`), the effects (:mod:`.sync`, :mod:`.tags`, :mod:`.statuses`), the leads' verdict
tags (:mod:`.approvals`), the webhook route (:mod:`.webhooks`) and what it remembers
(:mod:`.store`). Webhook calls only queue a ticket id; the next :meth:`fetch_new` re-reads that
ticket from the API, so everything goes through the same path as polling.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from connectors.base import ApplyResult, Approval, TicketDispute
from connectors.freshdesk.approvals import ApprovalTags
from connectors.freshdesk.disputes import DisputeTags
from connectors.freshdesk.client import FreshdeskClient
from connectors.freshdesk.config import FreshdeskConfig, freshdesk_config
from connectors.freshdesk.poll import TicketPoller
from connectors.freshdesk.store import FreshdeskState
from connectors.freshdesk.sync import TicketSync, ticket_of
from connectors.freshdesk.webhooks import webhook_route
from gateway.config import Config, HelpdeskConfig
from gateway.errors import HelpdeskError
from gateway.model import Decision, Message
from gateway.store.db import Database

if TYPE_CHECKING:
    from starlette.routing import BaseRoute

log = logging.getLogger(__name__)


class FreshdeskConnector:
    """Tickets in, tags + private note + hold out, leads' verdicts back, approved replies sent.

    Optional collaborators: ``customers`` (a ``gateway.store`` MessageStore) links each requester
    to the customer's email key; ``holds`` (``gateway.holds.HoldStore``) and ``audit``
    (``gateway.audit.AuditLog``) receive the leads' verdicts seen by :meth:`poll_approvals`;
    ``wake`` is called when a webhook announces a ticket. ``client_options`` go to the client
    (``transport``, ``policy``, ``sleep``, ``rng``).
    """

    def __init__(
        self,
        config: FreshdeskConfig,
        db: Database,
        *,
        client: FreshdeskClient | None = None,
        wake: Callable[[], None] | None = None,
        now: Callable[[], Any] | None = None,
        customers: Any = None,
        holds: Any = None,
        audit: Any = None,
        **client_options: Any,
    ) -> None:
        self.config = config
        self.name = config.name
        self.client = client or FreshdeskClient(config, **client_options)
        self.state = FreshdeskState(db, config.name)
        self.poller = TicketPoller(self.client, self.state, now=now, customers=customers)
        self.sync = TicketSync(self.client, self.state)
        self.approvals = ApprovalTags(self.sync, self.state, holds=holds, audit=audit)
        self.disputes = DisputeTags(self.sync, self.state)
        self._wake = wake  # tells the daemon a webhook arrived, so it need not wait for the next poll
        self._pending: dict[int, None] = {}  # ticket ids announced by webhooks, in arrival order
        self._seen_tickets: list[dict[str, Any]] = []
        self._dispute_tickets: list[dict[str, Any]] = []  # the same tickets, for poll_disputes

    @classmethod
    def from_config(cls, entry: HelpdeskConfig, db: Database, env: Config | Mapping[str, str], *,
                    key: str = "helpdesks", **options: Any) -> "FreshdeskConnector":
        """Build from a ``helpdesks`` entry (the same call shape as the Zendesk connector's)."""
        return cls(freshdesk_config(entry, env, key=f"{key}.{entry.name}"), db, **options)

    # -- tickets in --------------------------------------------------------------------------------

    async def fetch_new(self) -> list[Message]:
        messages = await self.poller.fetch()
        tickets = list(self.poller.last_tickets)
        listed = {t.get("id") for t in tickets}
        pending, self._pending = list(self._pending), {}
        for ticket_id in pending:
            if ticket_id in listed:
                continue
            try:
                ticket = await self.client.view_ticket(ticket_id, include="requester")
                found = await self.poller.messages_for(ticket)
            except HelpdeskError as exc:  # a deleted ticket, a wrong id: the poll remains the safety net
                log.warning("Freshdesk (%s): webhook ticket %s could not be read: %s", self.name, ticket_id, exc)
                continue
            tickets.append(ticket)
            messages.extend(found)
        self._seen_tickets = tickets
        self._dispute_tickets = list(tickets)
        unique = {m.id: m for m in messages}
        return sorted(unique.values(), key=lambda m: (m.received_at is None, m.received_at, m.id))

    async def commit_cursor(self) -> None:
        self.poller.commit()

    async def _on_ticket(self, ticket_id: int) -> None:
        self._pending[ticket_id] = None
        if self._wake is not None:
            self._wake()

    def webhook_routes(self) -> list["BaseRoute"]:
        return [webhook_route(self.config, self._on_ticket)]

    # -- effects out -------------------------------------------------------------------------------

    async def apply(self, message: Message, decision: Decision, note: str) -> ApplyResult:
        return await self.sync.apply(message, decision, note)

    async def lift_hold(self, message: Message, *, actor: str, reason: str) -> bool:
        return await self.sync.lift(ticket_of(message), actor=actor, reason=reason)

    async def suspend_requester(self, message: Message, *, actor: str) -> bool:
        """Freshdesk has no API to block a contact, and deleting one is never acceptable (a hard
        delete destroys all their tickets): the hold stays on the tickets. Always False."""
        log.info("Freshdesk (%s): no contact suspension; %s's hold stays on the tickets", self.name, actor)
        return False

    async def send_reply(self, message: Message, body: str, *, draft_id: str) -> str:
        return await self.sync.send_reply(message, body, draft_id=draft_id)

    async def poll_approvals(self) -> list[Approval]:
        tickets, self._seen_tickets = self._seen_tickets, []
        return await self.approvals.check(tickets)

    async def poll_disputes(self) -> list[TicketDispute]:
        """Agents' dispute tags on the tickets seen by the last fetch (connectors/freshdesk/disputes.py)."""
        tickets, self._dispute_tickets = self._dispute_tickets, []
        return await self.disputes.check(tickets)

    async def carry_disputes(self) -> list[TicketDispute]:
        """Disputes made in the console or the CLI, carried to their tickets (connectors/freshdesk/disputes.py)."""
        return await self.disputes.carry()

    async def aclose(self) -> None:
        await self.client.aclose()
