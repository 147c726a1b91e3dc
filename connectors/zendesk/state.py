"""What the Zendesk connector remembers in the gateway's SQLite store.

- ``zendesk_comments``: every end-user comment seen, and whether its effects were applied — the
  guard that nothing is applied twice, and the list of failures to retry.
- ``zendesk_tickets``: per ticket, the ``updated_at`` our own last update produced (so the export
  echo of our own write costs no read) and whether the ticket must be re-read (after a failure, or
  a webhook nudge).
- ``zendesk_holds``: what a hold changed on a ticket (tag, status before and after, suspension), so
  lifting undoes exactly that.
- ``zendesk_webhooks``: invocation ids already accepted (replay guard).
- ``zendesk_replies``: approved drafts already posted (idempotent sending).
The export cursor lives in the generic ``state`` table (``Database.get_state``).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from gateway.store.db import Database, register_schema

register_schema(
    "zendesk",
    [
        """
        CREATE TABLE zendesk_comments (
            helpdesk TEXT NOT NULL,
            comment_id INTEGER NOT NULL,
            ticket_id INTEGER NOT NULL,
            message_id TEXT NOT NULL,
            state TEXT NOT NULL,            -- pending | applied | failed
            attempts INTEGER NOT NULL DEFAULT 0,
            error TEXT NOT NULL DEFAULT '',
            updated_at TEXT NOT NULL,
            PRIMARY KEY (helpdesk, comment_id)
        );
        CREATE INDEX zendesk_comments_ticket ON zendesk_comments(helpdesk, ticket_id, state);
        CREATE TABLE zendesk_tickets (
            helpdesk TEXT NOT NULL,
            ticket_id INTEGER NOT NULL,
            our_updated_at TEXT NOT NULL DEFAULT '',
            reread INTEGER NOT NULL DEFAULT 0,
            seen_top INTEGER NOT NULL DEFAULT 0,    -- highest comment id listed so far
            PRIMARY KEY (helpdesk, ticket_id)
        );
        CREATE TABLE zendesk_holds (
            helpdesk TEXT NOT NULL,
            ticket_id INTEGER NOT NULL,
            state TEXT NOT NULL,            -- proposed | active | lifted | rejected
            message_id TEXT NOT NULL,
            requester_id INTEGER,
            scope TEXT NOT NULL DEFAULT 'thread',
            tag TEXT NOT NULL DEFAULT '',
            prev_status TEXT NOT NULL DEFAULT '',
            prev_custom_status_id INTEGER,
            set_status TEXT NOT NULL DEFAULT '',
            set_custom_status_id INTEGER,
            suspended INTEGER NOT NULL DEFAULT 0,
            decided_by TEXT NOT NULL DEFAULT '',
            updated_at TEXT NOT NULL,
            PRIMARY KEY (helpdesk, ticket_id)
        );
        CREATE TABLE zendesk_webhooks (
            helpdesk TEXT NOT NULL,
            invocation_id TEXT NOT NULL,
            received_at TEXT NOT NULL,
            PRIMARY KEY (helpdesk, invocation_id)
        );
        CREATE TABLE zendesk_replies (
            helpdesk TEXT NOT NULL,
            draft_id TEXT NOT NULL,
            ticket_id INTEGER NOT NULL,
            audit_id TEXT NOT NULL DEFAULT '',
            sent_at TEXT NOT NULL,
            PRIMARY KEY (helpdesk, draft_id)
        );
        CREATE TABLE zendesk_approvals (
            helpdesk TEXT NOT NULL,
            ticket_id INTEGER NOT NULL,
            verdict TEXT NOT NULL,
            actor TEXT NOT NULL DEFAULT '',
            actor_id TEXT NOT NULL DEFAULT '',
            source TEXT NOT NULL DEFAULT '',
            at TEXT NOT NULL DEFAULT '',
            PRIMARY KEY (helpdesk, ticket_id)
        )
        """,
        """
        CREATE TABLE zendesk_disputes (
            helpdesk TEXT NOT NULL,
            ticket_id INTEGER NOT NULL,
            actor TEXT NOT NULL DEFAULT '',
            actor_id TEXT NOT NULL DEFAULT '',
            at TEXT NOT NULL DEFAULT '',
            PRIMARY KEY (helpdesk, ticket_id)
        )
        """,
    ],
)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


@dataclass
class HoldRecord:
    ticket_id: int
    state: str
    message_id: str
    requester_id: int | None
    scope: str
    tag: str
    prev_status: str
    prev_custom_status_id: int | None
    set_status: str
    set_custom_status_id: int | None
    suspended: bool
    decided_by: str


class ZendeskState:
    """The connector's tables for one helpdesk entry."""

    def __init__(self, db: Database, helpdesk: str) -> None:
        self.db = db
        self.helpdesk = helpdesk
        db.migrate()

    # export cursor ------------------------------------------------------------------------
    @property
    def _cursor_key(self) -> str:
        return f"zendesk:{self.helpdesk}:export_cursor"

    def cursor(self) -> str | None:
        return self.db.get_state(self._cursor_key)

    def set_cursor(self, cursor: str) -> None:
        self.db.set_state(self._cursor_key, cursor)

    def epoch(self) -> int | None:
        """Unix time the first export started from: older comments are history, not new contact."""
        value = self.db.get_state(f"zendesk:{self.helpdesk}:epoch")
        return int(value) if value is not None else None

    def set_epoch(self, start: int) -> None:
        self.db.set_state(f"zendesk:{self.helpdesk}:epoch", str(start))

    # comments -----------------------------------------------------------------------------
    def comment_state(self, comment_id: int) -> str | None:
        row = self.db.query_one(
            "SELECT state FROM zendesk_comments WHERE helpdesk = ? AND comment_id = ?", (self.helpdesk, comment_id)
        )
        return row["state"] if row else None

    def floor(self, ticket_id: int) -> int:
        """Every comment at or below this id on the ticket is applied; above it, look again."""
        row = self.db.query_one(
            "SELECT MIN(CASE WHEN state != 'applied' THEN comment_id END) AS open_min, "
            "MAX(comment_id) AS top FROM zendesk_comments WHERE helpdesk = ? AND ticket_id = ?",
            (self.helpdesk, ticket_id),
        )
        if row is not None and row["open_min"] is not None:
            return row["open_min"] - 1
        top = row["top"] if row is not None and row["top"] is not None else 0
        seen = self.db.query_one(
            "SELECT seen_top FROM zendesk_tickets WHERE helpdesk = ? AND ticket_id = ?", (self.helpdesk, ticket_id)
        )
        return max(top, seen["seen_top"] if seen else 0)

    def set_seen_top(self, ticket_id: int, comment_id: int) -> None:
        """Every comment up to ``comment_id`` was listed; the end users' ones are recorded."""
        with self.db.tx() as c:
            c.execute(
                "INSERT INTO zendesk_tickets(helpdesk, ticket_id, seen_top) VALUES (?, ?, ?) "
                "ON CONFLICT(helpdesk, ticket_id) DO UPDATE SET seen_top = MAX(seen_top, excluded.seen_top)",
                (self.helpdesk, ticket_id, comment_id),
            )

    def record_seen(self, comment_id: int, ticket_id: int, message_id: str) -> None:
        with self.db.tx() as c:
            c.execute(
                "INSERT INTO zendesk_comments(helpdesk, comment_id, ticket_id, message_id, state, updated_at) "
                "VALUES (?, ?, ?, ?, 'pending', ?) ON CONFLICT DO NOTHING",
                (self.helpdesk, comment_id, ticket_id, message_id, _now()),
            )

    def mark_applied(self, comment_id: int, conn: sqlite3.Connection) -> None:
        conn.execute(
            "UPDATE zendesk_comments SET state = 'applied', error = '', updated_at = ? "
            "WHERE helpdesk = ? AND comment_id = ?",
            (_now(), self.helpdesk, comment_id),
        )

    def mark_failed(self, comment_id: int, ticket_id: int, error: str) -> None:
        with self.db.tx() as c:
            c.execute(
                "UPDATE zendesk_comments SET state = 'failed', attempts = attempts + 1, error = ?, updated_at = ? "
                "WHERE helpdesk = ? AND comment_id = ?",
                (error[:1000], _now(), self.helpdesk, comment_id),
            )
            self._set_reread(c, ticket_id, True)

    def failures(self) -> list[dict[str, Any]]:
        rows = self.db.query(
            "SELECT comment_id, ticket_id, message_id, attempts, error, updated_at FROM zendesk_comments "
            "WHERE helpdesk = ? AND state = 'failed' ORDER BY comment_id",
            (self.helpdesk,),
        )
        return [dict(r) for r in rows]

    # tickets ------------------------------------------------------------------------------
    def our_updated_at(self, ticket_id: int) -> str:
        row = self.db.query_one(
            "SELECT our_updated_at FROM zendesk_tickets WHERE helpdesk = ? AND ticket_id = ?",
            (self.helpdesk, ticket_id),
        )
        return row["our_updated_at"] if row else ""

    def set_our_updated_at(self, ticket_id: int, updated_at: str, conn: sqlite3.Connection) -> None:
        conn.execute(
            "INSERT INTO zendesk_tickets(helpdesk, ticket_id, our_updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT(helpdesk, ticket_id) DO UPDATE SET our_updated_at = excluded.our_updated_at",
            (self.helpdesk, ticket_id, updated_at),
        )

    def request_reread(self, ticket_id: int) -> None:
        with self.db.tx() as c:
            self._set_reread(c, ticket_id, True)

    def _set_reread(self, conn: sqlite3.Connection, ticket_id: int, flag: bool) -> None:
        conn.execute(
            "INSERT INTO zendesk_tickets(helpdesk, ticket_id, reread) VALUES (?, ?, ?) "
            "ON CONFLICT(helpdesk, ticket_id) DO UPDATE SET reread = excluded.reread",
            (self.helpdesk, ticket_id, int(flag)),
        )

    def reread_queue(self) -> list[int]:
        rows = self.db.query(
            "SELECT ticket_id FROM zendesk_tickets WHERE helpdesk = ? AND reread = 1 ORDER BY ticket_id",
            (self.helpdesk,),
        )
        return [r["ticket_id"] for r in rows]

    def clear_reread(self, ticket_ids: list[int]) -> None:
        with self.db.tx() as c:
            for t in ticket_ids:
                c.execute(
                    "UPDATE zendesk_tickets SET reread = 0 WHERE helpdesk = ? AND ticket_id = ?", (self.helpdesk, t)
                )

    # holds --------------------------------------------------------------------------------
    def hold(self, ticket_id: int) -> HoldRecord | None:
        row = self.db.query_one(
            "SELECT * FROM zendesk_holds WHERE helpdesk = ? AND ticket_id = ?", (self.helpdesk, ticket_id)
        )
        if row is None:
            return None
        return HoldRecord(
            ticket_id=row["ticket_id"], state=row["state"], message_id=row["message_id"],
            requester_id=row["requester_id"], scope=row["scope"], tag=row["tag"], prev_status=row["prev_status"],
            prev_custom_status_id=row["prev_custom_status_id"], set_status=row["set_status"],
            set_custom_status_id=row["set_custom_status_id"], suspended=bool(row["suspended"]),
            decided_by=row["decided_by"],
        )

    def holds_in_state(self, state: str) -> list[HoldRecord]:
        rows = self.db.query(
            "SELECT ticket_id FROM zendesk_holds WHERE helpdesk = ? AND state = ?", (self.helpdesk, state)
        )
        return [h for r in rows if (h := self.hold(r["ticket_id"])) is not None]

    def save_hold(self, h: HoldRecord, conn: sqlite3.Connection) -> None:
        conn.execute(
            "INSERT INTO zendesk_holds(helpdesk, ticket_id, state, message_id, requester_id, scope, tag, prev_status, "
            "prev_custom_status_id, set_status, set_custom_status_id, suspended, decided_by, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(helpdesk, ticket_id) DO UPDATE SET "
            "state = excluded.state, message_id = excluded.message_id, requester_id = excluded.requester_id, "
            "scope = excluded.scope, tag = excluded.tag, prev_status = excluded.prev_status, "
            "prev_custom_status_id = excluded.prev_custom_status_id, set_status = excluded.set_status, "
            "set_custom_status_id = excluded.set_custom_status_id, suspended = excluded.suspended, "
            "decided_by = excluded.decided_by, updated_at = excluded.updated_at",
            (self.helpdesk, h.ticket_id, h.state, h.message_id, h.requester_id, h.scope, h.tag, h.prev_status,
             h.prev_custom_status_id, h.set_status, h.set_custom_status_id, int(h.suspended), h.decided_by, _now()),
        )

    # webhooks, replies, approvals ------------------------------------------------------------
    def accept_invocation(self, invocation_id: str) -> bool:
        """Record a webhook invocation id; False when it was seen before (a replay)."""
        with self.db.tx() as c:
            cur = c.execute(
                "INSERT INTO zendesk_webhooks(helpdesk, invocation_id, received_at) VALUES (?, ?, ?) "
                "ON CONFLICT DO NOTHING",
                (self.helpdesk, invocation_id, _now()),
            )
            return cur.rowcount == 1

    def reply_sent(self, draft_id: str) -> str | None:
        row = self.db.query_one(
            "SELECT audit_id FROM zendesk_replies WHERE helpdesk = ? AND draft_id = ?", (self.helpdesk, draft_id)
        )
        return row["audit_id"] if row else None

    def record_reply(self, draft_id: str, ticket_id: int, audit_id: str) -> None:
        with self.db.tx() as c:
            c.execute(
                "INSERT INTO zendesk_replies(helpdesk, draft_id, ticket_id, audit_id, sent_at) VALUES (?, ?, ?, ?, ?)",
                (self.helpdesk, draft_id, ticket_id, audit_id, _now()),
            )

    def stage_approval(self, ticket_id: int, verdict: str, *, actor: str = "", actor_id: str = "",
                       source: str = "", at: str = "") -> None:
        """Remember a verdict seen on a ticket (from the export or a webhook) until it is handled."""
        with self.db.tx() as c:
            c.execute(
                "INSERT INTO zendesk_approvals(helpdesk, ticket_id, verdict, actor, actor_id, source, at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(helpdesk, ticket_id) DO UPDATE SET "
                "verdict = excluded.verdict, "
                "actor = CASE WHEN excluded.actor != '' THEN excluded.actor ELSE zendesk_approvals.actor END, "
                "actor_id = CASE WHEN excluded.actor_id != '' THEN excluded.actor_id ELSE zendesk_approvals.actor_id END, "
                "source = CASE WHEN excluded.actor != '' THEN excluded.source ELSE zendesk_approvals.source END, "
                "at = CASE WHEN excluded.at != '' THEN excluded.at ELSE zendesk_approvals.at END",
                (self.helpdesk, ticket_id, verdict, actor, actor_id, source, at),
            )

    def staged_approvals(self) -> list[dict[str, Any]]:
        rows = self.db.query("SELECT * FROM zendesk_approvals WHERE helpdesk = ? ORDER BY ticket_id", (self.helpdesk,))
        return [dict(r) for r in rows]

    def drop_approval(self, ticket_id: int, conn: sqlite3.Connection) -> None:
        conn.execute("DELETE FROM zendesk_approvals WHERE helpdesk = ? AND ticket_id = ?", (self.helpdesk, ticket_id))


    # -- disputes (connectors/zendesk/disputes.py) ------------------------------------------------

    def stage_dispute(self, ticket_id: int, *, actor: str = "", actor_id: str = "", at: str = "") -> None:
        """Remember a dispute tag seen on a ticket until it is handled (who, when a webhook said)."""
        with self.db.tx() as c:
            c.execute(
                "INSERT INTO zendesk_disputes(helpdesk, ticket_id, actor, actor_id, at) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(helpdesk, ticket_id) DO UPDATE SET "
                "actor = CASE WHEN excluded.actor != '' THEN excluded.actor ELSE zendesk_disputes.actor END, "
                "actor_id = CASE WHEN excluded.actor_id != '' THEN excluded.actor_id ELSE zendesk_disputes.actor_id END, "
                "at = CASE WHEN excluded.at != '' THEN excluded.at ELSE zendesk_disputes.at END",
                (self.helpdesk, ticket_id, actor, actor_id, at),
            )

    def staged_disputes(self) -> list[dict[str, Any]]:
        rows = self.db.query("SELECT * FROM zendesk_disputes WHERE helpdesk = ? ORDER BY ticket_id", (self.helpdesk,))
        return [dict(r) for r in rows]

    def drop_dispute(self, ticket_id: int, conn: sqlite3.Connection) -> None:
        conn.execute("DELETE FROM zendesk_disputes WHERE helpdesk = ? AND ticket_id = ?", (self.helpdesk, ticket_id))

    def ticket_messages(self, ticket_id: int) -> list[str]:
        """The gateway message ids of the ticket's customer comments read so far, oldest first."""
        rows = self.db.query("SELECT message_id FROM zendesk_comments WHERE helpdesk = ? AND ticket_id = ? "
                             "ORDER BY comment_id", (self.helpdesk, ticket_id))
        return [r["message_id"] for r in rows]

    def tickets_of(self, message_ids: list[str]) -> dict[str, str]:
        """Message id -> the id of the ticket its comment is on, for the ids that are this
        helpdesk's comments (a dispute made in the console, carried to the ticket)."""
        rows = self.db.query_in("SELECT message_id, ticket_id FROM zendesk_comments WHERE helpdesk = ? "
                                "AND message_id IN ({marks})", message_ids, (self.helpdesk,))
        return {r["message_id"]: str(r["ticket_id"]) for r in rows}


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)
