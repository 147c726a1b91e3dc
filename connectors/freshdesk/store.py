"""What the Freshdesk connector remembers in the gateway's SQLite store.

- ``freshdesk_effects``: each effect (note, tags, hold, proposal) done for a conversation, so a
  conversation delivered twice (poll and webhook, or a retry after a crash) is never applied twice,
  and a half-applied one resumes where it stopped.
- ``freshdesk_holds``: exactly what a hold changed on a ticket (did the gateway add the hold tag,
  which status it replaced with which), so lifting undoes that and nothing else.
- ``freshdesk_proposals``: proposed holds waiting for a lead's approve/reject tag.
- ``freshdesk_replies``: approved drafts already sent with /reply (one send per draft).
- ``freshdesk_failures``: calls that failed for good (after the retry budget), with Freshdesk's
  words, so an operator sees what did not reach the ticket; the message stays retryable.
- The poll's high-water mark lives in the shared ``state`` table (``Database.get_state``), see
  :mod:`.poll`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from gateway.store.db import Database, register_schema

register_schema(
    "freshdesk",
    [
        """
        CREATE TABLE freshdesk_effects (
            helpdesk TEXT NOT NULL,
            message_id TEXT NOT NULL,
            step TEXT NOT NULL,
            ticket_id TEXT NOT NULL,
            detail TEXT NOT NULL DEFAULT '{}',
            at TEXT NOT NULL,
            PRIMARY KEY (helpdesk, message_id, step)
        );
        CREATE TABLE freshdesk_holds (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            helpdesk TEXT NOT NULL,
            ticket_id TEXT NOT NULL,
            message_id TEXT NOT NULL,
            tag TEXT NOT NULL,
            tag_added INTEGER NOT NULL,
            status_before INTEGER,
            status_applied INTEGER,
            applied_at TEXT NOT NULL,
            lifted_at TEXT,
            lifted_by TEXT,
            lift_reason TEXT
        );
        CREATE INDEX freshdesk_holds_ticket ON freshdesk_holds (helpdesk, ticket_id, lifted_at);
        CREATE TABLE freshdesk_proposals (
            helpdesk TEXT NOT NULL,
            ticket_id TEXT NOT NULL,
            message_id TEXT NOT NULL,
            requester_id TEXT NOT NULL DEFAULT '',
            proposed_at TEXT NOT NULL,
            verdict TEXT,
            decided_at TEXT,
            PRIMARY KEY (helpdesk, ticket_id, message_id)
        );
        CREATE TABLE freshdesk_replies (
            helpdesk TEXT NOT NULL,
            draft_id TEXT NOT NULL,
            ticket_id TEXT NOT NULL,
            conversation_id TEXT NOT NULL,
            sent_at TEXT NOT NULL,
            PRIMARY KEY (helpdesk, draft_id)
        );
        CREATE TABLE freshdesk_failures (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            helpdesk TEXT NOT NULL,
            message_id TEXT NOT NULL,
            ticket_id TEXT NOT NULL,
            step TEXT NOT NULL,
            status INTEGER,
            error TEXT NOT NULL,
            at TEXT NOT NULL
        )
        """
    ],
)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


@dataclass(frozen=True)
class HoldRecord:
    """What one hold changed on a ticket."""

    id: int
    ticket_id: str
    message_id: str
    tag: str
    tag_added: bool
    status_before: int | None
    status_applied: int | None


@dataclass(frozen=True)
class Proposal:
    ticket_id: str
    message_id: str
    requester_id: str


class FreshdeskState:
    """The connector's rows for one helpdesk entry (``helpdesk`` = the entry's name)."""

    def __init__(self, db: Database, helpdesk: str) -> None:
        self.db = db
        self.helpdesk = helpdesk
        db.migrate()

    # -- effects -------------------------------------------------------------------------------------
    def done_steps(self, message_id: str) -> dict[str, dict[str, Any]]:
        rows = self.db.query(
            "SELECT step, detail FROM freshdesk_effects WHERE helpdesk = ? AND message_id = ?",
            (self.helpdesk, message_id),
        )
        return {r["step"]: json.loads(r["detail"]) for r in rows}

    def record_step(self, message_id: str, ticket_id: str, step: str, detail: dict[str, Any] | None = None) -> None:
        with self.db.tx() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO freshdesk_effects(helpdesk, message_id, step, ticket_id, detail, at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (self.helpdesk, message_id, step, ticket_id, json.dumps(detail or {}, sort_keys=True), _now()),
            )

    # -- holds ---------------------------------------------------------------------------------------
    def active_hold(self, ticket_id: str) -> HoldRecord | None:
        row = self.db.query_one(
            "SELECT * FROM freshdesk_holds WHERE helpdesk = ? AND ticket_id = ? AND lifted_at IS NULL "
            "ORDER BY id DESC LIMIT 1",
            (self.helpdesk, ticket_id),
        )
        if row is None:
            return None
        return HoldRecord(
            id=row["id"], ticket_id=row["ticket_id"], message_id=row["message_id"], tag=row["tag"],
            tag_added=bool(row["tag_added"]), status_before=row["status_before"],
            status_applied=row["status_applied"],
        )

    def record_hold(
        self, ticket_id: str, message_id: str, *, tag: str, tag_added: bool,
        status_before: int | None, status_applied: int | None,
    ) -> None:
        with self.db.tx() as conn:
            conn.execute(
                "INSERT INTO freshdesk_holds(helpdesk, ticket_id, message_id, tag, tag_added, status_before, "
                "status_applied, applied_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (self.helpdesk, ticket_id, message_id, tag, int(tag_added), status_before, status_applied, _now()),
            )

    def record_lift(self, hold_id: int, *, actor: str, reason: str) -> None:
        with self.db.tx() as conn:
            conn.execute(
                "UPDATE freshdesk_holds SET lifted_at = ?, lifted_by = ?, lift_reason = ? WHERE id = ?",
                (_now(), actor, reason, hold_id),
            )

    # -- proposals -----------------------------------------------------------------------------------
    def record_proposal(self, ticket_id: str, message_id: str, requester_id: str) -> None:
        with self.db.tx() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO freshdesk_proposals(helpdesk, ticket_id, message_id, requester_id, "
                "proposed_at) VALUES (?, ?, ?, ?, ?)",
                (self.helpdesk, ticket_id, message_id, requester_id, _now()),
            )

    def open_proposals(self, ticket_ids: list[str] | None = None) -> list[Proposal]:
        rows = self.db.query(
            "SELECT ticket_id, message_id, requester_id FROM freshdesk_proposals "
            "WHERE helpdesk = ? AND verdict IS NULL ORDER BY proposed_at",
            (self.helpdesk,),
        )
        out = [Proposal(r["ticket_id"], r["message_id"], r["requester_id"]) for r in rows]
        if ticket_ids is not None:
            wanted = set(ticket_ids)
            out = [p for p in out if p.ticket_id in wanted]
        return out

    def decide_proposals(self, ticket_id: str, verdict: str) -> None:
        with self.db.tx() as conn:
            conn.execute(
                "UPDATE freshdesk_proposals SET verdict = ?, decided_at = ? "
                "WHERE helpdesk = ? AND ticket_id = ? AND verdict IS NULL",
                (verdict, _now(), self.helpdesk, ticket_id),
            )

    # -- replies -------------------------------------------------------------------------------------
    def sent_reply(self, draft_id: str) -> str | None:
        row = self.db.query_one(
            "SELECT conversation_id FROM freshdesk_replies WHERE helpdesk = ? AND draft_id = ?",
            (self.helpdesk, draft_id),
        )
        return row["conversation_id"] if row else None

    def record_reply(self, draft_id: str, ticket_id: str, conversation_id: str) -> None:
        with self.db.tx() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO freshdesk_replies(helpdesk, draft_id, ticket_id, conversation_id, sent_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (self.helpdesk, draft_id, ticket_id, conversation_id, _now()),
            )

    # -- failures ------------------------------------------------------------------------------------
    def record_failure(self, message_id: str, ticket_id: str, step: str, error: str, status: int | None) -> None:
        with self.db.tx() as conn:
            conn.execute(
                "INSERT INTO freshdesk_failures(helpdesk, message_id, ticket_id, step, status, error, at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (self.helpdesk, message_id, ticket_id, step, status, error, _now()),
            )

    def tagged_messages(self, ticket_ids: list[str]) -> dict[str, list[str]]:
        """Ticket id -> the messages on it whose verdict tagged the ticket (they have a ``tags``
        step; clean and shadow-mode messages have none), oldest first."""
        if not ticket_ids:
            return {}
        marks = ", ".join("?" * len(ticket_ids))
        rows = self.db.query(
            f"SELECT ticket_id, message_id FROM freshdesk_effects WHERE helpdesk = ? AND step = 'tags' "
            f"AND ticket_id IN ({marks}) ORDER BY at, message_id", (self.helpdesk, *ticket_ids))
        out: dict[str, list[str]] = {}
        for r in rows:
            out.setdefault(r["ticket_id"], []).append(r["message_id"])
        return out

    def tagged_tickets_of(self, message_ids: list[str]) -> dict[str, str]:
        """Message id -> its ticket id, for the ids whose verdict tagged a ticket of this
        helpdesk (a dispute made in the console, carried to the ticket)."""
        rows = self.db.query_in("SELECT message_id, ticket_id FROM freshdesk_effects WHERE helpdesk = ? "
                                "AND step = 'tags' AND message_id IN ({marks})", message_ids, (self.helpdesk,))
        return {r["message_id"]: str(r["ticket_id"]) for r in rows}

    def failures(self, message_id: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT message_id, ticket_id, step, status, error, at FROM freshdesk_failures WHERE helpdesk = ?"
        params: tuple[Any, ...] = (self.helpdesk,)
        if message_id is not None:
            sql += " AND message_id = ?"
            params += (message_id,)
        return [dict(r) for r in self.db.query(sql + " ORDER BY id", params)]
