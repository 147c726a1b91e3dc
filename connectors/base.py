"""The one small interface every helpdesk connector offers (Zendesk, Freshdesk, a third one later).

The daemon drives a connector through :func:`connectors.cycle.run_cycle`, which does::

    messages = await connector.fetch_new()            # new end-user comments, oldest first
    for message in messages:
        result = pipeline.process(message)            # detect -> contact -> policy (core effects)
        note = render_note(message, result.findings, result.decision, draft=...)
        await connector.apply(message, result.decision, note)
    await connector.commit_cursor()                   # the checkpoint moves after the effects
    await connector.poll_approvals()                  # leads' tags; recorded by the connector
    ... send_reply for drafts approved for this helpdesk

``apply`` is idempotent per message id (a comment applied once is never applied again), so the
at-least-once delivery of exports and webhooks is harmless. Everything a connector needs to find
the ticket again travels in ``Message.external`` (keys below), so a message stored by the contact
history can be acted on later (lift a hold, send an approved draft) without asking the helpdesk.

Errors are :class:`gateway.errors.HelpdeskError` (``RateLimited`` after the retry budget); the
vendor's own message is kept on the exception.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from gateway.model import Decision, Message

if TYPE_CHECKING:  # starlette is a runtime dependency, but only the daemon mounts routes
    from starlette.routing import BaseRoute

# Keys a connector puts in Message.external. Values are strings (ids are opaque to the core).
EXT_HELPDESK = "helpdesk"  # the helpdesk entry's name from the config ("zendesk")
EXT_KIND = "kind"  # the connector type ("zendesk" | "freshdesk")
EXT_TICKET = "ticket_id"
EXT_COMMENT = "comment_id"  # the comment / conversation the message was made from
EXT_REQUESTER = "requester_id"  # the end user's id in the helpdesk
EXT_REQUESTER_EMAIL = "requester_email"  # "" when the helpdesk does not know it
EXT_UPDATED_AT = "ticket_updated_at"  # the ticket's updated_at when read (for collision checks)


def external_ref(
    *,
    helpdesk: str,
    kind: str,
    ticket_id: str | int,
    comment_id: str | int,
    requester_id: str | int,
    requester_email: str = "",
    ticket_updated_at: str = "",
    **extra: Any,
) -> dict[str, Any]:
    """The ``Message.external`` mapping, with every id as a string."""
    out: dict[str, Any] = {
        EXT_HELPDESK: helpdesk,
        EXT_KIND: kind,
        EXT_TICKET: str(ticket_id),
        EXT_COMMENT: str(comment_id),
        EXT_REQUESTER: str(requester_id),
        EXT_REQUESTER_EMAIL: requester_email,
        EXT_UPDATED_AT: ticket_updated_at,
    }
    out.update(extra)
    return out


@dataclass
class ApplyResult:
    """What ``apply`` did. ``applied`` is False when the comment had already been applied."""

    message_id: str
    ticket_id: str
    applied: bool
    tags_added: list[str] = field(default_factory=list)
    note_added: bool = False
    hold_applied: bool = False
    api_calls: int = 0


@dataclass(frozen=True)
class Approval:
    """A lead's verdict on a proposed hold, made inside the helpdesk (an approve/reject tag).

    ``actor`` names the person as the helpdesk knows them ("zendesk:user/123 Jane Lead
    <jane@acme.com>") so the audit trail can say who decided.
    """

    helpdesk: str
    ticket_id: str
    verdict: Literal["approve", "reject"]
    actor: str
    actor_id: str
    at: datetime | None
    requester_id: str = ""
    source: str = ""  # "audit" (read from the ticket audit) or "webhook"


@dataclass
class TicketDispute:
    """An agent's dispute tag handled on a ticket: who (as the helpdesk knows them) and the
    categories withdrawn per message id (gateway/disputes.py); empty when nothing stood.

    ``via`` is ``"tag"`` for the helpdesk's dispute tag, ``"gateway"`` for disputes made in the
    console or the CLI and carried to the ticket (connectors/dispute_queue.py): then ``actor``
    names who disputed, ``tags_removed`` what left the ticket, and ``error`` why the ticket could
    not be changed this cycle (still queued unless the ticket is gone)."""

    helpdesk: str
    ticket_id: str
    actor: str
    categories: dict[str, list[str]] = field(default_factory=dict)
    via: str = "tag"
    tags_removed: list[str] = field(default_factory=list)
    error: str = ""


@runtime_checkable
class Connector(Protocol):
    """A helpdesk the gateway reads tickets from and writes verdicts to."""

    name: str  # the helpdesk entry's name in the config

    async def fetch_new(self) -> list[Message]:
        """New end-user comments since the stored cursor, as Messages, oldest first.

        The cursor is only staged here; :meth:`commit_cursor` persists it once the caller has
        applied the effects, so a crash re-reads rather than loses."""
        ...

    async def commit_cursor(self) -> None:
        """Persist the cursor staged by the last ``fetch_new``."""
        ...

    async def apply(self, message: Message, decision: Decision, note: str) -> ApplyResult:
        """Carry a decision to the ticket: category tags (added, never replacing the agent's),
        the private note (never public), and the hold status when the decision holds.
        Idempotent per ``message.id``."""
        ...

    async def lift_hold(self, message: Message, *, actor: str, reason: str) -> bool:
        """Undo exactly what the gateway applied for a hold on this message's ticket (the hold
        tag, the status it set; unsuspend if it suspended). False when nothing was held."""
        ...

    async def suspend_requester(self, message: Message, *, actor: str) -> bool:
        """Suspend the requester after a lead approved a customer hold, if the config enables it.
        False when disabled or already done."""
        ...

    async def send_reply(self, message: Message, body: str, *, draft_id: str) -> str:
        """Post an approved draft to the customer (public) as the configured agent; returns the
        helpdesk's id for what was sent. Idempotent per ``draft_id``."""
        ...

    async def poll_approvals(self) -> list[Approval]:
        """Leads' approve/reject tags seen since the last poll (each reported once)."""
        ...

    def webhook_routes(self) -> list["BaseRoute"]:
        """Starlette routes for the console app (``create_app(extra_routes=...)``); each route
        verifies the request before reading it."""
        ...

    async def aclose(self) -> None:
        """Close the HTTP client."""
        ...
