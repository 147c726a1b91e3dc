"""Rate limits, collisions and server errors on the way out, and that nothing is lost or doubled."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from connectors.http import RetryPolicy
from gateway.errors import HelpdeskError, RateLimited
from tests.contract.zendesk_overlay import (  # noqa: F401 - fixtures
    FakeZendesk,
    SleepRecorder,
    db,
    fake,
    insult_verdict,
    json_response,
    make_connector,
    new_ticket,
    text_response,
)

pytestmark = pytest.mark.contract

RUDE = "Where is my refund, you idiot? I have asked four times."


def run(coro):
    return asyncio.run(coro)


def on(method: str, path_part: str, response: httpx.Response):
    """A one-shot fault for the first matching request."""
    def fault(request: httpx.Request):
        if request.method == method and path_part in request.url.path:
            return response
        return None
    return fault


def fetch_one(fake: FakeZendesk, conn):
    [m] = run(conn.fetch_new())
    return m


def test_429_with_plain_text_body_waits_retry_after_then_succeeds(fake, db):
    ticket = new_ticket(fake, RUDE)
    sleep = SleepRecorder()
    conn = make_connector(db, sleep=sleep)
    m = fetch_one(fake, conn)
    fake.faults.append(on("PUT", "/tickets/", text_response(
        429, "Number of allowed API requests per minute exceeded", {"retry-after": "7"})))
    result = run(conn.apply(m, insult_verdict(m)[1], "note"))
    assert result.applied
    assert sleep.waits == [7.0]
    assert "hg_verbal_abuse" in fake.tickets[ticket["id"]]["tags"]
    assert len(fake.private_notes(ticket["id"])) == 1


def test_429_with_json_body_and_http_date_retry_after(fake, db):
    new_ticket(fake, RUDE)
    sleep = SleepRecorder()
    conn = make_connector(db, sleep=sleep)
    m = fetch_one(fake, conn)
    # An HTTP-date Retry-After, in the past relative to the connector's clock -> no wait needed.
    fake.faults.append(on("PUT", "/tickets/", json_response(
        429, {"errors": [{"code": "TooManyRequests", "title": "Too Many Requests",
                          "detail": "You have exceeded the rate limit"}]},
        {"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"})))
    assert run(conn.apply(m, insult_verdict(m)[1], "note")).applied
    assert sleep.waits == [0.0]


def test_429_beyond_the_budget_raises_rate_limited_with_vendor_message_and_records_failure(fake, db):
    ticket = new_ticket(fake, RUDE)
    conn = make_connector(db)
    m = fetch_one(fake, conn)
    for _ in range(10):
        fake.faults.append(on("PUT", "/tickets/", text_response(
            429, "Number of allowed API requests per minute exceeded", {"retry-after": "60"})))
    with pytest.raises(RateLimited) as info:
        run(conn.apply(m, insult_verdict(m)[1], "note"))
    assert info.value.status == 429
    assert info.value.vendor_message == "Number of allowed API requests per minute exceeded"
    assert info.value.details["retry_after"] == 60.0
    [failure] = conn.state.failures()
    assert failure["comment_id"] == int(m.external["comment_id"])
    assert "429" in failure["error"]
    assert fake.private_notes(ticket["id"]) == []


def test_409_conflict_rereads_merges_and_keeps_the_other_change(fake, db):
    ticket = new_ticket(fake, RUDE)
    tid = ticket["id"]
    conn = make_connector(db)
    m = fetch_one(fake, conn)
    fake.tickets[tid]["tags"].append("escalated_by_agent")  # an agent's edit after our read
    fake.touch(tid)
    result = run(conn.apply(m, insult_verdict(m)[1], "note"))
    assert result.applied
    methods = [(meth, path) for meth, path, _ in fake.contract.calls if str(tid) in path]
    assert methods == [
        ("GET", f"/api/v2/tickets/{tid}/comments"),
        ("PUT", f"/api/v2/tickets/{tid}"),  # 409: stale updated_stamp
        ("GET", f"/api/v2/tickets/{tid}"),  # re-read
        ("GET", f"/api/v2/tickets/{tid}/comments"),  # did an earlier attempt land? no
        ("PUT", f"/api/v2/tickets/{tid}"),
    ]
    assert fake.tickets[tid]["tags"] == ["vip", "billing", "escalated_by_agent", "hg_verbal_abuse"]
    assert len(fake.private_notes(tid)) == 1


def test_5xx_backs_off_with_jitter_then_gives_up_and_records_the_failure(fake, db):
    ticket = new_ticket(fake, RUDE)
    tid = ticket["id"]
    sleep = SleepRecorder()
    conn = make_connector(db, sleep=sleep)
    m = fetch_one(fake, conn)
    for _ in range(5):
        fake.faults.append(on("PUT", "/tickets/", json_response(
            500, {"error": "InternalError", "description": "Something went wrong"})))
    with pytest.raises(HelpdeskError) as info:
        run(conn.apply(m, insult_verdict(m)[1], "note"))
    assert info.value.status == 500
    assert "Something went wrong" in str(info.value) and "gave up after 5 attempts" in str(info.value)
    policy = RetryPolicy()
    # full jitter with rng=0.5: half of base * 2**(attempt-1)
    assert sleep.waits == [0.5 * policy.base_delay * 2 ** i for i in range(4)]
    [failure] = conn.state.failures()
    assert failure["attempts"] == 1 and "500" in failure["error"]
    assert fake.private_notes(tid) == []

    # Nothing lost: the next fetch re-reads the ticket (even without a new export entry)
    fake.export_pages = []
    [again] = run(conn.fetch_new())
    assert again.id == m.id
    assert run(conn.apply(again, insult_verdict(again)[1], "note")).applied
    assert len(fake.private_notes(tid)) == 1
    assert conn.state.failures() == []


def test_update_that_landed_before_a_5xx_is_not_applied_twice(fake, db):
    ticket = new_ticket(fake, RUDE)
    tid = ticket["id"]
    conn = make_connector(db)
    m = fetch_one(fake, conn)

    def lands_then_fails(request: httpx.Request):
        if request.method == "PUT" and f"/tickets/{tid}" in request.url.path:
            fake.dispatch(request)  # Zendesk did the update ...
            return json_response(502, {"error": "BadGateway", "description": "upstream timeout"})  # ... we never knew
        return None

    fake.faults.append(lands_then_fails)
    result = run(conn.apply(m, insult_verdict(m)[1], "note"))
    assert result.applied
    assert len(fake.private_notes(tid)) == 1  # the retry met 409, found our note, and stopped
    assert fake.contract.count("PUT") == 2


def test_a_failed_apply_whose_note_landed_is_recognised_on_the_next_read(fake, db):
    ticket = new_ticket(fake, RUDE)
    tid = ticket["id"]
    conn = make_connector(db)
    m = fetch_one(fake, conn)

    def lands_then_refused(request: httpx.Request):
        if request.method == "PUT":
            fake.dispatch(request)
            return json_response(422, {"error": "RecordInvalid", "description": "Record validation errors",
                                       "details": {"base": [{"description": "odd failure"}]}})
        return None

    fake.faults.append(lands_then_refused)
    with pytest.raises(HelpdeskError) as info:
        run(conn.apply(m, insult_verdict(m)[1], "note"))
    assert "RecordInvalid" in str(info.value) and "odd failure" in str(info.value)
    fake.export_pages = []
    assert run(conn.fetch_new()) == []  # our note is on the ticket: the comment counts as applied
    assert conn.state.failures() == []
    assert len(fake.private_notes(tid)) == 1


def test_get_requests_retry_network_errors(fake, db):
    new_ticket(fake, RUDE)
    sleep = SleepRecorder()
    conn = make_connector(db, sleep=sleep)
    calls = {"n": 0}

    def drop_once(request: httpx.Request):
        if "incremental" in request.url.path and calls["n"] == 0:
            calls["n"] += 1
            raise httpx.ConnectError("connection refused", request=request)
        return None

    fake.faults.append(drop_once)
    assert len(run(conn.fetch_new())) == 1
    assert len(sleep.waits) == 1


def test_sent_reply_is_not_retried_after_an_ambiguous_5xx(fake, db):
    new_ticket(fake, RUDE)
    conn = make_connector(db)
    m = fetch_one(fake, conn)
    fake.faults.append(on("PUT", "/tickets/", json_response(500, {"error": "InternalError"})))
    with pytest.raises(HelpdeskError):
        run(conn.send_reply(m, "Thank you.", draft_id="d1"))
    assert fake.contract.count("PUT") == 1  # a customer must never get the same reply twice


def test_request_bodies_are_utf8_json(fake, db):
    ticket = new_ticket(fake, "返金はまだですか、バカ。idiot")
    conn = make_connector(db)
    m = fetch_one(fake, conn)
    run(conn.apply(m, insult_verdict(m)[1], "注記: 返金"))
    [body] = fake.contract.bodies("PUT", f"/api/v2/tickets/{ticket['id']}")
    assert body["ticket"]["comment"]["body"].startswith("注記: 返金")
    assert json.dumps(body)


def test_hold_that_landed_before_a_5xx_is_remembered_and_can_be_lifted(fake, db):
    ticket = new_ticket(fake, RUDE)
    tid = ticket["id"]
    conn = make_connector(db)
    m = fetch_one(fake, conn)

    def lands_then_fails(request: httpx.Request):
        if request.method == "PUT" and f"/tickets/{tid}" in request.url.path:
            fake.dispatch(request)
            return json_response(504, {"error": "GatewayTimeout"})
        return None

    fake.faults.append(lands_then_fails)
    assert run(conn.apply(m, insult_verdict(m, hold="apply_hold")[1], "note")).applied
    assert fake.tickets[tid]["status"] == "hold"
    assert run(conn.lift_hold(m, actor="lead", reason="ok"))
    assert fake.tickets[tid]["status"] == "open"
    assert "hg_hold" not in fake.tickets[tid]["tags"]
