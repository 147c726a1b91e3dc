"""Sliding rate windows: how many messages a customer (or a thread) sent within 1 hour, 24 hours,
7 days *before and including* a given message.

Computed from message timestamps only, never the wall clock, so a replay or a backfill gives the
answers live processing gave. Ties are broken by message id: a message counts the messages whose
``(received_at, id)`` sorts before its own, plus itself. A message exactly ``within`` older than
the new one is outside the window (the window is ``(t - within, t]``).

With a ``burst`` gap set, messages that follow the previous one within that gap are one contact
(a complaint split over several short messages, a forgotten attachment sent a minute later): the
window counts contacts, and ``messages`` keeps the raw number. With ``burst_max`` set, a contact
holds at most that many messages, counted from its first inside the window: mail every few
seconds for an hour is a flood, not one long complaint.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from itertools import accumulate, compress, pairwise
from operator import attrgetter, sub
from typing import Protocol

from gateway.contact.settings import RateWindow

RELATED = 256  # the earlier messages' ids a WindowCount keeps: the latest this many

_RECEIVED_US = attrgetter("received_us")
_ID = attrgetter("id")


class Stamped(Protocol):
    """What a window reads of a message: a Stamp, or a store row (``Candidate``) as it is."""

    @property
    def received_us(self) -> int: ...

    @property
    def id(self) -> str: ...


@dataclass(slots=True)
class Stamp:
    """A message reduced to what a window needs. (Not frozen, like ``WindowCount``: a frozen
    dataclass costs three times as much to make, and these are made for every message; nothing
    changes them.)"""

    received_us: int  # microseconds since the epoch
    id: str

    @property
    def key(self) -> tuple[int, str]:
        return (self.received_us, self.id)


@dataclass(slots=True)
class WindowCount:
    """One window's count at one message, with the earlier messages it counted."""

    window: RateWindow
    count: int  # contacts, counting the message itself (= messages when no burst gap is set)
    # ids of the earlier messages in the window, the latest ``RELATED`` of them (a flood's window
    # holds thousands; findings cite the latest few)
    related: list[str] = field(default_factory=list)
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


def contacts(stamps: Sequence[Stamped], burst_us: int, max_run: int = 0) -> int:
    """How many contacts a sorted run of messages is: a message within ``burst_us`` of the one
    before it continues that contact, unless the contact already has ``max_run`` messages (0: no
    limit). ``burst_us == 0`` counts every message."""
    if burst_us <= 0:
        return len(stamps)
    if max_run <= 0:
        return sum(1 for i, s in enumerate(stamps) if i == 0 or s.received_us - stamps[i - 1].received_us > burst_us)
    return _run_contacts([s.received_us for s in stamps], burst_us, max_run)


def _run_contacts(times: Sequence[int], burst_us: int, max_run: int) -> int:
    """``contacts`` of messages at ``times`` (sorted, not empty) with a limit of ``max_run``
    messages a contact: a contact ends at a gap longer than ``burst_us`` or at its
    ``max_run``-th message."""
    count, run, previous = 1, 1, times[0]
    for t in times[1:]:
        if t - previous > burst_us or run >= max_run:
            count += 1
            run = 1
        else:
            run += 1
        previous = t
    return count


def count_windows(
    windows: Sequence[RateWindow],
    at: Stamp,
    customer_history: Sequence[Stamped],
    thread_history: Sequence[Stamped],
    burst: timedelta = timedelta(0),
    burst_max: int = 0,
) -> list[WindowCount]:
    """Every configured window's count at message ``at``. Histories must be sorted by key and may
    contain ``at`` itself (it is counted once either way). Store rows can be passed as they are.

    (What ``earlier_in_window`` and ``contacts`` compute per window, with each history's sort
    keys and its end before ``at`` found once: this runs twice for every message.)"""
    return _count_windows(windows, at, customer_history, thread_history, int(burst.total_seconds() * 1_000_000), {},
                          burst_max)


