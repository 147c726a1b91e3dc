"""Contact holds: the policy's "suspension of customer support", with a team lead in the loop.

A hold covers a ``scope``:

- ``thread``: messages in one thread (``Hold.thread``) from the customer;
- ``customer``: every message from the customer on the channel it was raised on (``Hold.source``);
- ``all_channels``: every message from the customer on any channel.

State machine (anything else raises ``HoldTransitionError``)::

    proposed --approve--> active --lift----> lifted
        |                    \\---expire---> expired
        \\--reject--> rejected

``apply()`` creates a hold that is active at once (the policy's ``apply_hold``, e.g. violence).
Every transition records who, when and why in ``hold_events`` and in the audit log, in the same
transaction. Nothing expires silently: ``expire_due()`` turns active holds past their expiry into
``expired`` with an audit entry; until then they stay active. While a hold is active, new messages
from the customer are still analyzed and kept; the pipeline marks them ``Decision.held``.

Customer keys are the canonical keys of the contact store (``MessageStore.resolve_customer``).
"""

from __future__ import annotations

import functools
import json
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from gateway.audit import (
    AuditLog,
    iso,
    json_ascii,
    json_text,
    parse_iso,
    transaction,
    utcnow,
)
from gateway.errors import PolicyError
from gateway.store.db import Database, register_schema

SCOPES: tuple[str, ...] = ("thread", "customer", "all_channels")  # narrowest to widest
STATES: tuple[str, ...] = ("proposed", "active", "lifted", "expired", "rejected")
OPEN_STATES: tuple[str, ...] = ("proposed", "active")
#: ``Database.tx_local`` key: (customers with an active hold, earliest expires_at as a datetime) in this
#: transaction.
_ACTIVE = "holds.active"
_ASKED = "holds.asked"
#: ``Database.tx_local`` key: ids of holds this transaction read with full evidence (kept by the
#: store once the transaction commits).
_FULL = "holds.full"
#: The columns adding evidence reads: everything but the evidence text itself, which may be 64 KiB.
_EXTEND_COLUMNS = "id, customer, scope, state, categories, expiry_days"

#: state -> {transition verb: next state}
TRANSITIONS: dict[str, dict[str, str]] = {
    "proposed": {"approve": "active", "reject": "rejected"},
    "active": {"lift": "lifted", "expire": "expired"},
    "lifted": {},
    "expired": {},
    "rejected": {},
}

register_schema(
    "holds",
    [
        """
        CREATE TABLE holds (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            customer TEXT NOT NULL,
            scope TEXT NOT NULL,
            thread TEXT NOT NULL DEFAULT '',
            source TEXT NOT NULL DEFAULT '',
            state TEXT NOT NULL,
            reason TEXT NOT NULL,
            rule TEXT NOT NULL DEFAULT '',
            categories TEXT NOT NULL DEFAULT '[]',
            evidence TEXT NOT NULL DEFAULT '[]',
            message_ids TEXT NOT NULL DEFAULT '[]',
            expiry_days INTEGER,
            expires_at TEXT,
            created_at TEXT NOT NULL,
            created_by TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            decided_at TEXT,
            decided_by TEXT,
            decision_reason TEXT,
            closed_at TEXT,
            closed_by TEXT,
            close_reason TEXT
        );
        CREATE INDEX holds_customer ON holds(customer, state);
        CREATE INDEX holds_state ON holds(state, created_at);
        CREATE INDEX holds_expiry ON holds(state, expires_at);
        CREATE TABLE hold_events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            hold_id INTEGER NOT NULL REFERENCES holds(id),
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            from_state TEXT,
            to_state TEXT NOT NULL,
            reason TEXT NOT NULL
        );
        CREATE INDEX hold_events_hold ON hold_events(hold_id)
        """,
        # A hold's message ids, one row each in the order they were added (``id``), instead of one
        # JSON list on the hold's row: a customer who keeps writing under an open hold adds one
        # row per message, where the list was read, searched and rewritten whole for every message.
        # The ids stored so far move over in their list order; the column goes.
        """
        CREATE TABLE hold_messages (
            id INTEGER PRIMARY KEY,
            hold_id INTEGER NOT NULL REFERENCES holds(id),
            message_id TEXT NOT NULL,
            UNIQUE (hold_id, message_id)
        );
        INSERT OR IGNORE INTO hold_messages(hold_id, message_id)
            SELECT h.id, j.value FROM holds h, json_each(h.message_ids) j ORDER BY h.id, j.key;
        ALTER TABLE holds DROP COLUMN message_ids
        """,
    ],
)


