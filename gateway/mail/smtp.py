"""Sending replies by SMTP: approved drafts, and automatic acknowledgments where policy allows.

Nothing reaches a customer without a person's approval, except an automatic acknowledgment the
policy explicitly enables; those carry ``Auto-Submitted: auto-replied`` and are never sent in reply
to mail that RFC 3834 says must not get one (``auto_reply_blocked``). Replies thread: the subject
gets ``Re:``, and In-Reply-To / References point at the customer's message.

A 4xx answer (or a dropped connection) is retried with exponential backoff; a 5xx marks the draft
failed with the server's reason, which the console shows. Every message sent, refused or
interrupted is recorded in the ``outbox`` table. Sending is at-most-once: a send interrupted by a
crash (the record says ``sending``) is not repeated blindly; the draft is marked failed with a
reason asking a person to check, because mailing a customer twice is a visible effect.

Automatic acknowledgments are queued by ``gateway.mail.acknowledge`` (in the same transaction as
the customer message's verdict, when the policy enables them) and sent here by
``send_acknowledgments`` under the same rules: recorded as ``sending`` first, never repeated after
an interrupted send, retried on 4xx, given up on 5xx.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses, parseaddr
from typing import Any

import aiosmtplib

from gateway.config import SmtpConfig
from gateway.errors import DeliveryError
from gateway.metrics import Metrics
from gateway.store.db import Database, register_schema

log = logging.getLogger(__name__)

register_schema(
    "outbox",
    [
        """
        CREATE TABLE outbox (
            key TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            draft_id INTEGER,
            in_reply_to TEXT NOT NULL DEFAULT '',
            message_id TEXT NOT NULL,
            to_address TEXT NOT NULL,
            state TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            response TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL,
            sent_at TEXT
        )
        """
    ],
)

_RE_PREFIX = ("re:", "re：", "ｒｅ：", "ｒｅ:")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


def reply_subject(subject: str) -> str:
    """``Re: <subject>``, without stacking a second ``Re:``."""
    subject = " ".join((subject or "").split())
    return subject if subject.lower().startswith(_RE_PREFIX) else f"Re: {subject}".rstrip()


def auto_reply_blocked(headers: Mapping[str, str], sender: str, own_addresses: tuple[str, ...] | frozenset[str]) -> str:
    """Why an automatic reply to this message must not be sent (RFC 3834 section 2), or "".

    ``headers`` maps lowercased header names to values (as ``Message.headers``); ``sender`` is the
    envelope or From address the reply would go to.
    """
    h = {k.lower(): (v or "") for k, v in headers.items()}
    auto = h.get("auto-submitted", "").strip().lower()
    if auto and auto.split(";")[0].strip() != "no":
        return f"Auto-Submitted: {auto}"
    precedence = h.get("precedence", "").strip().lower()
    if precedence in {"bulk", "list", "junk"}:
        return f"Precedence: {precedence}"
    for name in h:
        if name.startswith("list-"):
            return f"{name} header (mailing list)"
    if h.get("x-auto-response-suppress", "").strip().lower() in {"all", "autoreply", "oof"}:
        return "X-Auto-Response-Suppress"
    address = parseaddr(sender or "")[1].strip().lower()
    if not address or address == "<>":
        return "null sender"
    local = address.split("@", 1)[0]
    if local in {"mailer-daemon", "postmaster", "noreply", "no-reply", "listserv", "majordomo"} or \
            local.startswith("owner-") or local.endswith("-request"):
        return f"automated sender {address}"
    if address in _bare(own_addresses):
        return "the gateway's own address"
    return ""


def build_reply(*, sender: str, to: str, subject: str, body: str, in_reply_to: str, references: str,
                key: str, automatic: bool = False, now: datetime | None = None) -> EmailMessage:
    """A reply that threads under the customer's message. The Message-ID derives from ``key``
    (the draft), so a copy the receiving side already has is recognisably the same message."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = reply_subject(subject)
    msg["Date"] = format_datetime(now or datetime.now(timezone.utc))
    msg["Message-ID"] = message_id_for(sender, key)
    parent = _angle(in_reply_to)
    if parent:
        msg["In-Reply-To"] = parent
    refs = [r for r in (references or "").split() if r.startswith("<")]
    if parent and parent not in refs:
        refs.append(parent)
    if refs:
        msg["References"] = " ".join(refs)
    if automatic:
        msg["Auto-Submitted"] = "auto-replied"
    msg.set_content(body, charset="utf-8")
    return msg


