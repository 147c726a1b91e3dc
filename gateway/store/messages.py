"""The message store: what the contact stage remembers about every customer message.

Per message: id, source, customer key, thread key, received time, language, fingerprints (an
exact-repeat hash and LSH band keys), and the findings recorded for it. The text itself is kept
only while the retention period allows: :meth:`purge_text` deletes it, fingerprints and findings
stay, so rate windows, finding counts and the campaign index still work on old history.

Customer identity: each message keeps the key it arrived with; ``customer_links`` maps keys to
one canonical key (a union-find flattened into a table), so linking two keys merges their
histories at once without rewriting messages.

Two implementations share the :class:`MessageStore` protocol: :class:`SqliteMessageStore` here
and ``gateway.store.memory.MemoryMessageStore`` for ``classify --stateful`` without ``--db``.
"""

from __future__ import annotations

import functools
import json
import sqlite3
import sys
import time
import weakref
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Protocol, runtime_checkable

import numpy as np

from gateway.errors import StoreError
from gateway.jsontext import json_encoder
from gateway.model import Finding, Message
from gateway.store.db import Database, register_schema
from gateway.store.message_cache import CANDIDATE_COLUMNS, MessageCache

register_schema(
    "messages",
    [
        """
        CREATE TABLE messages (
            seq INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            source TEXT NOT NULL DEFAULT '',
            customer TEXT NOT NULL,
            thread TEXT NOT NULL DEFAULT '',
            received_at TEXT NOT NULL,
            received_us INTEGER NOT NULL,
            lang TEXT NOT NULL DEFAULT '',
            subject TEXT,
            text TEXT,
            text_purged_at TEXT,
            content_hash TEXT NOT NULL DEFAULT '',
            bands BLOB,
            findings TEXT NOT NULL DEFAULT '[]',
            recorded_at TEXT NOT NULL
        );
        CREATE INDEX messages_by_customer ON messages(customer, received_us);
        CREATE INDEX messages_by_thread ON messages(thread, received_us);
        CREATE INDEX messages_by_received ON messages(received_us);
        CREATE TABLE message_findings (
            message_seq INTEGER NOT NULL REFERENCES messages(seq),
            category TEXT NOT NULL,
            PRIMARY KEY (message_seq, category)
        ) WITHOUT ROWID;
        CREATE TABLE customer_links (
            key TEXT PRIMARY KEY,
            canonical TEXT NOT NULL,
            linked_at TEXT NOT NULL
        );
        CREATE INDEX customer_links_by_canonical ON customer_links(canonical)
        """
    ],
)


