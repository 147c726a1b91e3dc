"""An in-memory :class:`~gateway.store.messages.MessageStore` with the SQLite store's behaviour,
for ``classify --stateful`` without ``--db`` and for tests that do not need a file."""

from __future__ import annotations

import bisect
import copy
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone

import numpy as np

from gateway.errors import StoreError
from gateway.model import Finding, Message
from gateway.store.messages import Candidate, Fingerprints, StoredMessage, to_us, to_utc


class MemoryMessageStore:
    """Everything in dicts and lists; lost when the process ends."""

    def __init__(self) -> None:
        self._rows: list[StoredMessage] = []  # index = seq - 1
        self._by_id: dict[str, StoredMessage] = {}
        self._by_customer: dict[str, list[tuple[int, str, int]]] = {}  # key -> sorted (received_us, id, seq)
        self._by_thread: dict[str, list[tuple[int, str, int]]] = {}
        self._links: dict[str, str] = {}  # key -> canonical

    def record(self, message: Message, findings: list[Finding], fingerprints: Fingerprints = Fingerprints()) -> int | None:
        if not message.id:
            raise StoreError("cannot record a message without an id")
        existing = self._by_id.get(message.id)
        if existing is not None:
            existing.findings = copy.deepcopy(list(findings))
            return None
        received = to_utc(message.received_at or datetime.now(timezone.utc))
        stored = StoredMessage(
            seq=len(self._rows) + 1,
            id=message.id,
            source=message.source,
            customer=message.sender,
            thread=message.thread,
            received_at=received,
            lang=message.lang,
            subject=message.subject,
            text=message.text,
            content_hash=fingerprints.content_hash,
            bands=fingerprints.bands,
            findings=copy.deepcopy(list(findings)),
        )
        self._rows.append(stored)
        self._by_id[stored.id] = stored
        entry = (to_us(received), stored.id, stored.seq)
        bisect.insort(self._by_customer.setdefault(stored.customer, []), entry)
        if stored.thread:
            bisect.insort(self._by_thread.setdefault(stored.thread, []), entry)
        return stored.seq

    @contextmanager
    def session(self) -> Iterator[None]:
        """Nothing to check here: everything is in memory (the SQLite store's reads share a check)."""
        yield

    def customer_summary(self, customer: str, exclude_id: str | None = None) -> tuple[int, dict[str, int], Candidate | None]:
        total, last = self.customer_stats(customer, exclude_id)
        return total, self.finding_counts(customer, exclude_id), (_candidate(last) if last else None)

    def has(self, message_id: str) -> bool:
        return message_id in self._by_id

    def get(self, message_id: str) -> StoredMessage | None:
        return self._by_id.get(message_id)

    def by_seq(self, seqs: Iterable[int]) -> list[StoredMessage]:
        return [self._rows[s - 1] for s in seqs if 0 < s <= len(self._rows)]

    def candidates(self, seqs: Iterable[int]) -> list[Candidate]:
        return [_candidate(r) for r in self.by_seq(seqs)]

    def recent(self, *, customer: str = "", thread: str = "", since: datetime, until: datetime) -> list[Candidate]:
        if customer:
            rows = self.customer_messages(customer, since, until)
        elif thread:
            rows = self.thread_messages(thread, since, until)
        else:
            rows = []
        return [_candidate(r) for r in rows]

    def rows_between(self, *, customer: str = "", thread: str = "", since_us: int, until_us: int) -> list[Candidate]:
        if customer:
            lists = [self._by_customer.get(k, []) for k in self.customer_keys(customer)]
        elif thread:
            lists = [self._by_thread.get(thread, [])]
        else:
            return []
        entries: list[tuple[int, str, int]] = []
        for items in lists:
            lo = bisect.bisect_left(items, (since_us,))
            hi = bisect.bisect_right(items, (until_us, "\U0010ffff"))
            entries.extend(items[lo:hi])
        if len(lists) > 1:
            entries.sort()
        return [_candidate(self._rows[e[2] - 1]) for e in entries]

    def rows_tail(self, *, customer: str = "", thread: str = "", since_us: int, until_us: int, window_us: int,
                  last: int) -> list[Candidate]:
        """Everything in the range (``rows_between``): nothing here needs bounding by the reader."""
        return self.rows_between(customer=customer, thread=thread, since_us=since_us, until_us=until_us)

    def latest_received_us(self) -> int | None:
        return max((r.received_us for r in self._rows), default=None)

    def iter_recent_bands(self, since_us: int, chunk: int = 65536) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        rows = [r for r in self._rows if r.bands and r.received_us >= since_us]
        for i in range(0, len(rows), chunk):
            part = rows[i : i + chunk]
            width = len(part[0].bands or b"") // 4
            part = [r for r in part if len(r.bands or b"") == width * 4]
            seqs = np.fromiter((r.seq for r in part), dtype=np.int64, count=len(part))
            keys = np.frombuffer(b"".join(r.bands or b"" for r in part), dtype="<u4").reshape(len(part), width)
            received = np.fromiter((r.received_us for r in part), dtype=np.int64, count=len(part))
            yield seqs, keys.astype(np.uint32), received

    def resolve_customer(self, key: str) -> str:
        return self._links.get(key, key)

    def customer_keys(self, key: str) -> list[str]:
        canonical = self.resolve_customer(key)
        return sorted({canonical, key, *(k for k, c in self._links.items() if c == canonical)})

    def link_customers(self, a: str, b: str) -> str:
        a, b = a.strip(), b.strip()
        if not a or not b:
            raise StoreError("customers link: both customer keys must be non-empty")
        ca, cb = self.resolve_customer(a), self.resolve_customer(b)
        if ca == cb:
            return ca
        for key, canonical in list(self._links.items()):
            if canonical == cb:
                self._links[key] = ca
        for key in {a, b, cb}:
            if key != ca:
                self._links[key] = ca
        return ca

    def customer_messages(
        self, customer: str, since: datetime | None = None, until: datetime | None = None
    ) -> list[StoredMessage]:
        entries: list[tuple[int, str, int]] = []
        for key in self.customer_keys(customer):
            entries.extend(self._slice(self._by_customer.get(key, []), since, until))
        entries.sort()
        return [self._rows[e[2] - 1] for e in entries]

    def latest_customer_messages(self, customer: str, last: int) -> tuple[list[StoredMessage], int]:
        every = self.customer_messages(customer)
        return every[len(every) - max(0, last) :], len(every)

    def thread_messages(self, thread: str, since: datetime | None = None, until: datetime | None = None) -> list[StoredMessage]:
        if not thread:
            return []
        return [self._rows[e[2] - 1] for e in self._slice(self._by_thread.get(thread, []), since, until)]

    @staticmethod
    def _slice(entries: list[tuple[int, str, int]], since: datetime | None, until: datetime | None) -> list[tuple[int, str, int]]:
        lo = bisect.bisect_left(entries, (to_us(since),)) if since else 0
        hi = bisect.bisect_right(entries, (to_us(until), "\U0010ffff")) if until else len(entries)
        return entries[lo:hi]

    def purge_text(self, older_than: datetime) -> int:
        limit = to_us(older_than)
        purged = 0
        for row in self._rows:
            if row.text is not None and row.received_us < limit:
                row.text = None
                row.subject = None
                purged += 1
        return purged

    def finding_counts(self, customer: str, exclude_id: str | None = None) -> dict[str, int]:
        counts: dict[str, int] = {}
        for row in self.customer_messages(customer):
            if row.id == exclude_id:
                continue
            for category in row.categories:
                counts[category] = counts.get(category, 0) + 1
        return dict(sorted(counts.items()))

    def count(self) -> int:
        return len(self._rows)

    def customer_stats(self, customer: str, exclude_id: str | None = None) -> tuple[int, StoredMessage | None]:
        rows = [r for r in self.customer_messages(customer) if r.id != exclude_id]
        return len(rows), (rows[-1] if rows else None)

    def iter_bands(self, chunk: int = 65536) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for seqs, keys, _received in self.iter_recent_bands(-(1 << 62), chunk):
            yield seqs, keys

    def customers(self) -> list[str]:
        keys = {self.resolve_customer(r.customer) for r in self._rows} | set(self._links.values())
        return sorted(keys)


def _candidate(row: StoredMessage) -> Candidate:
    return Candidate(row.seq, row.id, row.customer, row.received_us, row.text, row.content_hash, row.thread)