def message_id_for(sender: str, key: str) -> str:
    """The Message-ID of what the gateway sends for ``key`` (a draft, an acknowledgment, a
    notice): derived from the key, so a copy sent again is recognisably the same message."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "harassment-gateway.invalid"
    return f"<hg.{hashlib.sha256(key.encode()).hexdigest()[:20]}@{domain}>"


def _angle(message_id: str) -> str:
    message_id = (message_id or "").strip()
    if not message_id:
        return ""
    return message_id if message_id.startswith("<") else f"<{message_id}>"


class SmtpClient:
    """Delivers one message with retries on 4xx and transport errors; raises ``DeliveryError``."""

    def __init__(self, cfg: SmtpConfig, password: str | None, *, attempts: int = 5, backoff: float = 2.0,
                 timeout: float = 60.0, sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep) -> None:
        self.cfg = cfg
        self.password = password
        self.attempts = attempts
        self.backoff = backoff
        self.timeout = timeout
        self.sleep = sleep

    async def send(self, msg: EmailMessage) -> tuple[int, str]:
        """Send; returns the number of attempts and the server's final answer."""
        last = ""
        for attempt in range(1, self.attempts + 1):
            try:
                _, response = await aiosmtplib.send(
                    msg,
                    hostname=self.cfg.host,
                    port=self.cfg.port,
                    username=self.cfg.username or None,
                    password=self.password if self.cfg.username else None,
                    use_tls=self.cfg.security == "ssl",
                    start_tls=True if self.cfg.security == "starttls" else False,
                    timeout=self.timeout,
                )
                return attempt, str(response)
            except aiosmtplib.SMTPRecipientsRefused as exc:
                codes = [r.code for r in exc.recipients]
                last = "; ".join(f"{r.code} {r.message}" for r in exc.recipients)
                if any(c >= 500 for c in codes):
                    raise DeliveryError(f"recipient refused: {last}", code=max(codes), permanent=True) from exc
            except aiosmtplib.SMTPResponseException as exc:
                last = f"{exc.code} {exc.message}"
                if exc.code >= 500:
                    raise DeliveryError(f"SMTP server refused the message: {last}", code=exc.code,
                                        permanent=True) from exc
            except (aiosmtplib.SMTPException, OSError, asyncio.TimeoutError) as exc:
                last = f"{type(exc).__name__}: {exc}"
            if attempt < self.attempts:
                delay = random.uniform(0.5, 1.0) * self.backoff * (2 ** (attempt - 1))
                log.warning("SMTP temporary failure; retrying", extra={"error": last[:300], "attempt": attempt,
                                                                       "delay": round(delay, 2)})
                await self.sleep(delay)
        raise DeliveryError(f"SMTP kept failing after {self.attempts} attempts: {last}", permanent=False)


