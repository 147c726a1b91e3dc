"""Process memory in front of the messages table: what the contact stage reads for every message
(a customer's and a thread's recent rows, campaign candidates by sequence number, customer links)
without a query each time.

SQLite stays the truth; this is a copy that is thrown away whenever it could be wrong:

* another connection committed (``PRAGMA data_version`` changed): a link made by the CLI, a purge
  run by cron, another daemon;
* a row this process inserted is gone, so its transaction rolled back: checked at the next
  :meth:`MessageCache.sync` (the last insert must still be there) and when a new row reuses a
  sequence number;
* ``purge_text`` or ``record_many`` through any store on the same Database (one cache per
  Database, shared by every store object on it); ``link_customers`` drops the remembered links
  (spans are per key as stored, so a link changes which spans are read, not what they hold).

A *span* holds every row of one customer key (or thread) received at or after ``since_us``, so any
time range that starts there is answered from memory; rows recorded later are added to the spans
they belong to.

Bounded by bytes, not rows: every cached row is weighed by what it holds (``row_bytes``: its
strings as Python sizes them, plus the objects around them), and spans together stay under
``MessageCache.max_span_bytes`` (``MAX_SPAN_BYTES`` by default; the least recently used spans go
first); one span takes at most a quarter of that (``SPAN_SHARE``), so one customer who wrote
thousands of messages is kept cut to what its readers need rather than pushing out everyone else
(or, as when spans were capped at 2,000 rows, read from the table again for each message). A row
the contact stage recorded arrives with its comparable text and sorted words
(``Candidate.comparable``): that is all its readers compare, so the raw text is not kept beside
them (``text`` is ``""`` in the cached row; None still means purged). A span
keeps only what its readers asked for: :meth:`MessageCache.tail` records the deepest need per
kind of key (all rows within a window of time, and the last so many rows before it: what rate
windows and the duplicate check read), and a span's front beyond that need is cut as new rows
arrive, so a long-running process holds the recent rows it reads, not all history. A span whose
newest row left every window is dropped at the next sweep (one-message threads). Rows kept by
sequence number (campaign candidates) are bounded by the reader's horizon (``rows(...,
since_us)``: older ones cannot be candidates) and at most ``MAX_ROWS``; customer summaries
(``MAX_SUMMARIES``) and links (``MAX_LINKS``) are bounded by counts.
"""

from __future__ import annotations

import bisect
import itertools
import logging
import sqlite3
import sys
import time
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from typing import TYPE_CHECKING, overload

if TYPE_CHECKING:
    from gateway.store.messages import Candidate

MAX_SPAN_BYTES = 64 * 1024 * 1024  # rows held by spans, weighed by ``row_bytes`` (a hard cap: see ``tail``)
SPAN_SHARE = 4  # one span holds at most this fraction (1/4) of the budget: one key cannot push out all others
MAX_ROWS = 65_536  # rows kept by sequence number at most (campaign candidates; mostly the spans' own rows)
SEQ_SLACK_US = 86_400_000_000  # rows by sequence number are kept a day beyond the reader's horizon
ROW_BYTES = 450  # a cached row's objects besides its texts (row, id, hash, times, tuple, list and dict slots)
LIGHT_ROW_BYTES = 300  # a light row (``Span.lighten``): the row, its id, times and list slots
SPAN_BYTES = 300  # an empty span (object, two lists, its key in the dict)
TRIM_SLACK = 8  # rows beyond the need a span may carry before its front is cut (amortized)
SWEEP_EVERY = 1_024  # inserts between sweeps for spans that left every window
MAX_SUMMARIES = 10_000  # customers whose message and finding counts are kept (~300 B each)
MAX_RECENT_CATEGORIES = 1_024
MAX_LINKS = 16_384  # customer keys whose links are kept (~300 B each)

HEAVY_WARN_EVERY = 3600.0  # seconds between warnings about one key too heavy to cache (``_install``)
MAX_WARNED = 1_024  # keys whose last such warning is remembered

CANDIDATE_COLUMNS = "seq, id, customer, received_us, text, content_hash, thread"
log = logging.getLogger(__name__)
_SERIALS = itertools.count(1)
_SEQ = attrgetter("seq")


