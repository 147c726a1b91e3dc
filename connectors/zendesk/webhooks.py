"""Zendesk webhooks, verified before they are read.

Zendesk signs each request: ``X-Zendesk-Webhook-Signature`` = base64(HMAC-SHA256(signing secret,
``X-Zendesk-Webhook-Signature-Timestamp`` + raw body)), no separator, over the exact bytes sent.
We refuse a request whose signature does not match (401), whose timestamp is further than the
tolerance from our clock (401, stale), or whose invocation id we already accepted (409, replay).
Only then is the body parsed.

A webhook is a nudge, never trusted data: it names a ticket, which is queued to be re-read through
the API by the next ``fetch_new``. If the payload also carries the ticket's tags and who changed
it (the trigger body in the README does), a lead's approve/reject tag is attributed to that
person. Two payload shapes are understood: the trigger body we document (``ticket_id``, ``tags``,
``updated_by``) and Zendesk's event-subscription body (``type``, ``detail``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from collections.abc import Callable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from connectors.zendesk.messages import actor_label

if TYPE_CHECKING:
    from connectors.zendesk.sync import ZendeskConnector

log = logging.getLogger(__name__)

SIGNATURE = "x-zendesk-webhook-signature"
TIMESTAMP = "x-zendesk-webhook-signature-timestamp"
INVOCATION = "x-zendesk-webhook-invocation-id"
MAX_BODY = 1_000_000


class WebhookRefused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        self.status = status
        self.reason = reason
        super().__init__(reason)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature Zendesk sends for ``body`` at ``timestamp``."""
    digest = hmac.new(secret.encode("utf-8"), timestamp.encode("utf-8") + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def verify(secret: str, headers: Any, body: bytes, *, now: datetime, tolerance: int) -> None:
    """Raise :class:`WebhookRefused` unless the request is signed with ``secret`` and fresh."""
    if not secret:
        raise WebhookRefused(503, "webhook signing secret is not configured")
    signature = headers.get(SIGNATURE) or ""
    timestamp = headers.get(TIMESTAMP) or ""
    if not signature or not timestamp:
        raise WebhookRefused(401, "missing signature headers")
    if not hmac.compare_digest(sign(secret, timestamp, body).encode(), signature.strip().encode()):
        raise WebhookRefused(401, "bad signature")
    try:
        when = datetime.fromisoformat(timestamp.strip().replace("Z", "+00:00"))
    except ValueError:
        raise WebhookRefused(401, "unreadable signature timestamp") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    if abs((now - when).total_seconds()) > tolerance:
        raise WebhookRefused(401, "stale signature timestamp")


def parse_payload(body: bytes) -> dict[str, Any]:
    """The ticket id, tags and actor a verified webhook body names."""
    try:
        data = json.loads(body.decode("utf-8")) if body else {}
    except (UnicodeDecodeError, ValueError):
        raise WebhookRefused(400, "body is not JSON") from None
    if not isinstance(data, dict):
        raise WebhookRefused(400, "body is not a JSON object")
    detail = data.get("detail") if isinstance(data.get("detail"), dict) else {}
    ticket = data.get("ticket") if isinstance(data.get("ticket"), dict) else {}
    raw_id = data.get("ticket_id") or ticket.get("id") or (
        detail.get("id") if str(data.get("type", "")).startswith("zen:event-type:ticket") else None)
    try:
        ticket_id = int(str(raw_id).strip())
    except (TypeError, ValueError):
        raise WebhookRefused(400, "no ticket id in the payload") from None
    tags = data.get("tags", ticket.get("tags", detail.get("tags", [])))
    if isinstance(tags, str):
        tags = tags.replace(",", " ").split()
    actor = data.get("updated_by") or data.get("current_user") or {}
    if not isinstance(actor, dict):
        actor = {}
    event = data.get("event") if isinstance(data.get("event"), dict) else {}
    return {
        "ticket_id": ticket_id,
        "tags": [str(t) for t in tags or []],
        "actor_id": str(actor.get("id") or event.get("actor_id") or ""),
        "actor_name": str(actor.get("name") or ""),
        "actor_email": str(actor.get("email") or ""),
        "at": str(data.get("updated_at") or data.get("time") or ""),
    }


def webhook_routes(connector: "ZendeskConnector", *, clock: Callable[[], datetime] | None = None) -> list[BaseRoute]:
    """The POST route the console app mounts (``config.webhook_path``)."""
    config = connector.config
    now = clock or connector.clock

    async def receive(request: Request) -> JSONResponse:
        body = await request.body()
        try:
            if len(body) > MAX_BODY:
                raise WebhookRefused(413, "body too large")
            verify(config.webhook_secret, request.headers, body, now=now(), tolerance=config.webhook_tolerance)
            key = request.headers.get(INVOCATION) or "sig:" + request.headers.get(SIGNATURE, "")
            payload = parse_payload(body)
            if not connector.state.accept_invocation(key):
                raise WebhookRefused(409, "replayed invocation")
        except WebhookRefused as refused:
            log.warning("zendesk %s webhook refused: %s", connector.name, refused.reason)
            return JSONResponse({"error": refused.reason}, status_code=refused.status)
        tid = payload["ticket_id"]
        connector.state.request_reread(tid)
        if payload["actor_id"] or payload["actor_name"]:
            who = {"name": payload["actor_name"], "email": payload["actor_email"]}
            actor = actor_label(connector.name, payload["actor_id"], who if who["name"] or who["email"] else None)
            connector.stage_webhook_verdict(tid, payload["tags"], actor, payload["actor_id"], payload["at"])
            if connector.config.dispute_tag in payload["tags"]:  # an agent's dispute, named by the webhook
                connector.state.stage_dispute(tid, actor=actor, actor_id=payload["actor_id"], at=payload["at"])
        return JSONResponse({"status": "accepted", "ticket_id": tid}, status_code=202)

    return [Route(config.webhook_path, receive, methods=["POST"], name=f"zendesk-webhook-{connector.name}")]