class Outbox:
    """Sends approved drafts and automatic acknowledgments, recording each in ``outbox``."""

    def __init__(self, db: Database, cfg: SmtpConfig, client: SmtpClient, metrics: Metrics | None = None, *,
                 sources: frozenset[str] | set[str] = frozenset()) -> None:
        from gateway.drafts import DraftStore

        self.sources = frozenset(sources)  # drafts from these mail sources go out by SMTP
        self.db = db
        db.migrate()
        self.cfg = cfg
        self.client = client
        self.drafts = DraftStore(db)
        self.metrics = metrics or Metrics()
        #: the policy's automatic acknowledgments (an ``AckQueue``); None: none are ever sent
        self.acknowledgments: Any = None
        self._lock = asyncio.Lock()

    async def idle(self) -> None:
        """Return once no send is in progress (graceful shutdown waits for this)."""
        async with self._lock:
            return None

    def record(self, key: str) -> dict[str, Any] | None:
        row = self.db.query_one("SELECT * FROM outbox WHERE key = ?", (key,))
        return dict(row) if row else None

    def sent(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self.db.query("SELECT * FROM outbox ORDER BY created_at")]

    async def send_approved(self) -> int:
        """Send every approved draft answering mail from one of our mail sources; returns how
        many went out. Drafts for helpdesk tickets are left to their connector."""
        async with self._lock:
            count = 0
            for draft in self.drafts.approved():
                if draft.source not in self.sources:
                    continue
                if await self._send_draft(draft):
                    count += 1
            return count

    async def send_pending(self) -> int:
        """One send round: approved drafts, then queued automatic acknowledgments (when the
        policy enables them). Returns how many messages went out."""
        return await self.send_approved() + await self.send_acknowledgments()

    async def send_acknowledgments(self) -> int:
        """Send every queued automatic acknowledgment once; returns how many went out. Nothing
        is sent unless the daemon attached the policy's ``AckQueue``."""
        queue = self.acknowledgments
        if queue is None:
            return 0
        async with self._lock:
            count = 0
            for ack in queue.queued():
                if await self._send_ack(queue, ack):
                    count += 1
            return count

    async def _send_ack(self, queue: Any, ack: Any) -> bool:
        key = f"ack:{ack.message_id}"
        prior = self.record(key)
        if prior is not None and prior["state"] == "sent":  # the crash came after the server took it
            queue.finish(ack.message_id, "sent", prior["response"] or "sent", outgoing_id=prior["message_id"])
            return False
        if prior is not None and prior["state"] == "sending":
            reason = ("sending was interrupted (the gateway stopped mid-send); not repeated, so the customer "
                      "is not mailed twice")
            self.finish(key, "failed", reason)
            queue.finish(ack.message_id, "failed", reason, outgoing_id=prior["message_id"])
            return False
        if prior is not None:  # refused before; an automatic reply is tried in one round only
            queue.finish(ack.message_id, "failed", prior["response"] or "not delivered")
            return False
        if queue.is_stale(ack):
            queue.finish(ack.message_id, "expired", "not delivered in time; an acknowledgment is not sent late")
            return False
        blocked = _loop_guard(ack.to_address, self.cfg.own_addresses)
        if blocked:
            queue.finish(ack.message_id, "failed", f"not sent: {blocked}")
            return False
        msg = build_reply(sender=self.cfg.sender, to=ack.to_address, subject=ack.subject, body=ack.body,
                          in_reply_to=ack.in_reply_to, references=ack.references, key=key, automatic=True)
        outcome = await self._deliver(key, "ack", msg, draft_id=None, to=ack.to_address, in_reply_to=ack.in_reply_to)
        if outcome == "sent":
            record = self.record(key) or {}
            queue.finish(ack.message_id, "sent", str(record.get("response", "sent")), outgoing_id=msg["Message-ID"])
            return True
        if outcome == "retry":  # a 4xx or a dropped connection: still queued for the next round
            with self.db.tx() as conn:
                conn.execute("DELETE FROM outbox WHERE key = ? AND state = 'failed'", (key,))
            return False
        record = self.record(key) or {}
        queue.finish(ack.message_id, "failed", str(record.get("response", "refused")))
        return False

    async def _send_draft(self, draft: Any) -> bool:
        key = f"draft:{draft.id}"
        prior = self.record(key)
        if prior is not None and prior["state"] == "sent":
            self.drafts.mark_sent(draft.id, detail=prior["response"] or "sent")  # crash came before this
            return False
        if prior is not None and prior["state"] == "sending":
            reason = ("sending was interrupted (the gateway stopped mid-send); check the sent mail before "
                      "approving a new reply, so the customer is not mailed twice")
            self.finish(key, "failed", reason)
            self.drafts.mark_failed(draft.id, reason)
            return False
        blocked = _loop_guard(draft.to_address, self.cfg.own_addresses)
        if blocked:
            self.drafts.mark_failed(draft.id, f"not sent: {blocked}")
            return False
        msg = build_reply(sender=self.cfg.sender, to=draft.to_address, subject=draft.subject, body=draft.body,
                          in_reply_to=draft.in_reply_to or draft.message_id, references=draft.references, key=key)
        return await self._deliver(key, "draft", msg, draft_id=draft.id, to=draft.to_address,
                                   in_reply_to=draft.message_id) == "sent"

    async def _deliver(self, key: str, kind: str, msg: EmailMessage, *, draft_id: int | None, to: str,
                       in_reply_to: str) -> str:
        """Record ``sending``, send, record the answer. Returns ``sent``, ``failed`` (a 5xx: given
        up) or ``retry`` (temporary failures past the client's attempts)."""
        with self.db.tx() as conn:
            conn.execute(
                "INSERT INTO outbox(key, kind, draft_id, in_reply_to, message_id, to_address, state, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, 'sending', ?) ON CONFLICT(key) DO UPDATE SET state = 'sending'",
                (key, kind, draft_id, in_reply_to, msg["Message-ID"], to, _now()),
            )
        try:
            attempts, response = await self.client.send(msg)
        except DeliveryError as exc:
            self.finish(key, "failed", str(exc))
            self.metrics.send_failed += 1
            if draft_id is not None:
                if exc.permanent:
                    self.drafts.mark_failed(draft_id, str(exc))
                else:
                    # still approved: the next round tries again
                    with self.db.tx() as conn:
                        conn.execute("DELETE FROM outbox WHERE key = ? AND state = 'failed'", (key,))
            log.warning("reply not delivered", extra={"draft_id": draft_id, "code": exc.code, "error": str(exc)[:300]})
            return "failed" if exc.permanent else "retry"
        self.finish(key, "sent", response, attempts=attempts)
        if draft_id is not None:
            self.drafts.mark_sent(draft_id, detail=response[:200])
        self.metrics.sent += 1
        log.info("reply sent", extra={"draft_id": draft_id, "attempt": attempts, "state": kind})
        return "sent"

    def finish(self, key: str, state: str, response: str, *, attempts: int | None = None) -> None:
        """Record the server's answer (or the reason) for the ``outbox`` row ``key``."""
        with self.db.tx() as conn:
            conn.execute(
                "UPDATE outbox SET state = ?, response = ?, attempts = COALESCE(?, attempts), "
                "sent_at = CASE WHEN ? = 'sent' THEN ? ELSE sent_at END WHERE key = ?",
                (state, response[:1000], attempts, state, _now(), key),
            )


def _bare(addresses: Iterable[str]) -> set[str]:
    """``Support <support@example.com>`` and ``SUPPORT@example.com`` are the same address."""
    return {parseaddr(a or "")[1].strip().lower() or (a or "").strip().lower() for a in addresses}


def _loop_guard(to: str, own: tuple[str, ...]) -> str:
    """Even an approved reply is not mailed to nobody, to a mailer daemon, or to ourselves."""
    addresses = [a for _, a in getaddresses([to or ""]) if a]
    if not addresses:
        return "no recipient address"
    for address in addresses:
        local = address.lower().split("@", 1)[0]
        if local in {"mailer-daemon", "postmaster"}:
            return f"recipient {address} is a mailer daemon"
        if address.lower() in _bare(own):
            return f"recipient {address} is the gateway's own address"
    return ""


__all__ = ["Outbox", "SmtpClient", "auto_reply_blocked", "build_reply", "message_id_for", "reply_subject"]