class HoldError(PolicyError):
    """A hold request that cannot be carried out (unknown id, bad scope, missing reason)."""


class HoldTransitionError(HoldError):
    """The hold is not in a state that allows this transition (e.g. lifting a proposed hold)."""


@dataclass
class HoldEvent:
    at: datetime
    actor: str
    action: str
    from_state: str | None
    to_state: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"at": iso(self.at), "actor": self.actor, "action": self.action,
                "from_state": self.from_state, "to_state": self.to_state, "reason": self.reason}


#: The most evidence (characters of JSON: 25 to 100 findings) a hold row keeps. A customer who goes
#: on writing under an open hold adds every message's id to the hold, and every message's evidence
#: to the audit log, but the row stops growing: reading and rewriting it stays cheap however long
#: the conduct goes on.
HOLD_EVIDENCE_CHARS = 64 * 1024


@dataclass
class Hold:
    """A hold and its current state. ``evidence`` is a list of JSON objects (findings with their
    evidence spans and the message they came from); ``message_ids`` the messages that led to it,
    in the order they were added (rows of ``hold_messages``)."""

    id: int
    customer: str
    scope: str
    thread: str
    source: str
    state: str
    reason: str
    rule: str
    categories: list[str]
    #: the stored evidence JSON; ``evidence`` decodes it when first read (looking up which holds
    #: cover a message, done for every message, never needs it)
    evidence_json: str = field(repr=False)
    message_ids: list[str]
    expiry_days: int | None
    expires_at: datetime | None
    created_at: datetime
    created_by: str
    updated_at: datetime
    decided_at: datetime | None = None
    decided_by: str | None = None
    decision_reason: str | None = None
    closed_at: datetime | None = None
    closed_by: str | None = None
    close_reason: str | None = None
    events: list[HoldEvent] = field(default_factory=list)

    @functools.cached_property
    def evidence(self) -> list[dict[str, Any]]:
        """Findings with their evidence spans and the message each came from."""
        return json.loads(self.evidence_json)  # type: ignore[no-any-return]

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    def covers(self, customer: str, thread: str = "", source: str = "") -> bool:
        """Does this hold apply to a message from ``customer`` in ``thread`` on ``source``?"""
        return _covers(self.customer, self.scope, self.thread, self.source, customer, thread, source)

    def to_json(self) -> dict[str, Any]:
        def t(dt: datetime | None) -> str | None:
            return iso(dt) if dt else None

        return {
            "id": self.id, "customer": self.customer, "scope": self.scope, "thread": self.thread,
            "source": self.source, "state": self.state, "reason": self.reason, "rule": self.rule,
            "categories": list(self.categories), "evidence": self.evidence,
            "message_ids": list(self.message_ids), "expiry_days": self.expiry_days,
            "expires_at": t(self.expires_at), "created_at": t(self.created_at), "created_by": self.created_by,
            "updated_at": t(self.updated_at), "decided_at": t(self.decided_at), "decided_by": self.decided_by,
            "decision_reason": self.decision_reason, "closed_at": t(self.closed_at),
            "closed_by": self.closed_by, "close_reason": self.close_reason,
            "events": [e.to_json() for e in self.events],
        }


