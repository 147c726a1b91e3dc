"""Where each mailbox stopped, and which messages already have a verdict.

A checkpoint is ``(UIDVALIDITY, last processed UID)`` per source and mailbox. It moves forward
only after the effects of every message up to that UID are committed (verdict in the store,
keywords on the server), so a crash at any moment means some messages are seen again, never
that one is skipped. Seeing a message again is harmless: the ledger of verdicts, keyed by the
message's id (its Message-ID, else a content hash), hands back the stored verdict instead of
running the pipeline twice. When the server's UIDVALIDITY changes, the mailbox is rescanned
from the start and the ledger keeps the rescan from repeating anything.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from gateway.store.db import Database, register_schema

register_schema(
    "checkpoints",
    [
        """
        CREATE TABLE checkpoints (
            source TEXT NOT NULL,
            mailbox TEXT NOT NULL,
            uidvalidity INTEGER NOT NULL,
            last_uid INTEGER NOT NULL,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (source, mailbox)
        );
        CREATE TABLE verdicts (
            message_id TEXT PRIMARY KEY,
            source TEXT NOT NULL,
            verdict TEXT NOT NULL,
            processed_at TEXT NOT NULL
        )
        """,
        """
        CREATE TABLE keyword_corrections (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            message_id TEXT NOT NULL,
            source TEXT NOT NULL,
            remove TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            state TEXT NOT NULL DEFAULT 'pending',
            created_at TEXT NOT NULL,
            done_at TEXT
        );
        CREATE INDEX keyword_corrections_pending ON keyword_corrections(source, state)
        """,
    ],
)

#: A correction no mailbox of its source could find after this many passes is given up (the
#: message was deleted or moved out of reach by a person).
CORRECTION_ATTEMPTS = 10


@dataclass(frozen=True)
class Checkpoint:
    uidvalidity: int
    last_uid: int


@dataclass(frozen=True)
class Verdict:
    """What the daemon needs to redo a message's mailbox effects without re-analysing it."""

    categories: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    held: bool = False
    quarantined: str = ""  # the reason, when the message could not be analysed

    def to_json(self) -> dict[str, Any]:
        return {"categories": list(self.categories), "tags": list(self.tags), "held": self.held,
                "quarantined": self.quarantined}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Verdict":
        return cls(tuple(data.get("categories", ())), tuple(data.get("tags", ())),
                   bool(data.get("held", False)), str(data.get("quarantined", "")))


_REMEMBER = ("INSERT INTO verdicts(message_id, source, verdict, processed_at) VALUES (?, ?, ?, ?) "
             "ON CONFLICT(message_id) DO NOTHING")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


