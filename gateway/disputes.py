"""Disputed tags: an agent or lead says a message's category is wrong, and it stops counting.

A false accusation harms a customer, so the person reading the message has the last word on
it. Disputing a category of a message (``verbal_abuse`` on a complaint that only swore about a
router, ``duplicate_contact`` on a genuine second order) does three things in one transaction:

* records who disputed what and why (table ``disputes``, and ``message.dispute`` in the audit log);
* withdraws the category from the message's standing categories: its ``message_findings`` rows,
  which the customer's finding counts are made of (what the policy escalates on, and what
  ``history`` and the console show), are deleted, and a trigger keeps them out if the message is
  ever recorded again (a re-delivery), so it is not held against the customer. The findings as the rules produced them are kept
  with the message: what the gateway said at the time stays on record beside the correction;
* keeps the message as a labeled example: ``export`` writes the disputed messages whose text is
  still stored in the ``eval`` form (``{"id", "text", "labels"}`` with the categories that still
  stand), so a rule change can be measured against the mistakes real agents corrected.

For mail the daemon read, the message's verdict loses the categories too (a rescan does not
put them back), and the keywords that no longer apply (``$HG_<category>``, and ``$Harassment``
when nothing is left) are queued for its source, which removes them on its next pass. Helpdesk
tags are taken back wherever the dispute is made: in the helpdesk (``hg_dispute``) at once, and
from the console or the CLI on the connector's next cycle (each dispute records its ``origin``, and
a connector carries to its tickets those it did not make: connectors/dispute_queue.py). A dispute
does not lift a hold: a lead lifts it (the hold page shows which of its messages are disputed).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from gateway.audit import AuditLog, iso, parse_iso, utcnow
from gateway.errors import GatewayError
from gateway.store.db import Database, register_schema

register_schema(
    "disputes",
    [
        """
        CREATE TABLE disputes (
            id INTEGER PRIMARY KEY,
            message_id TEXT NOT NULL,
            category TEXT NOT NULL,
            customer TEXT NOT NULL,
            actor TEXT NOT NULL,
            reason TEXT NOT NULL,
            created_at TEXT NOT NULL,
            UNIQUE (message_id, category)
        );
        CREATE INDEX disputes_customer ON disputes(customer, created_at)
        """,
        # Where the dispute was made ("console", "cli", "zendesk:<entry>", ...): a helpdesk
        # connector carries to its tickets the disputes it did not make itself. Rows from
        # before this step have "" (made somewhere unknown).
        "ALTER TABLE disputes ADD COLUMN origin TEXT NOT NULL DEFAULT ''",
    ],
)

MAX_REASON = 2000
#: Categories of the contact stage: judged over a history, not on one text, so not exported for ``eval``.
CONTACT = frozenset({"persistent_contact", "duplicate_contact"})

# A re-delivered message is recorded again, which rewrites its category rows: this keeps the
# disputed ones out. (Created by ``Disputes``, before any dispute exists: trigger bodies hold
# semicolons, which the migration splitter does not allow.)
_KEEP_OUT = (
    "CREATE TRIGGER IF NOT EXISTS disputes_keep_out AFTER INSERT ON message_findings "
    "WHEN EXISTS (SELECT 1 FROM disputes d JOIN messages m ON m.id = d.message_id "
    "WHERE m.seq = NEW.message_seq AND d.category = NEW.category) "
    "BEGIN DELETE FROM message_findings WHERE message_seq = NEW.message_seq AND category = NEW.category; END"
)


class DisputeError(GatewayError):
    """A dispute that cannot be recorded: unknown message, category it does not have, no reason."""


@dataclass(frozen=True)
class Dispute:
    id: int
    message_id: str
    category: str
    customer: str
    actor: str
    reason: str
    created_at: datetime
    origin: str = ""  # where it was made: "console", "cli", "zendesk:<entry>", "freshdesk:<entry>"

    def to_json(self) -> dict[str, object]:
        return {"id": self.id, "message_id": self.message_id, "category": self.category, "customer": self.customer,
                "actor": self.actor, "reason": self.reason, "created_at": iso(self.created_at), "origin": self.origin}


class Disputes:
    """Record and read disputes (table ``disputes``) over the SQLite message store."""

    def __init__(self, db: Database) -> None:
        from gateway.store.messages import SqliteMessageStore

        self.db = db
        self.store = SqliteMessageStore(db)
        from gateway.checkpoints import Checkpoints

        self.audit = AuditLog(db)
        self.ledger = Checkpoints(db)  # the daemon's verdicts: mailbox keywords to take back
        db.migrate()
        if not db.query("SELECT 1 FROM sqlite_master WHERE type = 'trigger' AND name = 'disputes_keep_out'"):
            with db.tx() as conn:
                conn.execute(_KEEP_OUT)

    def dispute(self, message_id: str, actor: str, reason: str, categories: list[str] | None = None, *,
                now: datetime | None = None, origin: str = "") -> list[str]:
        """Dispute ``categories`` of a stored message (default: every category it still has).
        Returns the categories disputed now; disputing one already disputed is refused.
        ``origin`` says where it was made (``console``, ``cli``, ``zendesk:<entry>``...)."""
        reason = " ".join((reason or "").split())
        if not reason:
            raise DisputeError("give a reason: it goes into the audit trail and the exported examples")
        if len(reason) > MAX_REASON:
            raise DisputeError(f"the reason is longer than {MAX_REASON} characters")
        stored = self.store.get(message_id)
        if stored is None:
            raise DisputeError(f"no stored message {message_id}")
        already = {d.category for d in self.for_message(message_id)}
        standing = [c for c in stored.categories if c not in already]
        wanted = list(dict.fromkeys(categories)) if categories else standing
        if not wanted:
            raise DisputeError(f"message {message_id} has no category left to dispute")
        for category in wanted:
            if category in already:
                raise DisputeError(f"{category} on message {message_id} is already disputed")
            if category not in standing:
                have = ", ".join(standing) or "none"
                raise DisputeError(f"message {message_id} has no {category} finding (it has: {have})")
        now = now or utcnow()
        customer = self.store.resolve_customer(stored.customer)
        with self.db.tx() as conn:
            conn.executemany(
                "INSERT INTO disputes(message_id, category, customer, actor, reason, created_at, origin) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(message_id, c, customer, actor, reason, iso(now), origin) for c in wanted])
            marks = ", ".join("?" * len(wanted))
            conn.execute(f"DELETE FROM message_findings WHERE message_seq = ? AND category IN ({marks})",
                         (stored.seq, *wanted))
            self.ledger.withdraw(message_id, wanted, conn)  # mail the daemon read: its keywords follow
            self.audit.append(actor, "message.dispute", f"message:{message_id}", reason,
                              {"categories": wanted, "customer": customer, "standing": [c for c in standing if c not in wanted]},
                              at=now, conn=conn)
        self.store.forget_cached()  # counts cached before the dispute still hold the categories
        return wanted

    def dispute_standing(self, message_ids: list[str], actor: str, reason: str, *,
                         origin: str = "") -> dict[str, list[str]]:
        """Dispute every category still standing on each of ``message_ids`` (a helpdesk ticket's
        messages); ids not stored or with nothing standing are skipped. Returns message id ->
        the categories disputed now."""
        out: dict[str, list[str]] = {}
        for message_id in message_ids:
            stored = self.store.get(message_id)
            if stored is None:
                continue
            already = {d.category for d in self.for_message(message_id)}
            if any(c not in already for c in stored.categories):
                out[message_id] = self.dispute(message_id, actor, reason, origin=origin)
        return out

    def standing(self, message_ids: list[str]) -> set[str]:
        """The categories still standing on any of ``message_ids`` (their findings, less the
        disputed ones); ids not stored count for nothing."""
        out: set[str] = set()
        for message_id in message_ids:
            stored = self.store.get(message_id)
            if stored is not None and stored.categories:
                gone = {d.category for d in self.for_message(message_id)}
                out.update(c for c in stored.categories if c not in gone)
        return out

    def for_message(self, message_id: str) -> list[Dispute]:
        return [dispute_from_row(r) for r in self.db.query("SELECT * FROM disputes WHERE message_id = ? ORDER BY id", (message_id,))]

    def list(self, customer: str | None = None) -> list[Dispute]:
        if customer:
            keys = self.store.customer_keys(customer)
            marks = ", ".join("?" * len(keys))
            rows = self.db.query(f"SELECT * FROM disputes WHERE customer IN ({marks}) ORDER BY id", tuple(keys))
        else:
            rows = self.db.query("SELECT * FROM disputes ORDER BY id")
        return [dispute_from_row(r) for r in rows]

    def examples(self) -> Iterator[dict[str, object]]:
        """The disputed messages whose text is still stored, as ``eval`` reads them: ``labels``
        are the detection categories that still stand (none, for most corrected false
        accusations). A message whose only disputed tags are contact tags is left out."""
        seen: dict[str, list[Dispute]] = {}
        for d in self.list():
            seen.setdefault(d.message_id, []).append(d)
        for message_id, disputes in seen.items():
            stored = self.store.get(message_id)
            if stored is None or not stored.text:
                continue  # the text is gone with retention: nothing to measure on
            gone = {d.category for d in disputes}
            if not gone - CONTACT:
                continue  # only a contact tag was disputed: nothing detection can be measured on
            labels = [c for c in stored.categories if c not in gone and c not in CONTACT]
            yield {"id": message_id, "text": stored.text, "labels": labels,
                   "disputed": [d.category for d in disputes], "reason": disputes[-1].reason}


def disputes_after(db: Database, dispute_id: int) -> list[Dispute]:
    """Every dispute recorded after ``dispute_id`` (ids only grow), oldest first: what a helpdesk
    connector has not looked at yet. Needs the table (a ``Disputes`` or ``db.migrate()`` made it)."""
    return [dispute_from_row(r) for r in db.query("SELECT * FROM disputes WHERE id > ? ORDER BY id", (dispute_id,))]


def dispute_from_row(r: object) -> Dispute:
    """A ``disputes`` row (``sqlite3.Row``, or a join carrying its columns) as a :class:`Dispute`."""
    row = r  # sqlite3.Row
    return Dispute(row["id"], row["message_id"], row["category"], row["customer"], row["actor"],  # type: ignore[index]
                   row["reason"], parse_iso(row["created_at"]), row["origin"])  # type: ignore[index, arg-type]


__all__ = ["Dispute", "DisputeError", "Disputes", "dispute_from_row", "disputes_after"]