@dataclass(eq=False, slots=True)
class Span:
    """Every row of one key with ``received_us >= since_us``, sorted by (received_us, id)."""

    since_us: int
    rows: list["Candidate"] = field(default_factory=list)
    us: list[int] = field(default_factory=list)  # rows' received_us, for bisect

    bytes: int = 0  # weight of the rows (``row_bytes``), for the cache's budget
    # Bumped whenever a row arrives that sorts before this span's newest row (a message older
    # than one already cached for the key): what was computed for the later rows may be stale.
    disorder: int = 0
    serial: int = field(default_factory=_SERIALS.__next__)  # tells a reloaded span from this one
    light: int = 0  # rows at the front ``lighten`` has been through (they are light, or were added later)

    def between(self, lo_us: int, hi_us: int) -> list["Candidate"]:
        """Rows with ``lo_us <= received_us <= hi_us`` (``lo_us >= since_us``)."""
        us = self.us
        return self.rows[bisect.bisect_left(us, lo_us) : bisect.bisect_right(us, hi_us)]

    def add(self, row: "Candidate") -> None:
        us = self.us
        received_us = row.received_us
        if not us or received_us > us[-1]:  # (the usual case: newer than every row)
            self.rows.append(row)
            us.append(received_us)
            return len(us) - 1
        at = bisect.bisect_right(us, row.received_us)
        rows = self.rows
        while at > 0 and us[at - 1] == row.received_us and rows[at - 1].id > row.id:
            at -= 1
        rows.insert(at, row)
        us.insert(at, row.received_us)
        if at < self.light:
            self.light += 1
        return at

    def lighten(self, keep_last: int) -> int:
        """Make every row but the last ``keep_last + 1`` a light copy of itself: its number, id,
        customer, time and thread, without text, comparable form or content hash — what the rate
        windows read (the duplicate check reads only the last ``keep_last - 1`` rows: the
        readers' stated need). Lets one key whose window holds thousands of rows (a flood) stay
        cached at about a third of the weight. Returns the bytes freed.

        A light row reads as a purged one (``text`` None) to anyone who looks further back than
        the need, and is told from one by its empty content hash (``row_bytes``)."""
        rows = self.rows
        end = len(rows) - keep_last - 1
        start = self.light
        if end <= start:
            return 0
        freed = 0
        for i in range(start, end):
            row = rows[i]
            if _is_light(row):
                continue
            freed += row_bytes(row) - LIGHT_ROW_BYTES
            rows[i] = type(row)(row.seq, row.id, row.customer, row.received_us, None, "", row.thread)
        self.light = end
        self.bytes -= freed
        return freed

    def cut(self, keep_last: int, window_us: int, depth_us: int) -> int:
        """Drop the front rows no reader needs (see ``MessageCache.tail``): keep every row within
        ``window_us`` of the newest one and the ``keep_last`` rows before the newest time, but
        nothing older than ``depth_us`` before the newest, so a read for any later message is
        still answered. Returns the bytes freed."""
        us = self.us
        if not us:
            return 0
        newest = us[-1]
        slack = TRIM_SLACK
        if slack > 0:
            # Nothing to cut unless the slack-th row lies before the front computed below:
            # before ``newest - depth_us``, or (with more than ``keep_last`` rows and the slack
            # before the newest one) before the window. Checked first: most inserts cut nothing.
            if len(us) < slack:
                return 0
            probe = us[slack - 1]
            if probe >= newest - depth_us and (probe > newest - window_us or len(us) - 1 - keep_last < slack):
                return 0
        front = newest - window_us + 1  # rows after ``newest - window_us``
        before = bisect.bisect_left(us, newest) - keep_last  # the last ``keep_last`` before ``newest``
        front = min(front, us[before]) if before > 0 else us[0]
        front = max(front, newest - depth_us)  # reads start at most this deep
        drop = bisect.bisect_left(us, front)
        if drop < TRIM_SLACK:
            return 0
        freed = sum(row_bytes(r) for r in self.rows[:drop])
        del self.rows[:drop]
        del us[:drop]
        self.light = max(0, self.light - drop)
        self.since_us = front
        self.bytes -= freed
        return freed


#: A range of a span's rows longer than this is handed out as a ``RowsView``, not a copy.
VIEW_MIN = 256


