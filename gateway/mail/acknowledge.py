"""Automatic acknowledgments: the one reply the gateway sends without a person's approval.

The policy's ``acknowledgments:`` section (``AckSettings``) is off by default. When it is on, a
customer whose mail arrives while their contact hold is active (``Decision.held``: the mail goes to
the held folder, not to an agent) gets one short reply in their language saying the message was
received and will be handled under the policy. It is refused, and the refusal audited, when:

- the mail is automated: ``Auto-Submitted`` other than ``no``, ``Precedence: bulk/list/junk``,
  ``List-*`` headers, a bounce, a null or mailer-daemon sender, the gateway's own address (RFC 3834);
- the message itself triggered an immediate hold (a violent threat): a lead owns that reply;
- the customer already got one within ``period`` (RFC 3834 section 2), or the mail was received
  more than ``max_age`` ago (a backfill or rescan must not answer old mail).

Crash safety is the outbox pattern. ``AckQueue.consider`` runs inside the message's own
transaction (the one that commits its verdict), so an acknowledgment is queued exactly when the
verdict is: a crash before the commit re-analyses the message, a crash after it leaves the queue
row for the next send round. ``Outbox.send_acknowledgments`` (gateway.mail.smtp) then records the
send as ``sending`` before talking to the server, and never repeats a send a crash interrupted.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import parseaddr
from pathlib import Path
from typing import Any

from gateway.audit import AuditLog, iso, parse_iso, utcnow
from gateway.drafts import DraftError, DraftRenderer
from gateway.effects import human_duration
from gateway.errors import StoreError
from gateway.ingest.auto import automated_reason
from gateway.mail.smtp import auto_reply_blocked
from gateway.model import Decision, Message
from gateway.policy.schema import AckSettings, Organization
from gateway.store.db import Database, register_schema

log = logging.getLogger(__name__)

register_schema(
    "acknowledgments",
    [
        """
        CREATE TABLE acknowledgments (
            message_id TEXT PRIMARY KEY,
            customer TEXT NOT NULL,
            source TEXT NOT NULL DEFAULT '',
            hold_id INTEGER,
            to_address TEXT NOT NULL,
            lang TEXT NOT NULL,
            template TEXT NOT NULL,
            subject TEXT NOT NULL,
            body TEXT NOT NULL,
            in_reply_to TEXT NOT NULL DEFAULT '',
            refs TEXT NOT NULL DEFAULT '',
            state TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            sent_at TEXT,
            detail TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX acknowledgments_customer ON acknowledgments(customer, created_at);
        CREATE INDEX acknowledgments_state ON acknowledgments(state, created_at)
        """
    ],
)

#: queued -> sent | failed | expired (an acknowledgment is tried once per send round until one of those)
STATES: tuple[str, ...] = ("queued", "sent", "failed", "expired")

#: A queued acknowledgment not delivered within this time is dropped rather than sent late.
STALE_AFTER = timedelta(hours=24)


@dataclass(frozen=True)
class Ack:
    """One queued (or finished) acknowledgment, rendered when its message was analysed."""

    message_id: str
    customer: str
    source: str
    hold_id: int | None
    to_address: str
    lang: str
    template: str
    subject: str
    body: str
    in_reply_to: str
    references: str
    state: str
    created_at: datetime
    sent_at: datetime | None
    detail: str


class AckQueue:
    """Decides, queues and records automatic acknowledgments (table ``acknowledgments``)."""

    def __init__(self, db: Database, settings: AckSettings, *, templates_dir: Path,
                 organization: Organization | None = None, own_addresses: Iterable[str] = (),
                 clock: Callable[[], datetime] | None = None) -> None:
        import gateway.effects  # noqa: F401  (registers the decisions table read for the customer key)
        from gateway.holds import HoldStore

        self.db = db
        db.migrate()
        self.settings = settings
        self.organization = organization or Organization()
        self.own_addresses = normalise_addresses(own_addresses)
        self.renderer = DraftRenderer(templates_dir)
        self.audit = AuditLog(db)
        self.holds = HoldStore(db, self.audit)
        self.clock = clock or utcnow

    # -- deciding (inside the message's transaction) -------------------------------------------

    def consider(self, message: Message, decision: Decision) -> str:
        """Queue the acknowledgment ``message`` gets under the policy. Returns "" when one was
        queued, else why not. Only a held customer's mail is considered at all; a refusal of
        such mail is audited, so a lead can see why a customer got no acknowledgment."""
        if not self.settings.enabled or decision.shadow or not decision.held:
            return "not a held customer's mail" if not decision.held else "acknowledgments are off"
        now = self.clock()
        with self.db.tx() as c:
            if c.execute("SELECT 1 FROM acknowledgments WHERE message_id = ?", (message.id,)).fetchone():
                return "already acknowledged"
            customer = self._customer(c, message)
            reason = self._refusal(c, message, decision, customer, now)
            if reason:
                self.audit.append("policy", "acknowledgment.suppressed", f"message:{message.id}", reason,
                                  {"customer": customer}, at=now, conn=c)
                log.info("automatic acknowledgment suppressed", extra={"message_id": message.id, "reason": reason})
                return reason
            org = self.organization
            context = {"org_name": org.name, "policy_name": org.policy_name, "policy_url": org.policy_url,
                       "original_subject": message.subject, "reference": _reference(message.id)}
            try:
                rendered = self.renderer.render(self.settings.template, message.lang, context)
            except DraftError as exc:  # validated at start; a broken template is reported, not sent
                self.audit.append("policy", "acknowledgment.error", f"message:{message.id}", str(exc),
                                  {"template": self.settings.template}, at=now, conn=c)
                return str(exc)
            holds = self.holds.active_for(customer, message.thread or message.id, message.source)
            hold_id = holds[0].id if holds else None
            to = reply_address(message)
            refs = " ".join(x for x in [*message.references, message.message_id] if x)
            c.execute(
                "INSERT INTO acknowledgments(message_id, customer, source, hold_id, to_address, lang, template, "
                "subject, body, in_reply_to, refs, state, created_at, updated_at) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,'queued',?,?)",
                (message.id, customer, message.source, hold_id, to, rendered.lang, rendered.template,
                 rendered.subject, rendered.body, message.message_id, refs, iso(now), iso(now)))
            self.audit.append(
                "policy", "acknowledgment.queued", f"message:{message.id}",
                "automatic acknowledgment queued: the customer's mail arrived under an active hold",
                {"customer": customer, "to": to, "hold_id": hold_id, "template": rendered.template,
                 "lang": rendered.lang}, at=now, conn=c)
        return ""

    def _customer(self, c: sqlite3.Connection, message: Message) -> str:
        """The canonical customer key the pipeline decided under (linked addresses share it)."""
        row = c.execute("SELECT customer FROM decisions WHERE message_id = ?", (message.id,)).fetchone()
        return row["customer"] if row else (message.sender or message.sender_address)

    def _refusal(self, c: sqlite3.Connection, message: Message, decision: Decision, customer: str,
                 now: datetime) -> str:
        to = reply_address(message)
        why = (automated_reason(message)
               or auto_reply_blocked(message.headers, to, self.own_addresses)
               or auto_reply_blocked({}, message.sender_address, self.own_addresses))
        if why:
            return f"automatic reply refused (RFC 3834): {why}"
        if any(a.type == "hold" and a.params.get("mode") == "apply" for a in decision.actions):
            return "the message itself triggered an immediate hold; a lead owns the reply"
        received = message.received_at
        if received is not None and received.tzinfo is None:
            received = received.replace(tzinfo=timezone.utc)
        if received is not None and now - received > self.settings.max_age:
            return f"the message was received more than {human_duration(self.settings.max_age)} ago"
        since = iso(now - self.settings.period)
        prior = c.execute(
            "SELECT message_id, created_at FROM acknowledgments WHERE customer = ? AND created_at > ? "
            "AND state != 'expired' ORDER BY created_at DESC LIMIT 1", (customer, since)).fetchone()
        if prior is not None:
            return (f"the customer was already acknowledged within {human_duration(self.settings.period)} "
                    f"(at {prior['created_at']})")
        return ""

    # -- sending (called by the outbox) ----------------------------------------------------------

    def queued(self) -> list[Ack]:
        return [_ack(r) for r in self.db.query(
            "SELECT * FROM acknowledgments WHERE state = 'queued' ORDER BY created_at, message_id")]

    def get(self, message_id: str) -> Ack | None:
        row = self.db.query_one("SELECT * FROM acknowledgments WHERE message_id = ?", (message_id,))
        return _ack(row) if row else None

    def all(self) -> list[Ack]:
        return [_ack(r) for r in self.db.query("SELECT * FROM acknowledgments ORDER BY created_at, message_id")]

    def is_stale(self, ack: Ack) -> bool:
        return self.clock() - ack.created_at > STALE_AFTER

    def finish(self, message_id: str, state: str, detail: str, *, outgoing_id: str = "") -> None:
        """Record the end of an acknowledgment (sent, failed, expired), with its audit entry."""
        if state not in STATES or state == "queued":
            raise ValueError(f"unknown final state {state!r}")
        now = self.clock()
        with self.db.tx() as c:
            row = c.execute("SELECT customer, to_address, state FROM acknowledgments WHERE message_id = ?",
                            (message_id,)).fetchone()
            if row is None or row["state"] == state:
                return
            c.execute("UPDATE acknowledgments SET state = ?, detail = ?, updated_at = ?, "
                      "sent_at = CASE WHEN ? = 'sent' THEN ? ELSE sent_at END WHERE message_id = ?",
                      (state, detail[:1000], iso(now), state, iso(now), message_id))
            self.audit.append("system", f"acknowledgment.{state}", f"message:{message_id}", detail[:500],
                              {"customer": row["customer"], "to": row["to_address"], "outgoing_id": outgoing_id},
                              at=now, conn=c)


def reply_address(message: Message) -> str:
    """Where an automatic reply goes: the envelope sender (Return-Path) when the mail carries one,
    as RFC 3834 section 4 asks of automatic responses, else the From address. Never Reply-To:
    an automatic reply must not be steered to a third party by a header anyone can set."""
    return_path = parseaddr(message.headers.get("return-path", ""))[1].strip()
    return return_path or message.sender_address or message.sender


def normalise_addresses(addresses: Iterable[str]) -> frozenset[str]:
    """Bare lowercased addresses (``Support <support@example.com>`` -> ``support@example.com``)."""
    out = set()
    for a in addresses:
        bare = parseaddr(a or "")[1].strip().lower()
        if bare:
            out.add(bare)
    return frozenset(out)


def acknowledging(process: Callable[[Message], Any], queue: AckQueue) -> Callable[[Message], Any]:
    """``process`` followed by ``queue.consider`` in the same call (so in the caller's transaction).
    A bug in the acknowledgment step is logged and never quarantines the customer's mail; a
    store failure propagates, so the message is retried as a whole."""

    def process_and_acknowledge(message: Message) -> Any:
        result = process(message)
        try:
            queue.consider(result.message, result.decision)
        except (StoreError, sqlite3.OperationalError):
            raise
        except Exception as exc:
            log.error("automatic acknowledgment step failed", exc_info=exc,
                      extra={"message_id": getattr(message, "id", ""), "error": type(exc).__name__})
        return result

    return process_and_acknowledge


def wire_acknowledgments(db: Database, pipeline: Any, outbox: Any, process: Callable[[Message], Any],
                         config: Any = None) -> Callable[[Message], Any]:
    """The daemon's hook: when the loaded policy enables acknowledgments and SMTP is configured,
    give the outbox an ``AckQueue`` and return ``process`` wrapped to queue them; otherwise
    return ``process`` unchanged (nothing is ever queued or sent)."""
    policy = getattr(pipeline, "policy", None)
    settings = getattr(getattr(policy, "settings", None), "acknowledgments", None)
    if not isinstance(settings, AckSettings) or not settings.enabled:
        return process
    if outbox is None:
        log.warning("the policy enables automatic acknowledgments but no smtp is configured; none will be sent")
        return process
    own = [outbox.cfg.sender, *outbox.cfg.own_addresses]
    for source in getattr(config, "sources", ()) or ():
        username = getattr(source, "username", "") or ""
        if "@" in username:
            own.append(username)
    queue = AckQueue(db, settings, templates_dir=Path(policy.templates),
                     organization=policy.settings.organization, own_addresses=own,
                     clock=getattr(pipeline, "clock", None))
    outbox.acknowledgments = queue
    log.info("automatic acknowledgments are on", extra={"state": settings.trigger})
    return acknowledging(process, queue)


class AckRecords:
    """The acknowledgments table read on its own (the console's customer page): no policy,
    templates or clock needed to show what was sent."""

    def __init__(self, db: Database) -> None:
        self.db = db
        db.migrate()

    def for_customer(self, keys: Iterable[str]) -> list[Ack]:
        """Every acknowledgment to any of a customer's keys (linked addresses), newest first."""
        keys = list(keys)
        if not keys:
            return []
        marks = ", ".join("?" * len(keys))
        return [_ack(r) for r in self.db.query(
            f"SELECT * FROM acknowledgments WHERE customer IN ({marks}) ORDER BY created_at DESC, message_id DESC",
            tuple(keys))]


def _reference(message_id: str) -> str:
    from gateway.effects import short_reference

    return short_reference(message_id)


def _ack(row: sqlite3.Row) -> Ack:
    return Ack(
        message_id=row["message_id"], customer=row["customer"], source=row["source"], hold_id=row["hold_id"],
        to_address=row["to_address"], lang=row["lang"], template=row["template"], subject=row["subject"],
        body=row["body"], in_reply_to=row["in_reply_to"], references=row["refs"], state=row["state"],
        created_at=parse_iso(row["created_at"]),  # type: ignore[arg-type]
        sent_at=parse_iso(row["sent_at"]), detail=row["detail"],
    )


__all__ = ["Ack", "AckQueue", "AckRecords", "acknowledging", "normalise_addresses", "reply_address",
           "wire_acknowledgments"]
