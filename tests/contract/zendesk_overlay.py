"""Zendesk's own OpenAPI description, loaded once, plus the small overlay of its known gaps.

The vendor file (../shared/reference/zendesk/zendesk-support-oas.yaml) is never edited. What it
gets wrong or leaves out for the calls the gateway makes is patched here, in memory, each patch
with the reason (see HELPDESK_APIS.md A.4 and SOURCE.md):

1. only ``basicAuth`` is declared: add ``bearerAuth`` (OAuth access tokens);
2. ``start_time`` is marked required on the cursor export, but follow-up pages carry only
   ``cursor``: make it optional (Zendesk documents cursor-only follow-ups);
3. the ticket tag endpoints declare no request body: add ``{"tags", "updated_stamp", "safe_update"}``;
4. no error responses are declared on the operations used: add the error codes Zendesk documents
   elsewhere (400/401/403/404/409/422/429/500/502/503/504), JSON or plain text;
5. cursor pagination (``page[size]``, ``sort``) and side-loads (``include``) are documented on the
   pages of the endpoints but not declared as parameters: declare them, so their values are checked
   (openapi-core lets undeclared query parameters through).

``ZendeskContract`` validates a respx-captured ``httpx.Request`` and the mocked response against
the patched description; ``example(name)`` returns one of the description's own examples.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import tempfile
from pathlib import Path
from typing import Any

import httpx
import yaml
from openapi_core import Config, OpenAPI
from openapi_core.testing import MockRequest, MockResponse

from tests.conftest import SHARED, require

SPEC_PATH = SHARED / "reference" / "zendesk" / "zendesk-support-oas.yaml"
HOST = "https://acme.zendesk.com"


def _loader() -> type:
    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class Loader(base):  # type: ignore[misc, valid-type]
        """Zendesk's file has a bare ``=`` scalar (the YAML "value" tag) and unquoted dates."""

    def as_text(loader: Any, node: Any) -> str:
        return loader.construct_scalar(node)

    Loader.add_constructor("tag:yaml.org,2002:value", as_text)
    Loader.add_constructor("tag:yaml.org,2002:timestamp", as_text)
    return Loader


@functools.lru_cache(maxsize=1)
def vendor_spec() -> dict[str, Any]:
    """The vendor description as a dict, parsed once per session and cached as JSON on disk."""
    require(SPEC_PATH.is_file(), f"Zendesk's OpenAPI description ({SPEC_PATH})")
    raw = SPEC_PATH.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()[:16]
    cache = Path(tempfile.gettempdir()) / f"hg-zendesk-oas-{digest}.json"
    if cache.is_file():
        try:
            return json.loads(cache.read_text(encoding="utf-8"))
        except ValueError:
            pass
    spec = yaml.load(raw, Loader=_loader())  # noqa: S506 - a SafeLoader subclass
    tmp = cache.with_suffix(".tmp")
    tmp.write_text(json.dumps(spec), encoding="utf-8")
    tmp.replace(cache)
    return spec


_ERROR_CODES = ("400", "401", "403", "404", "409", "422", "429", "500", "502", "503", "504")
_ERROR_RESPONSE = {
    "description": "Error (overlay: Zendesk's error envelopes vary by endpoint)",
    "content": {
        "application/json": {"schema": {"type": "object"}},
        "text/plain": {"schema": {"type": "string"}},
    },
}
_TAGS_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["tags"],
                "properties": {
                    "tags": {"type": "array", "items": {"type": "string"}},
                    "updated_stamp": {"type": "string", "format": "date-time"},
                    "safe_update": {"type": "boolean"},
                },
            }
        }
    },
}
_CURSOR_PARAMS = [
    {"name": "page[size]", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100}},
    {"name": "page[after]", "in": "query", "schema": {"type": "string"}},
    {"name": "sort", "in": "query", "schema": {"type": "string", "enum": ["created_at", "-created_at"]}},
]
# (path, method) of every call the connector makes
USED = [
    ("/api/v2/incremental/tickets/cursor", "get"),
    ("/api/v2/tickets/{ticket_id}", "get"),
    ("/api/v2/tickets/{ticket_id}", "put"),
    ("/api/v2/tickets/show_many", "get"),
    ("/api/v2/tickets/{ticket_id}/comments", "get"),
    ("/api/v2/tickets/{ticket_id}/audits", "get"),
    ("/api/v2/tickets/{ticket_id}/tags", "put"),
    ("/api/v2/users/show_many", "get"),
    ("/api/v2/users/{user_id}", "put"),
]