class HoldStore:
    """Holds in the SQLite store. Every write is audited (``AuditLog``) in the same transaction.

    All write methods take ``now`` (defaults to the wall clock; tests and the stateful classifier
    pass their own) and ``conn`` (join an open transaction, as the pipeline's effects do).
    """

    def __init__(self, db: Database, audit: AuditLog | None = None) -> None:
        self.db = db
        db.migrate()
        self.audit = audit or AuditLog(db)
        #: holds whose stored evidence reached HOLD_EVIDENCE_CHARS in committed data: it never
        #: changes again (evidence is only ever appended, and not once full), so adding to such a
        #: hold neither reads nor rewrites it
        self._full: set[int] = set()

    # -- creating -------------------------------------------------------------------------------

    def propose(
        self,
        customer: str,
        scope: str,
        reason: str,
        evidence: list[dict[str, Any]] | None = None,
        *,
        thread: str = "",
        source: str = "",
        message_id: str = "",
        rule: str = "",
        categories: list[str] | None = None,
        expiry_days: int | None = None,
        actor: str = "policy",
        now: datetime | None = None,
        conn: sqlite3.Connection | None = None,
    ) -> Hold:
        """Propose a hold for a lead to approve. If an open hold (proposed or active) with the same
        customer, scope, thread and source already exists, the message and evidence are added to it
        and that hold is returned instead: one queue entry per situation, not one per message."""
        return self._create("proposed", customer, scope, reason, evidence, thread=thread, source=source,
                            message_id=message_id, rule=rule, categories=categories,
                            expiry_days=expiry_days, actor=actor, now=now, conn=conn)

    def apply(
        self,
        customer: str,
        scope: str,
        reason: str,
        evidence: list[dict[str, Any]] | None = None,
        *,
        thread: str = "",
        source: str = "",
        message_id: str = "",
        rule: str = "",
        categories: list[str] | None = None,
        expiry_days: int | None = None,
        actor: str = "policy",
        now: datetime | None = None,
        conn: sqlite3.Connection | None = None,
    ) -> Hold:
        """Create a hold that is active at once (violence). An open *proposed* hold for the same
        situation is activated (with this evidence added); an active one just gains the evidence."""
        return self._create("active", customer, scope, reason, evidence, thread=thread, source=source,
                            message_id=message_id, rule=rule, categories=categories,
                            expiry_days=expiry_days, actor=actor, now=now, conn=conn)

    def _create(self, state: str, customer: str, scope: str, reason: str,
                evidence: list[dict[str, Any]] | None, *, thread: str, source: str, message_id: str,
                rule: str, categories: list[str] | None, expiry_days: int | None, actor: str,
                now: datetime | None, conn: sqlite3.Connection | None) -> Hold:
        with transaction(self.db, conn) as c:
            hold_id, _ = self.open(state, customer, scope, reason, evidence, thread=thread, source=source,
                                   message_id=message_id, rule=rule, categories=categories,
                                   expiry_days=expiry_days, actor=actor, now=now, conn=c)
            return self._load(c, hold_id)

    def open(self, state: str, customer: str, scope: str, reason: str,
             evidence: list[dict[str, Any]] | None, *, thread: str = "", source: str = "", message_id: str = "",
             rule: str = "", categories: list[str] | None = None, expiry_days: int | None = None,
             actor: str = "policy", now: datetime | None = None,
             conn: sqlite3.Connection | None = None, open_rows: list[sqlite3.Row] | None = None) -> tuple[int, str]:
        """``propose`` (``state="proposed"``) or ``apply`` (``"active"``) returning only the hold's
        id and state, without reading the hold back: what the pipeline's effects need.
        ``open_rows`` is what ``open_rows(customer, conn=conn)`` returned in this transaction, with
        nothing changed since: the open hold to add to is found among them instead of asked for."""
        if state not in OPEN_STATES:
            raise HoldError(f"a new hold is proposed or active, not {state!r}")
        if scope not in SCOPES:
            raise HoldError(f"unknown hold scope {scope!r}; use one of {', '.join(SCOPES)}")
        if not customer:
            raise HoldError("a hold needs a customer")
        if scope == "thread" and not thread:
            raise HoldError("a thread hold needs a thread")
        if not reason.strip():
            raise HoldError("a hold needs a reason")
        if expiry_days is not None and expiry_days <= 0:
            raise HoldError(f"expiry_days must be positive, got {expiry_days}")
        now = now or utcnow()
        evidence = list(evidence or [])
        thread_key = thread if scope == "thread" else ""
        source_key = "" if scope == "all_channels" else source
        with transaction(self.db, conn) as c:
            if open_rows is not None and type(customer) is type(thread_key) is type(source_key) is str:
                # the query below, answered from the customer's open holds (``open_rows``, oldest
                # first): str values compare in Python as SQLite compares TEXT (byte for byte)
                existing = next((r for r in open_rows if r["scope"] == scope and r["thread"] == thread_key
                                 and r["source"] == source_key), None)
            else:
                existing = c.execute(
                    f"SELECT {_EXTEND_COLUMNS} FROM holds WHERE customer = ? AND scope = ? AND thread = ? "
                    "AND source = ? AND state IN ('proposed', 'active') ORDER BY id LIMIT 1",
                    (customer, scope, thread_key, source_key),
                ).fetchone()
            if existing is not None:
                hold_id = existing["id"]
                self._add_evidence(c, existing, evidence, message_id, categories or [], now)
                self.audit.add(actor, "hold.evidence", f"hold:{hold_id}", reason,
                               {"message_id": message_id, "evidence": evidence}, at=now, conn=c)
                if state == "active" and existing["state"] == "proposed":
                    self._transition(c, existing, "approve", actor, reason, now)
                    return hold_id, "active"
                return hold_id, existing["state"]
            expires_at = iso(now + timedelta(days=expiry_days)) if (state == "active" and expiry_days) else None
            cur = c.execute(
                "INSERT INTO holds(customer, scope, thread, source, state, reason, rule, categories, evidence, "
                "expiry_days, expires_at, created_at, created_by, updated_at, decided_at, "
                "decided_by, decision_reason) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (customer, scope, thread_key, source_key, state, reason, rule,
                 json_ascii(sorted(set(categories or []))), json_text(evidence),
                 expiry_days, expires_at, iso(now), actor,
                 iso(now), iso(now) if state == "active" else None, actor if state == "active" else None,
                 reason if state == "active" else None),
            )
            hold_id = int(cur.lastrowid)  # type: ignore[arg-type]
            if message_id:
                c.execute(_ADD_MESSAGE, (hold_id, message_id))
            self._changed()
            verb = "apply" if state == "active" else "propose"
            c.execute(
                "INSERT INTO hold_events(hold_id, at, actor, action, from_state, to_state, reason) "
                "VALUES (?,?,?,?,?,?,?)", (hold_id, iso(now), actor, verb, None, state, reason))
            self.audit.add(actor, f"hold.{verb}", f"hold:{hold_id}", reason,
                           {"customer": customer, "scope": scope, "thread": thread_key, "source": source_key,
                            "rule": rule, "message_id": message_id, "expires_at": expires_at,
                            "evidence": evidence}, at=now, conn=c)
            return hold_id, state

    def add_evidence(self, hold_id: int, evidence: list[dict[str, Any]], *, message_id: str = "",
                     categories: list[str] | None = None, reason: str = "", actor: str = "policy",
                     now: datetime | None = None, conn: sqlite3.Connection | None = None) -> Hold:
        """Attach a message's evidence to an open hold (proposed or active) without changing its state:
        more conduct from a customer who is already held or already proposed for a hold."""
        with transaction(self.db, conn) as c:
            self.extend(hold_id, evidence, message_id=message_id, categories=categories, reason=reason,
                        actor=actor, now=now, conn=c)
            return self._load(c, int(hold_id))

    def extend(self, hold_id: int, evidence: list[dict[str, Any]], *, message_id: str = "",
               categories: list[str] | None = None, reason: str = "", actor: str = "policy",
               now: datetime | None = None, conn: sqlite3.Connection | None = None) -> str:
        """``add_evidence`` without reading the hold back; returns its state (unchanged)."""
        now = now or utcnow()
        with transaction(self.db, conn) as c:
            row = c.execute(f"SELECT {_EXTEND_COLUMNS} FROM holds WHERE id = ?", (int(hold_id),)).fetchone()
            if row is None:
                raise HoldError(f"no hold with id {hold_id}")
            if row["state"] not in OPEN_STATES:
                raise HoldTransitionError(f"hold {hold_id} is {row['state']}: evidence goes to open holds only")
            self._add_evidence(c, row, list(evidence), message_id, categories or [], now)
            self.audit.add(actor, "hold.evidence", f"hold:{hold_id}", reason or "more evidence",
                           {"message_id": message_id, "evidence": evidence}, at=now, conn=c)
            return str(row["state"])

    def _add_evidence(self, c: sqlite3.Connection, row: sqlite3.Row, evidence: list[dict[str, Any]],
                      message_id: str, categories: list[str], now: datetime) -> None:
        """Add a message to an open hold (``row`` has the ``_EXTEND_COLUMNS``). A hold with full
        evidence keeps its evidence text as it is: the update leaves that column alone, which
        stores what rewriting it with the same text stores, without reading or copying it."""
        # One indexed insert, whatever the number of ids the hold has: the UNIQUE (hold_id,
        # message_id) pair ignores a message the hold has already (a re-delivery), so the id was
        # new exactly when a row was inserted.
        fresh = bool(message_id) and c.execute(_ADD_MESSAGE, (row["id"], message_id)).rowcount == 1
        cats = sorted(set(json.loads(row["categories"])) | set(categories))
        hold_id = row["id"]
        stored: str | None = None
        if hold_id not in self._full:
            stored = c.execute("SELECT evidence FROM holds WHERE id = ?", (hold_id,)).fetchone()[0]
            if len(stored) >= HOLD_EVIDENCE_CHARS:
                self._seen_full(hold_id)
                stored = None
        if stored is None:
            # Full: the hold keeps the evidence that built it; this message's id is added above,
            # and its evidence is in the audit log's hold.evidence entry (written by the caller).
            c.execute("UPDATE holds SET categories = ?, updated_at = ? WHERE id = ?",
                      (json_ascii(cats), iso(now), hold_id))
            return
        if fresh and all(e.get("message_id") == message_id for e in evidence):
            # A new message's evidence (each item names its message) cannot already be stored:
            # append its items to the stored JSON text without decoding what is there, which grows
            # with every message of a held customer. The text is what json.dumps of the merged
            # list gives.
            new: list[dict[str, Any]] = []
            for e in evidence:
                if e not in new:
                    new.append(e)
            merged = _json_append(stored, new)
        else:
            old = json.loads(stored)
            merged = json.dumps(old + [e for e in evidence if e not in old], ensure_ascii=False)
        c.execute("UPDATE holds SET evidence = ?, categories = ?, updated_at = ? WHERE id = ?",
                  (merged, json_ascii(cats), iso(now), hold_id))

    def _seen_full(self, hold_id: int) -> None:
        """Remember that ``hold_id``'s evidence is full once this transaction commits (a rollback,
        which could undo the write that filled it, forgets it with the transaction's state)."""
        if not self.db.in_tx:
            return  # outside the store's own transaction: nothing tells us when it commits
        self.db.tx_local.setdefault(_FULL, set()).add(hold_id)
        self.db.before_commit(_FULL, self._keep_full)

    def _keep_full(self, c: sqlite3.Connection) -> None:
        self._full.update(self.db.tx_local.get(_FULL, ()))

    # -- transitions ----------------------------------------------------------------------------

    def approve(self, hold_id: int, actor: str, reason: str = "approved", *, expiry_days: int | None = None,
                now: datetime | None = None, conn: sqlite3.Connection | None = None) -> Hold:
        """proposed -> active. ``expiry_days`` overrides the proposal's; the expiry runs from now."""
        return self._do(hold_id, "approve", actor, reason, now, conn, expiry_days=expiry_days)

    def reject(self, hold_id: int, actor: str, reason: str, *, now: datetime | None = None,
               conn: sqlite3.Connection | None = None) -> Hold:
        """proposed -> rejected. A reason is required (it tells the next lead why)."""
        return self._do(hold_id, "reject", actor, reason, now, conn)

    def lift(self, hold_id: int, actor: str, reason: str, *, now: datetime | None = None,
             conn: sqlite3.Connection | None = None) -> Hold:
        """active -> lifted. A reason is required."""
        return self._do(hold_id, "lift", actor, reason, now, conn)

    def expire(self, hold_id: int, *, actor: str = "system", reason: str = "the hold reached its expiry",
               now: datetime | None = None, conn: sqlite3.Connection | None = None) -> Hold:
        """active -> expired (an audited transition, never a silent one)."""
        return self._do(hold_id, "expire", actor, reason, now, conn)

    def expire_due(self, now: datetime | None = None, *, conn: sqlite3.Connection | None = None) -> list[Hold]:
        """Expire every active hold whose ``expires_at`` has passed; returns the holds expired.
        The daemon's scheduled job and the pipeline call this before checking for active holds."""
        now = now or utcnow()
        sql = ("SELECT id FROM holds WHERE state = 'active' AND expires_at IS NOT NULL AND expires_at <= ? "
               "ORDER BY id")
        if conn is None and not self.db.query(sql, (iso(now),)):
            return []  # the common case: no write transaction for nothing
        with transaction(self.db, conn) as c:
            rows = c.execute(sql, (iso(now),)).fetchall()
            return [self.expire(r["id"], now=now, conn=c) for r in rows]

    def _do(self, hold_id: int, verb: str, actor: str, reason: str, now: datetime | None,
            conn: sqlite3.Connection | None, *, expiry_days: int | None = None) -> Hold:
        if not actor or not actor.strip():
            raise HoldError("who is deciding? an actor name is required")
        if verb in ("reject", "lift") and not (reason or "").strip():
            raise HoldError(f"a reason is required to {verb} a hold")
        now = now or utcnow()
        with transaction(self.db, conn) as c:
            row = c.execute("SELECT * FROM holds WHERE id = ?", (int(hold_id),)).fetchone()
            if row is None:
                raise HoldError(f"no hold with id {hold_id}")
            self._transition(c, row, verb, actor.strip(), reason or verb, now, expiry_days=expiry_days)
            return self._load(c, int(hold_id))

    def _transition(self, c: sqlite3.Connection, row: sqlite3.Row, verb: str, actor: str, reason: str,
                    now: datetime, *, expiry_days: int | None = None) -> None:
        state = row["state"]
        target = TRANSITIONS[state].get(verb)
        if target is None:
            allowed = ", ".join(TRANSITIONS[state]) or "nothing (it is closed)"
            raise HoldTransitionError(f"hold {row['id']} is {state}: cannot {verb} it (allowed: {allowed})")
        if verb == "approve":
            days = expiry_days if expiry_days is not None else row["expiry_days"]
            if days is not None and days <= 0:
                raise HoldError(f"expiry_days must be positive, got {days}")
            expires_at = iso(now + timedelta(days=days)) if days else None
            c.execute("UPDATE holds SET state = ?, decided_at = ?, decided_by = ?, decision_reason = ?, "
                      "expiry_days = ?, expires_at = ?, updated_at = ? WHERE id = ?",
                      (target, iso(now), actor, reason, days, expires_at, iso(now), row["id"]))
        elif verb == "reject":
            c.execute("UPDATE holds SET state = ?, decided_at = ?, decided_by = ?, decision_reason = ?, "
                      "closed_at = ?, closed_by = ?, close_reason = ?, updated_at = ? WHERE id = ?",
                      (target, iso(now), actor, reason, iso(now), actor, reason, iso(now), row["id"]))
        else:
            c.execute("UPDATE holds SET state = ?, closed_at = ?, closed_by = ?, close_reason = ?, updated_at = ? "
                      "WHERE id = ?", (target, iso(now), actor, reason, iso(now), row["id"]))
        self._changed()
        c.execute("INSERT INTO hold_events(hold_id, at, actor, action, from_state, to_state, reason) "
                  "VALUES (?,?,?,?,?,?,?)", (row["id"], iso(now), actor, verb, state, target, reason))
        self.audit.add(actor, f"hold.{verb}", f"hold:{row['id']}", reason,
                       {"from": state, "to": target, "customer": row["customer"], "scope": row["scope"]},
                       at=now, conn=c)

    # -- reading --------------------------------------------------------------------------------

    def get(self, hold_id: int) -> Hold:
        """The hold with its event history; ``HoldError`` if there is none."""
        row = self.db.query_one("SELECT * FROM holds WHERE id = ?", (int(hold_id),))
        if row is None:
            raise HoldError(f"no hold with id {hold_id}")
        hold = _hold(row, [r[0] for r in self.db.query(_IDS_OF, (row["id"],))])
        hold.events = self.events(hold.id)
        return hold

    def list(self, *, state: str | None = None, customer: str | None = None, limit: int | None = None) -> list[Hold]:
        """Holds, newest first, optionally by ``state`` and ``customer`` (events not loaded)."""
        if state is not None and state not in STATES:
            raise HoldError(f"unknown hold state {state!r}; use one of {', '.join(STATES)}")
        rows = self.db.select("holds", where={"state": state, "customer": customer}, order="id DESC", limit=limit)
        return self._holds(rows)

    def pending(self) -> list[Hold]:
        """Proposed holds waiting for a lead, oldest first (the console's queue)."""
        return self._holds(self.db.query("SELECT * FROM holds WHERE state = 'proposed' ORDER BY id"))

    def pending_longer_than(self, age: timedelta, now: datetime | None = None) -> list[Hold]:
        """Proposed holds that have waited more than ``age``: the daemon's reminder job lists these
        to the leads."""
        cutoff = iso((now or utcnow()) - age)
        return self._holds(self.db.query(
            "SELECT * FROM holds WHERE state = 'proposed' AND created_at <= ? ORDER BY id", (cutoff,)))

    def active_for(self, customer: str, thread: str = "", source: str = "") -> list[Hold]:
        """Active holds that cover a message from ``customer`` in ``thread`` on ``source``."""
        rows = self.db.query("SELECT * FROM holds WHERE customer = ? AND state = 'active' ORDER BY id", (customer,))
        return self._holds([r for r in rows if _covers(r["customer"], r["scope"], r["thread"], r["source"],
                                                       customer, thread, source)])

    def active_scopes(self, customer: str, thread: str = "", source: str = "") -> list[tuple[int, str]]:
        """``(id, scope)`` of ``active_for``'s holds, oldest first, without building Hold objects."""
        rows = self.db.query("SELECT id, scope, thread, source FROM holds WHERE customer = ? AND state = 'active' "
                             "ORDER BY id", (customer,))
        return [(r[0], r[1]) for r in rows if _covers(customer, r[1], r[2], r[3], customer, thread, source)]

    def open_rows(self, customer: str, *, conn: sqlite3.Connection | None = None) -> list[sqlite3.Row]:
        """The customer's open holds (proposed or active), oldest first, with the columns that say
        what each covers and what adding to it needs (``_OPEN_COLUMNS``): the pipeline's effects read
        them once for both ``active_scopes_of`` and ``open(..., open_rows=...)``."""
        sql = f"SELECT {_OPEN_COLUMNS} FROM holds WHERE customer = ? AND state IN ('proposed', 'active') ORDER BY id"
        if conn is not None:
            return conn.execute(sql, (customer,)).fetchall()
        return self.db.query(sql, (customer,))

    def active_after_expiry(self, customer: str, thread: str = "", source: str = "",
                            now: datetime | None = None) -> list[Hold]:
        """``expire_due(now)`` then ``active_for(customer, thread, source)``."""
        ids = self.active_ids_after_expiry(customer, thread, source, now)
        if not ids:
            return []
        return self._holds(self.db.query_in("SELECT * FROM holds WHERE id IN ({marks}) ORDER BY id", ids))

    def active_ids_after_expiry(self, customer: str, thread: str = "", source: str = "",
                                now: datetime | None = None) -> list[int]:
        """The ids of ``active_after_expiry``'s holds, oldest first, in one query when nothing is
        due (the pipeline asks this for every message), reading only the columns that say whether
        a hold covers the message: a held customer who keeps writing fills the hold's evidence (up
        to HOLD_EVIDENCE_CHARS), which a full row would read and decode each time."""
        now = now or utcnow()
        if self.db.in_tx:
            # Inside a write transaction no other connection can change the holds, so from the
            # second message of a transaction (a batch) on, which customers have active holds and
            # the earliest expiry are read once and kept until a hold changes (``_changed``).
            snapshot = self.db.tx_local.get(_ACTIVE)
            if snapshot is None and not self.db.tx_local.get(_ASKED):
                self.db.tx_local[_ASKED] = True  # a lone message: the indexed look-up below
            elif snapshot is None:
                rows = self.db.query("SELECT customer, expires_at FROM holds WHERE state = 'active'")
                expiries = [r["expires_at"] for r in rows if r["expires_at"] is not None]
                # the earliest expiry as a datetime: compared with ``now`` without formatting it
                snapshot = ({r["customer"] for r in rows}, parse_iso(min(expiries)) if expiries else None)
                self.db.tx_local[_ACTIVE] = snapshot
            if snapshot is not None:
                customers, first_expiry = snapshot
                if customer not in customers and (first_expiry is None or first_expiry > now):
                    return []
        rows = self.db.query(
            f"SELECT {_COVER_COLUMNS} FROM holds WHERE customer = ? AND state = 'active' UNION ALL "
            f"SELECT {_COVER_COLUMNS} FROM holds WHERE state = 'active' AND expires_at <= ? AND customer != ? ORDER BY id",
            (customer, iso(now), customer))
        if any(r["expires_at"] is not None and r["expires_at"] <= iso(now) for r in rows):
            self.expire_due(now)
            return [hold_id for hold_id, _ in self.active_scopes(customer, thread, source)]
        return [r["id"] for r in rows
                if r["customer"] == customer and _covers(customer, r["scope"], r["thread"], r["source"], customer, thread, source)]

    def _changed(self) -> None:
        """A hold's state, customer or expiry changed: drop this transaction's snapshot."""
        self.db.tx_local.pop(_ACTIVE, None)

    def for_customer(self, customer: str) -> list[Hold]:
        """Every hold of a customer, oldest first, with events (case export, customer page)."""
        holds = self._holds(self.db.query("SELECT * FROM holds WHERE customer = ? ORDER BY id", (customer,)))
        for hold in holds:
            hold.events = self.events(hold.id)
        return holds

    def events(self, hold_id: int) -> list[HoldEvent]:
        return _events(self.db.query("SELECT * FROM hold_events WHERE hold_id = ? ORDER BY id", (int(hold_id),)))

    def _load(self, c: sqlite3.Connection, hold_id: int) -> Hold:
        row = c.execute("SELECT * FROM holds WHERE id = ?", (hold_id,)).fetchone()
        if row is None:
            raise HoldError(f"no hold with id {hold_id}")
        hold = _hold(row, [r[0] for r in c.execute(_IDS_OF, (hold_id,))])
        hold.events = _events(c.execute("SELECT * FROM hold_events WHERE hold_id = ? ORDER BY id", (hold_id,)))
        return hold

    def _holds(self, rows: list[sqlite3.Row]) -> list[Hold]:
        """Holds from their rows (``SELECT * FROM holds``), in the rows' order, each with its
        message ids, read for all of them at once (events not loaded)."""
        ids = _message_ids(self.db, [r["id"] for r in rows])
        return [_hold(r, ids[r["id"]]) for r in rows]


