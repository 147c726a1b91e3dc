"""The contact stage: persistent and duplicate contact for one message, against the history
before it, then the message is remembered.

``ContactTracker.observe(message, findings)`` returns ``persistent_contact`` and
``duplicate_contact`` findings with evidence a team lead can check — the related message ids,
the counts per window, the similarity scores — and records the message with every finding
(idempotent by message id: observing it again gives the same answer and stores nothing twice).
The clock is the message's ``received_at``, so a replay gives the live answers.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone

from gateway.contact.campaigns import CampaignIndex
from gateway.contact.duplicates import DuplicateMatch, find_duplicates, similarity
from gateway.contact.fingerprint import (
    MinHasher,
    band_array,
    band_bytes,
    comparable,
    content_hash,
    core_span,
    is_cjk,
)
from gateway.contact.history import CustomerHistory
from gateway.contact.settings import ContactSettings
from gateway.contact.windows import Stamp, WindowCount, count_windows
from gateway.model import Evidence, Finding, Message
from gateway.store.messages import Candidate, Fingerprints, MessageStore, to_us, to_utc

MAX_RELATED = 50
COMPARABLE_CACHE = 20_000  # comparable texts kept in memory (a few MB at most)


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
        self.hasher = hasher or MinHasher()
        self._index: CampaignIndex | None = None
        # message id -> comparable text: the same recent messages are compared again and again
        # (each later message of the customer, each campaign candidate); a text never changes.
        self._comparable: dict[str, str] = {}

    # -- the stage ------------------------------------------------------------------------------
    def observe(self, message: Message, findings: list[Finding]) -> list[Finding]:
        """Contact findings for ``message`` against earlier history; then record it."""
        at_time = to_utc(message.received_at) if message.received_at else to_utc(self.clock())
        if message.received_at is None:
            message.received_at = at_time
        at = Stamp(to_us(at_time), message.id)
        text = comparable(message.text, self.settings.ignore_lines)
        fingerprints = self.fingerprints(message, text)

        windows = self.settings.windows
        longest = max((w.within for w in windows), default=timedelta(0))
        lookback = max(longest, self.settings.duplicates.lookback)
        customer_rows: list[Candidate] = []
        if message.sender:
            customer_rows = _before(
                self.store.recent(customer=message.sender, since=at_time - lookback, until=at_time), at
            )
        thread_rows: list[Candidate] = []
        if message.thread and any(w.scope == "thread" for w in windows):
            thread_rows = _before(self.store.recent(thread=message.thread, since=at_time - longest, until=at_time), at)

        out: list[Finding] = []
        window_start_us = at.received_us - int(longest.total_seconds() * 1_000_000)
        counts = count_windows(
            [w for w in windows if w.scope == "thread" or message.sender],
            at,
            [Stamp(r.received_us, r.id) for r in customer_rows if r.received_us > window_start_us],
            [Stamp(r.received_us, r.id) for r in thread_rows],
            self.settings.burst,
        )
        rate = self._rate_finding(message, counts)
        if rate:
            out.append(rate)

        dup_since_us = to_us(at_time - self.settings.duplicates.lookback)
        dups = find_duplicates(
            text,
            [r for r in customer_rows if r.received_us >= dup_since_us][-self.settings.duplicates.max_compare :],
            threshold=self.settings.duplicates.similarity_ja if is_cjk(text) else self.settings.duplicates.similarity,
            min_chars=self.settings.duplicates.min_chars,
            ignore_lines=self.settings.ignore_lines,
            comparable_of=self._comparable_of,
        )
        if dups:
            out.append(self._duplicate_finding(message, dups))
            repeated = self._repeated_demand_finding(message, dups)
            if repeated:
                out.append(repeated)

        campaign = self._campaign_finding(message, text, at, fingerprints)
        if campaign:
            out.append(campaign)

        seq = self.store.record(message, list(findings) + out, fingerprints)
        if seq is not None:  # newly stored with this text
            self._remember_comparable(message.id, text)
        if seq is not None and fingerprints.bands and self._index is not None:
            keys = band_array(fingerprints.bands)
            if keys is not None:
                self._index.add(seq, keys)
        return out

    def _comparable_of(self, row: Candidate) -> str:
        """A stored message's comparable text (``row.text`` is not None), cached by id."""
        text = self._comparable.get(row.id)
        if text is None:
            text = comparable(row.text or "", self.settings.ignore_lines)
            self._remember_comparable(row.id, text)
        return text

    def _remember_comparable(self, message_id: str, text: str) -> None:
        if len(self._comparable) >= COMPARABLE_CACHE:
            del self._comparable[next(iter(self._comparable))]  # the oldest entry
        self._comparable[message_id] = text

    def history(self, customer: str, exclude_id: str | None = None) -> CustomerHistory:
        """The customer's record across linked keys, leaving out ``exclude_id`` (usually the
        message being decided, whose own findings the policy already has)."""
        canonical = self.store.resolve_customer(customer)
        total, last = self.store.customer_stats(customer, exclude_id)
        breaches: list[str] = []
        if last is not None:
            at = Stamp(last.received_us, last.id)
            longest = max((w.within for w in self.settings.windows), default=timedelta(0))
            since = last.received_at - longest

            def stamps(rows: list[Candidate]) -> list[Stamp]:
                return [Stamp(r.received_us, r.id) for r in rows if r.id != exclude_id]

            counts = count_windows(
                self.settings.windows,
                at,
                stamps(self.store.recent(customer=customer, since=since, until=last.received_at)),
                stamps(self.store.recent(thread=last.thread, since=since, until=last.received_at)),
                self.settings.burst,
            )
            breaches = [c.window.name for c in counts if c.breached]
        return CustomerHistory(
            customer=canonical,
            finding_counts=self.store.finding_counts(customer, exclude_id),
            messages_total=total,
            window_breaches=breaches,
            keys=self.store.customer_keys(customer),
            last_seen=last.received_at if last else None,
        )

    def find_campaign(self, message: Message) -> Finding | None:
        """The campaign check alone, without recording anything (benchmarks, diagnostics)."""
        at_time = to_utc(message.received_at or self.clock())
        text = comparable(message.text, self.settings.ignore_lines)
        return self._campaign_finding(message, text, Stamp(to_us(at_time), message.id), self.fingerprints(message, text))

    def fingerprints(self, message: Message, text: str | None = None) -> Fingerprints:
        """The exact-repeat hash and LSH band keys of a message's comparable text."""
        if text is None:
            text = comparable(message.text, self.settings.ignore_lines)
        bands = None
        if self.settings.campaigns.eligible(text):
            bands = band_bytes(self.hasher.bands_for(text))
        return Fingerprints(content_hash=content_hash(text) if text else "", bands=bands)

    @property
    def index(self) -> CampaignIndex:
        """The campaign index, loaded from the store on first use."""
        if self._index is None:
            index = CampaignIndex(self.hasher.bands)
            index.rebuild(self.store.iter_bands())
            self._index = index
        return self._index

    # -- findings -------------------------------------------------------------------------------
    def _evidence(self, message: Message) -> list[Evidence]:
        start, end = core_span(message.text, self.settings.ignore_lines)
        return [Evidence(start, end, message.text[start:end])]

    def _rate_finding(self, message: Message, counts: list[WindowCount]) -> Finding | None:
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
            evidence=self._evidence(message),
            rule="contact.rate_window",
            reason="; ".join(reasons),
            related=tightest.related[-MAX_RELATED:],
            details={"windows": [c.to_json() for c in counts], "breached": [c.window.name for c in breached]},
        )

    def _duplicate_finding(self, message: Message, dups: list[DuplicateMatch]) -> Finding:
        best = dups[0]
        return Finding(
            category="duplicate_contact",
            severity=self.settings.duplicates.severity,
            score=best.similarity / 100.0,
            evidence=self._evidence(message),
            rule="contact.near_duplicate",
            reason=(
                f"nearly the same as {len(dups)} earlier message(s) from this customer "
                f"(best {best.similarity:.0f}/100, message {best.id} of {best.received_at:%Y-%m-%d %H:%M} UTC)"
            ),
            related=[d.id for d in dups[:MAX_RELATED]],
            details={"threshold": self._dup_threshold(message), "matches": [d.to_json() for d in dups[:MAX_RELATED]]},
        )

    def _dup_threshold(self, message: Message) -> float:
        text = comparable(message.text, self.settings.ignore_lines)
        return self.settings.duplicates.similarity_ja if is_cjk(text) else self.settings.duplicates.similarity

    def _repeated_demand_finding(self, message: Message, dups: list[DuplicateMatch]) -> Finding | None:
        times = len(dups) + 1
        need = self.settings.duplicates.repeated_demand
        if times < need:
            return None
        lookback = self.settings.duplicates.lookback
        return Finding(
            category="persistent_contact",
            severity=self.settings.persistent_severity,
            score=min(1.0, 0.5 + 0.1 * (times - need)),
            evidence=self._evidence(message),
            rule="contact.repeated_demand",
            reason=f"the same demand {times} times within {lookback.days or 1} day(s) (policy: {need} or more)",
            related=[d.id for d in dups[:MAX_RELATED]],
            details={"times": times, "threshold": need, "similarity": [round(d.similarity, 1) for d in dups[:MAX_RELATED]]},
        )

    def _campaign_finding(self, message: Message, text: str, at: Stamp, fp: Fingerprints) -> Finding | None:
        cfg = self.settings.campaigns
        keys = band_array(fp.bands)
        if not cfg.enabled or keys is None:
            return None
        own = set(self.store.customer_keys(message.sender)) if message.sender else set()
        since_us = at.received_us - int(cfg.lookback.total_seconds() * 1_000_000)
        matches: list[tuple[Candidate, float]] = []
        for row in self.store.candidates(self.index.candidates(keys, cfg.max_candidates)):
            if row.id == message.id or row.customer in own or row.text is None:
                continue
            if not (since_us < row.received_us and (row.received_us, row.id) < at.key):
                continue
            if not _length_allows(len(text), len(row.text), cfg.similarity):
                continue
            score, _ = similarity(text, self._comparable_of(row))
            if score >= cfg.similarity:
                matches.append((row, score))
        customers = {self.store.resolve_customer(r.customer) for r, _ in matches}
        if len(customers) + 1 < cfg.min_customers:
            return None
        matches.sort(key=lambda m: (-m[1], m[0].received_us, m[0].id))
        return Finding(
            category="duplicate_contact",
            severity=cfg.severity,
            score=matches[0][1] / 100.0,
            evidence=self._evidence(message),
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
                    {"id": r.id, "customer": r.customer, "similarity": round(s, 1), "received_at": r.received_at.isoformat()}
                    for r, s in matches[:MAX_RELATED]
                ],
            },
        )


def _before(rows: list[Candidate], at: Stamp) -> list[Candidate]:
    """Rows that come before the message by (received time, id), never the message itself."""
    return [r for r in rows if r.id != at.id and (r.received_us, r.id) < at.key]


def _length_allows(new_len: int, raw_len: int, threshold: float) -> bool:
    """Whether a stored text of ``raw_len`` characters could still score ``threshold`` against a
    comparable text of ``new_len``: its comparable form is at most ``raw_len`` long, and ratio
    can never exceed ``2 * shorter / (sum of lengths)``. Saves normalizing texts far too short.
    (NFKC can lengthen a text — a ligature becomes two letters — hence the margin.)"""
    return raw_len * 1.25 >= new_len * threshold / (200 - threshold)