def _count_windows(windows: Sequence[RateWindow], at: Stamp, customer_history: Sequence[Stamped],
                   thread_history: Sequence[Stamped], burst_us: int,
                   scopes: dict[bool, tuple[list[int], list[str], int, list[int]] | None],
                   max_run: int = 0) -> list[WindowCount]:
    """``count_windows``, given the ``_scope`` of the histories already prepared (by customer or
    not: what ``breached_counts`` worked out before it found a breach; each is a pass over the
    whole history, and a customer who writes thousands of messages a week has that many rows)."""
    at_us, at_id = at.received_us, at.id
    plan = _plan(windows)
    out: list[WindowCount] = [None] * len(windows)  # type: ignore[list-item]
    for customer, members in plan:
        history = customer_history if customer else thread_history
        scope = scopes[customer] if customer in scopes else _scope(history, at_us, at_id, burst_us, max_run)
        if scope is None:  # the message's own id among the earlier rows: count it the long way
            for i, window, _ in members:
                out[i] = _count_slowly(window, at, history, burst_us, max_run)
            continue
        us, ids, hi, starts = scope
        if burst_us > 0 and hi and max_run > 0:
            joins = at_us - us[hi - 1] <= burst_us
            for i, window, within_us in members:
                lo = bisect.bisect_right(us, at_us - within_us, 0, hi)
                out[i] = WindowCount(window, _capped_contacts(starts, lo, hi, joins, max_run), ids[max(lo, hi - RELATED):hi],
                                     hi - lo + 1)
        elif burst_us > 0 and hi:
            # contacts in rows lo..hi-1 plus the message: 1 + starts[hi] - starts[lo + 1] + (the
            # message more than the gap after the row before it); 1 when no row is inside
            whole = 1 + starts[hi] + (at_us - us[hi - 1] > burst_us)
            for i, window, within_us in members:
                lo = bisect.bisect_right(us, at_us - within_us, 0, hi)  # strictly after start
                out[i] = WindowCount(window, whole - starts[lo + 1] if lo < hi else 1,
                                     ids[max(lo, hi - RELATED):hi], hi - lo + 1)
        else:
            for i, window, within_us in members:
                lo = bisect.bisect_right(us, at_us - within_us, 0, hi)
                out[i] = WindowCount(window, hi - lo + 1, ids[max(lo, hi - RELATED):hi], hi - lo + 1)
    return out


def breached_counts(
    windows: Sequence[RateWindow],
    at: Stamp,
    customer_history: Sequence[Stamped],
    thread_history: Sequence[Stamped],
    burst: timedelta = timedelta(0),
    burst_max: int = 0,
    prepared: dict[bool, tuple[list[int], list[str], int, list[int]]] | None = None,
) -> list[WindowCount] | None:
    """``count_windows(...)`` when at least one window is breached, else None: most messages
    breach nothing, and then only the counts are worked out, not a ``WindowCount`` each.
    ``prepared``: the ``_scope`` of the customer's history (key True) or the thread's (False)
    when the caller has it already (a ``Ledger``'s)."""
    burst_us = int(burst.total_seconds() * 1_000_000)
    at_us, at_id = at.received_us, at.id
    scopes: dict[bool, tuple[list[int], list[str], int, list[int]] | None] = dict(prepared) if prepared else {}
    for customer, members in _plan(windows):
        if customer in scopes:
            scope = scopes[customer]
        else:
            scope = scopes[customer] = _scope(customer_history if customer else thread_history, at_us, at_id,
                                              burst_us, burst_max)
        if scope is None:  # (the message's own id among the earlier rows: the long way)
            return _count_windows(windows, at, customer_history, thread_history, burst_us, scopes, burst_max)
        us, _, hi, starts = scope
        if burst_us > 0 and hi and burst_max > 0:
            joins = at_us - us[hi - 1] <= burst_us
            for _, window, within_us in members:
                lo = bisect.bisect_right(us, at_us - within_us, 0, hi)
                # (at most 1 + the rows inside: only a window that many rows could breach is counted)
                if hi - lo + 1 > window.limit and _capped_contacts(starts, lo, hi, joins, burst_max) > window.limit:
                    return _count_windows(windows, at, customer_history, thread_history, burst_us, scopes, burst_max)
        elif burst_us > 0 and hi:
            whole = 1 + starts[hi] + (at_us - us[hi - 1] > burst_us)
            for _, window, within_us in members:
                lo = bisect.bisect_right(us, at_us - within_us, 0, hi)
                if (whole - starts[lo + 1] if lo < hi else 1) > window.limit:
                    return _count_windows(windows, at, customer_history, thread_history, burst_us, scopes, burst_max)
        else:
            for _, window, within_us in members:
                if hi - bisect.bisect_right(us, at_us - within_us, 0, hi) + 1 > window.limit:
                    return _count_windows(windows, at, customer_history, thread_history, burst_us, scopes, burst_max)
    return None