#: What says whether an active hold covers a message, and when it ends (``active_ids_after_expiry``).
_COVER_COLUMNS = "id, customer, scope, thread, source, expires_at"
#: ``_EXTEND_COLUMNS`` and what says which messages an open hold covers (``open_rows``).
_OPEN_COLUMNS = "id, customer, scope, thread, source, state, categories, expiry_days"


def active_scopes_of(open_rows: list[sqlite3.Row], customer: str, thread: str = "",
                     source: str = "") -> list[tuple[int, str]]:
    """``HoldStore.active_scopes(customer, thread, source)`` from the customer's open holds as
    ``HoldStore.open_rows(customer)`` read them: that query's rows are those of these in state
    ``active``, in the same order."""
    return [(r[0], r[2]) for r in open_rows
            if r[5] == "active" and _covers(customer, r[2], r[3], r[4], customer, thread, source)]


def _covers(held: str, scope: str, held_thread: str, held_source: str, customer: str, thread: str,
            source: str) -> bool:
    """``Hold.covers`` on the hold's columns."""
    if customer != held:
        return False
    if scope == "all_channels":
        return True
    if scope == "customer":
        return not held_source or not source or source == held_source
    return bool(thread) and thread == held_thread and (not held_source or not source or source == held_source)


def _json_append(stored: str, items: list[Any]) -> str:
    """``json_text(json.loads(stored) + items)`` for a stored JSON list that ``json_text``
    (``json.dumps(..., ensure_ascii=False)``) spelled, without decoding ``stored`` (it separates
    list items with ", ")."""
    if not items:
        return stored
    tail = json_text(items)
    body = stored.rstrip()
    if body == "[]":
        return tail
    return body[:-1] + ", " + tail[1:]