def overlay(spec: dict[str, Any]) -> dict[str, Any]:
    """A patched deep copy of the vendor description (see the module docstring)."""
    spec = copy.deepcopy(spec)
    comps = spec["components"]
    # 1. OAuth bearer tokens
    comps["securitySchemes"]["bearerAuth"] = {"type": "http", "scheme": "bearer"}
    spec["security"] = [{"basicAuth": []}, {"bearerAuth": []}]
    paths = spec["paths"]
    # 2. cursor-only follow-up pages of the export; the users side-load
    export = paths["/api/v2/incremental/tickets/cursor"]
    start = dict(comps["parameters"]["IncrementalUnixTime"], required=False)
    export["parameters"] = [start, {"$ref": "#/components/parameters/IncrementalCursor"},
                            {"name": "include", "in": "query", "schema": {"type": "string"}}]
    # 3. tag endpoint bodies
    for method in ("post", "put", "delete"):
        op = paths["/api/v2/tickets/{ticket_id}/tags"].get(method)
        if op is not None:
            op["requestBody"] = _TAGS_BODY
    # 5. cursor pagination and side-loads on lists
    for path in ("/api/v2/tickets/{ticket_id}/comments", "/api/v2/tickets/{ticket_id}/audits"):
        op = paths[path]["get"]
        names = {p.get("name") for p in op.get("parameters", [])}
        op.setdefault("parameters", [])
        op["parameters"] += [p for p in _CURSOR_PARAMS if p["name"] not in names]
        if "include" not in names:
            op["parameters"].append({"name": "include", "in": "query", "schema": {"type": "string"}})
    # 4. error responses
    for path, method in USED:
        responses = paths[path][method]["responses"]
        for code in _ERROR_CODES:
            responses.setdefault(code, _ERROR_RESPONSE)
    return spec


@functools.lru_cache(maxsize=1)
def openapi() -> OpenAPI:
    return OpenAPI.from_dict(overlay(vendor_spec()), config=Config(spec_validator_cls=None))


@functools.lru_cache(maxsize=1)
def openapi_unpatched() -> OpenAPI:
    """The vendor description as is: tests show each overlay entry is needed."""
    return OpenAPI.from_dict(vendor_spec(), config=Config(spec_validator_cls=None))


def example(name: str) -> Any:
    """A deep copy of ``components.examples[name].value`` from the vendor file."""
    return copy.deepcopy(vendor_spec()["components"]["examples"][name]["value"])


def schema_example(name: str) -> Any:
    """A deep copy of ``components.schemas[name].example``."""
    return copy.deepcopy(vendor_spec()["components"]["schemas"][name]["example"])


def _mock_request(request: httpx.Request) -> MockRequest:
    args: dict[str, Any] = {}
    for key, value in request.url.params.multi_items():
        args[key] = value
    headers = {k: v for k, v in request.headers.items()}
    body = request.content or None
    return MockRequest(
        f"{request.url.scheme}://{request.url.netloc.decode()}",
        request.method.lower(),
        request.url.path,
        args=args,
        headers=headers,
        data=body,
        content_type=request.headers.get("content-type", "application/json").split(";")[0],
    )


