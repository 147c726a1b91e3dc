"""One raw message in, one verdict out: ingest, the ledger, the pipeline, quarantine.

Every mail source hands its raw bytes to ``MessageHandler.handle``. A message the ledger already
knows (same Message-ID or content hash) gets its stored verdict back and the pipeline is not run
again; a message ingest refuses, or one that breaks analysis, is quarantined with the reason and
processing goes on. Store failures are not the message's fault: they propagate so the source
retries the message later instead of quarantining it.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from gateway.checkpoints import Checkpoints, Verdict
from gateway.errors import IngestError, StoreError
from gateway.metrics import SourceStats
from gateway.model import Decision, Message
from gateway.quarantine import Quarantine

log = logging.getLogger(__name__)


class ResultLike(Protocol):
    message: Message
    findings: list[Any]
    decision: Decision


ProcessFn = Callable[[Message], ResultLike]
PrepareFn = Callable[[list[Message]], None]
IngestFn = Callable[..., Message]


@dataclass(frozen=True)
class Outcome:
    message_id: str
    verdict: Verdict
    duplicate: bool = False


class _AnalysisFailed(Exception):
    """Carries an analysis error out of the message's transaction, so it rolls back first."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


def verdict_of(decision: Decision) -> Verdict:
    return Verdict(tuple(decision.categories), tuple(decision.tags), bool(decision.held))


class MessageHandler:
    """Turns raw mail into verdicts, serialising calls into the pipeline (one writer)."""

    def __init__(self, checkpoints: Checkpoints, quarantine: Quarantine, process: ProcessFn,
                 ingest: IngestFn | None = None, prepare: PrepareFn | None = None) -> None:
        self.checkpoints = checkpoints
        self.quarantine = quarantine
        #: one message through the pipeline, inside the transaction ``handle`` opens for it
        self.process = process
        #: the pipeline's work for a batch of messages about to be processed, when it has any
        self.prepare = prepare
        self._ready: dict[int, tuple[bytes, Message | IngestError]] = {}  # id(raw) -> ingested, in a batch
        self._known: dict[str, Verdict] = {}  # message id -> verdict, for the batch's messages
        if ingest is None:
            from gateway.ingest import ingest as real_ingest

            ingest = real_ingest
        self.ingest = ingest
        #: held while a message is analysed; re-entrant so the pipeline wrapper may take it too
        self.lock = threading.RLock()

    @contextmanager
    def batch(self, raws: Sequence[bytes] = (), *, source: str = "") -> Iterator[None]:
        """Messages handled inside commit together, once, at the end: one commit per IMAP fetch
        instead of one per message. Each message still has its own savepoint (its analysis and its
        verdict, and no other), so a quarantined message undoes only its own analysis; a store
        error rolls the whole batch back (nothing of it is marked or checkpointed yet, so it is all
        read again). The caller sets keywords and advances the checkpoint only after the block,
        i.e. after the commit.

        ``raws``, the batch's raw messages in the order they will be handled, lets the work that
        is cheaper for many messages at once happen once, up front: ingest, one ledger query for
        all of them, and the pipeline's ``prepare`` (the contact stage's batch preparation, one
        query for which already have a decision). ``handle`` then takes each message from there;
        a raw message not among them is handled as outside a batch."""
        with self.lock, self.checkpoints.db.tx():
            self._ready = self._prepare(raws, source) if raws else {}
            try:
                yield
            finally:
                self._ready = {}
                self._known = {}
                if raws and self.prepare is not None:
                    self.prepare([])  # nothing prepared outlives the batch

    def _prepare(self, raws: Sequence[bytes], source: str) -> dict[int, tuple[bytes, Message | IngestError]]:
        ready: dict[int, tuple[bytes, Message | IngestError]] = {}
        fresh: dict[str, Message] = {}
        for raw in raws:
            try:
                message: Message | IngestError = self.ingest(raw, source=source)
            except IngestError as exc:
                message = exc
            ready[id(raw)] = (raw, message)  # the raw object is kept, so its id() stays its own
            if isinstance(message, Message):
                fresh.setdefault(message.id, message)
        self._known = self.checkpoints.verdicts(list(fresh))
        if self.prepare is not None:
            self.prepare([m for i, m in fresh.items() if i not in self._known])
        return ready

    def handle(self, raw: bytes, *, source: str, location: str, stats: SourceStats,
               external: dict[str, Any] | None = None) -> Outcome:
        """Analyse ``raw`` (or recall its verdict). ``location`` names where it lives (for the
        quarantine record and logs), e.g. ``INBOX uid 42``."""
        with self.lock:
            ready = self._ready.pop(id(raw), None)
            batched = ready is not None and ready[0] is raw  # ingested and looked up by ``batch``
            try:
                message = ready[1] if batched else self.ingest(raw, source=source)  # type: ignore[index]
                if isinstance(message, IngestError):
                    raise message
            except IngestError as exc:
                return self._quarantine(raw, source, location, f"unreadable message: {exc}", stats)
            known = self._known.get(message.id) if batched else self.checkpoints.verdict(message.id)
            if known is not None:
                stats.duplicates += 1
                return Outcome(message.id, known, duplicate=True)
            if external:
                message.external.update(external)
            try:
                # The analysis's writes and the verdict commit together (one commit per message,
                # or one per batch inside ``batch()``, where this is the message's savepoint: the
                # pipeline's ``process`` joins it rather than nesting one of its own).
                with self.checkpoints.db.tx():
                    try:
                        result = self.process(message)
                    except (StoreError, sqlite3.OperationalError):
                        raise
                    except Exception as exc:  # undo the partial analysis, then quarantine
                        raise _AnalysisFailed(exc) from exc
                    verdict = verdict_of(result.decision)
                    self.checkpoints.remember(message.id, source, verdict)
            except _AnalysisFailed as failed:  # a bug or a hostile message must not stop the mailbox
                exc = failed.error
                log.error("analysis failed; message quarantined", exc_info=exc,
                          extra={"source": source, "message_id": message.id, "reason": type(exc).__name__})
                return self._quarantine(raw, source, location, f"analysis failed: {type(exc).__name__}: {exc}",
                                        stats, message_id=message.id)
            if batched:
                self._known[message.id] = verdict  # a second copy later in the batch reuses it
            stats.processed += 1
            for category in verdict.categories:
                stats.tagged[category] = stats.tagged.get(category, 0) + 1
            stats.held += verdict.held
            return Outcome(message.id, verdict)

    def _quarantine(self, raw: bytes | None, source: str, location: str, reason: str, stats: SourceStats,
                    message_id: str = "", size: int | None = None) -> Outcome:
        self.quarantine.record(source, location, raw, reason, size=size)
        stats.failed += 1
        log.warning("message quarantined", extra={"source": source, "reason": reason[:200],
                                                   "message_id": message_id})
        return Outcome(message_id, Verdict(quarantined=reason))

    def quarantine_oversized(self, *, source: str, location: str, size: int, limit: int,
                             stats: SourceStats) -> Outcome:
        """A message too large to fetch is recorded (without its bytes) and flagged."""
        with self.lock:
            return self._quarantine(None, source, location, f"message of {size} bytes exceeds the {limit}-byte limit",
                                    stats, size=size)
