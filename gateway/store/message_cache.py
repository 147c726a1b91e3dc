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
they belong to. Bounded: spans hold at most ``MAX_SPAN_TOTAL`` rows together (the least recently
used spans go first; each span counts as one row more, so empty spans of one-message threads
cannot pile up), a span of more than ``MAX_SPAN_ROWS`` rows is dropped (the next read loads only
the range it asks for), and at most ``MAX_ROWS`` rows are kept by sequence number. Customer
summaries (``MAX_SUMMARIES``) and links (``MAX_LINKS``) are bounded the same way.
"""

from __future__ import annotations

import bisect
import sqlite3
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gateway.store.messages import Candidate

MAX_SPAN_TOTAL = 50_000
MAX_SPAN_ROWS = 2_000
MAX_ROWS = 20_000
MAX_SUMMARIES = 10_000  # customers whose message and finding counts are kept (~300 B each)
MAX_RECENT_CATEGORIES = 1_024
MAX_LINKS = 50_000

CANDIDATE_COLUMNS = "seq, id, customer, received_us, text, content_hash, thread"


@dataclass
class Span:
    """Every row of one key with ``received_us >= since_us``, sorted by (received_us, id)."""

    since_us: int
    rows: list["Candidate"] = field(default_factory=list)
    us: list[int] = field(default_factory=list)  # rows' received_us, for bisect

    def between(self, lo_us: int, hi_us: int) -> list["Candidate"]:
        """Rows with ``lo_us <= received_us <= hi_us`` (``lo_us >= since_us``)."""
        us = self.us
        return self.rows[bisect.bisect_left(us, lo_us) : bisect.bisect_right(us, hi_us)]

    def add(self, row: "Candidate") -> None:
        us = self.us
        at = bisect.bisect_right(us, row.received_us)
        rows = self.rows
        while at > 0 and us[at - 1] == row.received_us and rows[at - 1].id > row.id:
            at -= 1
        rows.insert(at, row)
        us.insert(at, row.received_us)


class MessageCache:
    """The shared cache of one Database; see the module docstring for when it is emptied."""

    def __init__(self) -> None:
        self.version: int | None = None
        self.pending: tuple[int, str] | None = None  # the last row inserted, until seen committed
        self.max_seq = 0  # highest sequence number cached: a new row at or below it means a rollback
        self.links: dict[str, tuple[str, list[str]]] = {}
        self.spans: OrderedDict[tuple[str, str], Span] = OrderedDict()
        self.span_rows = 0  # rows held by all spans
        self.by_seq: dict[int, "Candidate"] = {}
        # customer key (as stored) -> (messages, {category: messages with it}), kept up to date
        # by ``inserted``: ``customer_summary`` without a COUNT over the customer's history.
        self.summaries: OrderedDict[str, tuple[int, dict[str, int]]] = OrderedDict()
        # id -> (customer key, categories) of the rows this process inserted last, so a summary
        # can leave one of them out (the message being decided) without asking the table.
        self.recent_categories: OrderedDict[str, tuple[str, tuple[str, ...]]] = OrderedDict()
        self.summaries_paused = False  # a row's findings were replaced in the open transaction
        self._session = 0  # depth of open sessions
        self._synced = False  # checked once in the open session

    def clear(self) -> None:
        self.pending = None
        self.max_seq = 0
        self.links.clear()
        self.spans.clear()
        self.span_rows = 0
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
        categories recorded for it."""
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
        for name in (("customer", row.customer), ("thread", row.thread)):
            span = self.spans.get(name)
            if span is not None and row.received_us >= span.since_us:
                if len(span.rows) >= MAX_SPAN_ROWS:
                    self.span_rows -= len(self.spans.pop(name).rows)
                else:
                    span.add(row)
                    self.span_rows += 1

    def _remember(self, row: "Candidate") -> None:
        by_seq = self.by_seq
        if len(by_seq) >= MAX_ROWS and row.seq not in by_seq:
            del by_seq[next(iter(by_seq))]  # the oldest entry
        by_seq[row.seq] = row
        if row.seq > self.max_seq:
            self.max_seq = row.seq

    def span(self, conn: sqlite3.Connection, column: str, key: str, since_us: int) -> Span:
        """The rows of ``column = key`` from ``since_us`` on (from memory when they are there)."""
        from gateway.store.messages import Candidate

        name = (column, key)
        span = self.spans.get(name)
        if span is not None and span.since_us <= since_us:
            self.spans.move_to_end(name)
            return span
        rows = conn.execute(
            f"SELECT {CANDIDATE_COLUMNS} FROM messages WHERE {column} = ? AND received_us >= ? "
            "ORDER BY received_us, id",
            (key, since_us),
        ).fetchall()
        span = Span(since_us, [Candidate(*r) for r in rows], [r[3] for r in rows])
        for row in span.rows:
            if row.seq > self.max_seq:
                self.max_seq = row.seq
        old = self.spans.pop(name, None)
        if old is not None:
            self.span_rows -= len(old.rows)
        if len(span.rows) <= MAX_SPAN_ROWS:
            self.spans[name] = span
            self.span_rows += len(span.rows)
            # Each span counts as a row too: a new thread's span is empty, and there is one per
            # fresh mail, so counting rows alone would let empty spans pile up without bound.
            while self.span_rows + len(self.spans) > MAX_SPAN_TOTAL and len(self.spans) > 1:
                self.span_rows -= len(self.spans.popitem(last=False)[1].rows)
        return span

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

    def rows(self, conn: sqlite3.Connection, seqs: list[int]) -> list["Candidate"]:
        """The rows with these sequence numbers, ascending (unknown numbers are left out)."""
        from gateway.store.messages import Candidate

        get = self.by_seq.get
        found: list[Candidate] = []
        missing: list[int] = []
        for s in sorted(set(seqs)):
            row = get(s)
            if row is None:
                missing.append(s)
            else:
                found.append(row)
        if missing:
            marks = ",".join("?" * len(missing))
            for r in conn.execute(f"SELECT {CANDIDATE_COLUMNS} FROM messages WHERE seq IN ({marks})", missing):
                row = Candidate(*r)
                self._remember(row)
                found.append(row)
            found.sort(key=lambda c: c.seq)
        return found
