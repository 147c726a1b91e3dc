"""The Freshdesk client against a respx-served, schema-checked fake account: auth, retries,
rate-limit pacing, the error envelope, pagination, and the request schemas themselves."""

from __future__ import annotations

import base64
from datetime import datetime, timezone

import httpx
import pytest
import respx

from connectors.freshdesk.client import FreshdeskClient
from connectors.http import RetryPolicy
from gateway.errors import HelpdeskError, RateLimited
from tests.contract.freshdesk_fake import API_KEY, BASE, FakeFreshdesk, Sleeps, error_body, make_config, schema_errors, anyio_backend, fake  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.contract, pytest.mark.anyio]


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
async def client(sleeps):
    c = FreshdeskClient(make_config(), sleep=sleeps, rng=lambda: 0.5,
                        policy=RetryPolicy(max_attempts=4, base_delay=1.0, budget_seconds=60))
    yield c
    await c.aclose()


# -- the request schemas ------------------------------------------------------------------------------

def test_a_note_with_an_unknown_field_fails_the_schema():
    assert schema_errors("note.request", {"body": "<div>x</div>", "private": True}) == []
    errors = schema_errors("note.request", {"body": "<div>x</div>", "private": True, "public": False})
    assert errors and "Additional properties are not allowed ('public'" in errors[0]


def test_a_ticket_update_with_an_unknown_field_fails_the_schema():
    assert schema_errors("ticket_update.request", {"tags": ["a"], "status": 8}) == []
    assert schema_errors("ticket_update.request", {"tags": ["a"], "additional_tags": ["b"]})
    assert schema_errors("ticket_update.request", {"status": 1})  # statuses start at 2


def test_a_public_note_fails_the_project_schema():
    assert schema_errors("note.request", {"body": "<div>draft</div>", "private": False})
    assert schema_errors("note.request", {"body": "<div>draft</div>"})  # private must be explicit


def test_reply_and_list_query_schemas_refuse_unknown_keys():
    assert schema_errors("reply.request", {"body": "<div>hi</div>", "user_id": 77}) == []
    assert schema_errors("reply.request", {"body": "<div>hi</div>", "private": True})
    assert schema_errors("list_tickets.query", {"updated_since": "2026-11-01T00:00:00Z", "per_page": "100"}) == []
    assert schema_errors("list_tickets.query", {"per_page": "101"})
    assert schema_errors("list_tickets.query", {"since": "2026-11-01"})


async def test_the_client_refuses_to_send_an_undocumented_field(client, fake):
    with pytest.raises(ValueError, match="undocumented field"):
        await client.update_ticket(1, tags=["x"], additional_tags=["y"])
    assert fake.calls == []


# -- auth, errors ---------------------------------------------------------------------------------------

async def test_requests_use_the_api_key_with_x_as_basic_auth(client, fake):
    fake.add_contact(9, "kim@example.com")
    fake.add_ticket(1, 9, "hello")
    route_calls = fake.router.calls
    await client.view_ticket(1)
    sent = route_calls.last.request
    assert sent.headers["authorization"] == "Basic " + base64.b64encode(f"{API_KEY}:X".encode()).decode()
    assert str(sent.url).startswith(BASE + "/api/v2/tickets/1")


async def test_the_error_envelope_becomes_a_helpdesk_error_with_the_vendor_details(client, fake):
    fake.queue("PUT", "/api/v2/tickets/1", httpx.Response(400, json=error_body("Validation failed", [
        {"field": "status", "message": "It should be one of these values: 2,3,4,5", "code": "invalid_value"}])))
    with pytest.raises(HelpdeskError) as caught:
        await client.update_ticket(1, status=9)
    err = caught.value
    assert err.status == 400 and err.vendor_message == "Validation failed"
    assert err.details["codes"] == ["invalid_value"]
    assert "status: It should be one of these values" in str(err)
    assert err.method == "PUT" and err.url == BASE + "/api/v2/tickets/1"


async def test_a_non_json_error_still_names_the_call(client, fake):
    fake.queue("GET", "/api/v2/tickets/3", httpx.Response(404, text="<html>nope</html>"))
    with pytest.raises(HelpdeskError, match=r"GET /api/v2/tickets/3: HTTP 404") as caught:
        await client.view_ticket(3)
    assert caught.value.vendor_message is None


# -- retries and pacing ---------------------------------------------------------------------------------

async def test_429_waits_what_retry_after_says_then_succeeds(client, fake, sleeps):
    fake.add_contact(9, "kim@example.com")
    fake.add_ticket(1, 9, "hello")
    fake.queue("GET", "/api/v2/tickets/1", httpx.Response(429, headers={"retry-after": "34"}))
    ticket = await client.view_ticket(1)
    assert ticket["id"] == 1
    assert sleeps.waits == [34.0]
    assert fake.calls_to("GET", "/api/v2/tickets/1") == [("GET", "/api/v2/tickets/1")] * 2


