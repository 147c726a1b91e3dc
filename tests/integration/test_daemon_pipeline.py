"""The daemon with the real pipeline: Dovecot in, keywords and held folder on the server, holds and
drafts in the store, an approved draft out through aiosmtpd, threaded under the customer's mail."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest

from gateway.config import SmtpConfig
from gateway.daemon import Daemon
from gateway.drafts import DraftStore
from gateway.holds import HoldStore
from gateway.store.db import Database
from tests.integration.dovecot import Dovecot
from tests.integration.mailkit import customer_mail, imap_config

pytestmark = pytest.mark.integration

COMPLAINT = "My parcel has not arrived yet. Could you tell me when it will ship?"
ABUSE = "You are a useless idiot and your company is a joke."
THREAT = "If you don't refund me today you'll regret this. I know where your office is."


def test_real_pipeline_end_to_end_from_mailbox_to_threaded_reply(dovecot: Dovecot, smtpd, tmp_path: Path) -> None:
    handler, smtp_port = smtpd
    dovecot.append([
        customer_mail(1, sender="ann@example.org", body=COMPLAINT),
        customer_mail(2, sender="bob@example.org", subject="Broken order", body=ABUSE),
        customer_mail(3, sender="cy@example.org", body=THREAT),
        customer_mail(4, sender="held@example.org", body=COMPLAINT),
    ])
    db_path = tmp_path / "gateway.db"
    db = Database.open(db_path)
    HoldStore(db).apply("held@example.org", "all_channels", "violence last week", actor="lead-kim")
    db.close()
    base = imap_config(dovecot, db_path=str(db_path))
    config = replace(base, smtp=SmtpConfig(host="127.0.0.1", port=smtp_port, security="none",
                                           sender="support@example.com", own_addresses=("support@example.com",)))

    assert asyncio.run(Daemon(config, once=True).run()) == 0  # the real ingest and Pipeline

    inbox, held = dovecot.flags("INBOX"), dovecot.flags("Held")
    assert "$Harassment" not in inbox["<m1@example.org>"] and "$HGChecked" in inbox["<m1@example.org>"]
    assert {"$Harassment", "$HG_verbal_abuse"} <= inbox["<m2@example.org>"]
    assert {"$Harassment", "$HG_threat"} <= inbox["<m3@example.org>"]
    assert set(held) == {"<m4@example.org>"} and "$HGHeld" in held["<m4@example.org>"]

    db = Database.open(db_path)
    drafts = DraftStore(db)
    proposed = HoldStore(db).list(customer="cy@example.org")
    assert proposed and proposed[0].state in {"proposed", "active"}  # a threat asks a lead for a hold
    [draft] = [d for d in drafts.list() if d.message_id == "<m2@example.org>"]
    assert draft.state == "pending" and not handler.messages  # nothing is sent before approval
    drafts.approve(draft.id, "agent-li")
    db.close()

    assert asyncio.run(Daemon(config, once=True).run()) == 0  # the next pass sends approved drafts
    [reply] = handler.messages
    assert reply["To"] == "bob@example.org"
    assert reply["In-Reply-To"] == "<m2@example.org>"
    assert "<m2@example.org>" in reply["References"].split()
    assert reply["Subject"].startswith("Re:")
    assert reply["Auto-Submitted"] is None
    db = Database.open(db_path)
    assert DraftStore(db).get(draft.id).state == "sent"
    db.close()
