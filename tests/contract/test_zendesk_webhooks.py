"""Zendesk webhooks: verified (signature over timestamp + raw body) before anything is read."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from datetime import datetime, timedelta, timezone

import pytest

from connectors.zendesk.webhooks import sign
from tests.contract.zendesk_overlay import (  # noqa: F401 - fixtures
    TOKEN_ENV,
    WebhookClient,
    db,
    fake,
    make_connector,
    new_ticket,
)

pytestmark = pytest.mark.contract

NOW = datetime(2026, 11, 26, 9, 30, tzinfo=timezone.utc)
SECRET = TOKEN_ENV["ZD_SECRET"]
PATH = "/webhooks/zendesk/zendesk"


def run(coro):
    return asyncio.run(coro)


@pytest.fixture
def conn(db):
    return make_connector(db, clock=lambda: NOW)


@pytest.fixture
def client(conn):
    return WebhookClient(conn.webhook_routes())


def headers(body: bytes, *, ts: datetime = NOW, secret: str = SECRET, invocation: str = "inv-1") -> dict[str, str]:
    stamp = ts.strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "content-type": "application/json",
        "x-zendesk-webhook-id": "01HWEBHOOK",
        "x-zendesk-webhook-invocation-id": invocation,
        "x-zendesk-webhook-signature-timestamp": stamp,
        "x-zendesk-webhook-signature": sign(secret, stamp, body),
    }


def payload(ticket_id: int, **extra) -> bytes:
    return json.dumps({"ticket_id": str(ticket_id), **extra}, separators=(",", ":")).encode()


def test_signature_matches_zendesk_documented_recipe():
    body = b'{"ticket_id":"1"}'
    expected = base64.b64encode(
        hmac.new(b"k", b"2021-03-25T05:09:27Z" + body, hashlib.sha256).digest()).decode()
    assert sign("k", "2021-03-25T05:09:27Z", body) == expected


def test_good_signature_queues_the_ticket_for_a_reread(client, conn):
    body = payload(4242)
    response = client.post(PATH, content=body, headers=headers(body))
    assert response.status_code == 202
    assert conn.state.reread_queue() == [4242]


def test_bad_signature_is_refused_before_reading(client, conn):
    body = payload(4242)
    response = client.post(PATH, content=body, headers=headers(body, secret="not-the-secret"))
    assert response.status_code == 401 and response.json() == {"error": "bad signature"}
    assert conn.state.reread_queue() == []


def test_body_changed_after_signing_is_refused(client, conn):
    signed = payload(4242)
    response = client.post(PATH, content=payload(4243), headers=headers(signed))
    assert response.status_code == 401
    assert conn.state.reread_queue() == []


def test_a_signature_over_reserialised_json_does_not_verify(client, conn):
    raw = b'{"ticket_id": "4242"}'
    reserialised = json.dumps(json.loads(raw), separators=(",", ":")).encode()
    h = headers(reserialised)
    assert client.post(PATH, content=raw, headers=h).status_code == 401


def test_stale_timestamp_is_refused_even_with_a_valid_signature(client, conn):
    body = payload(4242)
    response = client.post(PATH, content=body, headers=headers(body, ts=NOW - timedelta(minutes=10)))
    assert response.status_code == 401 and response.json() == {"error": "stale signature timestamp"}
    future = client.post(PATH, content=body, headers=headers(body, ts=NOW + timedelta(minutes=10), invocation="x"))
    assert future.status_code == 401
    assert conn.state.reread_queue() == []


def test_replayed_invocation_is_refused(client, conn):
    body = payload(4242)
    h = headers(body)
    assert client.post(PATH, content=body, headers=h).status_code == 202
    replay = client.post(PATH, content=body, headers=h)
    assert replay.status_code == 409 and replay.json() == {"error": "replayed invocation"}


def test_missing_headers_and_non_json_bodies_are_refused(client):
    body = payload(1)
    assert client.post(PATH, content=body, headers={"content-type": "application/json"}).status_code == 401
    junk = b"not json"
    assert client.post(PATH, content=junk, headers=headers(junk, invocation="j")).status_code == 400
    no_id = b'{"hello":"world"}'
    assert client.post(PATH, content=no_id, headers=headers(no_id, invocation="k")).status_code == 400


def test_without_a_configured_secret_every_webhook_is_refused(db):
    conn = make_connector(db, clock=lambda: NOW, options={"webhook_secret_env": None})
    client = WebhookClient(conn.webhook_routes())
    body = payload(1)
    assert client.post(PATH, content=body, headers=headers(body)).status_code == 503


def test_event_subscription_payload_is_understood(client, conn):
    body = json.dumps({"type": "zen:event-type:ticket.comment_added", "account_id": 1,
                       "detail": {"id": "77", "status": "OPEN"}, "event": {}}).encode()
    assert client.post(PATH, content=body, headers=headers(body)).status_code == 202
    assert conn.state.reread_queue() == [77]


def test_webhook_nudge_leads_fetch_to_the_ticket_without_an_export_entry(fake, db):
    conn = make_connector(db, clock=lambda: NOW)
    client = WebhookClient(conn.webhook_routes())
    ticket = new_ticket(fake, "Please call me back today.")
    fake.export_pages = []  # not yet in the export (it lags a minute)
    body = payload(ticket["id"])
    assert client.post(PATH, content=body, headers=headers(body)).status_code == 202
    [m] = run(conn.fetch_new())
    assert m.external["ticket_id"] == str(ticket["id"])
    assert conn.state.reread_queue() == []
