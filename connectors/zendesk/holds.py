"""What a decision asks of a Zendesk ticket about holds, and the ticket fields a hold sets.

A *proposed* hold (a lead must approve) shows as the ``<prefix>hold_proposed`` tag only; the ticket
stays in the agents' queue. An *active* hold adds ``<prefix>hold`` and moves the ticket to the
configured status (``hold`` or ``pending``, or a ``custom_status_id``). What the status was before
is remembered so lifting restores it — unless an agent changed the status since, in which case
theirs stands.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from connectors.zendesk.config import ZendeskConfig
from gateway.model import Decision


@dataclass(frozen=True)
class HoldIntent:
    state: str  # "proposed" | "active"
    scope: str  # "thread" | "customer" | "all_channels"


def hold_intent(decision: Decision) -> HoldIntent | None:
    """The hold a decision carries, if any. ``Decision.held`` (the customer is already under an
    active hold) puts this ticket on hold too."""
    for action in decision.actions:
        params: dict[str, Any] = dict(action.params)
        scope = str(params.get("scope") or "thread")
        if action.type == "apply_hold":
            return HoldIntent("active", scope)
        if action.type == "propose_hold":
            return HoldIntent("proposed", scope)
        if action.type == "hold":
            mode = str(params.get("state") or params.get("mode") or "").lower()
            if mode in {"active", "apply", "applied"} or params.get("needs_approval") is False \
                    or params.get("approval") is False:
                return HoldIntent("active", scope)
            return HoldIntent("proposed", scope)
    if decision.held:
        return HoldIntent("active", "customer")
    return None


def hold_fields(config: ZendeskConfig) -> dict[str, Any]:
    """The Update Ticket fields an active hold sets."""
    if config.hold_custom_status_id is not None:
        # With custom statuses, status is the category and custom_status_id the concrete status;
        # sending the id alone lets Zendesk derive the category.
        return {"custom_status_id": config.hold_custom_status_id}
    return {"status": config.hold_status}


def still_as_we_set(ticket: dict[str, Any], set_status: str, set_custom_status_id: int | None) -> bool:
    """Is the ticket's status still the one the gateway's hold set?"""
    if set_custom_status_id is not None:
        return ticket.get("custom_status_id") == set_custom_status_id
    return bool(set_status) and ticket.get("status") == set_status


def restore_fields(prev_status: str, prev_custom_status_id: int | None) -> dict[str, Any]:
    if prev_custom_status_id is not None:
        return {"custom_status_id": prev_custom_status_id}
    # A ticket cannot go back to "new" once touched; "open" is what Zendesk itself would show.
    return {"status": "open" if prev_status in ("", "new") else prev_status}