class RowsView(Sequence["Candidate"]):
    """``rows[lo:hi]`` of a span's list without copying it: a customer with thousands of rows in
    its windows (a flood) is read for every message, and the reader looks at a few of them (the
    ends, the last few hundred; the rate windows' ``Ledger`` only the rows added since). Valid
    until the cache next changes the span (a row recorded): the contact stage reads it within one
    message's step, before it records the message. Slices of it are views again when long, else
    lists; iterating runs over the list in C."""

    __slots__ = ("_rows", "_lo", "_hi")

    def __init__(self, rows: list["Candidate"], lo: int, hi: int) -> None:
        self._rows, self._lo, self._hi = rows, lo, hi

    def __len__(self) -> int:
        return self._hi - self._lo

    @overload
    def __getitem__(self, i: int) -> "Candidate": ...

    @overload
    def __getitem__(self, i: slice) -> "Sequence[Candidate]": ...

    def __getitem__(self, i: int | slice) -> "Candidate | Sequence[Candidate]":
        lo, n = self._lo, self._hi - self._lo
        if isinstance(i, slice):
            start, stop, step = i.indices(n)
            if step != 1:
                return self._rows[lo:self._hi][i]
            return _range_of(self._rows, lo + start, lo + max(start, stop))
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("row index out of range")
        return self._rows[lo + i]

    def __iter__(self) -> Iterator["Candidate"]:
        return itertools.islice(self._rows, self._lo, self._hi)

    def __repr__(self) -> str:
        return f"RowsView({list(self)!r})"


def _range_of(rows: list["Candidate"], lo: int, hi: int) -> "Sequence[Candidate]":
    """``rows[lo:hi]``: a list when short, a ``RowsView`` when long (``VIEW_MIN``)."""
    return RowsView(rows, lo, hi) if hi - lo > VIEW_MIN else rows[lo:hi]


def _is_light(row: "Candidate") -> bool:
    """Whether ``row`` is one of ``Span.lighten``'s: no text, comparable form or content hash (a
    purged row read from the table keeps its hash)."""
    return row.text is None and row.comparable is None and not row.content_hash


def row_bytes(row: "Candidate") -> int:
    """About what one cached row holds in memory: its objects and its strings. A row with its raw
    text (read from the table) counts it three times: the contact stage may attach a comparable
    text and sorted words to it later, each no larger. A row without (recorded by the contact
    stage) counts what ``comparable`` holds. The weight of a row never changes while it is cached
    (its text is set once; ``comparable`` is only ever attached to rows that have a text)."""
    text = row.text
    if text:
        return ROW_BYTES + 3 * sys.getsizeof(text)
    prepared = row.comparable
    if _is_light(row):
        return LIGHT_ROW_BYTES
    if isinstance(prepared, tuple):  # the contact stage's Comparable: strings and a flag
        if len(prepared) == 3 and type(prepared[0]) is str and type(prepared[1]) is not str and type(prepared[2]) is str:
            # (the usual shape, text, flag, words: the sum below, written out)
            return ROW_BYTES + sys.getsizeof(prepared[0]) + sys.getsizeof(prepared[2])
        return ROW_BYTES + sum([sys.getsizeof(part) for part in prepared if type(part) is str])
    return ROW_BYTES


