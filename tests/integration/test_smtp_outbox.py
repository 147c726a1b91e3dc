"""Replies through a real aiosmtpd server: threading headers, RFC 3834 suppression, 4xx retry, 5xx failure."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from gateway.config import SmtpConfig
from gateway.drafts import DraftStore
from gateway.mail.smtp import Outbox, SmtpClient
from gateway.store.db import Database

pytestmark = pytest.mark.integration

SUPPORT = "support@example.com"


@pytest.fixture
def db(tmp_path: Path):
    database = Database.open(tmp_path / "g.db")
    yield database
    database.close()


def outbox_for(db: Database, port: int, *, attempts: int = 4) -> Outbox:
    cfg = SmtpConfig(host="127.0.0.1", port=port, security="none", sender=f"Support <{SUPPORT}>",
                     own_addresses=(SUPPORT,))

    async def no_wait(_: float) -> None:
        return None

    return Outbox(db, cfg, SmtpClient(cfg, None, attempts=attempts, backoff=0.01, sleep=no_wait),
                  sources={"support"})


def approved_draft(db: Database, *, to: str = "Ann Customer <ann@example.org>", subject: str = "Your order 1042"):
    drafts = DraftStore(db)
    draft = drafts.create("ann@example.org", "en", "firm_boundary", subject, "We will not continue this call.\n",
                          to_address=to, source="support", message_id="<c1@example.org>", in_reply_to="<c1@example.org>",
                          references="<c0@example.org> <c1@example.org>")
    return drafts.approve(draft.id, "lead-kim")


def test_approved_draft_arrives_threaded_under_the_customer_message(smtpd, db: Database) -> None:
    handler, port = smtpd
    draft = approved_draft(db)
    outbox = outbox_for(db, port)
    assert asyncio.run(outbox.send_approved()) == 1

    [msg] = handler.messages
    assert msg["Subject"] == "Re: Your order 1042"
    assert msg["In-Reply-To"] == "<c1@example.org>"
    assert msg["References"].split() == ["<c0@example.org>", "<c1@example.org>"]
    assert msg["Auto-Submitted"] is None  # a person approved it: not an automatic reply
    assert msg.get_content().strip() == "We will not continue this call."
    assert handler.envelopes == [(SUPPORT, ["ann@example.org"])]
    assert DraftStore(db).get(draft.id).state == "sent"
    [record] = outbox.sent()
    assert record["state"] == "sent" and record["message_id"] == msg["Message-ID"]
    # nothing is sent twice
    assert asyncio.run(outbox.send_approved()) == 0 and len(handler.messages) == 1


def test_a_pending_draft_is_never_sent(smtpd, db: Database) -> None:
    handler, port = smtpd
    DraftStore(db).create("ann@example.org", "en", "firm_boundary", "Hello", "Body\n", to_address="ann@example.org",
                          source="support")
    assert asyncio.run(outbox_for(db, port).send_approved()) == 0
    assert handler.attempts == 0


def test_a_helpdesk_ticket_draft_is_left_to_its_connector(smtpd, db: Database) -> None:
    handler, port = smtpd
    drafts = DraftStore(db)
    draft = drafts.create("ann@example.org", "en", "firm_boundary", "Hello", "Body\n", to_address="ann@example.org",
                          source="zendesk")
    drafts.approve(draft.id, "agent-li")
    assert asyncio.run(outbox_for(db, port).send_approved()) == 0
    assert handler.attempts == 0 and drafts.get(draft.id).state == "approved"


def test_existing_re_prefix_is_not_doubled(smtpd, db: Database) -> None:
    handler, port = smtpd
    approved_draft(db, subject="Re: Your order 1042")
    asyncio.run(outbox_for(db, port).send_approved())
    assert handler.messages[0]["Subject"] == "Re: Your order 1042"


def test_temporary_failure_is_retried_until_it_is_delivered(smtpd, db: Database) -> None:
    handler, port = smtpd
    handler.replies = ["451 4.3.0 mailbox busy, try later", "421 4.7.0 try again"]
    draft = approved_draft(db)
    outbox = outbox_for(db, port)
    assert asyncio.run(outbox.send_approved()) == 1
    assert handler.attempts == 3 and len(handler.messages) == 1
    assert DraftStore(db).get(draft.id).state == "sent"
    assert outbox.sent()[0]["attempts"] == 3


def test_permanent_failure_marks_the_draft_failed_with_the_reason(smtpd, db: Database) -> None:
    handler, port = smtpd
    handler.replies = ["550 5.1.1 mailbox unavailable"]
    draft = approved_draft(db)
    outbox = outbox_for(db, port)
    assert asyncio.run(outbox.send_approved()) == 0
    failed = DraftStore(db).get(draft.id)
    assert failed.state == "failed"
    assert "550" in (failed.error or "") and "mailbox unavailable" in (failed.error or "")
    assert handler.attempts == 1  # a 5xx is not retried
    assert outbox.sent()[0]["state"] == "failed"


def test_temporary_failures_past_the_budget_keep_the_draft_approved_for_later(smtpd, db: Database) -> None:
    handler, port = smtpd
    handler.replies = ["451 later"] * 2
    draft = approved_draft(db)
    outbox = outbox_for(db, port, attempts=2)
    assert asyncio.run(outbox.send_approved()) == 0
    assert DraftStore(db).get(draft.id).state == "approved"
    assert asyncio.run(outbox.send_approved()) == 1  # the next round delivers it
    assert DraftStore(db).get(draft.id).state == "sent"


def test_a_send_interrupted_by_a_crash_is_not_repeated(smtpd, db: Database) -> None:
    handler, port = smtpd
    draft = approved_draft(db)
    with db.tx() as conn:  # what a kill between "sending" and the server's answer leaves behind
        conn.execute("INSERT INTO outbox(key, kind, draft_id, message_id, to_address, state, created_at) "
                     "VALUES (?, 'draft', ?, '<x@example.com>', 'ann@example.org', 'sending', '2026-01-01')",
                     (f"draft:{draft.id}", draft.id))
    assert asyncio.run(outbox_for(db, port).send_approved()) == 0
    assert handler.attempts == 0
    failed = DraftStore(db).get(draft.id)
    assert failed.state == "failed" and "interrupted" in (failed.error or "")
