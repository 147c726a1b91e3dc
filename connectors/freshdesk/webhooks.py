"""The route Freshdesk automation rules call ("Trigger webhook" on ticket create/update).

Freshdesk does not sign webhooks (HELPDESK_APIS.md section B and E.9), so the rule is set up to
send a shared secret in a custom header (``webhook_header``, default ``X-HG-Webhook-Secret``); the
secret is compared in constant time before the body is read. The body is trusted for one thing
only, the ticket id: the ticket itself is re-fetched from the API by the caller, so a forged or
stale payload cannot put words in a customer's mouth. Answers: 401 no secret header, 403 a wrong
secret, 503 no secret configured (the route refuses everything rather than run open), 400 no
ticket id, 202 accepted.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from connectors.freshdesk.config import FreshdeskConfig

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024  # the payload is a ticket id and a few fields; anything bigger is refused

OnTicket = Callable[[int], Awaitable[None]]


def ticket_id_from(payload: Any) -> int | None:
    """The ticket id from the rule's JSON: ``{"ticket_id": ...}`` (advanced content) or
    ``{"freshdesk_webhook": {"ticket_id": ...}}`` (Freshdesk's simple content)."""
    if isinstance(payload, dict) and isinstance(payload.get("freshdesk_webhook"), dict):
        payload = payload["freshdesk_webhook"]
    if not isinstance(payload, dict):
        return None
    value = payload.get("ticket_id", payload.get("id"))
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value > 0 else None
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def webhook_route(config: FreshdeskConfig, on_ticket: OnTicket) -> Route:
    """A ``POST`` route at ``config.webhook_path`` that verifies, then hands the ticket id on."""
    expected = config.webhook_secret.encode("utf-8")
    header = config.webhook_header

    async def receive(request: Request) -> JSONResponse:
        if not expected:
            return JSONResponse({"error": "webhook secret not configured"}, status_code=503)
        given = request.headers.get(header)
        if given is None:
            return JSONResponse({"error": f"missing {header} header"}, status_code=401)
        if not hmac.compare_digest(given.encode("utf-8"), expected):
            log.warning("Freshdesk webhook (%s) refused: wrong secret", config.name)
            return JSONResponse({"error": "wrong secret"}, status_code=403)
        body = await request.body()
        if len(body) > MAX_BODY:
            return JSONResponse({"error": "payload too large"}, status_code=413)
        try:
            payload = json.loads(body.decode("utf-8")) if body else None
        except (UnicodeDecodeError, ValueError):
            return JSONResponse({"error": "body is not JSON"}, status_code=400)
        ticket_id = ticket_id_from(payload)
        if ticket_id is None:
            return JSONResponse({"error": "no ticket_id in the payload"}, status_code=400)
        await on_ticket(ticket_id)
        return JSONResponse({"accepted": ticket_id}, status_code=202)

    return Route(config.webhook_path, receive, methods=["POST"], name=f"freshdesk-webhook-{config.name}")
