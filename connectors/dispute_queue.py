"""Disputes made elsewhere in the gateway, on their way to the helpdesk ticket the message came from.

A team lead disputes a message's tag in the console (or with ``harassment-gateway disputes add``):
the category stops counting against the customer at once (gateway/disputes.py), but the ticket
in Zendesk or Freshdesk still shows ``hg_<category>`` to every agent who opens it. This carries
the correction to the ticket on the connector's next cycle, as IMAP mail gets its keywords taken
back (gateway/checkpoints.py):

1. :meth:`DisputeQueue.collect` reads the disputes recorded since the connector's watermark (the
   highest ``disputes.id`` it has looked at, in the ``state`` table), keeps those made elsewhere
   (a dispute whose ``origin`` is the connector itself came from its own ``hg_dispute`` tag, and
   the ticket was cleaned then) on messages of this connector's tickets, queues them per ticket
   (table ``dispute_queue``) and moves the watermark, in one transaction;
2. the connector takes each queued ticket (:meth:`DisputeQueue.pending`), removes the tags of the
   disputed categories that no longer stand on any of the ticket's gateway messages
   (:func:`plan`; a category another message still has keeps its tag) and adds one private note
   (:func:`note`); then :meth:`DisputeQueue.done`. A failed call leaves the ticket queued with
   the error (:meth:`DisputeQueue.failed`), to be tried again on the next cycle; nothing is lost.

Nothing is written when the ticket no longer shows the tags (an agent removed them, or the
dispute is older than this queue and was carried by an ``hg_dispute`` tag then).
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from connectors.base import TicketDispute
from connectors.note import MARKER
from gateway.disputes import Dispute, Disputes, dispute_from_row, disputes_after
from gateway.errors import HelpdeskError, RateLimited
from gateway.store.db import Database, register_schema

log = logging.getLogger(__name__)

register_schema(
    "dispute_queue",
    [
        """
        CREATE TABLE dispute_queue (
            connector TEXT NOT NULL,          -- the connector's origin: "zendesk:<entry>", "freshdesk:<entry>"
            dispute_id INTEGER NOT NULL,
            ticket_id TEXT NOT NULL,
            step TEXT NOT NULL DEFAULT '',    -- '' | 'tags' (the tags are off, the note is still to post)
            detail TEXT NOT NULL DEFAULT '{}',
            attempts INTEGER NOT NULL DEFAULT 0,
            error TEXT NOT NULL DEFAULT '',
            queued_at TEXT NOT NULL,
            PRIMARY KEY (connector, dispute_id)
        );
        CREATE INDEX dispute_queue_ticket ON dispute_queue(connector, ticket_id)
        """
    ],
)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


@dataclass
class TicketWork:
    """The queued disputes of one ticket. ``step`` and ``detail`` record a half-done carry
    (Freshdesk: tags removed, note not yet posted)."""

    ticket_id: str
    disputes: list[Dispute]
    step: str = ""
    detail: dict[str, Any] = field(default_factory=dict)
    attempts: int = 0

    @property
    def ids(self) -> list[int]:
        return [d.id for d in self.disputes]

    def actors(self) -> str:
        return ", ".join(dict.fromkeys(d.actor for d in self.disputes))

    def categories(self) -> dict[str, list[str]]:
        """Message id -> the categories disputed on it (as in :class:`connectors.base.TicketDispute`)."""
        out: dict[str, list[str]] = {}
        for d in self.disputes:
            out.setdefault(d.message_id, []).append(d.category)
        return out


class DisputeQueue:
    """The disputes one connector still has to carry to its tickets (see the module docstring)."""

    def __init__(self, db: Database, origin: str) -> None:
        self.db = db
        self.origin = origin
        db.migrate()

    @property
    def _watermark_key(self) -> str:
        return f"{self.origin}:disputes_seen"

    def watermark(self) -> int:
        return int(self.db.get_state(self._watermark_key) or 0)

    def collect(self, tickets_of: Callable[[list[str]], dict[str, str]]) -> int:
        """Queue the disputes recorded since the watermark that this connector did not make, on
        messages ``tickets_of`` (message ids -> this connector's ticket id) knows; move the
        watermark past every dispute read. Returns how many were queued."""
        seen = self.watermark()
        new = disputes_after(self.db, seen)
        if not new:
            return 0
        elsewhere = [d for d in new if d.origin != self.origin]
        tickets = tickets_of(list(dict.fromkeys(d.message_id for d in elsewhere))) if elsewhere else {}
        rows = [(self.origin, d.id, tickets[d.message_id], _now()) for d in elsewhere if d.message_id in tickets]
        with self.db.tx() as c:
            c.executemany("INSERT OR IGNORE INTO dispute_queue(connector, dispute_id, ticket_id, queued_at) "
                          "VALUES (?, ?, ?, ?)", rows)
            self.db.set_state(self._watermark_key, str(max(d.id for d in new)), c)
        return len(rows)

    def enqueue(self, ticket_id: str, dispute_ids: list[int]) -> None:
        """Queue disputes this connector made itself whose ticket write failed, so the next cycle
        carries them like any other (its dispute tag handler has no retry of its own)."""
        with self.db.tx() as c:
            self._insert(c, ticket_id, dispute_ids)

    def _insert(self, c: sqlite3.Connection, ticket_id: str, dispute_ids: list[int]) -> None:
        c.executemany("INSERT OR IGNORE INTO dispute_queue(connector, dispute_id, ticket_id, queued_at) "
                      "VALUES (?, ?, ?, ?)", [(self.origin, i, ticket_id, _now()) for i in dispute_ids])

    def enqueue_note(self, ticket_id: str, dispute_ids: list[int], detail: dict[str, Any]) -> None:
        """Queue disputes this connector made itself whose tags came off the ticket but whose note
        failed: the next cycle posts only the note (step ``tags`` done, with ``detail``)."""
        with self.db.tx() as c:
            self._insert(c, ticket_id, dispute_ids)
            self._set_step(c, dispute_ids, "tags", detail)

    def pending(self) -> list[TicketWork]:
        """The queued tickets, oldest dispute first, each with its disputes."""
        rows = self.db.query(
            "SELECT q.ticket_id, q.step, q.detail, q.attempts, d.* FROM dispute_queue q "
            "JOIN disputes d ON d.id = q.dispute_id WHERE q.connector = ? ORDER BY q.dispute_id", (self.origin,))
        out: dict[str, TicketWork] = {}
        for r in rows:
            work = out.get(r["ticket_id"])
            if work is None:
                work = out[r["ticket_id"]] = TicketWork(r["ticket_id"], [], r["step"], json.loads(r["detail"]),
                                                        r["attempts"])
            work.disputes.append(dispute_from_row(r))
        return list(out.values())

    def done(self, work: TicketWork, conn: sqlite3.Connection | None = None) -> None:
        """The ticket shows the disputes now (or cannot be changed any more): forget them."""
        marks = ", ".join("?" * len(work.ids))
        sql = f"DELETE FROM dispute_queue WHERE connector = ? AND dispute_id IN ({marks})"
        if conn is not None:
            conn.execute(sql, (self.origin, *work.ids))
        else:
            with self.db.tx() as c:
                c.execute(sql, (self.origin, *work.ids))

    def step_done(self, work: TicketWork, step: str, detail: dict[str, Any]) -> None:
        """Part of the carry reached the ticket: a retry resumes after it, with ``detail``."""
        work.step, work.detail = step, detail
        with self.db.tx() as c:
            self._set_step(c, work.ids, step, detail)

    def _set_step(self, c: sqlite3.Connection, dispute_ids: list[int], step: str, detail: dict[str, Any]) -> None:
        marks = ", ".join("?" * len(dispute_ids))
        c.execute(f"UPDATE dispute_queue SET step = ?, detail = ? WHERE connector = ? AND dispute_id IN ({marks})",
                  (step, json.dumps(detail, sort_keys=True), self.origin, *dispute_ids))

    def failed(self, work: TicketWork, error: str) -> None:
        """The helpdesk refused or did not answer: keep the ticket queued, with the reason."""
        marks = ", ".join("?" * len(work.ids))
        with self.db.tx() as c:
            c.execute(f"UPDATE dispute_queue SET attempts = attempts + 1, error = ? "
                      f"WHERE connector = ? AND dispute_id IN ({marks})", (error[:1000], self.origin, *work.ids))

    def failures(self) -> list[dict[str, Any]]:
        """Queued disputes that failed at least once (ticket, dispute id, attempts, last error)."""
        rows = self.db.query("SELECT ticket_id, dispute_id, attempts, error FROM dispute_queue "
                             "WHERE connector = ? AND attempts > 0 ORDER BY dispute_id", (self.origin,))
        return [dict(r) for r in rows]


async def carry_each(queue: DisputeQueue, helpdesk: str, tickets_of: Callable[[list[str]], dict[str, str]],
                     carry: Callable[[Disputes, TicketWork], Awaitable[TicketDispute | None]]) -> list[TicketDispute]:
    """Queue the new disputes on this connector's tickets (:meth:`DisputeQueue.collect` with
    ``tickets_of``), then ``carry`` each queued ticket (it calls :meth:`DisputeQueue.done` when the
    ticket shows the disputes, and returns what it did, or None when nothing had to change). A
    helpdesk error keeps the ticket queued for the next cycle, except a 404 (the ticket is gone);
    a 429 ends this round. Failures come back as a :class:`TicketDispute` with ``error`` set."""
    queue.collect(tickets_of)
    pending = queue.pending()
    if not pending:
        return []
    disputes = Disputes(queue.db)
    out: list[TicketDispute] = []
    for work in pending:
        try:
            done = await carry(disputes, work)
        except HelpdeskError as exc:
            gone = exc.status == 404
            if gone:
                queue.done(work)
            else:
                queue.failed(work, str(exc))
            log.warning("%s: dispute for ticket %s not carried: %s", helpdesk, work.ticket_id, exc)
            what = "the ticket is gone; dropped" if gone else "tried again next cycle"
            out.append(TicketDispute(helpdesk, work.ticket_id, work.actors(), work.categories(), via="gateway",
                                     error=f"{exc} ({what})"))
            if isinstance(exc, RateLimited):
                break  # the rest stay queued: no point asking again within this cycle
            continue
        if done is not None:
            out.append(done)
    return out


def carried(helpdesk: str, work: TicketWork, removed: list[str]) -> TicketDispute:
    """What the cycle report shows for a ticket the disputes reached."""
    return TicketDispute(helpdesk, work.ticket_id, work.actors(), work.categories(), via="gateway",
                         tags_removed=list(removed))


@dataclass
class CarryPlan:
    """What a ticket needs: ``remove`` (tags on the ticket of categories that no longer stand on
    any of its messages), ``withdrawn`` (those categories), ``kept`` (disputed categories another
    message of the ticket still has, whose tag is on the ticket and stays)."""

    remove: list[str]
    withdrawn: list[str]
    kept: list[str]

    @property
    def anything(self) -> bool:
        return bool(self.remove or self.kept)


def no_longer_standing(disputes: Disputes, message_ids: list[str]) -> set[str]:
    """The categories disputed on any of ``message_ids`` that stand on none of them."""
    disputed = {d.category for m in message_ids for d in disputes.for_message(m)}
    return disputed - disputes.standing(message_ids)


def plan(disputes: Disputes, work: TicketWork, message_ids: list[str], ticket_tags: Iterable[str],
         tag_of: Callable[[str], str]) -> CarryPlan:
    """Which tags to take off the ticket for ``work``: ``message_ids`` are the ticket's messages the
    gateway tagged, ``tag_of`` maps a category to the helpdesk's tag name."""
    standing = disputes.standing(message_ids)
    present = set(ticket_tags)
    disputed = sorted({d.category for d in work.disputes})
    withdrawn = [c for c in disputed if c not in standing and tag_of(c) in present]
    kept = [c for c in disputed if c in standing and tag_of(c) in present]
    return CarryPlan([tag_of(c) for c in withdrawn], withdrawn, kept)


def note(work: TicketWork, withdrawn: list[str], kept: list[str]) -> str:
    """The private note for agents: who disputed what, what changed on the ticket, and that a hold
    stays. Reasons are left in the gateway (audit trail), the note names people and categories."""
    lines = [f"{MARKER}: a dispute recorded in the gateway reaches this ticket.", ""]
    by_actor: dict[tuple[str, str], list[str]] = {}
    for d in work.disputes:
        by_actor.setdefault((d.actor, d.origin), []).append(d.category)
    for (actor, origin), cats in by_actor.items():
        where = f" ({origin})" if origin else ""
        lines.append(f"- {actor}{where} disputed {', '.join(dict.fromkeys(cats))}.")
    lines.append("")
    if withdrawn:
        lines.append(f"Withdrawn from this ticket: {', '.join(withdrawn)}. These no longer count against the customer.")
    if kept:
        lines.append(f"Still standing on another message of this ticket, so the tag stays: {', '.join(kept)}.")
    lines.append("A hold already in place stays until a team lead lifts it.")
    return "\n".join(lines)


__all__ = ["CarryPlan", "DisputeQueue", "TicketWork", "carried", "carry_each", "no_longer_standing", "note", "plan"]