class MessageCache:
    """The shared cache of one Database; see the module docstring for when it is emptied."""

    def __init__(self, max_span_bytes: int | None = None) -> None:
        #: the spans' byte budget (``MAX_SPAN_BYTES`` when None, read when applied)
        self.max_span_bytes = max_span_bytes
        self.version: int | None = None
        self.pending: tuple[int, str] | None = None  # the last row inserted, until seen committed
        self.max_seq = 0  # highest sequence number cached: a new row at or below it means a rollback
        self.links: dict[str, tuple[str, list[str]]] = {}
        self.spans: OrderedDict[tuple[str, str], Span] = OrderedDict()
        self.span_bytes = 0  # weight of all spans (rows and the spans themselves)
        # Per kind of key ("customer", "thread"): the deepest need readers stated (``tail``):
        # the last so many rows before a message, every row within so much time of it, and
        # nothing older than so much time before it.
        self.needs: dict[str, tuple[int, int, int]] = {}
        self._inserts = 0
        self._newest_us = 0  # the newest received time inserted (for the sweep)
        self.by_seq: dict[int, "Candidate"] = {}
        self.seq_horizon_us: int | None = None  # rows received before this are not asked for by number
        # customer key (as stored) -> (messages, {category: messages with it}), kept up to date
        # by ``inserted``: ``customer_summary`` without a COUNT over the customer's history.
        self.summaries: OrderedDict[str, tuple[int, dict[str, int]]] = OrderedDict()
        # id -> (customer key, categories) of the rows this process inserted last, so a summary
        # can leave one of them out (the message being decided) without asking the table.
        self.recent_categories: OrderedDict[str, tuple[str, tuple[str, ...]]] = OrderedDict()
        self.summaries_paused = False  # a row's findings were replaced in the open transaction
        self._session = 0  # depth of open sessions
        self.heavy_warned: dict[tuple[str, str], float] = {}  # key -> when ``_warn_heavy`` last spoke
        self._synced = False  # checked once in the open session

    def clear(self) -> None:
        self.pending = None
        self.max_seq = 0
        self.links.clear()
        self.spans.clear()
        self.span_bytes = 0
        self.by_seq.clear()
        self.summaries.clear()
        self.recent_categories.clear()

    # -- validity -------------------------------------------------------------------------------
    def sync(self, conn: sqlite3.Connection) -> None:
        """Empty the cache if another connection committed or our last insert was rolled back.
        Inside a session this runs once (a session is one tracker step: microseconds)."""
        if self._session and self._synced:
            return
        pending = self.pending
        if pending is None:
            version = conn.execute("PRAGMA data_version").fetchone()[0]
            ok = True
        else:
            version, found = conn.execute(
                "SELECT data_version, (SELECT id FROM messages WHERE seq = ?) FROM pragma_data_version", (pending[0],)
            ).fetchone()
            ok = found == pending[1]
            if ok and not conn.in_transaction:
                self.pending = None  # committed for good
        if not ok or version != self.version:
            self.clear()
            self.version = version
        if self.summaries_paused and not conn.in_transaction:
            # The transaction that replaced a row's findings ended (committed or rolled back):
            # what the summaries counted is unknown, so they are read again.
            self.summaries.clear()
            self.recent_categories.clear()
            self.summaries_paused = False
        if len(self.links) > MAX_LINKS:
            self.links.clear()
        if self._session:
            self._synced = True

    def enter(self) -> None:
        if not self._session:
            self._synced = False
        self._session += 1

    def leave(self) -> None:
        self._session -= 1
        if not self._session:
            self._synced = False

    # -- rows -----------------------------------------------------------------------------------
    def inserted(self, row: "Candidate", categories: tuple[str, ...] = ()) -> None:
        """A row this process just inserted (inside the caller's transaction), with the finding
        categories recorded for it. A row that carries its ``comparable`` form is kept without
        its raw text (see the module docstring)."""
        if row.comparable is not None and row.text:
            row = type(row)(row.seq, row.id, row.customer, row.received_us, "", row.content_hash, row.thread,
                            row.comparable)
        if row.seq <= self.max_seq:
            self.clear()  # a rolled-back insert's sequence number came back: cached rows may be gone
        self.pending = (row.seq, row.id)
        self._remember(row)
        summary = self.summaries.get(row.customer)
        if summary is not None:
            counts = summary[1]
            for category in categories:
                counts[category] = counts.get(category, 0) + 1
            self.summaries[row.customer] = (summary[0] + 1, counts)
        recent = self.recent_categories
        if len(recent) >= MAX_RECENT_CATEGORIES:
            recent.popitem(last=False)
        recent[row.id] = (row.customer, categories)
        if row.received_us > self._newest_us:
            self._newest_us = row.received_us
        weight = 0  # row_bytes(row), once for both spans
        received_us = row.received_us
        for name in (("customer", row.customer), ("thread", row.thread)):
            span = self.spans.get(name)
            if span is None:
                continue
            if row.received_us < span.since_us:
                span.disorder += 1  # older than the span's front: it stays out, but it is news
                continue
            if not weight:
                weight = row_bytes(row)
            need = self.needs.get(name[0])
            cap = self._span_cap()
            if span.bytes + weight > cap and need is not None:
                # what its readers need of it may still fit: cut, then light rows
                self.span_bytes -= span.cut(*need)
                if span.bytes + weight > cap:
                    self.span_bytes -= span.lighten(need[0])
            if span.bytes + weight > cap:
                self.span_bytes -= self.spans.pop(name).bytes + SPAN_BYTES
                if need is not None:  # (its readers will read it from the table for each message)
                    self._warn_heavy(name, span)
                continue
            us = span.us
            if not us or received_us > us[-1]:  # (``Span.add``'s usual case, written out: appended, last)
                span.rows.append(row)
                us.append(received_us)
            elif span.add(row) < len(span.rows) - 1:
                span.disorder += 1  # landed before a later row of its key
            span.bytes += weight
            self.span_bytes += weight
            if need is not None and len(us) >= TRIM_SLACK:  # (``Span.cut`` cuts nothing from fewer rows)
                self.span_bytes -= span.cut(*need)
        self._inserts += 1
        if self._inserts % SWEEP_EVERY == 0:
            self._sweep()
        if self.span_bytes > self._budget():
            self._fit()

    def _budget(self) -> int:
        """What all spans together may weigh (``max_span_bytes``, else ``MAX_SPAN_BYTES``)."""
        return MAX_SPAN_BYTES if self.max_span_bytes is None else self.max_span_bytes

    def _span_cap(self) -> int:
        """The most one span may weigh: a share of the budget (``SPAN_SHARE``)."""
        return self._budget() // SPAN_SHARE

    def _fit(self) -> None:
        """Drop the least recently used spans until all fit the byte budget."""
        spans = self.spans
        budget = self._budget()
        while self.span_bytes > budget and len(spans) > 1:
            self.span_bytes -= spans.popitem(last=False)[1].bytes + SPAN_BYTES

    def _sweep(self) -> None:
        """Drop spans whose newest row (or start, when empty) is older than every window any
        reader asked for: a later message cannot read them (an older one reloads them)."""
        if not self.needs:
            return
        stale: list[tuple[str, str]] = []
        for name, span in self.spans.items():
            need = self.needs.get(name[0])
            if need is None or need[0] > 0:
                continue  # the last rows are needed however old (customers' duplicate check)
            newest = span.us[-1] if span.us else span.since_us
            if newest < self._newest_us - need[1]:
                stale.append(name)
        for name in stale:
            self.span_bytes -= self.spans.pop(name).bytes + SPAN_BYTES

    def _remember(self, row: "Candidate") -> None:
        by_seq = self.by_seq
        if row.seq not in by_seq:
            horizon = self.seq_horizon_us
            while horizon is not None and by_seq:  # drop the oldest entries received before the horizon
                first = next(iter(by_seq.values()))
                if first.received_us >= horizon:
                    break
                del by_seq[first.seq]
            if len(by_seq) >= MAX_ROWS:
                del by_seq[next(iter(by_seq))]  # the oldest entry
        by_seq[row.seq] = row
        if row.seq > self.max_seq:
            self.max_seq = row.seq

    def span(self, conn: sqlite3.Connection, column: str, key: str, since_us: int) -> Span:
        """The rows of ``column = key`` from ``since_us`` on (from memory when they are there)."""
        name = (column, key)
        span = self.spans.get(name)
        if span is not None and span.since_us <= since_us:
            self.spans.move_to_end(name)
            return span
        return self._read(conn, column, key, since_us)

    def _read(self, conn: sqlite3.Connection, column: str, key: str, since_us: int) -> Span:
        """The rows of ``column = key`` from ``since_us`` on, read from the table (and cached)."""
        name = (column, key)
        rows = conn.execute(
            f"SELECT {CANDIDATE_COLUMNS} FROM messages WHERE {column} = ? AND received_us >= ? "
            "ORDER BY received_us, id",
            (key, since_us),
        ).fetchall()
        return self._install(name, Span(since_us, [_candidate(r) for r in rows], [r[3] for r in rows]))

    def _warn_heavy(self, name: tuple[str, str], span: Span) -> None:
        """Say (at most once an hour per key) that a key's rows are read from the table for each
        of its messages: one address that writes thousands of messages a week (a flood) costs
        every message of it a read of them all, which slows the whole mailbox."""
        now = time.monotonic()
        warned = self.heavy_warned
        last = warned.get(name)
        if last is not None and now - last < HEAVY_WARN_EVERY:
            return
        if len(warned) >= MAX_WARNED:
            warned.clear()
        warned[name] = now
        budget = self._budget()
        # (the log's fields are a fixed list: a thread's key is its first message's id)
        log.warning(
            "recent mail of one %s is too heavy for the row cache (%d MiB, one key at most %d MiB): each of its "
            "messages reads it from the store; raise store.cache_mb, or rate-limit the sender at the mail server",
            name[0], budget >> 20, self._span_cap() >> 20,
            extra={"customer" if name[0] == "customer" else "message_id": name[1], "count": len(span.rows)})

    def _install(self, name: tuple[str, str], span: Span) -> Span:
        """Keep a span just read from the table (replacing the key's older one) within the budget,
        and return it whole. A span heavier than one span may be (``_span_cap``: a customer who
        wrote thousands of messages within the lookback) is kept cut to what its readers need
        (``Span.cut``, when they have said: a copy, so the caller still gets every row it asked
        for), and when that is still too heavy with light rows beyond the last ones its readers
        need whole (``Span.lighten``); only when even that is too heavy is nothing kept, and the
        key is read again (and the operator told: ``_warn_heavy``)."""
        rows = span.rows
        if rows:  # (a new thread's span is empty: one per fresh mail)
            span.bytes = sum(map(row_bytes, rows))
            top = max(map(_SEQ, rows))
            if top > self.max_seq:
                self.max_seq = top
        old = self.spans.pop(name, None)
        if old is not None:
            self.span_bytes -= old.bytes + SPAN_BYTES
        kept: Span | None = span
        cap = self._span_cap()
        need = None
        if span.bytes > cap:
            kept = None
            need = self.needs.get(name[0])
            if need is not None:
                trimmed = Span(span.since_us, list(rows), list(span.us), span.bytes)
                trimmed.cut(*need)  # (lowers its ``bytes``)
                if trimmed.bytes > cap:
                    trimmed.lighten(need[0])  # (the caller still gets the rows as read)
                if trimmed.bytes <= cap:
                    kept = trimmed
        if kept is None:
            if need is not None:  # (readers that said what they need will read it again each time)
                self._warn_heavy(name, span)
        else:
            self.spans[name] = kept
            # Each span weighs something even when empty: a new thread's span is, and there is
            # one per fresh mail, so counting rows alone would let empty spans pile up.
            self.span_bytes += kept.bytes + SPAN_BYTES
            self._fit()
        return span

    def preload(self, conn: sqlite3.Connection, column: str, keys: list[str], since_us: int) -> None:
        """Load the spans of several keys from ``since_us`` on in one query (those not cached at
        all: a cached span, maybe cut to what its readers need, is left to ``tail`` to judge): a
        batch of messages asks the table once instead of once each."""
        spans = self.spans
        wanted = sorted({k for k in keys if (column, k) not in spans})
        for i in range(0, len(wanted), 500):
            part = wanted[i : i + 500]
            found: dict[str, list[Candidate]] = {k: [] for k in part}
            marks = ",".join("?" * len(part))
            for r in conn.execute(
                f"SELECT {CANDIDATE_COLUMNS} FROM messages WHERE {column} IN ({marks}) AND received_us >= ? "
                "ORDER BY received_us, id",
                (*part, since_us),
            ):
                row = _candidate(r)
                found[row.customer if column == "customer" else row.thread].append(row)
            for key, rows in found.items():
                self._install((column, key), Span(since_us, rows, [r.received_us for r in rows]))

    def tail(self, conn: sqlite3.Connection, column: str, key: str, since_us: int, until_us: int,
             window_us: int, last: int) -> Sequence["Candidate"]:
        """Rows of ``column = key`` in [``since_us``, ``until_us``], or only their newest part:
        every row after ``until_us - window_us`` and at least the ``last`` rows received before
        ``until_us`` (all of them when there are fewer); always a whole suffix of the range. The
        need is remembered per ``column`` and spans keep no more than it (see ``Span.cut``)."""
        need = self.needs.get(column)
        depth_us = until_us - since_us
        if need is None or need[0] < last or need[1] < window_us or need[2] < depth_us:
            self.needs[column] = (max(last, need[0] if need else 0), max(window_us, need[1] if need else 0),
                                  max(depth_us, need[2] if need else 0))
        name = (column, key)
        span = self.spans.get(name)
        if span is not None and span.since_us <= until_us - window_us + 1:
            lo = max(since_us, span.since_us)
            us = span.us
            if span.light:
                # The last ``last`` rows before ``until_us`` must be whole, not light (``lighten``
                # keeps the newest rows whole; a message older than many of the key's cached
                # rows reads further back): if not, the rows are read from the table.
                answered = bisect.bisect_left(us, until_us) - last >= span.light
                if not answered and span.since_us <= since_us:
                    return self._read(conn, column, key, since_us).between(since_us, until_us)
            else:
                answered = span.since_us <= since_us or bisect.bisect_left(us, until_us) >= last
            if answered:
                self.spans.move_to_end(name)
                # (``between``, a view when long)
                return _range_of(span.rows, bisect.bisect_left(us, lo), bisect.bisect_right(us, until_us))  # type: ignore[return-value]
        return self.span(conn, column, key, since_us).between(since_us, until_us)

    def replaced(self) -> None:
        """A stored row's findings were replaced: no summaries until the transaction ends."""
        self.summaries.clear()
        self.recent_categories.clear()
        self.summaries_paused = True

    def summary(self, conn: sqlite3.Connection, keys: list[str], exclude: str) -> tuple[int, dict[str, int]] | None:
        """Messages and finding counts of the customer keys ``keys``, leaving out message
        ``exclude`` — what ``SqliteMessageStore.customer_summary`` counts; None when only the
        table can tell (the excluded message is not one this process inserted lately)."""
        if self.summaries_paused:
            return None
        own = None
        if exclude:
            own = self.recent_categories.get(exclude)
            if own is None:
                return None
        total = 0
        counts: dict[str, int] = {}
        summaries = self.summaries
        for key in keys:
            summary = summaries.get(key)
            if summary is None:
                summary = self._load_summary(conn, key)
            else:
                summaries.move_to_end(key)
            total += summary[0]
            if not counts:  # (the first key, usually the only one: a copy)
                counts = dict(summary[1])
                continue
            for category, n in summary[1].items():
                counts[category] = counts.get(category, 0) + n
        if own is not None and own[0] in keys:
            total -= 1
            for category in own[1]:
                counts[category] -= 1
        return total, {c: n for c, n in sorted(counts.items()) if n}

    def _load_summary(self, conn: sqlite3.Connection, key: str) -> tuple[int, dict[str, int]]:
        rows = conn.execute(
            "SELECT NULL, COUNT(*) FROM messages WHERE customer = ? UNION ALL "
            "SELECT f.category, COUNT(*) FROM message_findings f JOIN messages m ON m.seq = f.message_seq "
            "WHERE m.customer = ? GROUP BY f.category",
            (key, key),
        ).fetchall()
        summary = (int(rows[0][1]), {r[0]: int(r[1]) for r in rows[1:]})
        if len(self.summaries) >= MAX_SUMMARIES:
            self.summaries.popitem(last=False)
        self.summaries[key] = summary
        return summary

    def rows(self, conn: sqlite3.Connection, seqs: list[int], since_us: int | None = None) -> list["Candidate"]:
        """The rows with these sequence numbers, ascending (unknown numbers are left out). With
        ``since_us`` the caller says it will never ask for rows received before it (minus a day of
        slack), so rows kept by number go once older than that."""
        if since_us is not None:
            horizon = since_us - SEQ_SLACK_US
            if self.seq_horizon_us is None or horizon > self.seq_horizon_us:
                self.seq_horizon_us = horizon
        wanted = sorted(set(seqs))
        got = list(map(self.by_seq.get, wanted))
        found: list[Candidate] = list(filter(None, got))  # (a row is always true; None is a miss)
        missing: list[int] = []
        if len(found) < len(got):
            missing = [s for s, row in zip(wanted, got) if row is None]
        if missing:
            marks = ",".join("?" * len(missing))
            for r in conn.execute(f"SELECT {CANDIDATE_COLUMNS} FROM messages WHERE seq IN ({marks})", missing):
                row = _candidate(r)
                self._remember(row)
                found.append(row)
            found.sort(key=lambda c: c.seq)
        return found


def _candidate(r: tuple) -> "Candidate":  # type: ignore[type-arg]
    """A row read from the table (``CANDIDATE_COLUMNS``) as a Candidate; the customer key is
    interned (one string per customer however many rows), and a thread equal to the message id
    (a fresh mail is its own thread) shares the id's string."""
    from gateway.store.messages import Candidate

    seq, mid, customer, received_us, text, content_hash, thread = r
    return Candidate(seq, mid, sys.intern(customer), received_us, text, content_hash, mid if thread == mid else thread)
