"""Messages the gateway could not analyse, kept with the reason so nothing is lost.

A malformed message (or one that broke analysis) is recorded here with its raw bytes and the
reason, flagged on the server with ``$HGQuarantined``, and left where it is; the daemon then goes
on with the next message. Recording is idempotent per source and content hash, so a message seen
again after a restart is not recorded twice.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timezone

from gateway.store.db import Database, register_schema

#: The IMAP keyword set on a quarantined message (kept beside DESIGN.md's $HG* keywords).
QUARANTINE_KEYWORD = "$HGQuarantined"

register_schema(
    "quarantine",
    [
        """
        CREATE TABLE quarantine (
            id INTEGER PRIMARY KEY,
            source TEXT NOT NULL,
            location TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            reason TEXT NOT NULL,
            size INTEGER NOT NULL,
            raw BLOB,
            recorded_at TEXT NOT NULL,
            UNIQUE (source, sha256)
        )
        """
    ],
)


@dataclass(frozen=True)
class QuarantinedItem:
    id: int
    source: str
    location: str
    reason: str
    size: int
    recorded_at: str


class Quarantine:
    """The quarantine table: ``record`` a failure, ``list`` what is there."""

    def __init__(self, db: Database) -> None:
        self.db = db
        db.migrate()

    def record(self, source: str, location: str, raw: bytes | None, reason: str, *, size: int | None = None) -> None:
        """Keep ``raw`` (``None`` when it was too large to fetch) with the reason it failed."""
        digest = hashlib.sha256(raw if raw is not None else f"{source}:{location}".encode()).hexdigest()
        with self.db.tx() as conn:
            conn.execute(
                "INSERT INTO quarantine(source, location, sha256, reason, size, raw, recorded_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(source, sha256) DO NOTHING",
                (source, location, digest, reason, size if size is not None else len(raw or b""), raw,
                 datetime.now(timezone.utc).isoformat()),
            )

    def list(self, source: str | None = None) -> list[QuarantinedItem]:
        sql = "SELECT id, source, location, reason, size, recorded_at FROM quarantine"
        rows = self.db.query(sql + (" WHERE source = ?" if source else "") + " ORDER BY id", (source,) if source else ())
        return [QuarantinedItem(r["id"], r["source"], r["location"], r["reason"], r["size"], r["recorded_at"]) for r in rows]

    def get(self, item_id: int) -> tuple[QuarantinedItem, str, bytes | None] | None:
        """One item with its SHA-256 and its raw bytes (``None`` once retention purged them, or
        when the message was too large to fetch)."""
        r = self.db.query_one("SELECT * FROM quarantine WHERE id = ?", (item_id,))
        if r is None:
            return None
        item = QuarantinedItem(r["id"], r["source"], r["location"], r["reason"], r["size"], r["recorded_at"])
        return item, r["sha256"], r["raw"]

    def purge_raw(self, older_than: datetime) -> int:
        """Drop the raw bytes of items recorded before ``older_than`` (retention); the record and
        its reason stay. Returns how many were purged."""
        with self.db.tx() as conn:
            cur = conn.execute("UPDATE quarantine SET raw = NULL WHERE raw IS NOT NULL AND recorded_at < ?",
                               (older_than.astimezone(timezone.utc).isoformat(),))
            return cur.rowcount

    def count(self) -> int:
        row = self.db.query_one("SELECT count(*) AS n FROM quarantine")
        return int(row["n"]) if row else 0
