"""The shared retry policy: Retry-After in seconds or as a date, full-jitter backoff, a budget."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import httpx
import pytest

from connectors.http import RetryingSender, RetryPolicy, backoff_delay, parse_retry_after
from gateway.errors import HelpdeskError, RateLimited

NOW = datetime(2026, 11, 26, 9, 0, 0, tzinfo=timezone.utc)


def test_retry_after_seconds_and_http_dates():
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(" 0 ") == 0.0
    assert parse_retry_after("Thu, 26 Nov 2026 09:00:30 GMT", now=NOW) == 30.0
    assert parse_retry_after("Thu, 26 Nov 2026 08:00:00 GMT", now=NOW) == 0.0  # in the past: no wait
    assert parse_retry_after("-5") == 0.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None


def test_full_jitter_stays_under_the_capped_exponential():
    policy = RetryPolicy(base_delay=1.0, max_delay=10.0)
    assert [backoff_delay(n, policy, lambda: 1.0) for n in range(1, 7)] == [1, 2, 4, 8, 10, 10]
    assert backoff_delay(3, policy, lambda: 0.0) == 0.0
    assert backoff_delay(3, policy, lambda: 0.25) == 1.0


class Script:
    """A transport answering from a list; records what it got."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.seen = []

    def __call__(self, request):
        self.seen.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def sender(script, policy=None):
    waits = []

    async def sleep(s):
        waits.append(s)

    client = httpx.AsyncClient(transport=httpx.MockTransport(script), base_url="https://x.test")
    s = RetryingSender(client, to_error=lambda r: (RateLimited if r.status_code == 429 else HelpdeskError)(
        f"HTTP {r.status_code}", status=r.status_code), policy=policy, sleep=sleep, rng=lambda: 1.0,
        clock=lambda: NOW)
    return s, waits, client


def send(s, client, method="GET", idempotent=None):
    async def go():
        try:
            return await s.send(client.build_request(method, "/a"), idempotent=idempotent)
        finally:
            await client.aclose()
    return asyncio.run(go())


def test_503_with_retry_after_is_waited_even_for_a_post():
    script = Script(httpx.Response(503, headers={"retry-after": "3"}), httpx.Response(201))
    s, waits, client = sender(script)
    assert send(s, client, "POST").status_code == 201
    assert waits == [3.0]


def test_500_on_a_post_is_not_retried():
    script = Script(httpx.Response(500), httpx.Response(201))
    s, waits, client = sender(script)
    with pytest.raises(HelpdeskError):
        send(s, client, "POST")
    assert len(script.seen) == 1 and waits == []


def test_read_timeout_retried_only_when_idempotent_connect_error_always():
    s, waits, client = sender(Script(httpx.ReadTimeout("slow"), httpx.Response(200)))
    assert send(s, client, "GET").status_code == 200
    s, waits, client = sender(Script(httpx.ReadTimeout("slow"), httpx.Response(200)))
    with pytest.raises(HelpdeskError, match="network error"):
        send(s, client, "POST")
    s, waits, client = sender(Script(httpx.ConnectError("refused"), httpx.Response(201)))
    assert send(s, client, "POST").status_code == 201


def test_retry_after_longer_than_allowed_gives_up_at_once():
    script = Script(httpx.Response(429, headers={"retry-after": "3600"}))
    s, waits, client = sender(script, RetryPolicy(max_retry_after=120))
    with pytest.raises(RateLimited) as info:
        send(s, client)
    assert waits == [] and info.value.details["retry_after"] == 3600.0


def test_budget_caps_the_total_sleep():
    script = Script(*[httpx.Response(429, headers={"retry-after": "40"}) for _ in range(5)])
    s, waits, client = sender(script, RetryPolicy(budget_seconds=100, max_attempts=10))
    with pytest.raises(RateLimited):
        send(s, client)
    assert waits == [40.0, 40.0]
    assert s.stats.requests == 3 and s.stats.retries == 2


def test_429_without_retry_after_waits_the_default():
    script = Script(httpx.Response(429), httpx.Response(200))
    s, waits, client = sender(script, RetryPolicy(default_retry_after=5))
    send(s, client)
    assert waits == [5.0]
