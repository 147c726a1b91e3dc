"""Tickets in: new customer conversations on Freshdesk tickets, as Messages.

List Tickets with ``updated_since`` (without it Freshdesk lists only tickets *created* in the last
30 days, so older tickets with new replies would be missed — FD docs "List All Tickets"), ordered
by ``updated_at``, with the requester and description embedded. For each listed ticket the
conversations are read, and what the customer wrote becomes a Message:

- the ticket's description, for tickets the customer opened (email, portal, chat, widget; not
  phone tickets or outbound email, which agents write);
- each conversation that is not ``private`` and written by the requester (``incoming`` for email;
  a portal reply is the requester's too).

Messages written before the first poll's window (``first_poll_days``) are history, not offered
even when their ticket changes later. The high-water mark is the newest ``updated_at`` seen; it
is staged by :meth:`TicketPoller.fetch` and stored by :meth:`TicketPoller.commit` once the caller
has applied the effects, so a crash re-reads rather than loses. Tickets re-listed at exactly the mark are skipped when they were
handled at that moment already and that second had passed on Freshdesk's clock (its ``Date``
header) when they were listed. Messages already applied (recorded by :mod:`.sync`) are not
returned again.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from connectors.base import external_ref
from connectors.freshdesk.client import FreshdeskClient
from connectors.freshdesk.store import FreshdeskState
from gateway.errors import IngestError
from gateway.ingest import message_from_text
from gateway.model import Message
from gateway.quarantine import Quarantine

log = logging.getLogger(__name__)

#: Ticket sources whose description an agent wrote, not the customer (FD docs "Ticket Properties").
AGENT_SOURCES = frozenset({3, 10})  # phone, outbound email


def parse_time(value: str | None) -> datetime | None:
    """Freshdesk timestamps (``2015-08-24T11:59:05Z``) as aware UTC datetimes."""
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def message_id(helpdesk: str, ticket_id: Any, part: Any) -> str:
    """Stable ids: ``freshdesk:<entry>:<ticket>:description`` or ``...:<conversation id>``."""
    return f"freshdesk:{helpdesk}:{ticket_id}:{part}"


def ticket_messages(
    helpdesk: str,
    ticket: dict[str, Any],
    conversations: list[dict[str, Any]],
    on_error: Callable[[str, str, IngestError], None] | None = None,
) -> list[Message]:
    """The customer's messages on one ticket, oldest first (``ticket`` read with
    ``include=requester`` so the requester's email is known). A body ingest refuses is handed to
    ``on_error(message id, body, error)`` (the poller quarantines it) and skipped."""
    ticket_id = ticket["id"]
    requester_id = ticket.get("requester_id")
    requester = ticket.get("requester") or {}
    email = (requester.get("email") or "").strip()
    requester_key = f"freshdesk:{helpdesk}:contact:{requester_id}"
    sender = email or requester_key
    subject = ticket.get("subject") or ""
    thread = f"freshdesk:{helpdesk}:ticket:{ticket_id}"

    def make(part: Any, html: str | None, text: str | None, created: str | None, extra: dict[str, Any]) -> None:
        body, is_html = (html, True) if html else (text or "", False)
        mid = message_id(helpdesk, ticket_id, part)
        try:
            out.append(_message(mid, body, is_html, created, part, extra))
        except IngestError as exc:
            if on_error is None:
                raise
            on_error(mid, body, exc)

    def _message(mid: str, body: str, is_html: bool, created: str | None, part: Any,
                 extra: dict[str, Any]) -> Message:
        return message_from_text(
            mid, body, subject=subject, sender=sender, thread=thread,
            received_at=parse_time(created), source=helpdesk, html=is_html,
            external=external_ref(
                helpdesk=helpdesk, kind="freshdesk", ticket_id=ticket_id, comment_id=part,
                requester_id=requester_id if requester_id is not None else "", requester_email=email,
                ticket_updated_at=ticket.get("updated_at") or "", requester_key=requester_key, **extra,
            ),
        )

    out: list[Message] = []
    if ticket.get("source") not in AGENT_SOURCES and (ticket.get("description") or ticket.get("description_text")):
        make("description", ticket.get("description"), ticket.get("description_text"),
             ticket.get("created_at"), {"conversation_kind": "description"})
    for conv in sorted(conversations, key=lambda c: (c.get("created_at") or "", c.get("id") or 0)):
        if conv.get("private"):
            continue  # agents' notes, ours included
        if requester_id is None and not conv.get("incoming"):
            continue
        if requester_id is not None and conv.get("user_id") != requester_id:
            continue  # an agent, or a cc'd third party: not the customer this ticket is about
        # ``incoming`` is documented as "created from outside (not through the web portal)", so a
        # requester's reply in the customer portal may say false: the author decides, not the flag.
        if not (conv.get("body") or conv.get("body_text")):
            continue
        make(conv["id"], conv.get("body"), conv.get("body_text"), conv.get("created_at"),
             {"conversation_kind": "conversation", "from_email": conv.get("from_email") or ""})
    return out


@dataclass
class _Mark:
    """The high-water mark: the newest ``updated_at`` handled, and which tickets had exactly it."""

    since: datetime
    floor: datetime  # the first poll's start: older messages predate the gateway and are not offered
    ids: set[int] = field(default_factory=set)

    def dump(self) -> str:
        return json.dumps({"since": self.since.isoformat(), "floor": self.floor.isoformat(), "ids": sorted(self.ids)})

    @classmethod
    def load(cls, raw: str | None) -> "_Mark | None":
        if not raw:
            return None
        data = json.loads(raw)
        since = datetime.fromisoformat(data["since"])
        return cls(since, datetime.fromisoformat(data.get("floor", data["since"])), set(data.get("ids", [])))

    def advance(self, ticket: dict[str, Any]) -> None:
        when = parse_time(ticket.get("updated_at"))
        if when is None:
            return
        if when > self.since:
            self.since, self.ids = when, {ticket["id"]}
        elif when == self.since:
            self.ids.add(ticket["id"])


class TicketPoller:
    """Reads new customer conversations for one Freshdesk account."""

    def __init__(self, client: FreshdeskClient, state: FreshdeskState, *, now: Any = None,
                 customers: Any = None) -> None:
        self.client = client
        self.state = state
        self.customers = customers  # a gateway.store MessageStore: links the requester to the email key
        self.helpdesk = client.config.name
        self._now = now or (lambda: datetime.now(timezone.utc))
        self._staged: _Mark | None = None
        self._floor: datetime | None = None
        self._offered: list[tuple[datetime, list[str]]] = []  # (ticket updated_at, message ids)
        self.last_tickets: list[dict[str, Any]] = []  # the tickets listed by the last fetch (approvals)

    @property
    def _key(self) -> str:
        return f"freshdesk:{self.helpdesk}:poll_mark"

    def mark(self) -> _Mark | None:
        return _Mark.load(self.state.db.get_state(self._key))

    async def fetch(self) -> list[Message]:
        """Messages not yet applied from tickets updated since the mark, oldest first."""
        mark = self.mark()
        since = mark.since if mark else self._now() - timedelta(days=self.client.config.first_poll_days)
        staged = _Mark(mark.since, mark.floor, set(mark.ids)) if mark else _Mark(since, since)
        self._floor = staged.floor
        by_id: dict[Any, dict[str, Any]] = {}
        listed_at: datetime | None = None
        async for page in self.client.list_tickets(since):
            listed_at = listed_at or self.client.server_time
            for ticket in page:
                if mark and parse_time(ticket.get("updated_at")) == mark.since and ticket.get("id") in mark.ids:
                    continue  # handled when the mark was set
                # a ticket updated while we page through moves to a later page: keep its last version
                by_id.pop(ticket.get("id"), None)
                by_id[ticket.get("id")] = ticket
        tickets = list(by_id.values())
        self.last_tickets = tickets
        messages: list[Message] = []
        self._offered = []
        for ticket in tickets:
            found = await self.messages_for(ticket)
            messages.extend(found)
            staged.advance(ticket)
            when = parse_time(ticket.get("updated_at"))
            if found and when is not None:
                self._offered.append((when, [m.id for m in found]))
        if listed_at is None or staged.since > listed_at - timedelta(seconds=1):
            # Freshdesk's timestamps have whole seconds: a ticket updated again within the second
            # we listed it would show the same updated_at, so it may not be skipped next time.
            staged.ids = set()
        self._staged = staged
        messages.sort(key=lambda m: (m.received_at or datetime.min.replace(tzinfo=timezone.utc), m.id))
        return messages

    async def messages_for(self, ticket: dict[str, Any]) -> list[Message]:
        """The not-yet-applied customer messages of one ticket (its conversations are read)."""
        if ticket.get("spam") or ticket.get("deleted"):
            return []
        conversations = await self.client.list_conversations(ticket["id"])
        messages = ticket_messages(self.helpdesk, ticket, conversations, on_error=self._quarantine)
        floor = self._floor
        if messages:
            self._link(messages[0])  # one requester per ticket
        return [m for m in messages
                if "complete" not in self.state.done_steps(m.id)
                and (floor is None or m.received_at is None or m.received_at >= floor)]

    def _link(self, message: Message) -> None:
        """Join the Freshdesk contact to the customer's email key, so the contact history of mail
        and of a later message without an email (a phone-created ticket) is one customer's."""
        if self.customers is None or not message.external.get("requester_email"):
            return
        try:
            self.customers.link_customers(message.sender, message.external["requester_key"])
        except Exception as exc:  # linking is an aid; a message is never lost over it
            log.warning("Freshdesk (%s): could not link customer keys: %s", self.helpdesk, exc)

    def _quarantine(self, mid: str, body: str, error: IngestError) -> None:
        """Keep a body ingest refused, with the reason; it is not offered again."""
        log.warning("Freshdesk (%s): %s quarantined: %s", self.helpdesk, mid, error)
        Quarantine(self.state.db).record(self.helpdesk, mid, body.encode("utf-8", "replace"),
                                         str(error))
        ticket_id = mid.rsplit(":", 2)[1]  # freshdesk:<entry>:<ticket>:<part>
        self.state.record_step(mid, ticket_id, "complete", {"quarantined": str(error)})

    def commit(self) -> None:
        """Store the mark staged by the last :meth:`fetch` — but not past a ticket whose message
        failed for a reason that may pass (a 5xx, a 429, the network): that ticket is listed again
        next time. A permanent refusal (a 4xx such as 405 on a spam ticket) is recorded as a
        failure and does not hold the mark back forever."""
        if self._staged is None:
            return
        staged, self._staged = self._staged, None
        retry = [when for when, ids in self._offered if any(self._transient_failure(mid) for mid in ids)]
        if retry:
            staged = _Mark(min(retry), staged.floor)
        self.state.db.set_state(self._key, staged.dump())

    def _transient_failure(self, mid: str) -> bool:
        if "complete" in self.state.done_steps(mid):
            return False
        failures = self.state.failures(mid)
        if not failures:
            return False  # never applied: the caller quarantined or skipped it on purpose
        status = failures[-1]["status"]
        return status is None or status == 429 or status >= 500
