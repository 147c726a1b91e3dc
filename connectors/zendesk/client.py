"""A small async Zendesk Support API client: only the calls the gateway makes.

Auth is an API token (HTTP basic ``{email}/token:{token}``) or an OAuth access token (bearer).
Every request goes through :class:`connectors.http.RetryingSender` (Retry-After, backoff, budget)
and errors come back as :class:`gateway.errors.HelpdeskError` with Zendesk's message kept.
Paths carry no ``.json`` suffix, as in Zendesk's OpenAPI description.
"""

from __future__ import annotations

import json as jsonlib
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timezone
from typing import Any

import httpx

from connectors.http import RetryingSender, RetryPolicy, Sleep
from connectors.zendesk.config import ZendeskConfig
from connectors.zendesk.errors import error_from_response
from gateway.errors import HelpdeskError

USER_AGENT = "harassment-gateway (zendesk connector)"


class ZendeskClient:
    """One Zendesk account. ``calls`` counts requests sent (retries included)."""

    def __init__(
        self,
        config: ZendeskConfig,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        policy: RetryPolicy | None = None,
        sleep: Sleep | None = None,
        rng: Callable[[], float] | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.config = config
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        auth: httpx.Auth | None = None
        if config.oauth_token:
            headers["Authorization"] = f"Bearer {config.oauth_token}"
        else:
            auth = httpx.BasicAuth(f"{config.email}/token", config.token)
        self.http = httpx.AsyncClient(
            base_url=config.base_url,
            headers=headers,
            auth=auth,
            timeout=config.timeout,
            transport=transport,
        )
        self.sender = RetryingSender(
            self.http, to_error=error_from_response, policy=policy, sleep=sleep, rng=rng, clock=clock
        )

    @property
    def calls(self) -> int:
        return self.sender.stats.requests

    async def aclose(self) -> None:
        await self.http.aclose()

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        idempotent: bool | None = None,
    ) -> Any:
        """Send one call; the parsed JSON body (None for 204)."""
        kwargs: dict[str, Any] = {"params": params}
        if json is not None:
            kwargs["content"] = jsonlib.dumps(json, ensure_ascii=False).encode("utf-8")
            kwargs["headers"] = {"Content-Type": "application/json"}
        request = self.http.build_request(method, path, **kwargs)
        response = await self.sender.send(request, idempotent=idempotent)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise HelpdeskError(
                f"Zendesk {method} {path}: answered {response.status_code} with a body that is not JSON",
                status=response.status_code, method=method, url=str(request.url.copy_with(query=None)),
            ) from exc

    # Tickets -----------------------------------------------------------------------------
    async def export_tickets(self, *, cursor: str | None = None, start_time: int | None = None) -> dict[str, Any]:
        """One page of the cursor-based incremental ticket export, requesters side-loaded."""
        params: dict[str, Any] = {"include": "users"}
        if cursor:
            params["cursor"] = cursor
        else:
            params["start_time"] = int(start_time or 0)
        return await self.request("GET", "/api/v2/incremental/tickets/cursor", params=params)

    async def show_ticket(self, ticket_id: str | int) -> dict[str, Any]:
        body = await self.request("GET", f"/api/v2/tickets/{int(ticket_id)}")
        return body["ticket"]

    async def show_many_tickets(self, ids: list[str]) -> list[dict[str, Any]]:
        if not ids:
            return []
        body = await self.request("GET", "/api/v2/tickets/show_many", params={"ids": ",".join(ids[:100])})
        return list(body.get("tickets") or [])

    async def update_ticket(self, ticket_id: str | int, ticket: dict[str, Any], *, idempotent: bool) -> dict[str, Any]:
        """Update Ticket; returns ``{"ticket": ..., "audit": ...}``. ``idempotent`` only when the
        body is guarded by ``safe_update`` (a repeat then answers 409 instead of writing twice)."""
        return await self.request(
            "PUT", f"/api/v2/tickets/{int(ticket_id)}", json={"ticket": ticket}, idempotent=idempotent
        )

    async def recent_comments(
        self, ticket_id: str | int, *, newer_than: int, not_before: str = ""
    ) -> tuple[list[dict], dict[str, dict]]:
        """Comments with id above ``newer_than`` (and created at or after ``not_before``, an ISO
        8601 UTC time), oldest first, and the side-loaded authors by id.

        Pages newest first and stops at the first older comment, so a long ticket costs one call."""
        comments: list[dict[str, Any]] = []
        users: dict[str, dict] = {}
        params = {"sort": "-created_at", "page[size]": 100, "include": "users"}
        async for page in self.pages(f"/api/v2/tickets/{int(ticket_id)}/comments", params):
            for u in page.get("users") or []:
                users[str(u.get("id"))] = u
            done = False
            for c in page.get("comments") or []:
                if int(c["id"]) <= newer_than or (not_before and _utc(c.get("created_at")) < not_before):
                    done = True
                    break
                comments.append(c)
            if done:
                break
        comments.sort(key=lambda c: int(c["id"]))
        return comments, users

    async def ticket_audits(self, ticket_id: str | int, *, max_pages: int = 10) -> tuple[list[dict], dict[str, dict]]:
        """The ticket's audits (who changed what), with side-loaded users.

        Audits list oldest first and no newest-first order is documented for them, so pages are
        followed to the end (most tickets have one page of 100)."""
        audits: list[dict] = []
        users: dict[str, dict] = {}
        params = {"page[size]": 100, "include": "users"}
        pages = 0
        async for page in self.pages(f"/api/v2/tickets/{int(ticket_id)}/audits", params):
            audits.extend(page.get("audits") or [])
            for u in page.get("users") or []:
                users[str(u.get("id"))] = u
            pages += 1
            if pages >= max_pages:
                break
        return audits, users

    # Users -------------------------------------------------------------------------------
    async def show_many_users(self, ids: list[str]) -> list[dict[str, Any]]:
        if not ids:
            return []
        body = await self.request("GET", "/api/v2/users/show_many", params={"ids": ",".join(ids[:100])})
        return list(body.get("users") or [])

    async def set_user_suspended(self, user_id: str | int, suspended: bool) -> dict[str, Any]:
        body = await self.request("PUT", f"/api/v2/users/{int(user_id)}", json={"user": {"suspended": suspended}})
        return body["user"]

    # Pagination --------------------------------------------------------------------------
    async def pages(self, path: str, params: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        """Cursor pagination (``page[size]``): follow ``links.next`` while ``meta.has_more``."""
        body = await self.request("GET", path, params=params)
        while True:
            yield body
            meta = body.get("meta") or {}
            nxt = (body.get("links") or {}).get("next")
            if not meta.get("has_more") or not nxt:
                return
            body = await self.request("GET", _relative(nxt, self.config.base_url))


def _utc(value: Any) -> str:
    """Zendesk times as comparable ``YYYY-MM-DDTHH:MM:SSZ`` text."""
    text = str(value or "")
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _relative(url: str, base: str) -> str:
    """Zendesk's ``links.next`` is absolute; keep our base URL (proxies) and take path + query."""
    u = httpx.URL(url)
    return u.raw_path.decode("ascii") if u.host else url