Plan = list[tuple[bool, list[tuple[int, RateWindow, int]]]]

#: windows (by identity) -> (the windows, their plan)
_PLANS: dict[int, tuple[Sequence[RateWindow], Plan]] = {}


def _plan(windows: Sequence[RateWindow]) -> Plan:
    """The windows grouped by scope (customer first when it comes first), each with its place
    in the answer and its length in µs: worked out once per settings object (a tuple: the
    settings' windows never change) instead of once per window per message."""
    if type(windows) is tuple:
        got = _PLANS.get(id(windows))
        if got is not None and got[0] is windows:
            return got[1]
    groups: dict[bool, list[tuple[int, RateWindow, int]]] = {}
    for i, w in enumerate(windows):
        groups.setdefault(w.scope == "customer", []).append((i, w, _within_us(w)))
    plan = list(groups.items())
    if type(windows) is tuple:
        if len(_PLANS) >= 64:
            _PLANS.clear()
        _PLANS[id(windows)] = (windows, plan)
    return plan


def _scope(history: Sequence[Stamped], at_us: int, at_id: str, burst_us: int,
           max_run: int = 0) -> tuple[list[int], list[str], int, list[int]] | None:
    """One history's rows before the message, prepared once for all its windows: times, the
    number of rows before the message (``hi``), their ids, and for a burst gap the running
    number of contacts (a message more than the gap after the one before it starts a new
    contact), so each window costs one bisect; with a limit of ``max_run`` messages a contact,
    instead the positions of the rows that follow a gap (``_capped_contacts`` counts a window
    from them). None when the message's own id is among them."""
    us = list(map(_RECEIVED_US, history))
    hi = bisect.bisect_left(us, at_us)
    while hi < len(history) and us[hi] == at_us and history[hi].id < at_id:
        hi += 1  # the same time, an id before the message's: earlier (ties by id)
    ids = list(map(_ID, history[:hi]))
    if at_id in ids:
        return None
    return us, ids, hi, _marks(us, hi, burst_us, max_run)


def _marks(us: list[int], hi: int, burst_us: int, max_run: int) -> list[int]:
    """``_scope``'s fourth item for the first ``hi`` times ``us``: with a limit of ``max_run``
    messages a contact, the rows (1..hi-1) more than the gap after their predecessor; with a gap
    alone, ``starts[i]``: rows among the first i that start a contact after their predecessor
    (starts[0] = starts[1] = 0), as one running sum over the gaps; otherwise nothing. All in C."""
    if burst_us > 0 and max_run > 0:
        return list(compress(range(1, hi), map(burst_us.__lt__, map(sub, us[1:hi], us))))
    if burst_us > 0:
        return [0, *accumulate(map(burst_us.__lt__, map(sub, us[1:hi], us)), initial=0)]
    return []


#: A history at least this long is worth a ``Ledger``: shorter ones cost less to prepare afresh
#: than the ledger's checks (most customers and threads have a few rows a week).
LEDGER_MIN_ROWS = 128


