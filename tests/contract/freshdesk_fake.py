"""A Freshdesk account in memory, served through respx, that holds every request to the
project's Freshdesk schemas (``connectors/freshdesk/schemas``).

Behaviour follows the vendor's documentation (HELPDESK_APIS.md section B): Basic auth with the API
key and ``X``; flat PUT bodies where ``tags`` replaces the list; unknown request keys answered with
400 ``invalid_field``; ``updated_since`` filtering; ``page``/``per_page`` pagination announced by a
``link: <...>; rel="next"`` header; ``X-RateLimit-*`` headers on every answer. Every request body and
query is validated against the request schemas, and every answer the fake builds is validated
against the response schemas, so fixtures cannot drift from the documented shapes.

Tests script trouble with :meth:`FakeFreshdesk.queue` (canned answers such as a 429 or a 500 for
the next matching calls) and :attr:`FakeFreshdesk.after_put` (a concurrent writer).
"""

from __future__ import annotations

import base64
import email.utils
import json
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx
import jsonschema
import pytest
import respx
from referencing import Registry, Resource

import connectors.freshdesk

BASE = "https://acme.freshdesk.com"
API_KEY = "fd-test-key"
SCHEMA_DIR = Path(connectors.freshdesk.__file__).parent / "schemas"


def _load_schemas() -> dict[str, dict[str, Any]]:
    return {p.name.removesuffix(".json"): json.loads(p.read_text(encoding="utf-8"))
            for p in sorted(SCHEMA_DIR.glob("*.json"))}


SCHEMAS = _load_schemas()
REGISTRY: Registry = Registry().with_resources(
    (s["$id"], Resource.from_contents(s)) for s in SCHEMAS.values()
)


def schema_errors(name: str, instance: Any) -> list[str]:
    """Messages of every violation of schema ``name`` (file name without .json) by ``instance``."""
    validator = jsonschema.Draft202012Validator(
        SCHEMAS[name], registry=REGISTRY, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in validator.iter_errors(instance)]


VALIDATE = True  # the benchmark switches validation off to time the connector alone


def check(name: str, instance: Any) -> None:
    if not VALIDATE:
        return
    errors = schema_errors(name, instance)
    if errors:
        raise AssertionError(f"{name} schema violated: " + "; ".join(errors))


