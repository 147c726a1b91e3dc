"""The daemon against a real Dovecot: keywords, held folder, IDLE, polling, quarantine, UIDVALIDITY."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest

from gateway.checkpoints import Checkpoints
from gateway.daemon import Daemon
from gateway.quarantine import Quarantine
from gateway.store.db import Database
from tests.integration.dovecot import Dovecot
from tests.integration.mailkit import (
    DaemonThread,
    ScriptedProcess,
    customer_mail,
    imap_config,
    ingest_function,
    wait_until,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def dovecot_plain(tmp_path: Path):
    """A server that advertises neither IDLE nor MOVE: the daemon must poll and COPY+EXPUNGE."""
    server = Dovecot.start(capabilities_off=("IDLE", "MOVE"))
    yield server
    server.stop()


def run_once(config, process, **kw) -> int:
    return asyncio.run(Daemon(config, once=True, process=process, ingest=ingest_function(), **kw).run())


def test_appended_messages_are_analysed_and_keywords_set(dovecot: Dovecot, tmp_path: Path) -> None:
    dovecot.append([
        customer_mail(1, body="Where is my parcel? It is two weeks late."),
        customer_mail(2, body="You idiot, you will regret this."),
        customer_mail(3, body="Please cancel my subscription."),
    ])
    process = ScriptedProcess()
    assert run_once(imap_config(dovecot, db_path=str(tmp_path / "g.db")), process) == 0

    flags = dovecot.flags()
    assert flags["<m1@example.org>"] >= {"$HGChecked"}
    assert "$Harassment" not in flags["<m1@example.org>"]
    assert flags["<m2@example.org>"] >= {"$HGChecked", "$Harassment", "$HG_threat", "$HG_verbal_abuse"}
    assert "$HG_threat" not in flags["<m3@example.org>"]
    # analysed once each, and mail is still unread for the agents (BODY.PEEK)
    assert sorted(process.calls.values()) == [1, 1, 1]
    assert all("\\Seen" not in f for f in flags.values())


def test_second_run_resumes_from_the_checkpoint(dovecot: Dovecot, tmp_path: Path) -> None:
    config = imap_config(dovecot, db_path=str(tmp_path / "g.db"))
    dovecot.append([customer_mail(i) for i in range(5)])
    process = ScriptedProcess()
    run_once(config, process)
    dovecot.append([customer_mail(i) for i in range(5, 8)])
    run_once(config, process)
    assert sum(process.calls.values()) == 8 and set(process.calls.values()) == {1}
    db = Database.open(tmp_path / "g.db")
    checkpoint = Checkpoints(db).get("support", "INBOX")
    assert checkpoint is not None and checkpoint.last_uid == 8


def test_held_customers_mail_is_moved_to_the_held_folder(dovecot: Dovecot, tmp_path: Path) -> None:
    dovecot.append([customer_mail(i, sender=f"c{i}@example.org") for i in range(4)])
    process = ScriptedProcess(held={"c1@example.org", "c3@example.org"})
    run_once(imap_config(dovecot, db_path=str(tmp_path / "g.db")), process)

    assert set(dovecot.flags("INBOX")) == {"<m0@example.org>", "<m2@example.org>"}
    held = dovecot.flags("Held")
    assert set(held) == {"<m1@example.org>", "<m3@example.org>"}
    assert all({"$HGHeld", "$HGChecked"} <= f for f in held.values())
    assert all("\\Deleted" not in f for f in held.values())


def test_without_move_held_mail_is_copied_then_only_that_uid_expunged(dovecot_plain: Dovecot, tmp_path: Path) -> None:
    server = dovecot_plain
    server.append([customer_mail(i, sender=f"c{i}@example.org") for i in range(3)])
    # Another client's message marked \Deleted but not expunged must survive our UID EXPUNGE.
    client = server.client()
    client.select_folder("INBOX")
    client.add_flags([1], [b"\\Deleted"])
    client.logout()

    process = ScriptedProcess(held={"c2@example.org"})
    run_once(imap_config(server, db_path=str(tmp_path / "g.db")), process)

    inbox = server.flags("INBOX")
    assert set(inbox) == {"<m0@example.org>", "<m1@example.org>"}
    assert "\\Deleted" in inbox["<m0@example.org>"]  # someone else's deletion, left alone
    assert set(server.flags("Held")) == {"<m2@example.org>"}


def test_with_idle_a_new_message_is_handled_within_5_seconds(dovecot: Dovecot, tmp_path: Path) -> None:
    process = ScriptedProcess()
    daemon = Daemon(imap_config(dovecot, db_path=str(tmp_path / "g.db")), process=process,
                    ingest=ingest_function(), serve_web=False)
    with DaemonThread(daemon):
        wait_until(lambda: daemon.metrics.source("support", "INBOX").state == "idle", 10)
        dovecot.append([customer_mail(1, body="you idiot")])
        took = wait_until(lambda: "$HGChecked" in dovecot.flags().get("<m1@example.org>", set()), 5)
    assert took < 5
    assert dovecot.flags()["<m1@example.org>"] >= {"$Harassment", "$HG_verbal_abuse"}


def test_without_idle_the_mailbox_is_polled(dovecot_plain: Dovecot, tmp_path: Path) -> None:
    process = ScriptedProcess()
    config = imap_config(dovecot_plain, db_path=str(tmp_path / "g.db"), poll_interval=1)
    daemon = Daemon(config, process=process, ingest=ingest_function(), serve_web=False)
    with DaemonThread(daemon):
        wait_until(lambda: daemon.metrics.source("support", "INBOX").state == "polling", 10)
        dovecot_plain.append([customer_mail(1)])
        wait_until(lambda: "$HGChecked" in dovecot_plain.flags().get("<m1@example.org>", set()), 5)


def test_idle_is_renewed_before_the_server_timeout(dovecot: Dovecot, tmp_path: Path) -> None:
    """With a 1-second renewal the daemon re-enters IDLE many times and still sees new mail."""
    process = ScriptedProcess()
    config = imap_config(dovecot, db_path=str(tmp_path / "g.db"), idle_timeout=1)
    daemon = Daemon(config, process=process, ingest=ingest_function(), serve_web=False)
    with DaemonThread(daemon):
        wait_until(lambda: daemon.metrics.source("support", "INBOX").state == "idle", 10)
        import time

        time.sleep(2.5)  # two renewals
        dovecot.append([customer_mail(1)])
        wait_until(lambda: "$HGChecked" in dovecot.flags().get("<m1@example.org>", set()), 5)
    assert daemon.metrics.source("support", "INBOX").reconnects == 0


def test_several_mailboxes_are_read(dovecot: Dovecot, tmp_path: Path) -> None:
    client = dovecot.client()
    client.create_folder("Billing")
    client.logout()
    dovecot.append([customer_mail(1)], folder="INBOX")
    dovecot.append([customer_mail(2, body="idiot")], folder="Billing")
    config = imap_config(dovecot, db_path=str(tmp_path / "g.db"), mailboxes=("INBOX", "Billing"))
    run_once(config, ScriptedProcess())
    assert "$HGChecked" in dovecot.flags("INBOX")["<m1@example.org>"]
    assert "$HG_verbal_abuse" in dovecot.flags("Billing")["<m2@example.org>"]


def test_a_message_that_breaks_analysis_is_quarantined_and_the_rest_go_on(dovecot: Dovecot, tmp_path: Path) -> None:
    dovecot.append([customer_mail(1), customer_mail(2, body="POISON pill"), customer_mail(3)])
    process = ScriptedProcess(fail_on="POISON")
    assert run_once(imap_config(dovecot, db_path=str(tmp_path / "g.db")), process) == 0
    flags = dovecot.flags()
    assert "$HGQuarantined" in flags["<m2@example.org>"] and "$HGChecked" not in flags["<m2@example.org>"]
    assert "$HGChecked" in flags["<m1@example.org>"] and "$HGChecked" in flags["<m3@example.org>"]
    items = Quarantine(Database.open(tmp_path / "g.db")).list()
    assert len(items) == 1 and "scripted analysis failure" in items[0].reason and "uid 2" in items[0].location


def test_an_oversized_message_is_quarantined_without_being_fetched(dovecot: Dovecot, tmp_path: Path) -> None:
    dovecot.append([customer_mail(1), customer_mail(2, body="x" * 20000)])
    daemon = Daemon(imap_config(dovecot, db_path=str(tmp_path / "g.db")), once=True, process=ScriptedProcess(),
                    ingest=ingest_function(), max_message_bytes=10000)
    asyncio.run(daemon.run())
    assert "$HGQuarantined" in dovecot.flags()["<m2@example.org>"]
    reason = Quarantine(Database.open(tmp_path / "g.db")).list()[0].reason
    assert "exceeds" in reason


def test_uidvalidity_change_rescans_without_repeating_verdicts(dovecot: Dovecot, tmp_path: Path) -> None:
    config = imap_config(dovecot, db_path=str(tmp_path / "g.db"))
    dovecot.append([customer_mail(i, body="idiot" if i == 1 else "") for i in range(3)])
    process = ScriptedProcess()
    run_once(config, process)

    # Recreate the mailbox as a restore from backup would: same messages, no keywords, new UIDVALIDITY.
    client = dovecot.client()
    client.select_folder("INBOX", readonly=True)
    raws = [d[b"BODY[]"] for d in client.fetch(client.search("ALL"), ["BODY.PEEK[]"]).values()]
    client.create_folder("Restored")
    client.logout()
    dovecot.append(raws + [customer_mail(9)], folder="Restored")
    db = Database.open(tmp_path / "g.db")
    Checkpoints(db).start("support", "Restored", 1)  # a stale checkpoint from "before the restore"
    Checkpoints(db).advance("support", "Restored", 1, 99)
    db.close()

    run_once(imap_config(dovecot, db_path=str(tmp_path / "g.db"), mailboxes=("Restored",)), process)
    restored = dovecot.flags("Restored")
    assert all("$HGChecked" in f for f in restored.values())
    assert "$HG_verbal_abuse" in restored["<m1@example.org>"]
    # the three known messages were answered from the ledger; only the new one was analysed
    assert process.calls["<m9@example.org>"] == 1
    assert all(n == 1 for n in process.calls.values())


@pytest.mark.parametrize("security", ["ssl", "starttls"])
def test_tls_and_starttls_connections_verify_the_server(security: str, tmp_path: Path, monkeypatch) -> None:
    server = Dovecot.start(tls=True)
    try:
        server.append([customer_mail(1)])
        monkeypatch.setenv("SSL_CERT_FILE", str(server.root / "cert.pem"))  # trust the test certificate
        base = imap_config(server, db_path=str(tmp_path / "g.db"))
        port = server.imaps_port if security == "ssl" else server.port
        source = replace(base.sources[0], security=security, port=port)
        assert run_once(replace(base, sources=(source,)), ScriptedProcess()) == 0
        assert "$HGChecked" in server.flags()["<m1@example.org>"]

        monkeypatch.delenv("SSL_CERT_FILE")  # an untrusted certificate is refused, not ignored
        server.append([customer_mail(2)])
        daemon = Daemon(replace(base, sources=(source,)), once=True, process=ScriptedProcess(),
                        ingest=ingest_function(), backoff=(0.01, 0.02))
        assert asyncio.run(daemon.run()) == 1
        assert "$HGChecked" not in server.flags()["<m2@example.org>"]
    finally:
        server.stop()


def test_without_move_or_uidplus_the_original_is_kept_and_never_copied_twice(tmp_path: Path) -> None:
    server = Dovecot.start(capabilities_off=("MOVE", "UIDPLUS"))
    try:
        server.append([customer_mail(i, sender=f"c{i}@example.org") for i in range(2)])
        config = imap_config(server, db_path=str(tmp_path / "g.db"))
        process = ScriptedProcess(held={"c1@example.org"})
        run_once(config, process)
        # A crash before the checkpoint moved: the next run sees the held message again.
        db = Database.open(tmp_path / "g.db")
        with db.tx() as conn:
            conn.execute("UPDATE checkpoints SET last_uid = 0")
        db.close()
        run_once(config, process)

        inbox = server.flags("INBOX")
        assert set(inbox) == {"<m0@example.org>", "<m1@example.org>"}  # nothing expunged
        assert "$HGHeld" in inbox["<m1@example.org>"] and "\\Deleted" not in inbox["<m1@example.org>"]
        assert set(server.flags("Held")) == {"<m1@example.org>"}  # one copy, not two
        assert set(process.calls.values()) == {1}
    finally:
        server.stop()