class Ledger:
    """``_scope`` of one key's history (a customer's or a thread's earlier rows), kept from one
    of the key's messages to its next so that a key with thousands of rows (a customer flooding
    the mailbox) costs the rows added since, not every row again.

    The next message's history is the one before less rows at its front (out of the windows)
    and plus rows at its end (the messages recorded since), when the store vouches through its
    token (``SqliteMessageStore.watch``: the same while the key's cached rows only grew after
    their newest and lost rows at their front). ``scope`` checks that shape at the two ends of
    the kept part, by time and id (a message id is one row: with the token, nothing can have
    changed between them; a row left out between them, the message's own, moves the far end),
    and otherwise starts again from the history it is given. It keeps times and ids only, not
    the rows (the store's cache may replace or drop those).

    What it returns is ``_scope``'s answer for the ledger's rows, which may begin with rows older
    than the history's first: all of them older than every window's start (they were dropped
    from the history because they are), so counting from position 0 finds the same rows."""

    __slots__ = ("burst_us", "ids", "marks", "max_run", "token", "us")

    def __init__(self) -> None:
        self.token: object = None
        self.us: list[int] = []
        self.ids: list[str] = []
        self.marks: list[int] = []  # ``_scope``'s fourth item over the kept rows
        self.burst_us = 0
        self.max_run = 0

    def scope(self, history: Sequence[Stamped], token: object, burst_us: int,
              max_run: int = 0) -> tuple[list[int], list[str], int, list[int]]:
        """``_scope(history, at_us, at_id, burst_us, max_run)`` for a ``history`` whose rows all
        come before the message and none of which is the message itself (the contact stage's
        ``_earlier`` rows: then ``hi`` is every row). ``token`` is the store's for the key now."""
        us, ids = self.us, self.ids
        n = len(us)
        k = -1
        if token is not None and token == self.token and history and n and burst_us == self.burst_us \
                and max_run == self.max_run:
            first = history[0]
            first_us, first_id = first.received_us, first.id
            k = bisect.bisect_left(us, first_us)
            while k < n and us[k] == first_us and ids[k] != first_id:
                k += 1  # (rows at the same time: found by id)
            if k < n and ids[k] == first_id and len(history) >= n - k:
                last = history[n - k - 1]
                if last.id != ids[-1] or last.received_us != us[-1]:
                    k = -1
            else:
                k = -1
        if k < 0 or (k > LEDGER_MIN_ROWS and 2 * k > n):
            # (or most of the kept rows left the windows: started again from the history, at
            # most once per as many messages as rows dropped)
            self._restart(history, token, burst_us, max_run)
        else:
            self._extend(history[n - k :])
        return self.us, self.ids, len(self.us), self.marks

    def _restart(self, history: Sequence[Stamped], token: object, burst_us: int, max_run: int) -> None:
        self.token, self.burst_us, self.max_run = token, burst_us, max_run
        self.us = list(map(_RECEIVED_US, history))
        self.ids = list(map(_ID, history))
        self.marks = _marks(self.us, len(self.us), burst_us, max_run)

    def _extend(self, added: Sequence[Stamped]) -> None:
        """Append rows that sort after every kept row, keeping ``marks`` as ``_restart`` makes them."""
        us, ids, marks, burst_us = self.us, self.ids, self.marks, self.burst_us
        for row in added:
            received_us = row.received_us
            gap = bool(us) and received_us - us[-1] > burst_us
            if burst_us > 0 and self.max_run > 0:
                if gap:
                    marks.append(len(us))
            elif burst_us > 0:
                # marks[i]: rows among the first i that follow a gap (``[0, 0]`` for no row or one)
                if us:
                    marks.append(marks[-1] + gap)
                else:
                    marks[:] = [0, 0]
            us.append(received_us)
            ids.append(row.id)


def _capped_contacts(gaps: list[int], lo: int, hi: int, joins: bool, max_run: int) -> int:
    """The contacts of rows ``lo..hi-1`` and the message after them (``joins``: within the gap of
    row ``hi - 1``), a contact ending at a gap (``gaps``: the rows after one, ascending) or at its
    ``max_run``-th message: each stretch between gaps is ``ceil(length / max_run)`` contacts.
    ``_run_contacts`` message by message, in steps of stretches (a flood is one long stretch)."""
    if lo >= hi:
        return 1
    bounds = [lo, *gaps[bisect.bisect_right(gaps, lo) : bisect.bisect_left(gaps, hi)], hi]
    count = sum(-(-(b - a) // max_run) for a, b in pairwise(bounds))
    # the message: a new contact after a gap, or when the last stretch filled its last contact
    return count + (not joins or (hi - bounds[-2]) % max_run == 0)


def _count_slowly(window: RateWindow, at: Stamp, history: Sequence[Stamped], burst_us: int,
                  max_run: int = 0) -> WindowCount:
    """One window's count, message by message (what ``_scope`` prepares faster)."""
    keys = [(h.received_us, h.id) for h in history]
    hi = bisect.bisect_left(keys, at.key)
    lo = bisect.bisect_right(keys, (at.received_us - _within_us(window), "\U0010ffff"), 0, hi)
    inside = [h for h in history[lo:hi] if h.id != at.id]
    return WindowCount(window, contacts([*inside, at], burst_us, max_run), [h.id for h in inside[-RELATED:]],
                       len(inside) + 1)


_WITHIN_US: dict[timedelta, int] = {}


def _within_us(window: RateWindow) -> int:
    us = _WITHIN_US.get(window.within)
    if us is None:
        us = _WITHIN_US[window.within] = int(window.within.total_seconds() * 1_000_000)
    return us