def to_utc(moment: datetime) -> datetime:
    """Timezone-aware UTC; a naive datetime is taken to be UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_ONE_US = timedelta(microseconds=1)


def to_us(moment: datetime) -> int:
    """Microseconds since the epoch: exact integer arithmetic for windows (no float drift). (An
    aware datetime minus the epoch is already its UTC difference, and ``timedelta // timedelta``
    is exact: no ``astimezone`` needed, at a fifth of the cost.)

    The answer for the datetime object asked last is remembered: a message's ``received_at`` is
    converted by the contact stage and again by ``record`` (a datetime never changes, so the
    same object always has the same answer)."""
    global _LAST_US
    last = _LAST_US  # (one tuple, replaced whole: a thread never sees half of another's answer)
    if last[0] is moment:
        return last[1]
    if moment.tzinfo is None:
        us = (moment.replace(tzinfo=timezone.utc) - _EPOCH) // _ONE_US
    else:
        us = (moment - _EPOCH) // _ONE_US
    _LAST_US = (moment, us)
    return us


_LAST_US: tuple[datetime | None, int] = (None, 0)  # the datetime ``to_us`` converted last, and its answer


def from_us(received_us: int) -> datetime:
    # (``_EPOCH + timedelta(microseconds=received_us)``: the same exact integer arithmetic,
    # without the constructor's keyword parsing)
    return _EPOCH + _ONE_US * received_us


@functools.lru_cache(maxsize=4096)
def iso_us(received_us: int) -> str:
    """``from_us(received_us).isoformat()``, remembered for the messages findings cite most (the
    recent ones: a campaign's copies are cited by every later copy)."""
    return from_us(received_us).isoformat()


def _now() -> str:
    """``isoformat_utc(datetime.now(timezone.utc))``: the same clock (``datetime.now`` reads the
    system clock and cuts it to whole microseconds, as ``time_ns() // 1000`` does), spelled by
    ``iso_utc_us``."""
    return iso_utc_us(time.time_ns() // 1000)


_ISO_US = "%04d-%02d-%02dT%02d:%02d:%02d.%06d+00:00"
_ISO_S = "%04d-%02d-%02dT%02d:%02d:%02d+00:00"


#: minute since the epoch -> ``"YYYY-MM-DDTHH:MM:"`` (``iso_utc_us``; a few thousand at most)
_MINUTE_TEXT: dict[int, str] = {}
_TWO_DIGITS = tuple("%02d" % n for n in range(60))


def iso_utc_us(received_us: int) -> str:
    """``isoformat_utc(from_us(received_us))`` — what the store writes for a time — from the
    integer: the text up to the minute is made once per minute (``%``-formatting seven numbers
    cost a fifth of a message's insert), then the seconds and microseconds are added."""
    minute, us = divmod(received_us, 60_000_000)
    head = _MINUTE_TEXT.get(minute)
    if head is None:
        if len(_MINUTE_TEXT) >= 4096:
            _MINUTE_TEXT.clear()
        head = _MINUTE_TEXT[minute] = isoformat_utc(from_us(minute * 60_000_000))[:17]
    second, us = divmod(us, 1_000_000)
    if us:
        return "%s%s.%06d+00:00" % (head, _TWO_DIGITS[second], us)
    return head + _TWO_DIGITS[second] + "+00:00"


def isoformat_utc(moment: datetime) -> str:
    """``moment.isoformat()`` (microseconds only when not zero), spelled directly for a UTC
    datetime, at about half the cost; any other goes to ``isoformat``."""
    if moment.tzinfo is not timezone.utc:
        return moment.isoformat()
    us = moment.microsecond
    if us:
        return _ISO_US % (moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second, us)
    return _ISO_S % (moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second)


@dataclass
class StoredMessage:
    """A message as the store remembers it. ``text`` is None once retention purged it."""

    seq: int
    id: str
    source: str
    customer: str  # the key it arrived with (resolve_customer gives the canonical one)
    thread: str
    received_at: datetime
    lang: str
    subject: str | None
    text: str | None
    content_hash: str
    bands: bytes | None
    findings: list[Finding] = field(default_factory=list)

    @property
    def received_us(self) -> int:
        return to_us(self.received_at)

    @property
    def categories(self) -> list[str]:
        return sorted({f.category for f in self.findings})


@dataclass(slots=True, unsafe_hash=True)
class Candidate:
    """The little a campaign check needs of a stored message (no findings to parse). Slotted:
    the store keeps thousands of these in memory. Treat as read-only (only ``comparable`` is
    ever set, by ``SqliteMessageStore.attach_comparable``); not declared frozen because a frozen
    dataclass costs three times as much to make, and one is made for every message recorded and
    every row read back. Hashed and compared as a frozen one would be."""

    seq: int
    id: str
    customer: str
    received_us: int
    text: str | None
    content_hash: str = ""
    thread: str = ""
    # What the contact stage compares of the text (its ``Comparable``): given when this process
    # recorded the row (the cached row then keeps it instead of ``text``, which is ""), attached
    # by ``SqliteMessageStore.attach_comparable`` to a row read back; it lives exactly as long
    # as the row is cached.
    comparable: object = field(default=None, compare=False, repr=False)

    @property
    def received_at(self) -> datetime:
        return from_us(self.received_us)

    @property
    def received_iso(self) -> str:
        """``received_at.isoformat()``, remembered: a recent message is cited by many later findings."""
        return iso_us(self.received_us)


@dataclass(slots=True, unsafe_hash=True)
class Fingerprints:
    """What the contact stage computed to compare a message later: see gateway.contact.fingerprint.
    Treat as read-only; not declared frozen (like ``Candidate``: a frozen dataclass costs three
    times as much to make, and one is made for every message). Hashed and compared as a frozen
    one would be."""

    content_hash: str = ""
    bands: bytes | None = None
    comparable: object = field(default=None, compare=False, repr=False)  # kept in memory only (Candidate)


@runtime_checkable
class MessageStore(Protocol):
    """The contact history behind a small interface, so a server database can replace SQLite."""

    def record(self, message: Message, findings: list[Finding], fingerprints: Fingerprints = Fingerprints()) -> int | None:
        """Store a message and its findings. Returns the new row's sequence number, or None when
        the id was already stored (its findings are then replaced; nothing else changes)."""
        ...

    def has(self, message_id: str) -> bool: ...

    def get(self, message_id: str) -> StoredMessage | None: ...

    def by_seq(self, seqs: Iterable[int]) -> list[StoredMessage]: ...

    def candidates(self, seqs: Iterable[int]) -> list[Candidate]:
        """Id, customer, time and text of the messages with these sequence numbers."""
        ...

    def customer_messages(
        self, customer: str, since: datetime | None = None, until: datetime | None = None
    ) -> list[StoredMessage]:
        """Every message of the customer (all linked keys), oldest first, within [since, until]."""
        ...

    def latest_customer_messages(self, customer: str, last: int) -> tuple[list[StoredMessage], int]:
        """The customer's newest ``last`` messages (all linked keys), oldest first, and how many the
        customer has in all."""
        ...

    def thread_messages(self, thread: str, since: datetime | None = None, until: datetime | None = None) -> list[StoredMessage]: ...

    def recent(self, *, customer: str = "", thread: str = "", since: datetime, until: datetime) -> list[Candidate]:
        """The customer's (all linked keys) or the thread's messages in [since, until], oldest
        first, without findings: what windows and duplicate checks read for every message."""
        ...

    def rows_between(self, *, customer: str = "", thread: str = "", since_us: int, until_us: int) -> list[Candidate]:
        """``recent`` with the range in microseconds since the epoch (what the tracker has)."""
        ...

    def rows_tail(self, *, customer: str = "", thread: str = "", since_us: int, until_us: int, window_us: int,
                  last: int) -> Sequence[Candidate]:
        """``rows_between``, or only its newest part: every row after ``until_us - window_us`` and
        at least the ``last`` rows before ``until_us``; always a whole suffix of the range. A
        store may answer a long range with a view of its own rows (read it before the next write)."""
        ...

    def latest_received_us(self) -> int | None:
        """The newest ``received_us`` stored, or None for an empty store."""
        ...

    def iter_recent_bands(self, since_us: int, chunk: int = 65536) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """``iter_bands`` of the messages received at or after ``since_us``, each chunk with the
        messages' ``received_us`` (int64[n]) too: an index bounded to a lookback loads only that."""
        ...

    def link_customers(self, a: str, b: str) -> str:
        """Merge the customers of keys ``a`` and ``b``; returns the canonical key (``a``'s)."""
        ...

    def resolve_customer(self, key: str) -> str: ...

    def customer_keys(self, key: str) -> list[str]:
        """All keys linked with ``key`` (including it and the canonical key), sorted."""
        ...

    def purge_text(self, older_than: datetime) -> int:
        """Delete text and subject of messages received before ``older_than``; returns how many."""
        ...

    def finding_counts(self, customer: str, exclude_id: str | None = None) -> dict[str, int]: ...

    def count(self) -> int: ...

    def customer_stats(self, customer: str, exclude_id: str | None = None) -> tuple[int, StoredMessage | None]:
        """How many messages the customer sent (all linked keys) and the latest one."""
        ...

    def customer_summary(self, customer: str, exclude_id: str | None = None) -> tuple[int, dict[str, int], Candidate | None]:
        """``customer_stats`` and ``finding_counts`` at once (the latest message as a Candidate)."""
        ...

    def session(self) -> AbstractContextManager[None]:
        """A block of reads that may share one consistency check (one contact-stage step)."""
        ...

    def iter_bands(self, chunk: int = 65536) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """``(seqs int64[n], band keys uint32[n, bands])`` chunks for rebuilding the LSH index."""
        ...

    def customers(self) -> list[str]:
        """Canonical keys of every customer with stored messages or links."""
        ...


# One cache per Database, shared by every store object on it (gateway.store.message_cache).
_CACHES: "weakref.WeakKeyDictionary[Database, MessageCache]" = weakref.WeakKeyDictionary()
_CHECKED = "messages.cache_checked"  # Database.tx_local key: the cache was checked in this transaction


#: ``json.dumps(value, ensure_ascii=False, sort_keys=True)``, with one C encoder for every call.
_FINDINGS_ENCODE = json_encoder(ensure_ascii=False, sort_keys=True)


class _Session:
    """``SqliteMessageStore.session``: the database's lock held and the cache's session open."""

    __slots__ = ("_lock", "_cache")

    def __init__(self, lock: object, cache: MessageCache) -> None:
        self._lock = lock
        self._cache = cache

    def __enter__(self) -> None:
        self._lock.acquire()  # type: ignore[attr-defined]
        cache = self._cache  # (``MessageCache.enter``, written out: two sessions a message)
        if not cache._session:
            cache._synced = False
        cache._session += 1

    def __exit__(self, *exc: object) -> None:
        try:
            cache = self._cache  # (``MessageCache.leave``, written out)
            cache._session -= 1
            if not cache._session:
                cache._synced = False
        finally:
            self._lock.release()  # type: ignore[attr-defined]


def _findings_json(findings: list[Finding]) -> str:
    """The ``findings`` column: each finding's ``to_json()``, keys sorted, UTF-8 kept."""
    if not findings:  # most messages
        return "[]"
    return _FINDINGS_ENCODE([f.to_json() for f in findings])


class SqliteMessageStore:
    """:class:`MessageStore` on the gateway's SQLite file. One writer (through ``Database.tx``),
    any number of readers in other processes (WAL)."""

    _COLUMNS = "seq, id, source, customer, thread, received_at, lang, subject, text, content_hash, bands, findings"

    def __init__(self, db: Database, *, cache_bytes: int | None = None) -> None:
        self.db = db
        db.migrate()
        # Shared by every store on this Database, so a write through any of them shows at once.
        self._cache = _CACHES.setdefault(db, MessageCache())
        self._session_object = _Session(db._lock, self._cache)
        if cache_bytes is not None:  # the cached rows' byte budget (message_cache.MAX_SPAN_BYTES by default)
            self._cache.max_span_bytes = cache_bytes

    def cache_size(self) -> tuple[int, int]:
        """The row cache's entries and bytes (its bound is in bytes), for the daemon's /metrics."""
        return len(self._cache.by_seq), int(self._cache.span_bytes)

    def session(self) -> AbstractContextManager[None]:
        """Several reads that may share one cache check (one tracker step): the cache is checked
        against the database once instead of before every read. (A plain object, not a
        generator: entered twice per message, where ``contextmanager`` cost 2 µs a time.)"""
        return self._session_object  # (it holds no state of its own: one per store, entered as often as wanted)

    def _sync(self) -> None:
        """Check the shared cache against the database (MessageCache.sync) — once per write
        transaction: while this connection holds the write lock no other connection can commit,
        and a rollback (even of a savepoint) empties ``Database.tx_local``, so the check runs
        again after one."""
        cache = self._cache
        if cache._session and cache._synced:
            return  # checked already in this session (what MessageCache.sync would find first)
        db = self.db
        local = getattr(db, "tx_local", None)
        in_tx = local is not None and getattr(db, "in_tx", False)
        if in_tx and local.get(_CHECKED) is cache:
            if cache._session:
                cache._synced = True
            return
        self._cache.sync(db.conn)
        if in_tx:
            local[_CHECKED] = self._cache

    def _linked(self, key: str) -> tuple[str, list[str]]:
        cache = self._cache
        if cache._session and cache._synced:
            # Checked already in this step (a contact-stage step asks for the same customer's
            # links six or seven times): what the locked path below would find first.
            hit = cache.links.get(key)
            if hit is not None:
                return hit
        with self.db._lock:
            cache = self._cache
            if not (cache._session and cache._synced):
                self._sync()
            hit = cache.links.get(key)
            if hit is None:
                row = self.db.conn.execute("SELECT canonical FROM customer_links WHERE key = ?", (key,)).fetchone()
                canonical = row[0] if row else key
                rows = self.db.conn.execute("SELECT key FROM customer_links WHERE canonical = ?", (canonical,))
                hit = (canonical, sorted({canonical, key, *(r[0] for r in rows)}))
                cache.links[key] = hit
            return hit

    # -- writing --------------------------------------------------------------------------------
    def record(self, message: Message, findings: list[Finding], fingerprints: Fingerprints = Fingerprints()) -> int | None:
        if not message.id:
            raise StoreError("cannot record a message without an id")
        received = message.received_at or datetime.now(timezone.utc)
        if received.tzinfo is not timezone.utc:
            received = to_utc(received)
        received_us = to_us(received)
        categories = tuple(sorted({f.category for f in findings})) if findings else ()
        findings_json = _findings_json(findings)
        db = self.db
        with db._lock:  # (held once for the insert and the cache's update)
            try:
                if db.in_tx:
                    # Inside the caller's transaction (the pipeline's step): it commits or undoes
                    # this with everything else the step wrote, so no savepoint of its own.
                    seq = self._insert(db.conn, message, received, received_us, categories, findings_json, fingerprints)
                else:
                    with db.tx() as conn:
                        seq = self._insert(conn, message, received, received_us, categories, findings_json, fingerprints)
            except sqlite3.Error as exc:
                raise StoreError(f"store {db.path}: cannot record message {message.id}: {exc}") from exc
            if seq is None:
                return None
            thread = message.id if message.thread == message.id else message.thread  # one string, not two
            prepared = fingerprints.comparable
            # The cached row keeps the comparable form instead of the raw text when it has one
            # (MessageCache.inserted); made that way at once rather than made twice.
            text = "" if prepared is not None and message.text else message.text
            self._cache.inserted(
                Candidate(seq, message.id, sys.intern(message.sender), received_us, text, fingerprints.content_hash,
                          thread, prepared),
                categories,
            )
        return seq

    def _insert(self, conn: sqlite3.Connection, message: Message, received: datetime, received_us: int,
                categories: tuple[str, ...], findings_json: str, fingerprints: Fingerprints) -> int | None:
        """The statements of ``record``; None when the id was already stored (findings replaced)."""
        if not (self._cache._session and self._cache._synced):  # (checked already in this step)
            self._sync()
        cur = conn.execute(
            "INSERT INTO messages(id, source, customer, thread, received_at, received_us, lang, subject, text, "
            "content_hash, bands, findings, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(id) DO NOTHING",
            (
                message.id,
                message.source,
                message.sender,
                message.thread,
                iso_utc_us(received_us),  # (``isoformat_utc(received)``: the same instant)
                received_us,
                message.lang,
                message.subject,
                message.text,
                fingerprints.content_hash,
                fingerprints.bands,
                findings_json,
                _now(),
            ),
        )
        if cur.rowcount == 0:  # the id is already stored: replace its findings only
            self._cache.replaced()
            row = conn.execute("SELECT seq FROM messages WHERE id = ?", (message.id,)).fetchone()
            conn.execute("UPDATE messages SET findings = ? WHERE seq = ?", (findings_json, row[0]))
            conn.execute("DELETE FROM message_findings WHERE message_seq = ?", (row[0],))
            conn.executemany(
                "INSERT INTO message_findings(message_seq, category) VALUES (?, ?)",
                [(row[0], c) for c in categories],
            )
            return None
        seq = int(cur.lastrowid or 0)
        if len(categories) == 1:  # most tagged messages (one statement: cheaper than executemany)
            conn.execute("INSERT INTO message_findings(message_seq, category) VALUES (?, ?)", (seq, categories[0]))
        elif categories:
            conn.executemany(
                "INSERT INTO message_findings(message_seq, category) VALUES (?, ?)", [(seq, c) for c in categories]
            )
        return seq

    def record_many(self, rows: Iterable[tuple[Message, list[Finding], Fingerprints]]) -> int:
        """Bulk import (a backfill or a benchmark load) in one transaction; ids already stored are
        skipped. Returns how many were added."""
        added = 0
        with self.db._lock:
            self._cache.clear()
        with self.db.tx() as conn:
            for message, findings, fp in rows:
                received = to_utc(message.received_at or datetime.now(timezone.utc))
                cur = conn.execute(
                    "INSERT OR IGNORE INTO messages(id, source, customer, thread, received_at, received_us, lang, subject, "
                    "text, content_hash, bands, findings, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        message.id, message.source, message.sender, message.thread, received.isoformat(),
                        to_us(received), message.lang, message.subject, message.text, fp.content_hash, fp.bands,
                        _findings_json(findings), _now(),
                    ),
                )
                if cur.rowcount:
                    added += 1
                    seq = int(cur.lastrowid or 0)
                    for c in sorted({f.category for f in findings}):
                        conn.execute("INSERT INTO message_findings(message_seq, category) VALUES (?, ?)", (seq, c))
        return added

    def link_customers(self, a: str, b: str) -> str:
        a, b = a.strip(), b.strip()
        if not a or not b:
            raise StoreError("customers link: both customer keys must be non-empty")
        try:
            return self._link(a, b)
        finally:
            with self.db._lock:
                self._cache.links.clear()

    def _link(self, a: str, b: str) -> str:
        with self.db.tx() as conn:
            ca = _resolve(conn, a)
            cb = _resolve(conn, b)
            if ca == cb:
                return ca
            now = _now()
            conn.execute("UPDATE customer_links SET canonical = ?, linked_at = ? WHERE canonical = ?", (ca, now, cb))
            for key in {a, b, cb}:
                if key != ca:
                    conn.execute(
                        "INSERT INTO customer_links(key, canonical, linked_at) VALUES (?, ?, ?) "
                        "ON CONFLICT(key) DO UPDATE SET canonical = excluded.canonical, linked_at = excluded.linked_at",
                        (key, ca, now),
                    )
            return ca

    def forget_cached(self) -> None:
        """Drop what this Database's cache holds (rows, counts), after a write made outside this
        store's own methods on the same connection (a dispute withdrawing categories)."""
        with self.db._lock:
            self._cache.clear()

    def purge_text(self, older_than: datetime) -> int:
        with self.db._lock:
            self._cache.clear()  # cached rows still hold the text
        with self.db.tx() as conn:
            cur = conn.execute(
                "UPDATE messages SET text = NULL, subject = NULL, text_purged_at = ? "
                "WHERE received_us < ? AND text IS NOT NULL",
                (_now(), to_us(older_than)),
            )
            return cur.rowcount

    # -- reading --------------------------------------------------------------------------------
    def has(self, message_id: str) -> bool:
        return self.db.query_one("SELECT 1 FROM messages WHERE id = ?", (message_id,)) is not None

    def get(self, message_id: str) -> StoredMessage | None:
        row = self.db.query_one(f"SELECT {self._COLUMNS} FROM messages WHERE id = ?", (message_id,))
        return _row(row) if row else None

    def by_seq(self, seqs: Iterable[int]) -> list[StoredMessage]:
        wanted = [int(s) for s in seqs]
        out: list[StoredMessage] = []
        for i in range(0, len(wanted), 500):
            part = wanted[i : i + 500]
            marks = ",".join("?" * len(part))
            out.extend(_row(r) for r in self.db.query(f"SELECT {self._COLUMNS} FROM messages WHERE seq IN ({marks})", tuple(part)))
        order = {s: i for i, s in enumerate(wanted)}
        out.sort(key=lambda m: order.get(m.seq, 0))
        return out

    def candidates(self, seqs: Iterable[int], since_us: int | None = None) -> list[Candidate]:
        """The rows of these sequence numbers; ``since_us``: the caller never asks for rows
        received before it (so the cache need not keep them by number)."""
        wanted = [int(s) for s in seqs]
        if not wanted:
            return []
        with self.db._lock:
            if not (self._cache._session and self._cache._synced):  # (checked already in this step)
                self._sync()
            return self._cache.rows(self.db.conn, wanted, since_us)

    @staticmethod
    def attach_comparable(row: Candidate, prepared: object) -> None:
        """Keep the contact stage's comparable form of a row read back from the table with the
        (cached, shared) row object itself, so it is computed once per row load and dropped
        with the row. Only for rows that still have their text; it does not change the row's
        answers (``comparable`` takes no part in comparisons) nor its weight in the cache."""
        if row.text and row.comparable is None:
            object.__setattr__(row, "comparable", prepared)

    def recent(self, *, customer: str = "", thread: str = "", since: datetime, until: datetime) -> list[Candidate]:
        return self.rows_between(customer=customer, thread=thread, since_us=to_us(since), until_us=to_us(until))

    def rows_between(self, *, customer: str = "", thread: str = "", since_us: int, until_us: int) -> list[Candidate]:
        lo, hi = since_us, until_us
        with self.db._lock:
            if customer:
                keys = self._linked(customer)[1]
                if len(keys) == 1:
                    spans = [("customer", keys[0])]
                else:
                    spans = [("customer", k) for k in keys]
            elif thread:
                spans = [("thread", thread)]
            else:
                return []
            cache = self._cache
            self._sync()
            if len(spans) == 1:
                return cache.span(self.db.conn, *spans[0], lo).between(lo, hi)
            rows = [r for column, key in spans for r in cache.span(self.db.conn, column, key, lo).between(lo, hi)]
        rows.sort(key=lambda r: (r.received_us, r.id))
        return rows

    def rows_tail(self, *, customer: str = "", thread: str = "", since_us: int, until_us: int, window_us: int,
                  last: int) -> Sequence[Candidate]:
        """What ``rows_between`` gives, or only its newest part: every row after ``until_us -
        window_us`` and at least the ``last`` rows received before ``until_us`` (all when there
        are fewer), oldest first. Enough for rate windows of ``window_us`` and a duplicate check
        of the last ``last - 1`` messages, and lets the cache keep no more than that. More than
        ``message_cache.VIEW_MIN`` rows of one key come as a view of the cached rows, not a copy
        (a flood's customer is read for each message): valid until the next message is recorded."""
        with self.db._lock:
            if customer:
                keys = self._linked(customer)[1]
                if len(keys) == 1:  # (one key: no list of spans to make)
                    column, key = "customer", keys[0]
                else:
                    spans = [("customer", k) for k in keys]
                    column = ""
            elif thread:
                column, key = "thread", thread
            else:
                return []
            cache = self._cache
            conn = self.db.conn
            if not (cache._session and cache._synced):
                self._sync()
            if column:
                return cache.tail(conn, column, key, since_us, until_us, window_us, last)
            rows = [r for column, key in spans for r in cache.tail(conn, column, key, since_us, until_us, window_us, last)]
        rows.sort(key=lambda r: (r.received_us, r.id))
        return rows

    def preload(self, *, customers: Iterable[str] = (), customers_since_us: int = 0, threads: Iterable[str] = (),
                threads_since_us: int = 0) -> None:
        """Read the recent rows of several customers (all linked keys) and threads into memory
        at once — one query each instead of one per message — for a batch about to be observed.
        Only a matter of speed: every later read still checks what it needs."""
        with self.db._lock:
            self._sync()
            cache = self._cache
            conn = self.db.conn
            keys = [k for c in dict.fromkeys(customers) if c for k in self._linked(c)[1]]  # (each customer once)
            if keys:
                cache.preload(conn, "customer", keys, customers_since_us)
            threads = [t for t in threads if t]
            if threads:
                cache.preload(conn, "thread", threads, threads_since_us)

    def watch(self, *, customer: str = "", thread: str = "") -> tuple[object, ...] | None:
        """A token that stays equal while no message sorting before the newest cached one of the
        customer (all linked keys) and of the thread is recorded, and the cache keeps them: what
        the contact stage computed for that newest message still holds. None when not cached."""
        with self.db._lock:
            cache = self._cache
            if not (cache._session and cache._synced):
                self._sync()
            keys = self._linked(customer)[1] if customer else ()
            spans = cache.spans
            if len(keys) == 1 and thread:  # (the usual case, written out)
                first, second = spans.get(("customer", keys[0])), spans.get(("thread", thread))
                if first is None or second is None:
                    return None
                return (first.serial, first.disorder, second.serial, second.disorder)
            names = [("customer", k) for k in keys]
            if thread:
                names.append(("thread", thread))
            token: list[object] = []
            for name in names:
                span = cache.spans.get(name)
                if span is None:
                    return None
                token += (span.serial, span.disorder)  # numbers, not the span: a token keeps nothing alive
            return tuple(token)

    def latest_received_us(self) -> int | None:
        row = self.db.query_one("SELECT MAX(received_us) FROM messages")
        return None if row is None or row[0] is None else int(row[0])

    def iter_recent_bands(self, since_us: int, chunk: int = 65536) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        last = 0
        while True:
            rows = self.db.query(
                "SELECT seq, bands, received_us FROM messages WHERE seq > ? AND received_us >= ? AND bands IS NOT NULL "
                "ORDER BY seq LIMIT ?",
                (last, since_us, chunk),
            )
            if not rows:
                return
            last = rows[-1][0]
            width = len(rows[0][1]) // 4
            rows = [r for r in rows if len(r[1]) == width * 4]
            seqs = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            keys = np.frombuffer(b"".join(r[1] for r in rows), dtype="<u4").reshape(len(rows), width).astype(np.uint32)
            received = np.fromiter((r[2] for r in rows), dtype=np.int64, count=len(rows))
            yield seqs, keys, received

    def customer_summary(self, customer: str, exclude_id: str | None = None) -> tuple[int, dict[str, int], Candidate | None]:
        """How many messages the customer sent (all linked keys), how many had each finding
        category, and the latest one — leaving out ``exclude_id``: what ``history`` needs, in one
        query (the latest message usually comes from memory)."""
        exclude = exclude_id or ""
        with self.db._lock:
            keys = self._linked(customer)[1]
            conn = self.db.conn
            if not (self._cache._session and self._cache._synced):  # (checked already in this step)
                self._sync()
            cached = self._cache.summary(conn, keys, exclude)
            if cached is not None:
                total, counts = cached
            else:
                marks = ",".join("?" * len(keys))
                rows = conn.execute(
                    f"SELECT NULL, COUNT(*) FROM messages WHERE customer IN ({marks}) AND id != ? UNION ALL "
                    "SELECT f.category, COUNT(*) FROM message_findings f JOIN messages m ON m.seq = f.message_seq "
                    f"WHERE m.customer IN ({marks}) AND m.id != ? GROUP BY f.category",
                    (*keys, exclude, *keys, exclude),
                ).fetchall()
                total = int(rows[0][1])
                counts = {r[0]: int(r[1]) for r in sorted(rows[1:], key=lambda r: r[0])}
            last = self._latest(keys, exclude) if total else None
        return total, counts, last

    def _latest(self, keys: list[str], exclude: str) -> Candidate | None:
        """The customer's latest message but ``exclude``, from the cached spans when they prove
        it (every key's span reaches back to it), else from the table."""
        cache = self._cache
        best: Candidate | None = None
        floor = None
        for key in keys:
            span = cache.spans.get(("customer", key))
            if span is None:
                best = None
                break
            floor = span.since_us if floor is None else max(floor, span.since_us)
            for row in reversed(span.rows):
                if row.id != exclude:
                    if best is None or (row.received_us, row.id) > (best.received_us, best.id):
                        best = row
                    break
        if best is not None and floor is not None and floor <= best.received_us:
            return best
        marks = ",".join("?" * len(keys))
        row = self.db.conn.execute(
            f"SELECT {CANDIDATE_COLUMNS} FROM messages WHERE customer IN ({marks}) AND id != ? "
            "ORDER BY received_us DESC, id DESC LIMIT 1",
            (*keys, exclude),
        ).fetchone()
        return Candidate(*row) if row else None

    def resolve_customer(self, key: str) -> str:
        return self._linked(key)[0]

    def linked(self, key: str) -> tuple[str, list[str]]:
        """``(resolve_customer(key), customer_keys(key))`` with one look-up."""
        canonical, keys = self._linked(key)
        return canonical, list(keys)

    def customer_keys(self, key: str) -> list[str]:
        return list(self._linked(key)[1])

    def customer_messages(
        self, customer: str, since: datetime | None = None, until: datetime | None = None
    ) -> list[StoredMessage]:
        keys = self.customer_keys(customer)
        marks = ",".join("?" * len(keys))
        return self._between(f"customer IN ({marks})", tuple(keys), since, until)

    def latest_customer_messages(self, customer: str, last: int) -> tuple[list[StoredMessage], int]:
        """The customer's (all linked keys) newest ``last`` messages, oldest first, and how many
        the customer has in all: what a page that lists the latest of a long history reads,
        without reading (and decoding the findings of) the rest."""
        keys = self.customer_keys(customer)
        marks = ",".join("?" * len(keys))
        total = self.db.query_one(f"SELECT COUNT(*) AS n FROM messages WHERE customer IN ({marks})", tuple(keys))
        rows = self.db.query(
            f"SELECT {self._COLUMNS} FROM messages WHERE customer IN ({marks}) ORDER BY received_us DESC, id DESC LIMIT ?",
            (*keys, max(0, last)),
        )
        return [_row(r) for r in reversed(rows)], int(total["n"]) if total else 0

    def thread_messages(self, thread: str, since: datetime | None = None, until: datetime | None = None) -> list[StoredMessage]:
        if not thread:
            return []
        return self._between("thread = ?", (thread,), since, until)

    def _between(
        self, where: str, params: tuple[object, ...], since: datetime | None, until: datetime | None
    ) -> list[StoredMessage]:
        lo = to_us(since) if since else -(2**62)
        hi = to_us(until) if until else 2**62
        rows = self.db.query(
            f"SELECT {self._COLUMNS} FROM messages WHERE {where} AND received_us BETWEEN ? AND ? "
            "ORDER BY received_us, id",
            (*params, lo, hi),
        )
        return [_row(r) for r in rows]

    def finding_counts(self, customer: str, exclude_id: str | None = None) -> dict[str, int]:
        keys = self.customer_keys(customer)
        marks = ",".join("?" * len(keys))
        rows = self.db.query(
            "SELECT f.category AS category, COUNT(*) AS n FROM message_findings f JOIN messages m ON m.seq = f.message_seq "
            f"WHERE m.customer IN ({marks}) AND m.id != ? GROUP BY f.category ORDER BY f.category",
            (*keys, exclude_id or ""),
        )
        return {r["category"]: int(r["n"]) for r in rows}

    def count(self) -> int:
        row = self.db.query_one("SELECT COUNT(*) AS n FROM messages")
        return int(row["n"]) if row else 0

    def customer_stats(self, customer: str, exclude_id: str | None = None) -> tuple[int, StoredMessage | None]:
        keys = self.customer_keys(customer)
        marks = ",".join("?" * len(keys))
        where = f"customer IN ({marks}) AND id != ?"
        params = (*keys, exclude_id or "")
        row = self.db.query_one(f"SELECT COUNT(*) AS n FROM messages WHERE {where}", params)
        last = self.db.query_one(
            f"SELECT {self._COLUMNS} FROM messages WHERE {where} ORDER BY received_us DESC, id DESC LIMIT 1", params
        )
        return (int(row["n"]) if row else 0), (_row(last) if last else None)

    def iter_bands(self, chunk: int = 65536) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for seqs, keys, _received in self.iter_recent_bands(-(1 << 62), chunk):
            yield seqs, keys

    def customers(self) -> list[str]:
        rows = self.db.query(
            "SELECT DISTINCT COALESCE(l.canonical, m.customer) AS c FROM messages m "
            "LEFT JOIN customer_links l ON l.key = m.customer "
            "UNION SELECT canonical FROM customer_links ORDER BY 1"
        )
        return [r[0] for r in rows]


def _resolve(conn: sqlite3.Connection, key: str) -> str:
    row = conn.execute("SELECT canonical FROM customer_links WHERE key = ?", (key,)).fetchone()
    return row[0] if row else key


def _row(row: sqlite3.Row) -> StoredMessage:
    return StoredMessage(
        seq=int(row["seq"]),
        id=row["id"],
        source=row["source"],
        customer=row["customer"],
        thread=row["thread"],
        received_at=datetime.fromisoformat(row["received_at"]),
        lang=row["lang"],
        subject=row["subject"],
        text=row["text"],
        content_hash=row["content_hash"],
        bands=row["bands"],
        findings=[Finding.from_json(f) for f in json.loads(row["findings"] or "[]")],
    )
