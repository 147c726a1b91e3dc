"""An async client for the few Freshdesk v2 endpoints the gateway uses.

- Auth: HTTP Basic with the agent's API key as the user and ``X`` as the password (FD docs
  "Authentication"). The base URL is ``https://DOMAIN.freshdesk.com`` or any URL (a proxy, a test).
- Retries (:mod:`connectors.http`): ``Retry-After`` on 429; full-jitter backoff on 5xx and network
  errors for idempotent calls, within a budget. A note or reply POST is never re-sent after a 5xx,
  since it may have landed (a duplicate note is worse than a recorded failure).
- Pacing: Freshdesk reports ``X-RateLimit-Remaining`` on every answer (FD docs "Rate Limit"); when
  it falls to ``rate_limit_low_water`` the client spreads the rest of the minute's calls out instead
  of running into a 429, which would also delay the helpdesk's own automation webhooks.
- Pagination: ``page``/``per_page`` (max 100), following the ``link: <...>; rel="next"`` header
  until it is absent (FD docs "Pagination"); never to another host.
- Errors: :func:`connectors.freshdesk.errors.error_from_response` keeps Freshdesk's ``description``
  and ``errors[]``.
- Requests carry only the documented fields the gateway sets (Freshdesk answers ``invalid_field``
  to anything else): each write method builds its body from an explicit list.
"""

from __future__ import annotations

import email.utils
import logging
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

import httpx

from connectors.freshdesk.config import FreshdeskConfig
from connectors.freshdesk.errors import error_from_response
from connectors.http import RetryingSender, RetryPolicy, SendStats, Sleep
from gateway.errors import HelpdeskError

log = logging.getLogger(__name__)

MAX_PAGES = 300  # List Tickets stops at 300 pages (FD docs "List All Tickets", note 2)

#: The fields each write may carry: the gateway sets nothing else (see module docstring).
TICKET_UPDATE_FIELDS = frozenset({"tags", "status"})
NOTE_FIELDS = frozenset({"body", "private"})
REPLY_FIELDS = frozenset({"body", "user_id"})


