"""The ticket status a hold sets. Freshdesk has no built-in "hold" status (2 Open, 3 Pending,
4 Resolved, 5 Closed); an account can add custom statuses with ids >= 6, listed as the ``choices``
of the ``status`` field in ``GET /api/v2/ticket_fields`` (FD docs "List All Ticket Fields";
HELPDESK_APIS.md section E.6). The config gives either the numeric id or the status's name; a
name is looked up once per process and cached.
"""

from __future__ import annotations

from typing import Any

from connectors.freshdesk.client import FreshdeskClient
from gateway.errors import ConfigError


def status_choices(fields: list[dict[str, Any]]) -> dict[int, str]:
    """``{status id: label for agents}`` from a ``/ticket_fields`` answer."""
    for field in fields:
        if field.get("name") == "status" and isinstance(field.get("choices"), dict):
            out: dict[int, str] = {}
            for key, labels in field["choices"].items():
                label = labels[0] if isinstance(labels, list) and labels else labels
                try:
                    out[int(key)] = str(label)
                except (TypeError, ValueError):
                    continue
            return out
    return {}


class HoldStatus:
    """Resolves the configured hold status to its numeric id (``None``: holds are tag-only)."""

    def __init__(self, client: FreshdeskClient) -> None:
        self.client = client
        self._resolved: int | None = None
        self._done = False

    async def status_id(self) -> int | None:
        config = self.client.config
        if config.hold_status is not None:
            return config.hold_status
        if not config.hold_status_name:
            return None
        if not self._done:
            fields = await self.client.ticket_fields(type="default_status")
            choices = status_choices(fields)
            wanted = config.hold_status_name.strip().casefold()
            matches = [sid for sid, label in choices.items() if label.strip().casefold() == wanted]
            if not matches:
                known = ", ".join(f"{sid} {label!r}" for sid, label in sorted(choices.items())) or "none"
                raise ConfigError(
                    f"helpdesks ({config.name}).hold_status_name: Freshdesk has no status named "
                    f"{config.hold_status_name!r} (statuses: {known}); add it under Admin > Ticket Fields > Status"
                )
            self._resolved, self._done = matches[0], True
        return self._resolved
