"""Changed tickets from Zendesk's cursor-based incremental ticket export.

Cursor mode, not time mode: time-based pages can loop forever when many tickets share a
timestamp. The first run starts from ``start_time`` (at least a minute in the past: Zendesk never
returns the last minute); later runs resume from the stored ``after_cursor``. The new cursor is
only *staged* by :meth:`TicketExport.changed_tickets`; :meth:`commit` persists it once the caller
has applied the effects, so a crash in between re-reads tickets rather than losing comments.
Requesters are side-loaded (``include=users``) so their emails cost no extra call.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from connectors.zendesk.client import ZendeskClient
from connectors.zendesk.state import ZendeskState

FIRST_RUN_LOOKBACK = 600  # seconds: without a configured start_time, begin ten minutes back


class TicketExport:
    def __init__(
        self,
        client: ZendeskClient,
        state: ZendeskState,
        *,
        start_time: int | None = None,
        max_pages: int = 5,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.client = client
        self.state = state
        self.start_time = start_time
        self.max_pages = max_pages  # incremental exports allow 10 requests a minute
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self.staged: str | None = None

    async def changed_tickets(self) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
        """Tickets changed since the stored cursor (latest version of each) and side-loaded users."""
        cursor = self.state.cursor()
        start = None
        if not cursor:
            now = int(self.clock().timestamp())
            start = self.start_time if self.start_time is not None else now - FIRST_RUN_LOOKBACK
            start = min(start, now - 60)
            if self.state.epoch() is None:
                self.state.set_epoch(start)
        tickets: dict[str, dict[str, Any]] = {}
        users: dict[str, dict[str, Any]] = {}
        for _ in range(self.max_pages):
            body = await self.client.export_tickets(cursor=cursor, start_time=start)
            for t in body.get("tickets") or []:
                tickets[str(t["id"])] = t
            for u in body.get("users") or []:
                users[str(u["id"])] = u
            cursor = body.get("after_cursor") or cursor
            if body.get("end_of_stream") or not body.get("after_cursor"):
                break
        self.staged = cursor
        return list(tickets.values()), users

    def commit(self) -> None:
        if self.staged:
            self.state.set_cursor(self.staged)
