"""The audit trail: every decision, hold transition and draft action, append-only and hash-chained.

Each entry records who (``actor``), what (``action``, e.g. ``hold.approve``), on what (``subject``,
e.g. ``hold:3`` or ``message:<id>``), when (``at``), why (``reason``) and the ``evidence`` (JSON).
Entry *n* stores ``hash = sha256(prev_hash + canonical_json(entry))`` where ``prev_hash`` is entry
*n-1*'s hash (64 zeros for the first), so editing, deleting or reordering any row breaks the chain
from that row on; ``AuditLog.verify()`` finds the first broken entry. SQLite triggers refuse UPDATE
and DELETE on the table as a first line of defence; the chain catches whoever drops them.

Stores that change state (holds, drafts, effects) write their audit entry in the same transaction
as the change, by passing their connection as ``conn``; see ``transaction()``.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from gateway.jsontext import json_encoder
from gateway.store.db import Database, register_schema

GENESIS_HASH = "0" * 64
_sha256 = hashlib.sha256
#: The state key holding ``"<seq>:<hash>"`` of the newest entry, so cutting entries off the end shows.
HEAD_KEY = "audit.head"
#: ``Database.tx_local`` key of ``(seq, hash)`` of the newest entry written in the open transaction.
_TAIL = "audit.tail"
#: ``Database.tx_local`` key, present while the head marker's hook is registered for the open transaction.
_HOOKED = "audit.hooked"

register_schema(
    "audit",
    [
        """
        CREATE TABLE audit_log (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            subject TEXT NOT NULL,
            reason TEXT NOT NULL,
            evidence TEXT NOT NULL,
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL
        );
        CREATE INDEX audit_log_subject ON audit_log(subject)
        """
    ],
)


_TRIGGERS = tuple(
    f"CREATE TRIGGER IF NOT EXISTS audit_log_no_{verb.lower()} BEFORE {verb} ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END"
    for verb in ("UPDATE", "DELETE")
)


_UTC = timezone.utc


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def iso(dt: datetime) -> str:
    """Timestamps are stored as ISO 8601 text in UTC (``2026-01-02T03:04:05.678901+00:00``)."""
    global _LAST_ISO
    last = _LAST_ISO
    if dt is last[0]:  # one change writes its ``now`` in several columns and stores
        return last[1]
    if dt is last[2]:  # ... between which another time (a message's arrival, a window's start) is written
        return last[3]
    utc = dt
    if dt.tzinfo is not _UTC:  # the clock's own datetimes are UTC already: no conversion
        if dt.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware")
        utc = dt.astimezone(_UTC)
    # ``utc.isoformat(timespec="microseconds")``, spelled directly from two-digit texts (what
    # ``_ISO_UTC % (...)`` writes, at about half its cost; a year before 1000 takes that format)
    year = utc.year
    if year < 1000:
        text = _ISO_UTC % (year, utc.month, utc.day, utc.hour, utc.minute, utc.second, utc.microsecond)
    else:
        d2, us = _TWO_DIGITS, utc.microsecond
        text = (f"{year}-{d2[utc.month]}-{d2[utc.day]}T{d2[utc.hour]}:{d2[utc.minute]}:{d2[utc.second]}."
                f"{d2[us // 10000]}{d2[us // 100 % 100]}{d2[us % 100]}+00:00")
    _LAST_ISO = (dt, text, last[0], last[1])
    return text


_ISO_UTC = "%04d-%02d-%02dT%02d:%02d:%02d.%06d+00:00"
_TWO_DIGITS = tuple(f"{n:02d}" for n in range(100))


#: The last two datetimes ``iso`` formatted and their texts, newest first (held, so an object
#: cannot be another one): ``(dt, text, previous dt, its text)``.
_LAST_ISO: tuple[datetime | None, str, datetime | None, str] = (None, "", None, "")


def parse_iso(text: str | None) -> datetime | None:
    if not text:
        return None
    dt = datetime.fromisoformat(text)
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


#: ``json.dumps(value)`` with the default options.
json_ascii = json_encoder()
#: ``json.dumps(value, ensure_ascii=False)``.
json_text = json_encoder(ensure_ascii=False)
_CANONICAL = json_encoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
#: A str as JSON (what ``json.dumps(s, ensure_ascii=False)`` writes), without the encoder's dispatch.
_STRING = json.encoder.encode_basestring  # type: ignore[attr-defined]


def canonical_json(value: Any) -> str:
    """One spelling per value: sorted keys, no spaces, UTF-8 kept (hashes must be reproducible)."""
    return _CANONICAL(value)


class transaction:
    """Join the caller's transaction when ``conn`` is given, else open one (``db.tx()``).

    Lets a store's state change and its audit entry (and the effects' bookkeeping) commit together.
    A small class rather than ``@contextmanager``: it runs several times per message.
    """

    __slots__ = ("_tx", "conn", "db")

    def __init__(self, db: Database, conn: sqlite3.Connection | None = None) -> None:
        self.db = db
        self.conn = conn
        self._tx: Any = None

    def __enter__(self) -> sqlite3.Connection:
        if self.conn is not None:
            return self.conn
        self._tx = self.db.tx()
        return self._tx.__enter__()  # type: ignore[no-any-return]

    def __exit__(self, *exc: object) -> bool | None:
        if self._tx is None:
            return None
        tx, self._tx = self._tx, None
        return tx.__exit__(*exc)  # type: ignore[no-any-return]


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: datetime
    actor: str
    action: str
    subject: str
    reason: str
    evidence: Any
    prev_hash: str
    hash: str

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": iso(self.at),
            "actor": self.actor,
            "action": self.action,
            "subject": self.subject,
            "reason": self.reason,
            "evidence": self.evidence,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


@dataclass
class VerifyResult:
    """``ok`` is false when the chain is broken; ``first_bad`` is the seq of the first bad entry."""

    ok: bool
    checked: int
    first_bad: int | None = None
    problem: str = ""
    details: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.ok


def entry_hash(prev_hash: str, seq: int, at: str, actor: str, action: str, subject: str, reason: str,
               evidence_json: str) -> str:
    """sha256 over the previous hash and the canonical JSON of the entry's fields.

    ``evidence_json`` is the stored canonical text, embedded as written: the result equals
    ``canonical_json`` of the whole entry, and any textual change to the stored evidence shows."""
    s = _STRING
    body = (f'{prev_hash}{{"action":{s(action)},"actor":{s(actor)},"at":{s(at)},"evidence":{evidence_json},'
            f'"reason":{s(reason)},"seq":{int(seq)},"subject":{s(subject)}}}')
    return _sha256(body.encode("utf-8")).hexdigest()


class AuditLog:
    """Append-only, hash-chained record of who did what, when, why, with what evidence."""

    def __init__(self, db: Database) -> None:
        self.db = db
        db.migrate()
        self._head_hook = self._write_head  # one bound method, registered once per append
        have = db.query("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_log'")
        if len(have) < len(_TRIGGERS):
            # Trigger bodies hold semicolons, which the migration splitter does not allow.
            with db.tx() as c:
                for statement in _TRIGGERS:
                    c.execute(statement)

    def append(
        self,
        actor: str,
        action: str,
        subject: str,
        reason: str = "",
        evidence: Any = None,
        *,
        at: datetime | None = None,
        conn: sqlite3.Connection | None = None,
        at_text: str | None = None,
    ) -> AuditEntry:
        """Add one entry at the end of the chain. ``actor`` is a person's name, ``policy`` or
        ``system``; ``action`` a dotted verb (``hold.approve``, ``draft.discard``, ``decision``);
        ``subject`` what it acted on (``hold:3``, ``draft:7``, ``message:<id>``, ``customer:<key>``).
        Pass ``conn`` to commit together with the caller's own change; ``at_text`` is ``iso(at)``
        when the caller has it already."""
        if not actor or not action or not subject:
            raise ValueError("an audit entry needs an actor, an action and a subject")
        at = at or utcnow()
        if at_text is None:
            at_text = iso(at)
        if evidence is None:
            evidence = {}
        evidence_json = _CANONICAL(evidence)
        reason = reason or ""
        if conn is not None:
            seq, prev_hash, digest = self._write(conn, actor, action, subject, reason, evidence_json, at_text)
        else:
            with self.db.tx() as c:
                seq, prev_hash, digest = self._write(c, actor, action, subject, reason, evidence_json, at_text)
        # parse_iso(at_text), without parsing: iso() keeps every microsecond.
        return AuditEntry(seq, at.astimezone(timezone.utc), actor, action, subject, reason, evidence, prev_hash,
                          digest)

    def add(self, actor: str, action: str, subject: str, reason: str, evidence: Any, *, at: datetime,
            conn: sqlite3.Connection) -> int:
        """``append(actor, action, subject, reason, evidence, at=at, conn=conn).seq``, for a store's
        write that joins its own transaction ``conn`` and does not read the entry back: the same
        row and chain, without building the returned ``AuditEntry``."""
        if not actor or not action or not subject:
            raise ValueError("an audit entry needs an actor, an action and a subject")
        evidence_json = _CANONICAL({} if evidence is None else evidence)
        return self._write(conn, actor, action, subject, reason or "", evidence_json, iso(at))[0]

    def append_json(self, actor: str, action: str, subject: str, reason: str, evidence_json: str, *,
                    at_text: str, conn: sqlite3.Connection) -> int:
        """``append`` for a caller that has written the evidence's canonical JSON itself
        (``canonical_json(evidence)``, exactly) and joins its own transaction ``conn``; returns
        the entry's seq. The pipeline's decision entry takes this path once per message."""
        if not actor or not action or not subject:
            raise ValueError("an audit entry needs an actor, an action and a subject")
        return self._write(conn, actor, action, subject, reason or "", evidence_json, at_text)[0]

    def append_spelled(self, actor: str, action: str, subject: str, reason: str, evidence_json: str,
                       spelled: tuple[str, str, str], *, at_text: str, conn: sqlite3.Connection) -> int:
        """``append_json`` for a caller that has also spelled the entry's other fields as
        ``entry_hash`` spells them around the evidence and the seq: ``spelled`` is
        ``('{"action":' + s(action) + ',"actor":' + s(actor) + ',"at":' + s(at_text) + ',"evidence":',
        ',"reason":' + s(reason) + ',"seq":', ',"subject":' + s(subject) + '}')`` with ``s`` the JSON
        spelling of a str. The entry and its hash are the ones ``append_json`` writes."""
        if not actor or not action or not subject:
            raise ValueError("an audit entry needs an actor, an action and a subject")
        return self._write(conn, actor, action, subject, reason or "", evidence_json, at_text, spelled)[0]

    def _write(self, c: sqlite3.Connection, actor: str, action: str, subject: str, reason: str,
               evidence_json: str, at_text: str, spelled: tuple[str, str, str] | None = None
               ) -> tuple[int, str, str]:
        """Insert the entry after the chain's tail; returns its seq, the previous hash and its hash."""
        # Inside the store's transaction the chain's tail is remembered from the previous
        # append, and the head marker is written once, when the transaction commits.
        db = self.db
        batched = c is db.conn and db.in_tx
        tail = db.tx_local.get(_TAIL) if batched else None
        if tail is None:
            last = c.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
            tail = (last["seq"], last["hash"]) if last else (0, GENESIS_HASH)
        seq, prev_hash = tail[0] + 1, tail[1]
        if spelled is None:
            digest = entry_hash(prev_hash, seq, at_text, actor, action, subject, reason, evidence_json)
        else:  # entry_hash(...) from the caller's spelling of the other fields
            digest = _sha256("".join((prev_hash, spelled[0], evidence_json, spelled[1], str(seq), spelled[2]))
                             .encode("utf-8")).hexdigest()
        run = db.kept_execute(c) if batched else c.execute  # (in the store's transaction: its kept cursor)
        run("INSERT INTO audit_log(seq, at, actor, action, subject, reason, evidence, prev_hash, hash) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (seq, at_text, actor, action, subject, reason, evidence_json, prev_hash, digest))
        if batched:
            local = db.tx_local
            local[_TAIL] = (seq, digest)
            if _HOOKED not in local:  # registered once per transaction (registering again keeps one call)
                db.before_commit(HEAD_KEY, self._head_hook)
                local[_HOOKED] = True
        else:
            db.set_state(HEAD_KEY, f"{seq}:{digest}", conn=c)
        return seq, prev_hash, digest

    def _write_head(self, c: sqlite3.Connection) -> None:
        """The head marker as the transaction leaves the chain (run just before it commits)."""
        self.db.tx_local.pop(_HOOKED, None)  # an append after this (another hook's) registers it again
        tail = self.db.tx_local.get(_TAIL)
        if tail is None:  # a savepoint rolled back since the last append: read the real end
            last = c.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
            if last is None:
                return
            tail = (last["seq"], last["hash"])
        self.db.set_state(HEAD_KEY, f"{tail[0]}:{tail[1]}", conn=c)

    def entries(
        self,
        *,
        subject: str | None = None,
        subject_prefix: str | None = None,
        actor: str | None = None,
        action: str | None = None,
        since: datetime | None = None,
        before_seq: int | None = None,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> list[AuditEntry]:
        """Entries filtered by exact ``subject``, ``subject_prefix`` (``hold:``), ``actor``,
        ``action`` (exact, or a prefix when it ends with ``.``: ``hold.``), ``since`` and
        ``before_seq`` (entries older than that sequence number: the console's next page)."""
        sql = "SELECT * FROM audit_log WHERE 1=1"
        params: list[Any] = []
        if subject is not None:
            sql += " AND subject = ?"
            params.append(subject)
        if subject_prefix is not None:
            sql += " AND substr(subject, 1, ?) = ?"
            params += [len(subject_prefix), subject_prefix]
        if actor is not None:
            sql += " AND actor = ?"
            params.append(actor)
        if action is not None:
            if action.endswith("."):
                sql += " AND substr(action, 1, ?) = ?"
                params += [len(action), action]
            else:
                sql += " AND action = ?"
                params.append(action)
        if since is not None:
            sql += " AND at >= ?"
            params.append(iso(since))
        if before_seq is not None:
            sql += " AND seq < ?"
            params.append(int(before_seq))
        sql += " ORDER BY seq DESC" if newest_first else " ORDER BY seq"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        return [_entry(r) for r in self.db.query(sql, tuple(params))]

    def for_subjects(self, subjects: list[str]) -> list[AuditEntry]:
        """Entries about any of ``subjects``, oldest first (used by the case export)."""
        if not subjects:
            return []
        rows = self.db.query_in("SELECT * FROM audit_log WHERE subject IN ({marks}) ORDER BY seq", subjects)
        return sorted((_entry(r) for r in rows), key=lambda e: e.seq)

    def count(self, *, subject: str | None = None) -> int:
        """How many entries there are (about ``subject`` only, when given)."""
        if subject is not None:
            row = self.db.query_one("SELECT COUNT(*) AS n FROM audit_log WHERE subject = ?", (subject,))
        else:
            row = self.db.query_one("SELECT COUNT(*) AS n FROM audit_log")
        return int(row["n"]) if row else 0

    def verify(self) -> VerifyResult:
        """Walk the chain from the start; report the first entry whose stored hash, link to the
        previous entry or sequence number does not match, or where the chain was cut short."""
        prev_hash = GENESIS_HASH
        expected_seq = 1
        checked = 0
        for row in self.db.query("SELECT * FROM audit_log ORDER BY seq"):
            seq = row["seq"]
            if seq != expected_seq:
                return VerifyResult(False, checked, seq,
                                    f"entry {seq}: expected sequence number {expected_seq} (an entry is missing)")
            if row["prev_hash"] != prev_hash:
                return VerifyResult(False, checked, seq,
                                    f"entry {seq}: prev_hash does not match the hash of entry {seq - 1}")
            try:
                digest = entry_hash(prev_hash, seq, row["at"], row["actor"], row["action"], row["subject"],
                                    row["reason"], row["evidence"])
            except (ValueError, TypeError) as exc:
                return VerifyResult(False, checked, seq, f"entry {seq}: evidence is not valid JSON ({exc})")
            if digest != row["hash"]:
                return VerifyResult(False, checked, seq,
                                    f"entry {seq}: content does not match its hash (edited after it was written)")
            prev_hash = row["hash"]
            expected_seq += 1
            checked += 1
        head = self.db.get_state(HEAD_KEY)
        if head:
            head_seq, _, head_hash = head.partition(":")
            if int(head_seq) != checked or head_hash != prev_hash:
                first = checked + 1 if int(head_seq) > checked else int(head_seq)
                return VerifyResult(False, checked, first,
                                    f"entry {first}: the chain ends at entry {checked} but entry {head_seq} was "
                                    "written (entries were removed from the end)")
        return VerifyResult(True, checked)


def _entry(row: sqlite3.Row) -> AuditEntry:
    return AuditEntry(
        seq=row["seq"],
        at=parse_iso(row["at"]),  # type: ignore[arg-type]
        actor=row["actor"],
        action=row["action"],
        subject=row["subject"],
        reason=row["reason"],
        evidence=json.loads(row["evidence"]),
        prev_hash=row["prev_hash"],
        hash=row["hash"],
    )
