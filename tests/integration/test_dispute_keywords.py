"""A dispute reaches the mailbox: the keywords of the disputed categories come off the message on
the next pass (a real Dovecot, and the Maildir sidecar), here or in the held folder, and nothing
else about the message changes."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from gateway.checkpoints import Checkpoints
from gateway.daemon import Daemon
from gateway.disputes import Disputes
from gateway.mail.maildir import MaildirMarks
from gateway.store.db import Database
from tests.integration.dovecot import Dovecot
from tests.integration.mailkit import customer_mail, imap_config
from tests.integration.test_daemon_maildir import maildir_config, make_maildir

pytestmark = pytest.mark.integration

INSULT = "You useless idiot, where is my parcel?"
KILL = "I am going to kill you and your family. You idiot."


def run_once(config) -> int:
    return asyncio.run(Daemon(config, once=True).run())  # the real ingest and pipeline


def corrections(db_path: Path) -> list[tuple[str, str]]:
    db = Database.open(db_path)
    try:
        return [(r["message_id"], r["state"]) for r in db.query("SELECT * FROM keyword_corrections ORDER BY id")]
    finally:
        db.close()


def test_disputed_keywords_come_off_on_the_server_in_the_inbox_and_the_held_folder(
        dovecot: Dovecot, tmp_path: Path) -> None:
    db_path = tmp_path / "g.db"
    config = imap_config(dovecot, db_path=str(db_path))
    dovecot.append([customer_mail(1, sender="a@example.org", body=INSULT),
                    customer_mail(2, sender="b@example.org", body=KILL),
                    customer_mail(3, sender="c@example.org")])
    assert run_once(config) == 0
    inbox, held = dovecot.flags("INBOX"), dovecot.flags("Held")
    assert {"$Harassment", "$HG_verbal_abuse"} <= inbox["<m1@example.org>"]
    assert {"$HG_threat", "$HG_verbal_abuse", "$HGHeld"} <= held["<m2@example.org>"]  # moved: a hold at once

    db = Database.open(db_path)
    disputes = Disputes(db)
    disputes.dispute("<m1@example.org>", "agent.ash", "quoting the courier")  # every tag it had
    disputes.dispute("<m2@example.org>", "lead.kim", "the insult was quoted", ["verbal_abuse"])  # one of two
    verdict = Checkpoints(db).verdict("<m1@example.org>")
    assert verdict is not None and verdict.categories == ()  # a rescan would not put them back
    db.close()

    assert run_once(config) == 0
    inbox, held = dovecot.flags("INBOX"), dovecot.flags("Held")
    assert not {"$Harassment", "$HG_verbal_abuse"} & inbox["<m1@example.org>"]
    assert "$HGChecked" in inbox["<m1@example.org>"]
    assert "$HG_verbal_abuse" not in held["<m2@example.org>"]
    assert {"$Harassment", "$HG_threat", "$HGHeld", "$HGChecked"} <= held["<m2@example.org>"]  # the rest stands
    assert inbox["<m3@example.org>"] == {"$HGChecked"}
    assert sorted(corrections(db_path)) == [("<m1@example.org>", "done"), ("<m2@example.org>", "done")]

    assert run_once(config) == 0  # done once: nothing pending, nothing changes
    assert dovecot.flags("INBOX") == inbox and dovecot.flags("Held") == held


def test_disputed_keywords_come_off_the_maildir_sidecar(tmp_path: Path) -> None:
    box, db_path = tmp_path / "mail", tmp_path / "g.db"
    make_maildir(box, [customer_mail(1, sender="a@example.org", body=INSULT), customer_mail(2, sender="c@example.org")])
    config = maildir_config(box, db_path)
    assert run_once(config) == 0
    db = Database.open(db_path)
    before = {m.message_id: m.keywords for m in MaildirMarks(db).all("local").values()}
    assert {"$Harassment", "$HG_verbal_abuse"} <= before["<m1@example.org>"]
    Disputes(db).dispute("<m1@example.org>", "agent.ash", "quoting the courier")
    db.close()

    assert run_once(config) == 0
    db = Database.open(db_path)
    after = {m.message_id: m.keywords for m in MaildirMarks(db).all("local").values()}
    db.close()
    assert after["<m1@example.org>"] == before["<m1@example.org>"] - {"$Harassment", "$HG_verbal_abuse"}
    assert after["<m2@example.org>"] == before["<m2@example.org>"]
    assert corrections(db_path) == [("<m1@example.org>", "done")]