#: Adds a message to a hold; a message the hold has already is ignored (``rowcount`` 0).
_ADD_MESSAGE = "INSERT OR IGNORE INTO hold_messages(hold_id, message_id) VALUES (?, ?)"


#: One hold's message ids, in the order they were added.
_IDS_OF = "SELECT message_id FROM hold_messages WHERE hold_id = ? ORDER BY id"


def _message_ids(db: Database, hold_ids: list[int]) -> dict[int, list[str]]:
    """Each of ``hold_ids``' message ids in the order they were added (``Database.query_in``: one
    query per 500 holds)."""
    found: dict[int, list[str]] = {int(h): [] for h in hold_ids}
    for hold_id, message_id in db.query_in(
            "SELECT hold_id, message_id FROM hold_messages WHERE hold_id IN ({marks}) ORDER BY id", list(found)):
        found[hold_id].append(message_id)
    return found


def _events(rows: Any) -> list[HoldEvent]:
    return [HoldEvent(parse_iso(r["at"]), r["actor"], r["action"], r["from_state"], r["to_state"],  # type: ignore[arg-type]
                      r["reason"]) for r in rows]


def _hold(row: sqlite3.Row, message_ids: list[str]) -> Hold:
    return Hold(
        id=row["id"], customer=row["customer"], scope=row["scope"], thread=row["thread"], source=row["source"],
        state=row["state"], reason=row["reason"], rule=row["rule"], categories=json.loads(row["categories"]),
        evidence_json=row["evidence"], message_ids=message_ids,
        expiry_days=row["expiry_days"], expires_at=parse_iso(row["expires_at"]),
        created_at=parse_iso(row["created_at"]), created_by=row["created_by"],  # type: ignore[arg-type]
        updated_at=parse_iso(row["updated_at"]),  # type: ignore[arg-type]
        decided_at=parse_iso(row["decided_at"]), decided_by=row["decided_by"],
        decision_reason=row["decision_reason"], closed_at=parse_iso(row["closed_at"]),
        closed_by=row["closed_by"], close_reason=row["close_reason"],
    )
