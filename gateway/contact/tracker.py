"""The contact stage: persistent and duplicate contact for one message, against the history
before it, then the message is remembered.

``ContactTracker.observe(message, findings)`` returns ``persistent_contact`` and
``duplicate_contact`` findings with evidence a team lead can check — the related message ids,
the counts per window, the similarity scores — and records the message with every finding
(idempotent by message id: observing it again gives the same answer and stores nothing twice).
The clock is the message's ``received_at``, so a replay gives the live answers.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime, timedelta, timezone
from functools import partial
from operator import attrgetter
from typing import NamedTuple

import numpy as np

from gateway.contact.campaigns import BatchLookup, CampaignIndex
from gateway.contact.duplicates import DuplicateMatch, find_duplicates, similarities
from gateway.contact.fingerprint import (
    Comparable,
    MinHasher,
    band_bytes,
    comparable,
    comparable_tokens,
    content_hash,
    core_span,
)
from gateway.contact.history import CustomerHistory
from gateway.contact.settings import ContactSettings
from gateway.contact.windows import LEDGER_MIN_ROWS, Ledger, Stamp, WindowCount, breached_counts, count_windows
from gateway.model import Evidence, Finding, Message
from gateway.store.messages import (
    Candidate,
    Fingerprints,
    MessageStore,
    SqliteMessageStore,
    from_us,
    to_us,
    to_utc,
)

MAX_RELATED = 50  # ids a finding cites (rate windows: of the at most windows.RELATED a count keeps)
COMPARABLE_CACHE = 8_192  # comparable texts kept in memory (about 4 MB at most)
BREACHES_MEMO = 16_384  # customers whose latest message's breached windows are kept (~200 B each)
LEDGERS = 32  # customers and threads with long histories whose windows are kept prepared (``Ledger``)
INDEX_SLACK = timedelta(days=1)  # the campaign index keeps this much more than the lookback
_US = timedelta(microseconds=1)
_INDEX_SLACK_US = INDEX_SLACK // _US
_RECEIVED_US = attrgetter("received_us")
_ID = attrgetter("id")
_CUSTOMER = attrgetter("customer")
_TZINFO = attrgetter("tzinfo")
_UTC_ONLY = {timezone.utc}


class ContactTracker:
    """Rate windows, near-duplicates and campaigns over a :class:`MessageStore`."""

    def __init__(
        self,
        store: MessageStore,
        settings: ContactSettings | None = None,
        *,
        clock: Callable[[], datetime] | None = None,
        hasher: MinHasher | None = None,
    ) -> None:
        self.store = store
        self.settings = settings or ContactSettings.defaults()
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self._wall_clock = clock is None  # ``to_us(self.clock())`` is then ``time_ns() // 1000`` (``_now_us``)
        self._default_clock = self.clock  # (a caller may replace ``clock`` later: then it is asked)
        self.hasher = hasher or MinHasher()
        self._index: CampaignIndex | None = None
        self._newest_us: int | None = None  # the newest received time indexed (for expiry)
        # The settings' durations as integer microseconds, once.
        windows = self.settings.windows
        longest = max((w.within for w in windows), default=timedelta(0))
        self._longest_us = longest // _US
        self._lookback_us = max(longest, self.settings.duplicates.lookback) // _US
        self._dup_lookback_us = self.settings.duplicates.lookback // _US
        self._thread_windows = any(w.scope == "thread" for w in windows)
        self._thread_only = tuple(w for w in windows if w.scope == "thread")
        self._burst_us = int(self.settings.burst.total_seconds() * 1_000_000)  # (as ``breached_counts`` takes it)
        # ("customer" | "thread", key) -> the windows' prepared history of a key with many rows,
        # least recently used first (see ``_ledger_scopes``)
        self._ledgers: dict[tuple[str, str], Ledger] = {}
        self._limits_positive = all(w.limit >= 1 for w in windows)  # one message alone breaches nothing
        self._index_keep_us = (self.settings.campaigns.lookback + INDEX_SLACK) // _US
        self._campaign_lookback_us = int(self.settings.campaigns.lookback.total_seconds() * 1_000_000)
        # message id -> prepared comparable text: the same recent messages are compared again and
        # again (each later message of the customer, each campaign candidate); a text never changes.
        # Only for stores whose rows cannot carry it: the SQLite store's cached rows keep their
        # own (``attach_comparable``), so it lives and goes with the row.
        self._comparable: dict[str, Comparable] = {}
        self._attach: Callable[[Candidate, Comparable], None] | None = (
            store.attach_comparable if isinstance(store, SqliteMessageStore) else None)
        # customer key -> (received_us, id, store token, breached windows) of the customer's two
        # messages observed last: ``history`` counts those windows again at the latest one.
        self._breaches: dict[str, tuple[tuple[int, str, tuple[object, ...], list[str]], ...]] = {}
        self._observed: tuple[str, int, bool] | None = None  # the last observe: id, time, newly stored
        self._prepared: dict[str, _Prepared] = {}  # message id -> what ``prepare`` computed
        # One consistency check of the store's caches per step (see SqliteMessageStore.session).
        session = getattr(store, "session", None)
        self._session: Callable[[], AbstractContextManager[None]] = session if callable(session) else nullcontext

    # -- the stage ------------------------------------------------------------------------------
    def prepare(self, messages: Iterable[Message]) -> None:
        """Compute what ``observe`` will compare of each message — its core span, comparable
        text and band keys — for a whole batch at once (the band keys in one vectorized pass: a
        hundred texts cost about what three cost one by one; with them their stored bytes and the
        campaign index's candidates for each, ranked for the whole batch at once, which hold while
        the index changes only by the batch's own messages), and read the batch's customers' and threads' recent rows in one
        query each. Optional: a later ``observe`` of one of these messages uses the result, any
        other computes its own. Only the last batch prepared is kept."""
        # message id -> (text, span, comparable), made into a ``_Prepared`` once, with the band
        # keys and their companions when the message is indexed (the last of an id wins, both here
        # and among the indexed, as when each was a ``_Prepared`` replaced in turn)
        base: dict[str, tuple[str, tuple[int, int], Comparable]] = {}
        eligible: list[tuple[str, str]] = []  # (message id, comparable text) to fingerprint
        eligible_tokens: list[list[str]] = []  # ``tokens`` of each of those texts
        cfg = self.settings.campaigns
        batch = list(messages)
        ignore = self.settings.ignore_lines
        enabled, min_chars, min_ja = cfg.enabled, cfg.min_chars, cfg.min_chars_ja
        for message in batch:
            text = message.text
            span = core_span(text, ignore)
            # (``Comparable.of_core``, with the tokens ``bands_for_texts`` would find again)
            comp, toks = comparable_tokens(text[span[0] : span[1]])
            base[message.id] = (text, span, comp)
            if enabled and len(comp.text) >= (min_ja if comp.cjk else min_chars):  # (``cfg.eligible``)
                eligible.append((message.id, comp.text))
                eligible_tokens.append(toks)
        keys = self.hasher.bands_for_texts([text for _, text in eligible], eligible_tokens)
        indexed = [(message_id, k) for (message_id, _), k in zip(eligible, keys) if k is not None]
        with_keys: dict[str, _Prepared] = {}
        if indexed:
            # For the whole batch at once: the stored band bytes, and (when the campaign check
            # runs) the index's look-up, ranked.
            # (``np.stack`` of the keys: every one is ``uint32[bands]``, so joined end to end and
            # cut into rows, without ``stack``'s Python-level view per array)
            matrix = np.concatenate([k for _, k in indexed]).reshape(len(indexed), -1)
            blob = matrix.astype("<u4").tobytes()
            width = matrix.shape[1] * 4
            lookup = self.index.lookup_batch(matrix, cfg.max_candidates) if cfg.enabled else None
            for i, (message_id, k) in enumerate(indexed):
                text, span, comp = base[message_id]
                with_keys[message_id] = _tuple_new(_Prepared, (text, span, comp, k, blob[i * width : (i + 1) * width], lookup, i))
        # (Each ``_Prepared(...)`` above, and those without keys as plain ``_Prepared(text, span,
        # comparable, None)``: the tuple made directly, without the named tuple's ``__new__`` and
        # its defaults.)
        self._prepared = {message_id: with_keys.get(message_id) or _tuple_new(_Prepared, (*b, None, None, None, -1))
                          for message_id, b in base.items()}
        preload = getattr(self.store, "preload", None)
        received = [m.received_at for m in batch if m.received_at is not None]
        if preload is not None and received:
            # ``min(to_us(t) for t in received)``: when every time is in UTC (ingest's), the
            # earliest datetime is the earliest instant, converted alone.
            if set(map(_TZINFO, received)) == _UTC_ONLY:
                first_us = to_us(min(received))
            else:
                first_us = min(map(to_us, received))
            with self._session():
                preload(customers=[m.sender for m in batch], customers_since_us=first_us - self._lookback_us,
                        threads=[m.thread for m in batch] if self._thread_windows else [],
                        threads_since_us=first_us - self._longest_us)

    def observe(self, message: Message, findings: list[Finding]) -> list[Finding]:
        """Contact findings for ``message`` against earlier history; then record it."""
        with self._session():
            return self._observe(message, findings)

    def _observe(self, message: Message, findings: list[Finding]) -> list[Finding]:
        at_time = message.received_at
        if at_time is None or at_time.tzinfo is not timezone.utc:
            at_time = to_utc(at_time) if at_time else to_utc(self.clock())
        if message.received_at is None:
            message.received_at = at_time
        at_us, at_id = to_us(at_time), message.id
        ready = self._prepared.pop(message.id, None)
        evidence: Callable[[], list[Evidence]]
        if ready is not None and ready.text == message.text:
            evidence = partial(_evidence, message, ready.span)  # (``_Evidence(message, settings, span)``, made in C)
            prepared = ready.comparable
            keys = ready.keys
            text = prepared.text
            fingerprints = Fingerprints(content_hash(text) if text else "",
                                        ready.bands if keys is not None else None, prepared)
        else:
            ready = None
            evidence = _Evidence(message, self.settings)
            start, end = evidence.span
            prepared = Comparable.of_core(message.text[start:end])
            fingerprints, keys = self._fingerprints_keys(prepared)
            fingerprints = Fingerprints(fingerprints.content_hash, fingerprints.bands, prepared)
        store = self.store

        # Earlier rows only: (received_us, id) before the message's, never the message itself
        # (rows end at ``at_us``, so a row at ``at_us`` must have a smaller id).
        # Only what the windows and the duplicate check read: every row within the longest
        # window, and the last ``max_compare`` (one more: the message's own id may be among
        # them) — so the store's cache holds no more than that per customer and thread.
        # Whether the message is stored already (then its own row may be among the earlier ones):
        # asked of the store once, and only for a long history, where the scan for its id would
        # cost more than the question (a customer writing thousands of messages a week).
        stored: list[bool] = []

        def absent() -> bool:
            if not stored:
                stored.append(store.has(at_id))
            return not stored[0]

        customer_rows: Sequence[Candidate] = []  # (a list, or the store's view of a long one)
        if message.sender:
            customer_rows = _earlier(
                store.rows_tail(customer=message.sender, since_us=at_us - self._lookback_us, until_us=at_us,
                                window_us=self._longest_us, last=self.settings.duplicates.max_compare + 1),
                at_us, at_id, absent)
        thread_rows: Sequence[Candidate] = []
        if message.thread and self._thread_windows:
            thread_rows = _earlier(
                store.rows_tail(thread=message.thread, since_us=at_us - self._longest_us, until_us=at_us,
                                window_us=self._longest_us, last=0),
                at_us, at_id, absent)

        out: list[Finding] = []
        breached: list[WindowCount] = []
        if customer_rows or thread_rows or not self._limits_positive:
            # (With no earlier row every window counts the message alone: 1, never above a
            # positive limit, so nothing to count.) The windows' counts are only needed when one
            # is breached: for the finding, and the names for ``history``.
            window_start_us = at_us - self._longest_us
            in_window = customer_rows[bisect.bisect_right(customer_rows, window_start_us, key=_RECEIVED_US) :]  # sorted by time
            counts = breached_counts(
                self.settings.windows if message.sender else self._thread_only,
                Stamp(at_us, at_id),
                in_window,
                thread_rows,
                self.settings.burst,
                self.settings.burst_max,
                self._ledger_scopes(message, in_window, thread_rows)
                if len(in_window) >= LEDGER_MIN_ROWS or len(thread_rows) >= LEDGER_MIN_ROWS else None,
            )
            if counts is not None:
                breached = [c for c in counts if c.count > c.window.limit]  # (``WindowCount.breached``, written out)
                rate = self._rate_finding(message, counts, evidence, breached) if breached else None
                if rate:
                    out.append(rate)

        duplicates = self.settings.duplicates
        threshold = duplicates.similarity_ja if prepared.cjk else duplicates.similarity
        dups: list[DuplicateMatch] = []
        if customer_rows:  # (none earlier: no duplicate)
            dup_since_us = at_us - self._dup_lookback_us
            dups = find_duplicates(
                prepared,
                customer_rows[max(bisect.bisect_left(customer_rows, dup_since_us, key=_RECEIVED_US),
                                  len(customer_rows) - duplicates.max_compare) :],
                threshold=threshold,
                min_chars=duplicates.min_chars,
                ignore_lines=self.settings.ignore_lines,
                comparable_of=self._comparable_of,
                new_hash=fingerprints.content_hash,
            )
        if dups:
            out.append(self._duplicate_finding(message, dups, threshold, evidence))
            repeated = self._repeated_demand_finding(message, dups, evidence)
            if repeated:
                out.append(repeated)

        campaign = self._campaign_finding(message, prepared, at_us, at_id, keys, evidence, ready)
        if campaign:
            out.append(campaign)

        seq = store.record(message, list(findings) + out, fingerprints)
        self._observed = (at_id, at_us, seq is not None)
        if message.sender:
            self._remember_breaches(message, at_us, at_id, breached)
        if seq is not None:  # newly stored with this text
            if not isinstance(store, SqliteMessageStore):  # (the SQLite store's rows carry it)
                self._remember_comparable(message.id, prepared)
            if keys is not None and self._index is not None:
                self._index_add(seq, keys, at_us, ready)
        return out

    def _ledger_scopes(self, message: Message, customer_rows: Sequence[Candidate],
                       thread_rows: Sequence[Candidate]) -> dict[bool, tuple[list[int], list[str], int, list[int]]] | None:
        """The windows' ``_scope`` of a long customer or thread history from the key's ``Ledger``
        (for ``breached_counts``), when the store can vouch for it (its ``watch`` token); the
        ledger of a key the store no longer caches is dropped (it would keep its rows alive)."""
        watch = getattr(self.store, "watch", None)
        if watch is None:
            return None
        out: dict[bool, tuple[list[int], list[str], int, list[int]]] = {}
        wanted = []
        if message.sender and len(customer_rows) >= LEDGER_MIN_ROWS:
            wanted.append((True, ("customer", message.sender), customer_rows))
        if message.thread and self._thread_windows and len(thread_rows) >= LEDGER_MIN_ROWS:
            wanted.append((False, ("thread", message.thread), thread_rows))
        ledgers = self._ledgers
        for is_customer, key, rows in wanted:
            token = watch(customer=key[1]) if is_customer else watch(thread=key[1])
            ledger = ledgers.pop(key, None)
            if token is None:
                continue
            if ledger is None:
                ledger = Ledger()
                if len(ledgers) >= LEDGERS:
                    del ledgers[next(iter(ledgers))]  # the one used least recently
            ledgers[key] = ledger
            out[is_customer] = ledger.scope(rows, token, self._burst_us, self.settings.burst_max)
        return out or None

    def _index_add(self, seq: int, keys: np.ndarray, received_us: int, ready: "_Prepared | None" = None) -> None:
        """Index a newly stored message and move the index's horizon: messages received more
        than the campaign lookback (and a day of slack, for mail that arrives late) before the
        newest one are dropped. The newest time is capped at the clock plus a day, so one
        message with a date far in the future cannot empty the index."""
        index = self._index
        assert index is not None
        if ready is not None:
            index.add(seq, keys, received_us, ready.batch, ready.row)
        else:
            index.add(seq, keys, received_us)
        if self._newest_us is None or received_us > self._newest_us:
            self._newest_us = received_us
            newest = min(received_us, self._now_us() + _INDEX_SLACK_US)
            index.expire(newest - self._index_keep_us)

    def _now_us(self) -> int:
        """``to_us(self.clock())``: for the default clock read straight from the system clock
        (``datetime.now`` reads the same clock and cuts it to whole microseconds, as ``// 1000``
        does), without making a datetime to take apart again."""
        if self._wall_clock and self.clock is self._default_clock:
            return time.time_ns() // 1000
        return to_us(self.clock())

    def _comparable_of(self, row: Candidate) -> Comparable:
        """A stored message's prepared comparable text (``row.text`` is not None): the one the
        row carries when this process recorded it, else cached by id."""
        prepared = row.comparable
        if prepared is not None:
            return prepared  # type: ignore[return-value]
        if self._attach is not None:
            prepared = Comparable.of(comparable(row.text or "", self.settings.ignore_lines))
            self._attach(row, prepared)
            return prepared
        prepared = self._comparable.get(row.id)
        if prepared is None:
            prepared = Comparable.of(comparable(row.text or "", self.settings.ignore_lines))
            self._remember_comparable(row.id, prepared)
        return prepared

    def _remember_comparable(self, message_id: str, text: Comparable) -> None:
        if len(self._comparable) >= COMPARABLE_CACHE:
            del self._comparable[next(iter(self._comparable))]  # the oldest entry
        self._comparable[message_id] = text

    def _remember_breaches(self, message: Message, at_us: int, at_id: str, breached: list[WindowCount]) -> None:
        """Keep the windows ``message`` breached, for ``history`` right after (which counts them
        again at the customer's latest message: usually this one), with the store's token that
        says whether anything recorded since could change them."""
        watch = getattr(self.store, "watch", None)
        if watch is None:
            return
        token = watch(customer=message.sender, thread=message.thread if self._thread_windows else "")
        if token is None:
            return
        memo = self._breaches
        entry = (at_us, at_id, token, [c.window.name for c in breached])
        earlier = memo.pop(message.sender, None)
        if len(memo) >= BREACHES_MEMO:
            del memo[next(iter(memo))]  # the oldest entry
        # This message's and the one before it: ``history`` right after this step leaves this
        # one out and counts at the one before.
        memo[message.sender] = (entry, earlier[0]) if earlier else (entry,)

    def _known_breaches(self, customer: str, last: Candidate, exclude_id: str | None) -> list[str] | None:
        """The breaches ``observe`` found for ``last`` when nothing since can have changed them:
        no message sorting before it recorded for the customer's keys or its thread (the store's
        token), and the message left out sorting after it (so leaving it out changes nothing)."""
        last_id, last_us = last.id, last.received_us
        for memo in self._breaches.get(customer, ()):
            if memo[1] == last_id and memo[0] == last_us:
                break
        else:
            return None
        if exclude_id is not None:
            observed = self._observed
            if observed is None or observed[0] != exclude_id or not observed[2] or (observed[1], exclude_id) <= (memo[0], memo[1]):
                return None
        token = self.store.watch(customer=customer, thread=last.thread if self._thread_windows else "")  # type: ignore[attr-defined]
        if token is None or token != memo[2]:
            return None
        return list(memo[3])

    def history(self, customer: str, exclude_id: str | None = None) -> CustomerHistory:
        """The customer's record across linked keys, leaving out ``exclude_id`` (usually the
        message being decided, whose own findings the policy already has)."""
        with self._session():
            store = self.store
            linked = getattr(store, "linked", None)
            if linked is not None:
                canonical, keys = linked(customer)
            else:
                canonical, keys = store.resolve_customer(customer), store.customer_keys(customer)
            total, finding_counts, last = store.customer_summary(customer, exclude_id)
            breaches: list[str] = []
            last_seen = None
            if last is not None:
                last_seen = from_us(last.received_us)
                known = self._known_breaches(customer, last, exclude_id) if customer else None
            if last is not None and known is not None:
                breaches = known
            elif last is not None:
                last_us = last.received_us
                since_us = last_us - self._longest_us
                counts = count_windows(
                    self.settings.windows,
                    Stamp(last_us, last.id),
                    [r for r in store.rows_between(customer=customer, since_us=since_us, until_us=last_us) if r.id != exclude_id],
                    [r for r in store.rows_between(thread=last.thread, since_us=since_us, until_us=last_us) if r.id != exclude_id],
                    self.settings.burst,
                    self.settings.burst_max,
                )
                breaches = [c.window.name for c in counts if c.breached]
            # (customer, finding_counts, messages_total, window_breaches, keys, last_seen: passed
            # by position, which skips matching six keywords)
            return CustomerHistory(canonical, finding_counts, total, breaches, keys, last_seen)

    def find_campaign(self, message: Message) -> Finding | None:
        """The campaign check alone, without recording anything (benchmarks, diagnostics)."""
        at_time = to_utc(message.received_at or self.clock())
        prepared = Comparable.of(comparable(message.text, self.settings.ignore_lines))
        with self._session():
            return self._campaign_finding(
                message, prepared, to_us(at_time), message.id, self._fingerprints_keys(prepared)[1],
                _Evidence(message, self.settings),
            )

    def fingerprints(self, message: Message, text: str | None = None) -> Fingerprints:
        """The exact-repeat hash and LSH band keys of a message's comparable text."""
        if text is None:
            text = comparable(message.text, self.settings.ignore_lines)
        return self._fingerprints(Comparable.of(text))

    def _fingerprints(self, prepared: Comparable) -> Fingerprints:
        return self._fingerprints_keys(prepared)[0]

    def _fingerprints_keys(self, prepared: Comparable) -> tuple[Fingerprints, np.ndarray | None]:
        """The fingerprints to store, and the band keys (None when the text is not indexed)."""
        text = prepared.text
        keys = None
        if self.settings.campaigns.eligible(text, prepared.cjk):
            keys = self.hasher.bands_for(text)
        return Fingerprints(content_hash=content_hash(text) if text else "", bands=band_bytes(keys)), keys

    def memory_sizes(self) -> dict[str, tuple[int, int]]:
        """Entries and bytes of the stage's bounded structures, for the daemon's /metrics: the
        store's row cache (bounded by bytes) when the store has one, and the campaign index
        (bounded by the campaign lookback) once it is loaded (asking never loads it)."""
        sizes: dict[str, tuple[int, int]] = {}
        cache_size = getattr(self.store, "cache_size", None)
        if cache_size is not None:
            sizes["row_cache"] = cache_size()
        if self._index is not None:
            sizes["campaign_index"] = (len(self._index), int(self._index.memory_bytes))
        return sizes

    @property
    def index(self) -> CampaignIndex:
        """The campaign index, loaded from the store on first use: the messages received within
        the campaign lookback (and a day) of the newest one stored."""
        if self._index is None:
            index = CampaignIndex(self.hasher.bands)
            newest = self.store.latest_received_us()
            if newest is not None:
                newest = min(newest, to_us(self.clock()) + INDEX_SLACK // _US)
                index.rebuild(self.store.iter_recent_bands(newest - self._index_keep_us))
                self._newest_us = newest
            self._index = index
        return self._index

    # -- findings -------------------------------------------------------------------------------
    def _rate_finding(self, message: Message, counts: list[WindowCount], evidence: Callable[[], list[Evidence]],
                      breached: list[WindowCount] | None = None) -> Finding | None:
        if breached is None:
            breached = [c for c in counts if c.breached]
        if not breached:
            return None
        worst = max(breached, key=lambda c: c.count / c.window.limit)
        tightest = min(breached, key=lambda c: c.window.within)
        reasons = [
            (f"{c.count} messages" if c.count == c.messages else f"{c.count} contacts ({c.messages} messages)")
            + f" in {c.window.label} from this {c.window.scope} (policy: more than {c.window.limit})"
            for c in breached
        ]
        return Finding(
            category="persistent_contact",
            severity=self.settings.persistent_severity,
            score=min(1.0, 0.5 + 0.5 * (worst.count - worst.window.limit) / worst.window.limit),
            evidence=evidence(),
            rule="contact.rate_window",
            reason="; ".join(reasons),
            related=tightest.related[-MAX_RELATED:],
            details={"windows": [c.to_json() for c in counts], "breached": [c.window.name for c in breached]},
        )

    def _duplicate_finding(self, message: Message, dups: list[DuplicateMatch], threshold: float,
                           evidence: Callable[[], list[Evidence]]) -> Finding:
        best = dups[0]
        return Finding(
            category="duplicate_contact",
            severity=self.settings.duplicates.severity,
            score=best.similarity / 100.0,
            evidence=evidence(),
            rule="contact.near_duplicate",
            reason=(
                f"nearly the same as {len(dups)} earlier message(s) from this customer "
                f"(best {best.similarity:.0f}/100, message {best.id} of {best.received_at:%Y-%m-%d %H:%M} UTC)"
            ),
            related=[d.id for d in dups[:MAX_RELATED]],
            details={"threshold": threshold, "matches": [d.to_json() for d in dups[:MAX_RELATED]]},
        )

    def _repeated_demand_finding(self, message: Message, dups: list[DuplicateMatch], evidence: Callable[[], list[Evidence]]) -> Finding | None:
        times = len(dups) + 1
        need = self.settings.duplicates.repeated_demand
        if times < need:
            return None
        lookback = self.settings.duplicates.lookback
        return Finding(
            category="persistent_contact",
            severity=self.settings.persistent_severity,
            score=min(1.0, 0.5 + 0.1 * (times - need)),
            evidence=evidence(),
            rule="contact.repeated_demand",
            reason=f"the same demand {times} times within {lookback.days or 1} day(s) (policy: {need} or more)",
            related=[d.id for d in dups[:MAX_RELATED]],
            details={"times": times, "threshold": need, "similarity": [round(d.similarity, 1) for d in dups[:MAX_RELATED]]},
        )

    def _campaign_finding(self, message: Message, prepared: Comparable, at_us: int, at_id: str,
                          keys: np.ndarray | None, evidence: Callable[[], list[Evidence]],
                          ready: "_Prepared | None" = None) -> Finding | None:
        cfg = self.settings.campaigns
        if not cfg.enabled or keys is None:
            return None
        text = prepared.text
        since_us = at_us - self._campaign_lookback_us
        index = self.index
        if ready is not None:
            seqs = index.candidates(keys, cfg.max_candidates, batch=ready.batch, row=ready.row)
        else:
            seqs = index.candidates(keys, cfg.max_candidates)
        if not seqs:
            return None  # (no candidate: no campaign, whatever ``min_customers`` says)
        found = self.store.candidates(seqs, since_us) if self._attach is not None else self.store.candidates(seqs)
        own = set(self.store.customer_keys(message.sender)) if message.sender else set()
        if len(set(map(_CUSTOMER, found)) - own) + 1 < cfg.min_customers:
            return None  # too few other customers among all the candidates (what is checked below, sooner)
        floor_comparable, floor_raw = _length_floors(len(text), cfg.similarity)
        # Another customer's earlier message within the lookback, still with its text, and not
        # ``_too_short`` (written out: this runs for every candidate).
        rows: list[Candidate] = [
            row for row in found
            if row.id != at_id and row.customer not in own and row.text is not None
            and since_us < row.received_us and (row.received_us < at_us or (row.received_us == at_us and row.id < at_id))
            and (len(row.comparable.text) >= floor_comparable if row.comparable is not None  # type: ignore[attr-defined]
                 else len(row.text) >= floor_raw)
        ]
        if len({r.customer for r in rows}) + 1 < cfg.min_customers:
            return None  # too few other customers even if every candidate matched
        scores = _scores(prepared, [r.comparable or self._comparable_of(r) for r in rows], cfg.similarity)  # type: ignore[misc]
        matches = [(row, score) for row, score in zip(rows, scores) if score >= cfg.similarity]
        if not matches:
            return None
        resolved: dict[str, str] = {}
        for r, _ in matches:
            if r.customer not in resolved:
                resolved[r.customer] = self.store.resolve_customer(r.customer)
        customers = set(resolved.values())
        if len(customers) + 1 < cfg.min_customers:
            return None
        matches.sort(key=lambda m: (-m[1], m[0].received_us, m[0].id))
        return Finding(
            category="duplicate_contact",
            severity=cfg.severity,
            score=matches[0][1] / 100.0,
            evidence=evidence(),
            rule="contact.campaign",
            reason=(
                f"nearly the same text from {len(customers)} other customer(s) within {cfg.lookback.days or 1} day(s) "
                f"(best {matches[0][1]:.0f}/100): a campaign or one sender behind several addresses"
            ),
            related=[r.id for r, _ in matches[:MAX_RELATED]],
            details={
                "campaign": True,
                "customers": len(customers) + 1,
                "threshold": cfg.similarity,
                "matches": [
                    {"id": r.id, "customer": r.customer, "similarity": round(s, 1), "received_at": r.received_iso}
                    for r, s in matches[:MAX_RELATED]
                ],
            },
        )


_tuple_new = tuple.__new__
#: Earlier rows up to which ``_earlier`` scans for the message's own id rather than ask the store
#: whether the message is stored (one indexed query: about as long as scanning this many ids).
_SCAN_ROWS = 256


class _Prepared(NamedTuple):
    """What ``ContactTracker.prepare`` computed for one message (``text``: the text it read):
    with band keys, also their stored bytes and the campaign index's answer for the batch
    (``CampaignIndex.lookup_batch``) with the message's row there."""

    text: str
    span: tuple[int, int]
    comparable: Comparable
    keys: np.ndarray | None
    bands: bytes | None = None
    batch: BatchLookup | None = None
    row: int = -1


class _Evidence:
    """A contact finding's evidence: the customer's own words (``core_span``), found once per
    message however many findings cite it (and cut out for ``comparable`` too); each call gives a
    fresh list."""

    def __init__(self, message: Message, settings: ContactSettings, span: tuple[int, int] | None = None) -> None:
        self._message = message
        # also what ``comparable`` compares
        self.span = span if span is not None else core_span(message.text, settings.ignore_lines)

    def __call__(self) -> list[Evidence]:
        start, end = self.span
        return [Evidence(start, end, self._message.text[start:end])]


def _evidence(message: Message, span: tuple[int, int]) -> list[Evidence]:
    """``_Evidence(message, settings, span)()``: a fresh list each call."""
    start, end = span
    return [Evidence(start, end, message.text[start:end])]


def _earlier(rows: Sequence[Candidate], at_us: int, at_id: str,
             absent: Callable[[], bool] | None = None) -> Sequence[Candidate]:
    """The rows (sorted by ``(received_us, id)``, none after ``at_us``) that come before the
    message ``(at_us, at_id)``, never the message itself: ``[r for r in rows if r.id != at_id and
    (r.received_us < at_us or r.id < at_id)]``, with the per-row checks done in C — only rows
    at ``at_us`` itself need their ids compared, and the list is returned as it is when the
    message's own id is not among them (the usual case). ``absent``: says the message is not
    stored at all (so its id is in no row), asked instead of scanning a long list."""
    if not rows:
        return rows
    if rows[-1].received_us >= at_us:
        end = bisect.bisect_left(rows, at_us, key=_RECEIVED_US)
        rows = [*rows[:end], *[r for r in rows[end:] if r.id < at_id]]  # (at or after ``at_us``: ties by id)
    if len(rows) > _SCAN_ROWS and absent is not None and absent():
        return rows
    if at_id in map(_ID, rows):
        rows = [r for r in rows if r.id != at_id]
    return rows


def _scores(new: Comparable, others: list[Comparable], cutoff: float) -> list[float]:
    """``similarity_from(new, other, cutoff)[0]`` for each of ``others``, in two batched rapidfuzz
    calls (plain, then word-sorted for texts that are not Japanese): exact at or above ``cutoff``,
    0 below it."""
    return [score for score, _ in similarities(new, others, cutoff)]


def _length_floors(new_len: int, threshold: float) -> tuple[float, float]:
    """How long a stored text must be to possibly score ``threshold`` against a comparable text
    of ``new_len`` characters: ``(comparable, raw)`` — the length of its comparable text, exact
    (``ratio``, and ``token_sort_ratio`` over the same characters, is at most ``200 * shorter /
    (sum of lengths)``), and of its raw text, with ``_length_bound``'s margin."""
    t = threshold - 1e-6  # a hair of slack: float rounding never drops a pair at the threshold
    return new_len * t / (200 - t), _length_bound(new_len, threshold) / 1.25


def _too_short(row: Candidate, floors: tuple[float, float]) -> bool:
    """Whether ``row``'s text is too short to reach the threshold ``floors`` were made for
    (``_length_floors``), judged on the comparable text when the row carries it (rows cached
    without their raw text always do), else on the raw text. Leaving such a row out changes no
    score, and it must not count towards ``min_customers``."""
    floor_comparable, floor_raw = floors
    prepared = row.comparable
    if prepared is not None:
        return len(prepared.text) < floor_comparable  # type: ignore[attr-defined]
    return len(row.text or "") < floor_raw


def _length_bound(new_len: int, threshold: float) -> float:
    """A stored text of ``raw_len`` characters can still score ``threshold`` against a comparable
    text of ``new_len`` only if ``raw_len * 1.25 >= _length_bound(new_len, threshold)``: its
    comparable form is at most ``raw_len`` long, and ratio can never exceed ``2 * shorter / (sum
    of lengths)``. Saves normalizing texts far too short. (NFKC can lengthen a text — a ligature
    becomes two letters — hence the margin.)"""
    return new_len * threshold / (200 - threshold)