class ZendeskContract:
    """Validates every request the connector sends (and every mocked answer) against the spec.

    ``calls`` keeps (method, path, json body) of each request, so tests can count API calls and
    read what was sent."""

    def __init__(self, api: OpenAPI | None = None) -> None:
        self.api = api or openapi()
        self.calls: list[tuple[str, str, Any]] = []

    def check_request(self, request: httpx.Request) -> None:
        self.api.validate_request(_mock_request(request))

    def check_response(self, request: httpx.Request, response: httpx.Response) -> None:
        ctype = response.headers.get("content-type", "application/json").split(";")[0]
        self.api.validate_response(
            _mock_request(request),
            MockResponse(response.content, status_code=response.status_code, content_type=ctype),
        )

    def record(self, request: httpx.Request) -> None:
        body = json.loads(request.content) if request.content else None
        self.calls.append((request.method, request.url.path, body))

    def count(self, method: str | None = None, path_prefix: str = "") -> int:
        return sum(1 for m, p, _ in self.calls if (method is None or m == method) and p.startswith(path_prefix))

    def bodies(self, method: str, path: str) -> list[Any]:
        return [b for m, p, b in self.calls if m == method and p == path]


# --------------------------------------------------------------------------------------------
# A fake Zendesk account for respx: vendor-shaped answers built from the description's examples,
# with Zendesk's documented semantics for what the gateway relies on (tags on Update Ticket
# replace the list; safe_update + a stale updated_stamp answers 409; comments keep `public`).
# Every request and every answer goes through ZendeskContract.

import re  # noqa: E402
from collections.abc import Callable  # noqa: E402
from datetime import datetime, timedelta, timezone  # noqa: E402

Fault = Callable[[httpx.Request], "httpx.Response | None"]
API_USER_ID = 900001  # the gateway's own API user
LEAD_ID = 900002


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers)


def text_response(status: int, text: str, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, text=text, headers={"content-type": "text/plain; charset=utf-8", **(headers or {})})


