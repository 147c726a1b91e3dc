"""Retries for helpdesk HTTP calls: Retry-After, exponential backoff with full jitter, a budget.

Why a request may be sent again:

- **429, and 503 with Retry-After**: the server refused before doing anything; wait what it says
  (seconds or an HTTP date) and send again, whatever the method.
- **other 5xx, timeouts, dropped connections**: the request may or may not have been carried out,
  so only requests the caller marks ``idempotent`` are retried (GET, "add tags", a Zendesk update
  guarded by ``safe_update`` — a repeat of an update that did land answers 409, not a double write).
  Connection failures before anything was sent are always retried.

Waits use "full jitter" (a uniform draw between 0 and ``base * 2**attempt``, capped), which spreads
a crowd of clients that all failed at once. A retry budget bounds both the number of attempts and
the total time spent sleeping; when it runs out the caller gets :class:`gateway.errors.RateLimited`
(for 429/503) or :class:`gateway.errors.HelpdeskError` (for the rest), carrying the last answer.
``sleep`` and ``rng`` are injectable so tests run instantly and deterministically.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timezone

import httpx

from gateway.errors import HelpdeskError, RateLimited

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
ErrorMapper = Callable[[httpx.Response], HelpdeskError]


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try. ``budget_seconds`` caps the total sleeping across one request's retries;
    a Retry-After longer than ``max_retry_after`` is not waited for at all (the caller is told)."""

    max_attempts: int = 5  # sends in total, the first included
    base_delay: float = 0.5
    max_delay: float = 30.0
    budget_seconds: float = 120.0
    max_retry_after: float = 120.0
    default_retry_after: float = 5.0  # a 429 without a usable Retry-After


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date (RFC 9110 10.2.3).

    None when absent or unreadable; never negative."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    now = now or datetime.now(timezone.utc)
    return max(0.0, (when - now).total_seconds())


def backoff_delay(attempt: int, policy: RetryPolicy, rng: Callable[[], float] = random.random) -> float:
    """Full-jitter delay before retry number ``attempt`` (1-based)."""
    ceiling = min(policy.max_delay, policy.base_delay * (2 ** (attempt - 1)))
    return rng() * ceiling


@dataclass
class SendStats:
    """Counts of what went over the wire, for tests and metrics (API budget per comment)."""

    requests: int = 0
    retries: int = 0
    slept: float = 0.0


class RetryingSender:
    """Sends ``httpx.Request`` objects through an ``AsyncClient`` under a :class:`RetryPolicy`.

    ``to_error`` turns a final error response into the vendor-specific :class:`HelpdeskError`
    (so the vendor's message is kept); the sender itself only decides whether to try again.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        to_error: ErrorMapper,
        policy: RetryPolicy | None = None,
        sleep: Sleep | None = None,
        rng: Callable[[], float] | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.client = client
        self.to_error = to_error
        self.policy = policy or RetryPolicy()
        self.sleep: Sleep = sleep or asyncio.sleep
        self.rng = rng or random.random
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self.stats = SendStats()

    async def send(self, request: httpx.Request, *, idempotent: bool | None = None) -> httpx.Response:
        """Send until success, a final error, or the budget runs out. Returns a 2xx/3xx response."""
        if idempotent is None:
            idempotent = request.method in {"GET", "HEAD", "OPTIONS", "DELETE", "PUT"}
        policy = self.policy
        slept = 0.0
        attempt = 0
        while True:
            attempt += 1
            self.stats.requests += 1
            try:
                response = await self.client.send(request)
            except httpx.TransportError as exc:
                sent = not isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout))
                if sent and not idempotent:
                    raise _network_error(request, exc, attempt) from exc
                delay = backoff_delay(attempt, policy, self.rng)
                if attempt >= policy.max_attempts or slept + delay > policy.budget_seconds:
                    raise _network_error(request, exc, attempt) from exc
                log.info("%s %s: %s; retry %d in %.1fs", request.method, _path(request), type(exc).__name__,
                         attempt, delay)
                slept += await self._wait(delay)
                continue

            status = response.status_code
            if status < 400:
                return response
            await response.aread()
            refused_unprocessed = status == 429 or (status == 503 and "retry-after" in response.headers)
            if refused_unprocessed:
                wait = parse_retry_after(response.headers.get("retry-after"), now=self.clock())
                if wait is None:
                    wait = max(policy.default_retry_after, backoff_delay(attempt, policy, self.rng))
                if (
                    attempt >= policy.max_attempts
                    or wait > policy.max_retry_after
                    or slept + wait > policy.budget_seconds
                ):
                    raise _rate_limited(self.to_error(response), wait, attempt)
                log.info("%s %s: %d, Retry-After %.1fs (retry %d)", request.method, _path(request), status,
                         wait, attempt)
                slept += await self._wait(wait)
                continue
            if status >= 500 and idempotent:
                delay = backoff_delay(attempt, policy, self.rng)
                if attempt >= policy.max_attempts or slept + delay > policy.budget_seconds:
                    err = self.to_error(response)
                    err.args = (f"{err.args[0]} (gave up after {attempt} attempts)",)
                    raise err
                log.info("%s %s: %d; retry %d in %.1fs", request.method, _path(request), status, attempt, delay)
                slept += await self._wait(delay)
                continue
            raise self.to_error(response)

    async def _wait(self, seconds: float) -> float:
        self.stats.retries += 1
        self.stats.slept += seconds
        await self.sleep(seconds)
        return seconds


def _path(request: httpx.Request) -> str:
    return request.url.path  # never the query: it can carry customer emails in searches


def _network_error(request: httpx.Request, exc: Exception, attempts: int) -> HelpdeskError:
    return HelpdeskError(
        f"{request.method} {_path(request)}: network error after {attempts} attempt(s): {type(exc).__name__}: {exc}",
        method=request.method,
        url=str(request.url.copy_with(query=None)),
    )


def _rate_limited(err: HelpdeskError, wait: float, attempts: int) -> RateLimited:
    return RateLimited(
        f"{err.args[0]} (still limited after {attempts} attempt(s); server asks to wait {wait:.0f}s)",
        status=err.status,
        vendor_message=err.vendor_message,
        details={"retry_after": wait, "vendor": err.details},
        method=err.method,
        url=err.url,
    )
