"""Sliding rate windows: how many messages a customer (or a thread) sent within 1 hour, 24 hours,
7 days *before and including* a given message.

Computed from message timestamps only, never the wall clock, so a replay or a backfill gives the
answers live processing gave. Ties are broken by message id: a message counts the messages whose
``(received_at, id)`` sorts before its own, plus itself. A message exactly ``within`` older than
the new one is outside the window (the window is ``(t - within, t]``).

With a ``burst`` gap set, messages that follow the previous one within that gap are one contact
(a complaint split over several short messages, a forgotten attachment sent a minute later): the
window counts contacts, and ``messages`` keeps the raw number.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol

from gateway.contact.settings import RateWindow


class Stamped(Protocol):
    """What a window reads of a message: a Stamp, or a store row (``Candidate``) as it is."""

    @property
    def received_us(self) -> int: ...

    @property
    def id(self) -> str: ...


@dataclass(frozen=True)
class Stamp:
    """A message reduced to what a window needs."""

    received_us: int  # microseconds since the epoch
    id: str

    @property
    def key(self) -> tuple[int, str]:
        return (self.received_us, self.id)


@dataclass(frozen=True)
class WindowCount:
    """One window's count at one message, with the earlier messages it counted."""

    window: RateWindow
    count: int  # contacts, counting the message itself (= messages when no burst gap is set)
    related: list[str] = field(default_factory=list)  # ids of the earlier messages in the window
    messages: int = 0  # messages in the window, counting the message itself

    @property
    def breached(self) -> bool:
        return self.count > self.window.limit

    def to_json(self) -> dict[str, object]:
        return {
            "window": self.window.name,
            "scope": self.window.scope,
            "within_seconds": int(self.window.within.total_seconds()),
            "count": self.count,
            "messages": self.messages or self.count,
            "limit": self.window.limit,
            "breached": self.breached,
        }


def earlier_in_window(history: Sequence[Stamp], at: Stamp, window: RateWindow,
                      keys: Sequence[tuple[int, str]] | None = None) -> list[Stamp]:
    """The messages of ``history`` (sorted by key) inside ``window`` that come before ``at``.
    ``keys`` are the histories' keys when the caller already has them (several windows)."""
    start = at.received_us - int(window.within.total_seconds() * 1_000_000)
    if keys is None:
        keys = [h.key for h in history]
    lo = bisect.bisect_right(keys, (start, "\U0010ffff"))  # strictly after start
    hi = bisect.bisect_left(keys, at.key)  # strictly before the message itself
    return [h for h in history[lo:hi] if h.id != at.id]


def contacts(stamps: Sequence[Stamp], burst_us: int) -> int:
    """How many contacts a sorted run of messages is: a message within ``burst_us`` of the one
    before it continues that contact. ``burst_us == 0`` counts every message."""
    if burst_us <= 0:
        return len(stamps)
    return sum(1 for i, s in enumerate(stamps) if i == 0 or s.received_us - stamps[i - 1].received_us > burst_us)


def count_windows(
    windows: Sequence[RateWindow],
    at: Stamp,
    customer_history: Sequence[Stamped],
    thread_history: Sequence[Stamped],
    burst: timedelta = timedelta(0),
) -> list[WindowCount]:
    """Every configured window's count at message ``at``. Histories must be sorted by key and may
    contain ``at`` itself (it is counted once either way). Store rows can be passed as they are.

    (What ``earlier_in_window`` and ``contacts`` compute per window, with each history's sort
    keys and its end before ``at`` found once: this runs twice for every message.)"""
    burst_us = int(burst.total_seconds() * 1_000_000)
    at_us, at_id, at_key = at.received_us, at.id, at.key
    out: list[WindowCount] = []
    scopes: dict[str, tuple[Sequence[Stamped], list[tuple[int, str]], int]] = {}
    for window in windows:
        prepared = scopes.get(window.scope)
        if prepared is None:
            history = customer_history if window.scope == "customer" else thread_history
            keys = [(h.received_us, h.id) for h in history]
            prepared = scopes[window.scope] = (history, keys, bisect.bisect_left(keys, at_key))
        history, keys, hi = prepared
        start = at_us - _within_us(window)
        lo = bisect.bisect_right(keys, (start, "\U0010ffff"), 0, hi)  # strictly after start
        inside = [h for h in history[lo:hi] if h.id != at_id]
        count = len(inside) + 1
        if burst_us > 0 and inside:
            count = 1 + sum(1 for a, b in zip(inside, inside[1:]) if b.received_us - a.received_us > burst_us)
            count += at_us - inside[-1].received_us > burst_us
        out.append(WindowCount(window, count, [h.id for h in inside], len(inside) + 1))
    return out


_WITHIN_US: dict[timedelta, int] = {}


def _within_us(window: RateWindow) -> int:
    us = _WITHIN_US.get(window.within)
    if us is None:
        us = _WITHIN_US[window.within] = int(window.within.total_seconds() * 1_000_000)
    return us