class FakeZendesk:
    """An in-memory Zendesk behind respx. ``faults`` are consulted first, in order: each is a
    function of the request returning a canned response (consumed) or None (not for this one)."""

    def __init__(self, contract: ZendeskContract | None = None, *, host: str = HOST) -> None:
        self.contract = contract or ZendeskContract()
        self.host = host
        self.tickets: dict[int, dict[str, Any]] = {}
        self.comments: dict[int, list[dict[str, Any]]] = {}
        self.audits: dict[int, list[dict[str, Any]]] = {}
        self.users: dict[int, dict[str, Any]] = {}
        self.changes: list[int] = []  # ticket ids in the order they changed: the export's stream
        self.export_pages: list[list[int]] | None = None  # explicit pages instead of the stream
        self.export_page_size = 1000
        self.faults: list[Fault] = []
        self.page_size_cap = 100
        self._ids = 5_000_000
        self._clock = datetime(2026, 11, 26, 9, 0, tzinfo=timezone.utc)
        self.add_user(API_USER_ID, "Gateway Bot", "bot@acme.example", role="agent")
        self.add_user(LEAD_ID, "Jane Lead", "jane.lead@acme.example", role="admin")

    # -- building the account -------------------------------------------------------------
    def next_id(self) -> int:
        self._ids += 1
        return self._ids

    def tick(self, tid: int | None = None) -> str:
        """Advance the clock; a changed ticket joins the export stream."""
        self._clock += timedelta(seconds=7)
        if tid is not None:
            self.changes.append(tid)
        return self._clock.strftime("%Y-%m-%dT%H:%M:%SZ")

    def add_user(self, uid: int, name: str, email: str | None, role: str = "end-user") -> dict[str, Any]:
        base = example("ShowManyUsersResponseExample")["users"][0]
        base.update(id=uid, name=name, role=role, suspended=False)
        if email:
            base["email"] = email
        self.users[uid] = base
        return base

    def add_ticket(self, requester_id: int, subject: str, first_comment: str, *, html: bool = False,
                   tags: list[str] | None = None, status: str = "new") -> dict[str, Any]:
        ticket = example("TicketResponseExample")["ticket"]
        tid = self.next_id()
        ticket.update(id=tid, requester_id=requester_id, submitter_id=requester_id, subject=subject,
                      raw_subject=subject, description=first_comment, status=status, tags=list(tags or []),
                      updated_at=self.tick(tid), url=f"{self.host}/api/v2/tickets/{tid}.json")
        ticket.pop("custom_status_id", None)
        self.tickets[tid] = ticket
        self.comments[tid] = []
        self.audits[tid] = []
        self.add_comment(tid, requester_id, first_comment, html=html)
        return ticket

    def add_comment(self, tid: int, author_id: int, text: str, *, html: bool = False, public: bool = True) -> dict:
        comment = example("TicketCommentsResponseExample")["comments"][0]
        cid = self.next_id()
        now = self.tick(tid)
        plain = re.sub(r"<[^>]+>", "", text) if html else text
        comment.update(id=cid, author_id=author_id, body=plain, plain_body=plain, public=public, created_at=now,
                       html_body=text if html else f"<p>{text}</p>", audit_id=self.next_id(), attachments=[])
        self.comments[tid].append(comment)
        self.tickets[tid]["updated_at"] = now
        return comment

    def add_tag_by(self, tid: int, user_id: int, tag: str) -> None:
        """A person adds a tag in the agent interface: the ticket changes and an audit records it."""
        ticket = self.tickets[tid]
        before = list(ticket["tags"])
        ticket["tags"] = before + [tag]
        now = self.tick(tid)
        ticket["updated_at"] = now
        self.audits[tid].append({
            "id": self.next_id(), "ticket_id": tid, "author_id": user_id, "created_at": now,
            "via": {"channel": "web"}, "metadata": {"system": {}, "custom": {}},
            "events": [{"id": self.next_id(), "type": "Change", "field_name": "tags",
                        "value": ticket["tags"], "previous_value": before}],
        })

    def touch(self, tid: int) -> None:
        """Someone else changes the ticket (a collision for our next safe update)."""
        self.tickets[tid]["updated_at"] = self.tick(tid)

    def export_all(self) -> None:
        """Serve the export from the stream of changes (the default)."""
        self.export_pages = None

    # -- respx ----------------------------------------------------------------------------
    def install(self, router: Any) -> None:
        router.route(url__startswith=self.host).mock(side_effect=self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.contract.check_request(request)
        self.contract.record(request)
        response = None
        for fault in list(self.faults):
            response = fault(request)
            if response is not None:
                self.faults.remove(fault)
                break
        if response is None:
            response = self.dispatch(request)
        response.request = request
        self.contract.check_response(request, response)
        return response

    def dispatch(self, request: httpx.Request) -> httpx.Response:
        path, method = request.url.path, request.method
        params = request.url.params
        body = json.loads(request.content) if request.content else None
        if path == "/api/v2/incremental/tickets/cursor" and method == "GET":
            return self._export(params)
        if path == "/api/v2/tickets/show_many":
            ids = [int(i) for i in params["ids"].split(",")]
            return json_response(200, {"tickets": [self.tickets[i] for i in ids if i in self.tickets]})
        if path == "/api/v2/users/show_many":
            ids = [int(i) for i in params["ids"].split(",")]
            return json_response(200, {"users": [self.users[i] for i in ids if i in self.users]})
        m = re.fullmatch(r"/api/v2/tickets/(\d+)(/comments|/audits)?", path)
        if m:
            tid = int(m.group(1))
            if tid not in self.tickets:
                return json_response(404, {"error": "RecordNotFound", "description": "Not found"})
            if m.group(2) == "/comments":
                return self._list(request, tid, "comments", self.comments[tid], lambda c: c["author_id"])
            if m.group(2) == "/audits":
                return self._list(request, tid, "audits", self.audits[tid], lambda a: a["author_id"])
            if method == "GET":
                return json_response(200, {"ticket": self.tickets[tid]})
            if method == "PUT":
                return self._update(tid, body["ticket"])
        m = re.fullmatch(r"/api/v2/users/(\d+)", path)
        if m and method == "PUT":
            user = self.users[int(m.group(1))]
            user.update({k: v for k, v in body["user"].items() if k in ("suspended", "name", "email")})
            return json_response(200, {"user": user})
        return json_response(404, {"error": "InvalidEndpoint", "description": f"Not found: {method} {path}"})

    def _export(self, params: httpx.QueryParams) -> httpx.Response:
        body = example("CursorBasedExportIncrementalTicketsResponseExample")
        position = int(params["cursor"].split("-")[1]) if "cursor" in params else 0
        if self.export_pages is not None:
            pages = self.export_pages
            ids = pages[position] if position < len(pages) else []
            after = min(position + 1, len(pages))
            end = after >= len(pages)
        else:
            ids = self.changes[position:position + self.export_page_size]
            after = position + len(ids)
            end = after >= len(self.changes)
        tickets = [self.tickets[i] for i in dict.fromkeys(ids)]
        cursor = f"cursor-{after}"
        body.update(tickets=tickets, after_cursor=cursor, end_of_stream=end,
                    after_url=f"{self.host}/api/v2/incremental/tickets/cursor?cursor={cursor}")
        if params.get("include") == "users":
            body["users"] = [self.users[t["requester_id"]] for t in tickets if t["requester_id"] in self.users]
        return json_response(200, body)

    def _list(self, request: httpx.Request, tid: int, key: str, items: list[dict], author: Callable) -> httpx.Response:
        params = request.url.params
        size = min(int(params.get("page[size]", 100)), self.page_size_cap)
        ordered = sorted(items, key=lambda c: c["created_at"], reverse=params.get("sort") == "-created_at")
        start = int(params.get("page[after]", 0))
        page = ordered[start:start + size]
        has_more = start + size < len(ordered)
        body: dict[str, Any] = {key: page, "meta": {"has_more": has_more,
                                                    "after_cursor": str(start + size) if has_more else None,
                                                    "before_cursor": None}}
        nxt = request.url.copy_set_param("page[after]", str(start + size))
        body["links"] = {"next": str(nxt) if has_more else None, "prev": None}
        if params.get("include") == "users":
            ids = {author(c) for c in page}
            body["users"] = [self.users[i] for i in ids if i in self.users]
        return json_response(200, body)

    def _update(self, tid: int, fields: dict[str, Any]) -> httpx.Response:
        ticket = self.tickets[tid]
        if fields.get("safe_update") and fields.get("updated_stamp") != ticket["updated_at"]:
            return json_response(409, {"error": "UpdateConflict",
                                       "description": "Safe Update prevented the update due to outdated ticket data. "
                                                      "Please fetch the latest ticket data and try again."})
        events = []
        for key in ("status", "custom_status_id", "tags"):
            if key in fields:
                # AuditObject types `value` as string or integer: a tag list is given space-separated.
                value = " ".join(fields[key]) if key == "tags" else fields[key]
                events.append({"id": self.next_id(), "type": "Change", "field_name": key, "value": value})
                ticket[key] = fields[key]
        if "custom_status_id" in fields and "status" not in fields:
            ticket["status"] = "hold"  # the fake's one custom status lives in the hold category
        if "comment" in fields:
            c = fields["comment"]
            assert "public" in c, "the connector must always say whether a comment is public"
            comment = self.add_comment(tid, c.get("author_id", API_USER_ID), c["body"], public=c["public"])
            events.append({"id": comment["id"], "type": "Comment", "body": c["body"], "public": c["public"]})
        ticket["updated_at"] = self.tick(tid)
        audit = {"id": self.next_id(), "ticket_id": tid, "author_id": API_USER_ID,
                 "created_at": ticket["updated_at"], "events": events}
        self.audits[tid].append(audit)
        return json_response(200, {"ticket": ticket, "audit": {"id": audit["id"], "events": events}})

    def private_notes(self, tid: int) -> list[dict[str, Any]]:
        return [c for c in self.comments[tid] if not c["public"]]


# --------------------------------------------------------------------------------------------
# Building a connector against the fake.

TOKEN_ENV = {"ZD_TOKEN": "api-token-123", "ZD_SECRET": "webhook-signing-secret", "ZD_OAUTH": "oauth-abc"}


class SleepRecorder:
    """Stands in for asyncio.sleep: records the waits, returns at once."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def zendesk_entry(**options: Any) -> Any:
    from gateway.config import HelpdeskConfig

    opts = {"base_url": HOST, "email": "bot@acme.example", "token_env": "ZD_TOKEN",
            "webhook_secret_env": "ZD_SECRET", "start_time": 1_700_000_000}
    opts.update(options)
    return HelpdeskConfig(name="zendesk", type="zendesk", options={k: v for k, v in opts.items() if v is not None})


def make_connector(db: Any, *, sleep: SleepRecorder | None = None, clock: Any = None,
                   options: dict[str, Any] | None = None, **extras: Any) -> Any:
    """A ZendeskConnector on the fake's host; ``extras`` go to the constructor (audit, holds...)."""
    from connectors.zendesk import ZendeskConnector, load_zendesk_config

    config = load_zendesk_config(zendesk_entry(**(options or {})), TOKEN_ENV)
    return ZendeskConnector(config, db, sleep=sleep or SleepRecorder(), rng=lambda: 0.5, clock=clock, **extras)


# --------------------------------------------------------------------------------------------
# Fixtures shared by the test_zendesk_* modules (imported by name there).

import pytest  # noqa: E402
import respx  # noqa: E402


@pytest.fixture
def fake() -> Any:
    """A FakeZendesk mounted on respx for the test's duration."""
    zd = FakeZendesk()
    with respx.mock(assert_all_called=False) as router:
        zd.install(router)
        yield zd


@pytest.fixture
def db() -> Any:
    from gateway.store.db import Database

    database = Database.open(":memory:")
    yield database
    database.close()


def new_ticket(zd: FakeZendesk, text: str, *, email: str | None = "taro.yamada@example.com",
               status: str = "open") -> dict[str, Any]:
    """A ticket from a new end user, visible in the next export."""
    requester = zd.add_user(zd.next_id(), "Taro Yamada", email)
    ticket = zd.add_ticket(requester["id"], "Refund still not received", text, tags=["vip", "billing"],
                           status=status)
    zd.export_all()
    return ticket


def insult_verdict(message: Any, *, hold: str | None = None, scope: str = "thread") -> tuple[list, Any]:
    """Findings and a decision for a message containing the word 'idiot'."""
    from gateway.model import Action, Decision, Evidence, Finding, Severity

    start = message.text.index("idiot")
    findings = [Finding("verbal_abuse", Severity.MEDIUM, 0.8, [Evidence(start, start + 5, "idiot")],
                        "abuse.insult", "insult")]
    actions = [Action(hold, {"scope": scope})] if hold else []
    return findings, Decision(message.id, tags=["hg_verbal_abuse"], categories=["verbal_abuse"], actions=actions)


def lead_tag_webhook(zd: FakeZendesk, tid: int, invocation: str) -> tuple[bytes, dict[str, str]]:
    """The signed trigger webhook announcing the lead's last tag change on ticket ``tid`` (body
    and headers), stamped 2026-11-26T09:30:00Z: the ticket's tags and who changed them."""
    from connectors.zendesk.webhooks import sign

    body = json.dumps({"ticket_id": str(tid), "tags": " ".join(zd.tickets[tid]["tags"]),
                       "updated_by": {"id": str(LEAD_ID), "name": "Jane Lead", "email": "jane.lead@acme.example"},
                       "updated_at": "2026-11-26T09:29:00Z"}).encode()
    stamp = "2026-11-26T09:30:00Z"
    return body, {"x-zendesk-webhook-signature-timestamp": stamp, "x-zendesk-webhook-invocation-id": invocation,
                  "x-zendesk-webhook-signature": sign(TOKEN_ENV["ZD_SECRET"], stamp, body)}


class WebhookClient:
    """Posts to the connector's Starlette routes in-process (httpx.ASGITransport)."""

    def __init__(self, routes: list[Any]) -> None:
        from starlette.applications import Starlette

        self.app = Starlette(routes=routes)

    def post(self, path: str, *, content: bytes, headers: dict[str, str]) -> httpx.Response:
        import asyncio

        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
                return await client.post(path, content=content, headers=headers)

        return asyncio.run(go())