class FreshdeskClient:
    """One Freshdesk account. ``transport`` is the seam tests use (respx patches httpx instead)."""

    def __init__(
        self,
        config: FreshdeskConfig,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        policy: RetryPolicy | None = None,
        sleep: Sleep | None = None,
        rng: Callable[[], float] | None = None,
    ) -> None:
        self.config = config
        self._http = httpx.AsyncClient(
            base_url=config.base_url,
            auth=httpx.BasicAuth(config.api_key, "X"),
            headers={"Accept": "application/json", "User-Agent": "harassment-gateway"},
            timeout=config.timeout,
            transport=transport,
        )
        self._sender = RetryingSender(self._http, to_error=error_from_response, policy=policy, sleep=sleep, rng=rng)
        self._sleep = self._sender.sleep
        self._pause = 0.0  # wait before the next call, set from X-RateLimit-Remaining
        self.calls = 0  # requests sent, retries included (the API budget)
        self.paced = 0.0  # seconds waited to stay under the rate limit
        self.server_time: datetime | None = None  # Freshdesk's clock (Date header) at the last answer

    @property
    def stats(self) -> SendStats:
        """Requests, retries and seconds slept by the retry policy."""
        return self._sender.stats

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- transport ---------------------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path_or_url: str,
        *,
        params: dict[str, Any] | None = None,
        json: dict[str, Any] | None = None,
        idempotent: bool | None = None,
    ) -> httpx.Response:
        """Send one call under the retry policy and the rate-limit pacing; 2xx/3xx or an error."""
        if self._pause > 0:
            pause, self._pause = self._pause, 0.0
            log.info("Freshdesk rate limit nearly used up; waiting %.1fs", pause)
            self.paced += pause
            await self._sleep(pause)
        request = self._http.build_request(method, path_or_url, params=params, json=json)
        before = self._sender.stats.requests
        try:
            response = await self._sender.send(request, idempotent=idempotent)
        finally:
            self.calls += self._sender.stats.requests - before
        self._pace(response)
        self.server_time = _date_header(response) or self.server_time
        return response

    def _pace(self, response: httpx.Response) -> None:
        remaining = _int_header(response, "x-ratelimit-remaining")
        if remaining is None or remaining > self.config.rate_limit_low_water:
            return
        # Freshdesk's window is a minute and its reset time is not sent: spread what is left of it.
        self._pause = min(60.0, 60.0 / (remaining + 1))

    async def get_json(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return _json(await self.request("GET", path, params=params))

    async def pages(self, path: str, params: dict[str, Any] | None = None) -> AsyncIterator[list[dict[str, Any]]]:
        """Each page of a list endpoint, following ``link rel="next"`` until it is absent."""
        query = {"per_page": self.config.per_page, **(params or {})}
        url: str | None = path
        seen: set[str] = set()
        first = True
        for _ in range(MAX_PAGES):
            response = await self.request("GET", url, params=query if first else None)
            first = False
            items = _json(response)
            if not isinstance(items, list):
                raise HelpdeskError(
                    f"GET {response.request.url.path}: expected a JSON list, got {type(items).__name__}",
                    status=response.status_code, method="GET", url=str(response.request.url.copy_with(query=None)),
                )
            yield items
            url = self._next_link(response)
            if url is None or url in seen:
                return
            seen.add(url)
        log.warning("GET %s: stopped after %d pages (Freshdesk's own cap)", path, MAX_PAGES)

    def _next_link(self, response: httpx.Response) -> str | None:
        url = response.links.get("next", {}).get("url")
        if not url:
            return None
        url = url.strip()
        ours, theirs = urlsplit(self.config.base_url), urlsplit(str(response.request.url.join(url)))
        if theirs.netloc != ours.netloc:  # never send the API key to another host
            log.warning("ignoring a next-page link to another host (%s)", theirs.netloc)
            return None
        return str(response.request.url.join(url))

    # -- endpoints ---------------------------------------------------------------------------------

    async def view_ticket(self, ticket_id: int | str, *, include: str | None = None) -> dict[str, Any]:
        """``GET /api/v2/tickets/{id}`` (FD docs "View a Ticket"); ``include=requester`` costs a credit."""
        params = {"include": include} if include else None
        return await self.get_json(f"/api/v2/tickets/{int(ticket_id)}", params)

    async def list_tickets(self, updated_since: datetime) -> AsyncIterator[list[dict[str, Any]]]:
        """Pages of tickets updated since a moment, oldest update first, with the requester and the
        description embedded (FD docs "List All Tickets": without ``updated_since`` only tickets
        created in the last 30 days are listed; accounts made after 2018-11-30 need
        ``include=description`` for the description)."""
        params = {
            "updated_since": updated_since.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "order_by": "updated_at",
            "order_type": "asc",
            "include": "requester,description",
        }
        async for page in self.pages("/api/v2/tickets", params):
            yield page

    async def list_conversations(self, ticket_id: int | str) -> list[dict[str, Any]]:
        """Every conversation of a ticket (replies and notes; not the description), all pages."""
        out: list[dict[str, Any]] = []
        async for page in self.pages(f"/api/v2/tickets/{int(ticket_id)}/conversations"):
            out.extend(page)
        return out

    async def ticket_fields(self, *, type: str | None = None) -> list[dict[str, Any]]:  # noqa: A002
        """``GET /api/v2/ticket_fields`` (FD docs "List All Ticket Fields")."""
        data = await self.get_json("/api/v2/ticket_fields", {"type": type} if type else None)
        if not isinstance(data, list):
            raise HelpdeskError("GET /api/v2/ticket_fields: expected a JSON list", method="GET")
        return data

    async def update_ticket(self, ticket_id: int | str, **fields: Any) -> dict[str, Any]:
        """``PUT /api/v2/tickets/{id}`` with a flat body; note that ``tags`` replaces the list."""
        body = _only(fields, TICKET_UPDATE_FIELDS, "update_ticket")
        response = await self.request("PUT", f"/api/v2/tickets/{int(ticket_id)}", json=body, idempotent=True)
        return _json(response)

    async def create_note(self, ticket_id: int | str, body: str) -> dict[str, Any]:
        """``POST /api/v2/tickets/{id}/notes`` with ``private: true`` sent explicitly (FD docs
        "Create a Note"): agents see it, the customer never does."""
        payload = _only({"body": body, "private": True}, NOTE_FIELDS, "create_note")
        response = await self.request("POST", f"/api/v2/tickets/{int(ticket_id)}/notes", json=payload,
                                       idempotent=False)
        return _json(response)

    async def create_reply(self, ticket_id: int | str, body: str, *, user_id: int | None = None) -> dict[str, Any]:
        """``POST /api/v2/tickets/{id}/reply`` — this one is emailed to the customer (FD docs
        "Create a Reply"); only for drafts a person approved."""
        payload: dict[str, Any] = {"body": body}
        if user_id is not None:
            payload["user_id"] = int(user_id)
        response = await self.request("POST", f"/api/v2/tickets/{int(ticket_id)}/reply",
                                       json=_only(payload, REPLY_FIELDS, "create_reply"), idempotent=False)
        return _json(response)


def _only(fields: dict[str, Any], allowed: frozenset[str], what: str) -> dict[str, Any]:
    unknown = set(fields) - allowed
    if unknown:
        raise ValueError(f"{what}: refusing to send undocumented field(s) {sorted(unknown)}")
    return dict(fields)


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        request = response.request
        raise HelpdeskError(
            f"{request.method} {request.url.path}: HTTP {response.status_code} but the body is not JSON",
            status=response.status_code, method=request.method, url=str(request.url.copy_with(query=None)),
        ) from exc


def _int_header(response: httpx.Response, name: str) -> int | None:
    value = response.headers.get(name)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _date_header(response: httpx.Response) -> datetime | None:
    value = response.headers.get("date")
    if not value:
        return None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)
