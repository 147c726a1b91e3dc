"""Automatic acknowledgments through a real aiosmtpd server: one per held customer per period,
threaded and marked ``Auto-Submitted: auto-replied``, in the customer's language; never for mail
RFC 3834 says must not be answered; never sent twice, even after a crash mid-send."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

import pytest

from gateway.audit import AuditLog
from gateway.config import SmtpConfig
from gateway.ingest import ingest
from gateway.mail.acknowledge import AckQueue
from gateway.mail.smtp import Outbox, SmtpClient
from gateway.model import Action, Decision, Message
from gateway.policy.schema import AckSettings, Organization
from gateway.resources import rules_dir
from gateway.store.db import Database
from tests.clock import Clock

pytestmark = pytest.mark.integration

SUPPORT = "support@example.com"
START = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def db(tmp_path: Path):
    database = Database.open(tmp_path / "g.db")
    yield database
    database.close()


def mail(n: int, *, sender: str = "Ann Customer <ann@example.org>", subject: str = "Order 1042",
         body: str = "Where is my order? I have written three times now.", when: datetime = START,
         headers: dict[str, str] | None = None) -> Message:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = SUPPORT
    msg["Subject"] = subject
    msg["Message-ID"] = f"<held{n}@example.org>"
    msg["References"] = "<first@example.org>"
    msg["Date"] = format_datetime(when)
    for k, v in (headers or {}).items():
        msg[k] = v
    msg.set_content(body)
    return ingest(bytes(msg), source="support")


def held(message: Message, *actions: Action) -> Decision:
    return Decision(message.id, tags=["hg_hold"], held=True, actions=list(actions))


def setup(db: Database, port: int, *, clock: Clock, enabled: bool = True, attempts: int = 3,
          period: timedelta = timedelta(days=7)) -> tuple[AckQueue, Outbox]:
    cfg = SmtpConfig(host="127.0.0.1", port=port, security="none", sender=f"Acme Support <{SUPPORT}>",
                     own_addresses=(SUPPORT,))

    async def no_wait(_: float) -> None:
        return None

    outbox = Outbox(db, cfg, SmtpClient(cfg, None, attempts=attempts, backoff=0.01, sleep=no_wait),
                    sources={"support"})
    queue = AckQueue(db, AckSettings(enabled=enabled, period=period), templates_dir=rules_dir() / "templates",
                     organization=Organization(name="Acme Support"), own_addresses=[cfg.sender], clock=clock)
    outbox.acknowledgments = queue
    return queue, outbox


def test_a_held_customer_gets_one_threaded_auto_replied_acknowledgment(smtpd, db: Database) -> None:
    handler, port = smtpd
    queue, outbox = setup(db, port, clock=Clock(START + timedelta(minutes=5)))
    first = mail(1)
    assert queue.consider(first, held(first)) == ""
    assert asyncio.run(outbox.send_pending()) == 1

    [msg] = handler.messages
    assert msg["Auto-Submitted"] == "auto-replied"
    assert msg["Subject"] == "Re: Order 1042"
    assert msg["In-Reply-To"] == "<held1@example.org>"
    assert msg["References"].split() == ["<first@example.org>", "<held1@example.org>"]
    assert handler.envelopes == [(SUPPORT, ["ann@example.org"])]
    body = msg.get_content()
    assert "automatic reply" in body and "Acme Support" in body and "Customer Harassment Policy" in body
    assert "Where is my order" not in body  # nothing the customer wrote is echoed back

    # recorded where sent mail is recorded, and in the audit log
    [record] = outbox.sent()
    assert record["kind"] == "ack" and record["state"] == "sent" and record["message_id"] == msg["Message-ID"]
    assert queue.get(first.id).state == "sent"
    actions = [e.action for e in AuditLog(db).entries(subject=f"message:{first.id}")]
    assert actions == ["acknowledgment.queued", "acknowledgment.sent"]

    # another send round sends nothing again
    assert asyncio.run(outbox.send_pending()) == 0 and len(handler.messages) == 1


def test_a_second_message_within_the_period_gets_none_and_one_after_it_does(smtpd, db: Database) -> None:
    handler, port = smtpd
    clock = Clock(START + timedelta(minutes=5))
    queue, outbox = setup(db, port, clock=clock)
    m1, m2 = mail(1), mail(2, when=START + timedelta(hours=3))
    assert queue.consider(m1, held(m1)) == ""
    clock.now = START + timedelta(hours=3, minutes=1)
    reason = queue.consider(m2, held(m2))
    assert "already acknowledged within 7 days" in reason
    asyncio.run(outbox.send_pending())
    assert len(handler.messages) == 1
    [entry] = AuditLog(db).entries(subject=f"message:{m2.id}")
    assert entry.action == "acknowledgment.suppressed" and "7 days" in entry.reason

    # the same customer through another of their addresses is still the same customer
    plus = mail(3, sender="ann+orders@example.org", when=START + timedelta(hours=4))
    clock.now = START + timedelta(hours=4, minutes=1)
    assert "already acknowledged" in queue.consider(plus, held(plus))

    later = START + timedelta(days=8)
    m4 = mail(4, when=later)
    clock.now = later + timedelta(minutes=1)
    assert queue.consider(m4, held(m4)) == ""
    assert asyncio.run(outbox.send_pending()) == 1
    assert [m["In-Reply-To"] for m in handler.messages] == ["<held1@example.org>", "<held4@example.org>"]


@pytest.mark.parametrize(
    "headers, sender, why",
    [
        ({"Auto-Submitted": "auto-replied"}, "ann@example.org", "Auto-Submitted"),
        ({"Auto-Submitted": "auto-generated"}, "ann@example.org", "Auto-Submitted"),
        ({"Precedence": "bulk"}, "ann@example.org", "Precedence"),
        ({"Precedence": "list"}, "ann@example.org", "Precedence"),
        ({"Precedence": "junk"}, "ann@example.org", "Precedence"),
        ({"List-Id": "<customers.example.org>"}, "ann@example.org", "List-Id"),
        ({"List-Unsubscribe": "<mailto:leave@example.org>"}, "ann@example.org", "list-unsubscribe"),
        ({}, "MAILER-DAEMON@example.org", "mailer-daemon"),
        ({"Return-Path": "<>"}, "ann@example.org", "<>"),
        ({}, f"Support <{SUPPORT}>", "own address"),
    ],
)
def test_mail_rfc_3834_forbids_answering_gets_no_acknowledgment(smtpd, db: Database, headers, sender, why) -> None:
    handler, port = smtpd
    queue, outbox = setup(db, port, clock=Clock(START + timedelta(minutes=5)))
    message = mail(1, sender=sender, headers=headers)
    reason = queue.consider(message, held(message))
    assert "RFC 3834" in reason and why.lower() in reason.lower()
    assert asyncio.run(outbox.send_pending()) == 0
    assert handler.attempts == 0 and queue.all() == []
    [entry] = AuditLog(db).entries(subject=f"message:{message.id}")
    assert entry.action == "acknowledgment.suppressed"


def test_auto_submitted_no_is_a_person_and_is_acknowledged(smtpd, db: Database) -> None:
    handler, port = smtpd
    queue, outbox = setup(db, port, clock=Clock(START + timedelta(minutes=5)))
    message = mail(1, headers={"Auto-Submitted": "no"})
    assert queue.consider(message, held(message)) == ""
    assert asyncio.run(outbox.send_pending()) == 1


def test_the_acknowledgment_goes_to_the_envelope_sender_not_to_reply_to(smtpd, db: Database) -> None:
    handler, port = smtpd
    queue, outbox = setup(db, port, clock=Clock(START + timedelta(minutes=5)))
    message = mail(1, headers={"Return-Path": "<ann@example.org>", "Reply-To": "victim@example.net"})
    assert queue.consider(message, held(message)) == ""
    asyncio.run(outbox.send_pending())
    assert handler.envelopes[0][1] == ["ann@example.org"]


def test_mail_not_under_a_hold_and_shadow_decisions_get_nothing(smtpd, db: Database) -> None:
    handler, port = smtpd
    queue, outbox = setup(db, port, clock=Clock(START + timedelta(minutes=5)))
    m1, m2 = mail(1), mail(2)
    assert queue.consider(m1, Decision(m1.id)) == "not a held customer's mail"
    assert queue.consider(m2, Decision(m2.id, held=True, shadow=True))
    assert asyncio.run(outbox.send_pending()) == 0 and handler.attempts == 0
    assert queue.all() == [] and AuditLog(db).entries(subject_prefix="message:") == []


def test_a_message_that_itself_triggers_an_immediate_hold_gets_none(smtpd, db: Database) -> None:
    handler, port = smtpd
    queue, outbox = setup(db, port, clock=Clock(START + timedelta(minutes=5)))
    message = mail(1, body="I will come to your office and hurt you.")
    decision = held(message, Action("hold", {"mode": "apply", "scope": "customer"}))
    assert "immediate hold" in queue.consider(message, decision)
    assert asyncio.run(outbox.send_pending()) == 0 and handler.attempts == 0


def test_old_mail_found_by_a_backfill_is_not_answered(smtpd, db: Database) -> None:
    handler, port = smtpd
    queue, outbox = setup(db, port, clock=Clock(START + timedelta(days=5)))
    message = mail(1)  # dated START, read five days later
    assert "more than 2 days ago" in queue.consider(message, held(message))
    assert asyncio.run(outbox.send_pending()) == 0


def test_with_the_setting_off_nothing_is_queued_or_sent(smtpd, db: Database) -> None:
    handler, port = smtpd
    queue, outbox = setup(db, port, clock=Clock(START + timedelta(minutes=5)), enabled=False)
    message = mail(1)
    assert queue.consider(message, held(message)) == "acknowledgments are off"
    assert asyncio.run(outbox.send_pending()) == 0
    assert handler.attempts == 0 and queue.all() == [] and outbox.sent() == []


def test_an_outbox_without_the_policy_queue_never_sends_an_acknowledgment(smtpd, db: Database) -> None:
    handler, port = smtpd
    queue, outbox = setup(db, port, clock=Clock(START + timedelta(minutes=5)))
    message = mail(1)
    queue.consider(message, held(message))  # queued while on; then the policy was switched off
    outbox.acknowledgments = None
    assert asyncio.run(outbox.send_pending()) == 0 and handler.attempts == 0


def test_a_japanese_customer_gets_the_japanese_acknowledgment(smtpd, db: Database) -> None:
    handler, port = smtpd
    queue, outbox = setup(db, port, clock=Clock(START + timedelta(minutes=5)))
    message = mail(1, sender="山田 <yamada@example.jp>", subject="注文の件",
                   body="何度も連絡していますが、注文した商品がまだ届きません。至急確認してください。")
    assert message.lang == "ja"
    assert queue.consider(message, held(message)) == ""
    asyncio.run(outbox.send_pending())
    [msg] = handler.messages
    assert msg["Subject"] == "Re: 注文の件"
    assert "自動送信メール" in msg.get_content() and "Acme Support" in msg.get_content()


def test_a_subject_with_markup_characters_reaches_the_customer_unescaped(smtpd, db: Database) -> None:
    handler, port = smtpd
    queue, outbox = setup(db, port, clock=Clock(START + timedelta(minutes=5)))
    message = mail(1, subject="Tom's order <1042> & refund")
    queue.consider(message, held(message))
    asyncio.run(outbox.send_pending())
    assert handler.messages[0]["Subject"] == "Re: Tom's order <1042> & refund"


def test_a_temporary_failure_is_retried_next_round_and_a_permanent_one_is_recorded(smtpd, db: Database) -> None:
    handler, port = smtpd
    clock = Clock(START + timedelta(minutes=5))
    queue, outbox = setup(db, port, clock=clock, attempts=1)
    m1 = mail(1)
    queue.consider(m1, held(m1))
    handler.replies = ["451 4.3.0 try later"]
    assert asyncio.run(outbox.send_pending()) == 0
    assert queue.get(m1.id).state == "queued"
    assert asyncio.run(outbox.send_pending()) == 1
    assert queue.get(m1.id).state == "sent" and len(handler.messages) == 1

    m2 = mail(2, sender="bob@example.org")
    queue.consider(m2, held(m2))
    handler.replies = ["550 5.1.1 no such user"]
    assert asyncio.run(outbox.send_pending()) == 0
    failed = queue.get(m2.id)
    assert failed.state == "failed" and "550" in failed.detail
    assert asyncio.run(outbox.send_pending()) == 0 and handler.attempts == 3


def test_an_acknowledgment_not_delivered_for_a_day_is_dropped_not_sent_late(smtpd, db: Database) -> None:
    handler, port = smtpd
    clock = Clock(START + timedelta(minutes=5))
    queue, outbox = setup(db, port, clock=clock)
    message = mail(1)
    queue.consider(message, held(message))
    clock.now += timedelta(hours=25)
    assert asyncio.run(outbox.send_pending()) == 0
    assert queue.get(message.id).state == "expired" and handler.attempts == 0


def test_a_send_interrupted_by_a_crash_is_not_repeated(smtpd, db: Database) -> None:
    handler, port = smtpd
    queue, outbox = setup(db, port, clock=Clock(START + timedelta(minutes=5)))
    message = mail(1)
    queue.consider(message, held(message))
    with db.tx() as conn:  # what a kill between "sending" and the server's answer leaves behind
        conn.execute("INSERT INTO outbox(key, kind, message_id, to_address, state, created_at) "
                     "VALUES (?, 'ack', '<hg.x@example.com>', 'ann@example.org', 'sending', '2026-03-02')",
                     (f"ack:{message.id}",))
    assert asyncio.run(outbox.send_pending()) == 0
    assert handler.attempts == 0
    ack = queue.get(message.id)
    assert ack.state == "failed" and "interrupted" in ack.detail
    assert asyncio.run(outbox.send_pending()) == 0 and handler.attempts == 0