def stamp(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def error_body(description: str, errors: list[dict[str, Any]]) -> dict[str, Any]:
    body = {"description": description, "errors": errors}
    check("error.response", body)
    return body


class FakeFreshdesk:
    """State plus respx routes. ``calls`` lists ``(method, path)`` of every request received."""

    def __init__(self, router: respx.MockRouter, *, now: datetime | None = None, per_page_default: int = 30) -> None:
        self.now = now or datetime(2026, 11, 20, 9, 0, 0, tzinfo=timezone.utc)
        self.per_page_default = per_page_default
        self.tickets: dict[int, dict[str, Any]] = {}
        self.conversations: dict[int, list[dict[str, Any]]] = {}
        self.contacts: dict[int, dict[str, Any]] = {}
        self.statuses: dict[str, list[str]] = {
            "2": ["Open", "Being Processed"], "3": ["Pending", "Awaiting your Reply"],
            "4": ["Resolved", "This ticket has been Resolved"], "5": ["Closed", "This ticket has been Closed"],
            "6": ["Waiting on Customer", "Awaiting your Reply"], "8": ["Held by gateway", "Being Processed"],
        }
        self.calls: list[tuple[str, str]] = []
        self.bodies: list[tuple[str, str, Any]] = []
        self.rate_remaining = 500
        self.after_put: Callable[[int], None] | None = None
        self._queued: list[tuple[str, str, httpx.Response]] = []
        self._next_id = 5000
        self.router = router
        router.route(host="acme.freshdesk.com").mock(side_effect=self._dispatch)

    # -- building the account ------------------------------------------------------------------------
    def tick(self, seconds: int = 1) -> str:
        self.now += timedelta(seconds=seconds)
        return stamp(self.now)

    def add_contact(self, contact_id: int, email: str | None, name: str = "Customer") -> None:
        self.contacts[contact_id] = {"id": contact_id, "email": email, "name": name, "mobile": None, "phone": None}

    def add_ticket(self, ticket_id: int, requester_id: int, description: str, *, subject: str = "Order 4411",
                   tags: list[str] | None = None, status: int = 2, source: int = 1, ago: timedelta | None = None
                   ) -> dict[str, Any]:
        created = stamp(self.now - ago) if ago else self.tick()
        ticket = {
            "id": ticket_id, "requester_id": requester_id, "responder_id": None, "group_id": None,
            "company_id": None, "status": status, "priority": 1, "source": source, "subject": subject,
            "description": f"<div>{description}</div>", "description_text": description, "type": None,
            "tags": list(tags or []), "spam": False, "cc_emails": [], "to_emails": None,
            "custom_fields": {}, "created_at": created, "updated_at": created,
        }
        check("ticket.response", ticket)
        self.tickets[ticket_id] = ticket
        self.conversations[ticket_id] = []
        return ticket

    def add_conversation(self, ticket_id: int, body_html: str, *, user_id: int, incoming: bool = True,
                         private: bool = False, source: int = 0) -> dict[str, Any]:
        self._next_id += 1
        at = self.tick()
        conv = {
            "id": self._next_id, "ticket_id": ticket_id, "user_id": user_id, "body": body_html,
            "body_text": _strip(body_html), "incoming": incoming, "private": private, "source": source,
            "support_email": None, "from_email": (self.contacts.get(user_id) or {}).get("email"),
            "to_emails": [], "cc_emails": [], "bcc_emails": [], "attachments": [],
            "created_at": at, "updated_at": at,
        }
        check("conversation.response", conv)
        self.conversations[ticket_id].append(conv)
        self.tickets[ticket_id]["updated_at"] = at
        return conv

    def queue(self, method: str, path: str, response: httpx.Response) -> None:
        """Answer the next ``method path`` call with ``response`` (in queue order) instead."""
        self._queued.append((method, path, response))

    def calls_to(self, method: str, path_part: str = "") -> list[tuple[str, str]]:
        return [c for c in self.calls if c[0] == method and path_part in c[1]]

    # -- the API ------------------------------------------------------------------------------------
    def _dispatch(self, request: httpx.Request) -> httpx.Response:
        method, path = request.method, request.url.path
        self.calls.append((method, path))
        expected = "Basic " + base64.b64encode(f"{API_KEY}:X".encode()).decode()
        if request.headers.get("authorization") != expected:
            return self._json(401, error_body("Authentication failure", [
                {"code": "invalid_credentials", "message": "You have to be logged in to perform this action."}]))
        for i, (m, p, canned) in enumerate(self._queued):
            if m == method and p == path:
                del self._queued[i]
                return canned
        query = dict(parse_qsl(request.url.query.decode()))
        body = json.loads(request.content) if request.content else None
        self.bodies.append((method, path, body))
        parts = path.strip("/").split("/")  # api v2 tickets [id] [sub]
        if parts[:2] != ["api", "v2"]:
            return self._json(404, error_body("Not found", [{"code": "invalid_value", "message": "no such URL"}]))
        rest = parts[2:]
        if rest == ["tickets"] and method == "GET":
            return self._list_tickets(request, query)
        if rest == ["ticket_fields"] and method == "GET":
            self._check_query("page.query", query)
            return self._json(200, [{"id": 5, "name": "status", "label": "Status", "type": "default_status",
                                     "default": True, "choices": self.statuses}], schema="ticket_fields.response")
        if len(rest) >= 2 and rest[0] == "tickets" and rest[1].isdigit():
            ticket_id = int(rest[1])
            ticket = self.tickets.get(ticket_id)
            if ticket is None:
                return self._json(404, error_body("Not found", [{"code": "invalid_value", "message": "no such ticket"}]))
            sub = rest[2:]
            if not sub and method == "GET":
                self._check_query("page.query", query)
                return self._json(200, self._ticket_view(ticket, query.get("include", "")), schema="ticket.response")
            if not sub and method == "PUT":
                return self._update(ticket, body)
            if sub == ["conversations"] and method == "GET":
                self._check_query("page.query", query)
                return self._page(request, query, self.conversations[ticket_id], "conversations.response")
            if sub == ["notes"] and method == "POST":
                return self._create_conversation(ticket, body, "note.request", private=True, source=2)
            if sub == ["reply"] and method == "POST":
                return self._create_conversation(ticket, body, "reply.request", private=False, source=0)
        return self._json(405, error_body("Method not allowed", [{"code": "invalid_value", "message": path}]))

    def _check_query(self, schema: str, query: dict[str, str]) -> None:
        check(schema, query)

    def _list_tickets(self, request: httpx.Request, query: dict[str, str]) -> httpx.Response:
        check("list_tickets.query", query)
        since = query.get("updated_since")
        items = list(self.tickets.values())
        if since:
            cutoff = datetime.fromisoformat(since.replace("Z", "+00:00"))
            items = [t for t in items if datetime.fromisoformat(t["updated_at"].replace("Z", "+00:00")) >= cutoff]
        else:  # only tickets created in the last 30 days (FD docs "List All Tickets", note 1)
            cutoff = self.now - timedelta(days=30)
            items = [t for t in items if datetime.fromisoformat(t["created_at"].replace("Z", "+00:00")) >= cutoff]
        key = query.get("order_by", "created_at")
        items.sort(key=lambda t: (t[key], t["id"]), reverse=query.get("order_type", "desc") == "desc")
        includes = set(filter(None, query.get("include", "").split(",")))
        shaped = []
        for t in items:
            view = self._ticket_view(t, ",".join(includes & {"requester"}))
            if "description" not in includes:
                view.pop("description", None)
                view.pop("description_text", None)
            shaped.append(view)
        return self._page(request, query, shaped, "tickets.response")

    def _page(self, request: httpx.Request, query: dict[str, str], items: list[Any], schema: str) -> httpx.Response:
        page = int(query.get("page", "1"))
        per_page = int(query.get("per_page", str(self.per_page_default)))
        chunk = items[(page - 1) * per_page: page * per_page]
        headers = {}
        if page * per_page < len(items):
            nxt = dict(query, page=str(page + 1))
            headers["link"] = f'< {BASE}{request.url.path}?{urlencode(nxt)}>;rel="next"'
        return self._json(200, chunk, schema=schema, headers=headers)

    def _ticket_view(self, ticket: dict[str, Any], include: str) -> dict[str, Any]:
        view = json.loads(json.dumps(ticket))
        if "requester" in include.split(","):
            view["requester"] = dict(self.contacts.get(ticket["requester_id"], {"id": ticket["requester_id"]}))
        return view

    def _invalid_fields(self, schema: str, body: Any) -> httpx.Response | None:
        errors = schema_errors(schema, body)
        if not errors:
            return None
        allowed = set(SCHEMAS[schema].get("properties", {}))
        unknown = [k for k in (body or {}) if k not in allowed] if isinstance(body, dict) else []
        details = [{"field": k, "message": "Unexpected/invalid field in request", "code": "invalid_field"}
                   for k in unknown] or [{"field": "body", "message": errors[0], "code": "invalid_value"}]
        return self._json(400, error_body("Validation failed", details))

    def _update(self, ticket: dict[str, Any], body: Any) -> httpx.Response:
        refused = self._invalid_fields("ticket_update.request", body)
        if refused is not None:
            return refused
        if "status" in body and str(body["status"]) not in self.statuses:
            return self._json(400, error_body("Validation failed", [
                {"field": "status", "message": "It should be one of these values: 2,3,4,5,6,8", "code": "invalid_value"}]))
        if "tags" in body:
            ticket["tags"] = list(body["tags"])  # replaces the whole list, as Freshdesk does
        if "status" in body:
            ticket["status"] = body["status"]
        ticket["updated_at"] = self.tick()
        response = self._json(200, self._ticket_view(ticket, ""), schema="ticket.response")
        if self.after_put is not None:
            hook, self.after_put = self.after_put, None
            hook(ticket["id"])
        return response

    def _create_conversation(self, ticket: dict[str, Any], body: Any, schema: str, *, private: bool,
                             source: int) -> httpx.Response:
        refused = self._invalid_fields(schema, body)
        if refused is not None:
            return refused
        self._next_id += 1
        at = self.tick()
        conv = {
            "id": self._next_id, "ticket_id": ticket["id"], "user_id": body.get("user_id", 1), "body": body["body"],
            "body_text": _strip(body["body"]), "incoming": False, "private": private, "source": source,
            "support_email": None if private else "support@acme.example", "attachments": [],
            "created_at": at, "updated_at": at,
        }
        self.conversations[ticket["id"]].append(conv)
        ticket["updated_at"] = at
        return self._json(201, conv, schema="conversation.response",
                          headers={"location": f"{BASE}/api/v2/tickets/{ticket['id']}/conversations"})

    def _json(self, status: int, data: Any, *, schema: str | None = None,
              headers: dict[str, str] | None = None) -> httpx.Response:
        if schema is not None:
            check(schema, data)
        self.rate_remaining = max(0, self.rate_remaining - 1)
        h = {"date": email.utils.format_datetime(self.now, usegmt=True), "x-ratelimit-total": "700", "x-ratelimit-remaining": str(self.rate_remaining),
             "x-ratelimit-used-currentrequest": "1", "x-freshdesk-api-version": "latest=v2; requested=v2"}
        h.update(headers or {})
        return httpx.Response(status, json=data, headers=h)


def _strip(html: str) -> str:
    import re

    return re.sub(r"<[^>]+>", "", html).strip()


class Sleeps:
    """An injectable ``sleep`` that records what it was asked to wait, and returns at once."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def make_config(**options: Any):  # noqa: ANN201 - FreshdeskConfig
    """A FreshdeskConfig through the real config path (gateway config entry + env secrets)."""
    from connectors.freshdesk.config import freshdesk_config
    from gateway.config import parse_config

    entry = {"name": "fd", "type": "freshdesk", "base_url": BASE, "api_key_env": "FD_KEY",
             "webhook_secret_env": "FD_HOOK", "hold_status": 8, "agent_id": 77}
    entry.update(options)
    entry = {k: v for k, v in entry.items() if v is not None}
    cfg = parse_config({"helpdesks": [entry]}, env={"FD_KEY": API_KEY, "FD_HOOK": "hook-secret-1"})
    return freshdesk_config(cfg.helpdesks[0], cfg, key="helpdesks[0]")


# Fixtures shared by the Freshdesk contract tests (imported by name, as the Zendesk overlay's are).
@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def fake():
    """A fake Freshdesk account behind respx for the duration of one test."""
    with respx.mock(assert_all_called=False) as router:
        yield FakeFreshdesk(router)
