"""The route Freshdesk automation rules call: the shared secret is checked in constant time before
anything is read, and the ticket is re-fetched from the API rather than taken from the payload."""

from __future__ import annotations

import httpx
import pytest
import respx
from starlette.applications import Starlette

from connectors.freshdesk.connector import FreshdeskConnector
from connectors.freshdesk.webhooks import ticket_id_from
from gateway.store.db import Database
from tests.contract.freshdesk_fake import FakeFreshdesk, Sleeps, make_config, anyio_backend, fake  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.contract, pytest.mark.anyio]

HEADER = "X-HG-Webhook-Secret"


@pytest.fixture
async def setup(fake, tmp_path):
    db = Database.open(tmp_path / "gateway.db")
    woken: list[bool] = []
    connector = FreshdeskConnector(make_config(), db, sleep=Sleeps(), now=lambda: fake.now,
                                   wake=lambda: woken.append(True))
    app = Starlette(routes=connector.webhook_routes())
    web = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://console.local")
    yield connector, web, woken
    await web.aclose()
    await connector.aclose()
    db.close()


async def test_the_right_secret_queues_the_ticket_which_is_then_refetched(setup, fake):
    connector, web, woken = setup
    fake.add_contact(9, "kim@example.com")
    fake.add_ticket(101, 9, "Where is my order?")
    fake.add_conversation(101, "<div>You will regret this.</div>", user_id=9)
    forged = {"ticket_id": 101, "latest_comment": "I love you all, thanks!"}  # never trusted
    answer = await web.post("/webhooks/fd", json=forged, headers={HEADER: "hook-secret-1"})
    assert answer.status_code == 202 and answer.json() == {"accepted": 101}
    assert woken == [True]
    assert fake.calls == []  # nothing is fetched inside the request: the daemon's loop does it

    fake.queue("GET", "/api/v2/tickets", httpx.Response(200, json=[]))  # the poll has not seen it yet
    messages = await connector.fetch_new()
    assert ("GET", "/api/v2/tickets/101") in fake.calls
    view = [c.request for c in fake.router.calls if c.request.url.path == "/api/v2/tickets/101"][0]
    assert view.url.params["include"] == "requester"
    assert [m.text for m in messages] == ["Where is my order?", "You will regret this."]
    assert all("love you" not in m.text for m in messages)


async def test_a_wrong_secret_is_refused_and_nothing_is_queued(setup, fake):
    connector, web, woken = setup
    answer = await web.post("/webhooks/fd", json={"ticket_id": 101}, headers={HEADER: "hook-secret-2"})
    assert answer.status_code == 403
    assert woken == [] and connector._pending == {}


async def test_no_secret_header_is_refused(setup, fake):
    connector, web, woken = setup
    answer = await web.post("/webhooks/fd", json={"ticket_id": 101})
    assert answer.status_code == 401
    assert woken == [] and connector._pending == {}


async def test_a_secret_sent_in_another_header_is_refused(setup):
    connector, web, _ = setup
    answer = await web.post("/webhooks/fd", json={"ticket_id": 101}, headers={"Authorization": "hook-secret-1"})
    assert answer.status_code == 401 and connector._pending == {}


async def test_a_verified_call_without_a_ticket_id_is_a_bad_request(setup):
    connector, web, _ = setup
    answer = await web.post("/webhooks/fd", content=b"not json", headers={HEADER: "hook-secret-1"})
    assert answer.status_code == 400
    answer = await web.post("/webhooks/fd", json={"ticket": "x"}, headers={HEADER: "hook-secret-1"})
    assert answer.status_code == 400 and connector._pending == {}


async def test_without_a_configured_secret_the_route_refuses_everything(fake, tmp_path):
    db = Database.open(tmp_path / "gateway.db")
    connector = FreshdeskConnector(make_config(webhook_secret_env=None), db, sleep=Sleeps())
    app = Starlette(routes=connector.webhook_routes())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://console.local") as web:
        answer = await web.post("/webhooks/fd", json={"ticket_id": 1}, headers={HEADER: ""})
    await connector.aclose()
    db.close()
    assert answer.status_code == 503


def test_ticket_ids_are_read_from_both_payload_shapes():
    assert ticket_id_from({"ticket_id": "42"}) == 42
    assert ticket_id_from({"freshdesk_webhook": {"ticket_id": 43}}) == 43
    assert ticket_id_from({"ticket_id": True}) is None
    assert ticket_id_from({"ticket_id": "42; DROP"}) is None
    assert ticket_id_from(["42"]) is None


async def test_a_webhook_for_a_missing_ticket_does_not_stop_the_poll(setup, fake):
    connector, web, _ = setup
    fake.add_contact(9, "kim@example.com")
    fake.add_ticket(101, 9, "Where is my order?")
    answer = await web.post("/webhooks/fd", json={"ticket_id": 999}, headers={HEADER: "hook-secret-1"})
    assert answer.status_code == 202
    messages = await connector.fetch_new()
    assert ("GET", "/api/v2/tickets/999") in fake.calls
    assert [m.text for m in messages] == ["Where is my order?"]