class Checkpoints:
    """Checkpoints per (source, mailbox) and the verdict ledger, in the gateway's SQLite store."""

    def __init__(self, db: Database) -> None:
        self.db = db
        db.migrate()

    def get(self, source: str, mailbox: str) -> Checkpoint | None:
        row = self.db.query_one(
            "SELECT uidvalidity, last_uid FROM checkpoints WHERE source = ? AND mailbox = ?", (source, mailbox)
        )
        return Checkpoint(int(row["uidvalidity"]), int(row["last_uid"])) if row else None

    def start(self, source: str, mailbox: str, uidvalidity: int) -> Checkpoint:
        """The checkpoint to resume from; a new UIDVALIDITY (or none yet) starts over at UID 0."""
        current = self.get(source, mailbox)
        if current is not None and current.uidvalidity == uidvalidity:
            return current
        with self.db.tx() as conn:
            conn.execute(
                "INSERT INTO checkpoints(source, mailbox, uidvalidity, last_uid, updated_at) VALUES (?, ?, ?, 0, ?) "
                "ON CONFLICT(source, mailbox) DO UPDATE SET uidvalidity = excluded.uidvalidity, last_uid = 0, "
                "updated_at = excluded.updated_at",
                (source, mailbox, uidvalidity, _now()),
            )
        return Checkpoint(uidvalidity, 0)

    def advance(self, source: str, mailbox: str, uidvalidity: int, uid: int) -> None:
        """Record that every message up to ``uid`` is done. Never moves backwards, and never
        touches a checkpoint that belongs to another UIDVALIDITY."""
        with self.db.tx() as conn:
            conn.execute(
                "UPDATE checkpoints SET last_uid = ?, updated_at = ? "
                "WHERE source = ? AND mailbox = ? AND uidvalidity = ? AND last_uid < ?",
                (uid, _now(), source, mailbox, uidvalidity, uid),
            )

    # -- the verdict ledger -----------------------------------------------------------------------

    def verdict(self, message_id: str) -> Verdict | None:
        row = self.db.query_one("SELECT verdict FROM verdicts WHERE message_id = ?", (message_id,))
        return Verdict.from_json(json.loads(row["verdict"])) if row else None

    def verdicts(self, message_ids: list[str]) -> dict[str, Verdict]:
        """``verdict`` for many ids at once (one query per 500): those with a verdict."""
        rows = self.db.query_in("SELECT message_id, verdict FROM verdicts WHERE message_id IN ({marks})", message_ids)
        return {r[0]: Verdict.from_json(json.loads(r[1])) for r in rows}

    def remember(self, message_id: str, source: str, verdict: Verdict) -> None:
        """Keep the first verdict for a message id (a later copy reuses it). Inside an open
        transaction (the message's own, which also holds its analysis) it joins it: one
        statement needs no savepoint of its own."""
        params = (message_id, source, json.dumps(verdict.to_json()), _now())
        db = self.db
        with db._lock:
            if db.in_tx:
                db.conn.execute(_REMEMBER, params)
                return
            with db.tx() as conn:
                conn.execute(_REMEMBER, params)

    def withdraw(self, message_id: str, categories: list[str], conn: Any) -> frozenset[str]:
        """A person disputed ``categories`` of a message: take them (and their ``hg_`` tags) out of
        its verdict, so a rescan does not put them back, and queue the removal of the keywords
        that no longer apply for the message's source to carry out. Returns those keywords
        (none when the daemon never saw the message). Runs in the caller's transaction."""
        from gateway.mail.keywords import keywords_for

        row = conn.execute("SELECT source, verdict FROM verdicts WHERE message_id = ?", (message_id,)).fetchone()
        if row is None:
            return frozenset()
        old = Verdict.from_json(json.loads(row["verdict"]))
        gone = set(categories)
        new = Verdict(tuple(c for c in old.categories if c not in gone),
                      tuple(t for t in old.tags if not (t.startswith("hg_") and t[3:] in gone)), old.held, old.quarantined)
        conn.execute("UPDATE verdicts SET verdict = ? WHERE message_id = ?", (json.dumps(new.to_json()), message_id))
        remove = keywords_for(old) - keywords_for(new)
        if remove:
            conn.execute("INSERT INTO keyword_corrections(message_id, source, remove, created_at) VALUES (?, ?, ?, ?)",
                         (message_id, row["source"], json.dumps(sorted(remove)), _now()))
        return remove

    def pending_corrections(self, source: str) -> list[tuple[int, str, list[str]]]:
        """(id, message id, keywords to remove) waiting for ``source``, oldest first."""
        rows = self.db.query("SELECT id, message_id, remove FROM keyword_corrections WHERE source = ? AND state = 'pending' "
                             "ORDER BY id", (source,))
        return [(int(r["id"]), r["message_id"], json.loads(r["remove"])) for r in rows]

    def correction_done(self, correction_id: int, *, found: bool, final: bool = False) -> None:
        """Carried out (``found``), or one more pass that did not find the message; after
        ``CORRECTION_ATTEMPTS`` of those (or at once when ``final``) it is given up as ``not_found``."""
        with self.db.tx() as conn:
            if final and not found:
                conn.execute("UPDATE keyword_corrections SET state = 'not_found', done_at = ? WHERE id = ?",
                             (_now(), correction_id))
            elif found:
                conn.execute("UPDATE keyword_corrections SET state = 'done', done_at = ? WHERE id = ?",
                             (_now(), correction_id))
            else:
                conn.execute(
                    "UPDATE keyword_corrections SET attempts = attempts + 1, "
                    "state = CASE WHEN attempts + 1 >= ? THEN 'not_found' ELSE state END, "
                    "done_at = CASE WHEN attempts + 1 >= ? THEN ? ELSE done_at END WHERE id = ?",
                    (CORRECTION_ATTEMPTS, CORRECTION_ATTEMPTS, _now(), correction_id))

    def count_verdicts(self) -> int:
        row = self.db.query_one("SELECT count(*) AS n FROM verdicts")
        return int(row["n"]) if row else 0
