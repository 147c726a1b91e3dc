"""Telling the people the policy names: escalations, and holds waiting for a lead's decision.

The policy escalates to roles (``escalate: {to: [leads, legal], priority: urgent}``); the config's
``smtp.notify`` says who each role is (``leads: [kim@example.com]``). Every round the daemon mails
each customer's new escalations to the addresses of the roles they name, one notice per customer
(a customer who sends forty threats in a minute makes one notice listing forty messages, not
forty notices), and marks them notified. While a customer's notice waits for a lead, further
escalations of no higher priority are gathered into a follow-up at most once an hour
(``FOLLOW_UP``); a higher priority goes out at once. Leads acknowledge them in the console (``/escalations``),
which lists them whether or not anybody could be mailed.

A notice carries no message text: it names the customer, the rules, the categories and when, and
links to the console, where the messages are read with abusive words masked.

Unlike a reply to a customer, a notice is sent *at least* once: one interrupted mid-send (the
gateway stopped after the server may have taken it) is sent again and says so, because a lead told
twice costs less than a threat nobody hears of. A 4xx (after the client's retries) leaves the
escalations open for the next round; a 5xx leaves them open too, recorded in ``outbox`` with the
server's answer, and is tried again an hour later. Every notice is in the ``outbox`` table (kind
``notice``) and each escalation's move to ``notified`` is in the audit log.

Holds a lead has not decided for the policy's ``holds.remind_after`` are mailed to the ``leads``
role as one digest, at most once per ``remind_after``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Any
from urllib.parse import quote

from gateway.audit import iso, parse_iso
from gateway.config import SmtpConfig
from gateway.effects import EscalationStore, human_duration
from gateway.errors import DeliveryError
from gateway.mail.smtp import Outbox, message_id_for
from gateway.policy.engine import PRIORITY_RANK
from gateway.store.db import Database

log = logging.getLogger(__name__)

#: a notice the server refused for good is tried again after this long
RETRY_REFUSED = timedelta(hours=1)
#: while a customer's last notice waits for a lead, more escalations of no higher priority are
#: gathered into a follow-up at most this often (a flood of threats is not a notice every round)
FOLLOW_UP = timedelta(hours=1)
#: the role pending-hold reminders go to
REMINDER_ROLE = "leads"
#: at most this many messages are listed in one notice (the console lists them all)
LISTED = 20
_REMINDED = "notice.holds_reminded_at"


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


class LeadNotifier:
    """Mails escalations and pending-hold reminders to the addresses ``smtp.notify`` gives each role."""

    def __init__(self, db: Database, cfg: SmtpConfig, outbox: Outbox, *, console_url: str = "",
                 remind_after: timedelta = timedelta(hours=24), clock: Callable[[], datetime] = _utcnow) -> None:
        """``outbox``: the replies' outbox, whose SMTP client and ``outbox`` table the notices use."""
        self.db = db
        db.migrate()
        self.cfg = cfg
        self.outbox = outbox
        self.console_url = console_url.rstrip("/")
        self.remind_after = remind_after
        self.clock = clock

    # -- who ---------------------------------------------------------------------------------------
    def addresses(self, roles: Iterable[str]) -> list[str]:
        """The addresses of ``roles``, each once (``Kim <kim@x>`` and ``KIM@x`` are one), in the
        config's order."""
        out: list[str] = []
        seen: set[str] = set()
        for role in dict.fromkeys(roles):
            for address in self.cfg.notify.get(role, ()):
                bare = parseaddr(address)[1].lower()
                if bare not in seen:
                    seen.add(bare)
                    out.append(address)
        return out

    def unmailed_roles(self, roles: Iterable[str]) -> list[str]:
        """The roles among ``roles`` that no address is configured for."""
        return [r for r in dict.fromkeys(roles) if not self.cfg.notify.get(r)]

    # -- escalations ---------------------------------------------------------------------------------
    async def notify_escalations(self) -> int:
        """Mail every customer's open escalations, one notice per customer; returns how many
        notices went out. Escalations whose roles have no address stay open (the console lists
        them)."""
        store = EscalationStore(self.db)
        by_customer: dict[str, list[Any]] = {}
        for esc in store.open():
            by_customer.setdefault(esc.customer, []).append(esc)
        if not by_customer:
            return 0
        told: dict[str, tuple[datetime, int]] = {}  # customer -> (last notified, highest priority) unacknowledged
        for esc in store.list(state="notified"):
            if esc.customer in by_customer and esc.notified_at is not None:
                last, rank = told.get(esc.customer, (esc.notified_at, -1))
                told[esc.customer] = (max(last, esc.notified_at), max(rank, PRIORITY_RANK.get(esc.priority, 0)))
        now = self.clock()
        sent = 0
        for customer, escalations in by_customer.items():
            roles = [r for e in escalations for r in e.recipients]
            to = self.addresses(roles)
            if not to:
                continue
            if customer in told:
                last, rank = told[customer]
                if now - last < FOLLOW_UP and max(PRIORITY_RANK.get(e.priority, 0) for e in escalations) <= rank:
                    continue  # gathered into the next follow-up
            key = "notice:escalation:" + ",".join(str(e.id) for e in escalations)
            prior = self.outbox.record(key)
            repeat = False
            if prior is not None and prior["state"] == "sent":  # the crash came after the server took it
                self._mark_notified(store, escalations, prior["to_address"])
                continue
            if prior is not None and prior["state"] == "sending":
                repeat = True  # interrupted: at least once, so again, and saying so
            elif prior is not None and prior["state"] == "failed":
                if now - parse_iso(prior["created_at"]) < RETRY_REFUSED:  # type: ignore[operator]
                    continue
            msg = self._escalation_notice(customer, escalations, to, key, repeat=repeat)
            if await self._deliver(key, msg, to):
                self._mark_notified(store, escalations, ", ".join(to))
                sent += 1
        return sent

    def _mark_notified(self, store: Any, escalations: Sequence[Any], to: str) -> None:
        for esc in escalations:
            store.mark_notified(esc.id, detail=f"mailed to {to}"[:500], now=self.clock())

    def _escalation_notice(self, customer: str, escalations: Sequence[Any], to: list[str], key: str, *,
                           repeat: bool) -> EmailMessage:
        priority = max((e.priority for e in escalations), key=lambda p: PRIORITY_RANK.get(p, 0))
        categories = sorted({c for e in escalations for c in e.categories})
        rules = sorted({r for e in escalations for r in e.rules})
        roles = list(dict.fromkeys(r for e in escalations for r in e.recipients))
        n = len(escalations)
        what = ", ".join(categories) or "conduct"
        subject = (f"[{priority}] Escalation: {what} from {customer}"
                   + (f" ({n} messages)" if n > 1 else ""))
        lines = []
        if repeat:
            lines += ["(Sent again: the gateway stopped while sending this notice, so it may have reached you "
                      "already.)", ""]
        lines += [
            f"The gateway escalated {n} message{'s' if n > 1 else ''} from {customer} to {', '.join(roles)}.",
            "",
            f"Priority:   {priority}",
            f"Categories: {', '.join(categories) or '-'}",
            f"Rules:      {', '.join(rules) or '-'}",
            "",
        ]
        for esc in escalations[-LISTED:]:
            held = f"; hold {esc.hold_id}" if esc.hold_id else ""
            lines.append(f"- {esc.created_at:%Y-%m-%d %H:%M} UTC  escalation {esc.id}, message {esc.message_id}{held}")
        if n > LISTED:
            lines.append(f"  ({n - LISTED} earlier ones are listed in the console)")
        lines += [
            "",
            "Read the messages (abusive words masked) and the customer's history, and acknowledge:",
            f"  {self._link('/escalations')}",
            f"  {self._link('/customers/' + quote(customer, safe='@'))}",
            "",
            "This notice was sent by harassment-gateway; replies to it are not read.",
        ]
        return self._message(subject, "\n".join(lines) + "\n", to, key)

    # -- holds waiting -----------------------------------------------------------------------------
    async def remind_holds(self, waiting: Sequence[Any]) -> bool:
        """Mail the ``leads`` role one digest of the holds waiting for a decision, at most once per
        ``remind_after``; True when one went out."""
        to = self.addresses([REMINDER_ROLE])
        if not waiting or not to:
            return False
        now = self.clock()
        last = self.db.get_state(_REMINDED)
        if last and now - parse_iso(last) < self.remind_after:  # type: ignore[operator]
            return False
        key = f"notice:holds:{iso(now)}"
        lines = [f"{len(waiting)} proposed hold{'s are' if len(waiting) != 1 else ' is'} waiting for a team "
                 f"lead's decision (longer than {human_duration(self.remind_after)}):", ""]
        for hold in list(waiting)[:LISTED]:
            lines.append(f"- hold {hold.id}: {hold.customer}, proposed {hold.created_at:%Y-%m-%d %H:%M} UTC "
                         f"({', '.join(hold.categories) or hold.reason})")
        if len(waiting) > LISTED:
            lines.append(f"  ({len(waiting) - LISTED} more in the console)")
        lines += ["", "Decide in the console:", f"  {self._link('/holds')}", "",
                  "This reminder was sent by harassment-gateway; replies to it are not read."]
        subject = f"{len(waiting)} hold{'s' if len(waiting) != 1 else ''} waiting for a decision"
        if not await self._deliver(key, self._message(subject, "\n".join(lines) + "\n", to, key), to):
            return False
        self.db.set_state(_REMINDED, iso(now))
        return True

    # -- sending ---------------------------------------------------------------------------------------
    def _link(self, path: str) -> str:
        return f"{self.console_url}{path}" if self.console_url else path

    def _message(self, subject: str, body: str, to: list[str], key: str) -> EmailMessage:
        msg = EmailMessage()
        msg["From"] = self.cfg.sender
        msg["To"] = ", ".join(to)
        msg["Subject"] = subject
        msg["Date"] = format_datetime(self.clock())
        msg["Message-ID"] = message_id_for(self.cfg.sender, key)
        msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: not a reply, and not to be answered automatically
        msg.set_content(body, charset="utf-8")
        return msg

    async def _deliver(self, key: str, msg: EmailMessage, to: list[str]) -> bool:
        """Record ``sending``, send, record the answer; True when the server took it. (Like
        ``Outbox``'s own, but a notice is not a draft, and a refused one keeps its time in
        ``created_at`` for ``RETRY_REFUSED``.)"""
        now = iso(self.clock())
        with self.db.tx() as conn:
            conn.execute(
                "INSERT INTO outbox(key, kind, in_reply_to, message_id, to_address, state, created_at) "
                "VALUES (?, 'notice', '', ?, ?, 'sending', ?) "
                "ON CONFLICT(key) DO UPDATE SET state = 'sending', created_at = excluded.created_at",
                (key, msg["Message-ID"], ", ".join(to), now))
        try:
            attempts, response = await self.outbox.client.send(msg)
        except DeliveryError as exc:
            if exc.permanent:
                self.outbox.finish(key, "failed", str(exc))
            else:  # the next round tries again
                with self.db.tx() as conn:
                    conn.execute("DELETE FROM outbox WHERE key = ?", (key,))
            log.error("notice to leads not delivered", extra={"code": exc.code, "error": str(exc)[:300]})
            return False
        self.outbox.finish(key, "sent", response, attempts=attempts)
        log.info("notice sent", extra={"state": "notice", "count": len(to)})
        return True


__all__ = ["FOLLOW_UP", "LeadNotifier", "RETRY_REFUSED"]