async def test_429_beyond_the_budget_raises_rate_limited(client, fake, sleeps):
    for _ in range(4):
        fake.queue("GET", "/api/v2/tickets/1", httpx.Response(429, headers={"retry-after": "30"}))
    with pytest.raises(RateLimited) as caught:
        await client.view_ticket(1)
    assert caught.value.status == 429
    assert sum(sleeps.waits) <= 60


async def test_5xx_backs_off_with_jitter_then_gives_up(client, fake, sleeps):
    for _ in range(4):
        fake.queue("GET", "/api/v2/tickets/1", httpx.Response(503, json={"description": "Service down", "errors": []}))
    with pytest.raises(HelpdeskError, match="gave up after 4 attempts") as caught:
        await client.view_ticket(1)
    assert caught.value.status == 503
    assert sleeps.waits == [0.5, 1.0, 2.0]  # full jitter with rng=0.5: half of 1, 2, 4 seconds
    assert len(fake.calls) == 4


async def test_a_note_is_not_sent_twice_after_a_5xx(client, fake, sleeps):
    fake.add_contact(9, "kim@example.com")
    fake.add_ticket(1, 9, "hello")
    fake.queue("POST", "/api/v2/tickets/1/notes", httpx.Response(502, text="bad gateway"))
    with pytest.raises(HelpdeskError):
        await client.create_note(1, "<div>evidence</div>")
    assert len(fake.calls_to("POST", "/notes")) == 1 and sleeps.waits == []


async def test_network_errors_are_retried_for_reads(client, fake, sleeps):
    fake.add_contact(9, "kim@example.com")
    fake.add_ticket(1, 9, "hello")
    failures = iter([httpx.ConnectError("refused"), httpx.ReadTimeout("slow")])
    original = fake._dispatch

    def flaky(request: httpx.Request) -> httpx.Response:
        exc = next(failures, None)
        if exc is not None:
            raise exc
        return original(request)

    fake.router.routes[0].side_effect = flaky
    assert (await client.view_ticket(1))["id"] == 1
    assert len(sleeps.waits) == 2


async def test_low_ratelimit_remaining_slows_the_next_call_down(client, fake, sleeps):
    fake.add_contact(9, "kim@example.com")
    fake.add_ticket(1, 9, "hello")
    fake.rate_remaining = 5  # the next answer says 4 remain this minute
    await client.view_ticket(1)
    assert sleeps.waits == []
    await client.view_ticket(1)
    assert sleeps.waits == [pytest.approx(60 / 5)]
    assert client.paced == pytest.approx(12.0)


async def test_plenty_of_ratelimit_left_means_no_waiting(client, fake, sleeps):
    fake.add_contact(9, "kim@example.com")
    fake.add_ticket(1, 9, "hello")
    for _ in range(3):
        await client.view_ticket(1)
    assert sleeps.waits == []


# -- pagination -----------------------------------------------------------------------------------------

async def test_pagination_follows_the_link_header_until_it_is_absent(fake, sleeps):
    client = FreshdeskClient(make_config(per_page=2), sleep=sleeps)
    fake.add_contact(9, "kim@example.com")
    for i in range(1, 6):
        fake.add_ticket(i, 9, f"message {i}")
    pages = [page async for page in client.list_tickets(datetime(2026, 11, 1, tzinfo=timezone.utc))]
    await client.aclose()
    assert [[t["id"] for t in p] for p in pages] == [[1, 2], [3, 4], [5]]
    gets = [r.request for r in fake.router.calls]
    assert [r.url.params.get("page") for r in gets] == [None, "2", "3"]
    assert all(r.url.params["updated_since"] == "2026-11-01T00:00:00Z" for r in gets)
    assert all(r.url.params["include"] == "requester,description" for r in gets)


async def test_a_next_link_to_another_host_is_not_followed(client, fake):
    fake.queue("GET", "/api/v2/tickets/1/conversations", httpx.Response(
        200, json=[], headers={"link": '<https://evil.example/api/v2/tickets/1/conversations?page=2>; rel="next"'}))
    assert await client.list_conversations(1) == []
    assert len(fake.calls) == 1


async def test_the_fake_account_answers_an_unknown_field_as_freshdesk_does(client, fake):
    fake.add_contact(9, "kim@example.com")
    fake.add_ticket(1, 9, "hello")
    with pytest.raises(HelpdeskError) as caught:
        await client.request("PUT", "/api/v2/tickets/1", json={"tags": ["a"], "additional_tags": ["b"]})
    assert caught.value.status == 400 and caught.value.details["codes"] == ["invalid_field"]
    assert fake.tickets[1]["tags"] == []


async def test_the_fake_account_holds_queries_to_the_schema(client, fake):
    with pytest.raises(AssertionError, match="list_tickets.query schema violated"):
        await client.request("GET", "/api/v2/tickets", params={"per_page": 500})
