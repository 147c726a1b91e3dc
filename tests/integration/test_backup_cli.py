"""`harassment-gateway backup DEST`: a consistent, checked copy of a real store, taken while another
connection keeps writing to it (as the daemon does)."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from gateway.audit import AuditLog
from gateway.cli import main
from gateway.ingest import message_from_text
from gateway.pipeline import Pipeline
from gateway.store.db import Database

pytestmark = pytest.mark.integration

TEXTS = ["Where is my refund for order {n}?", "You useless idiot, answer me about order {n}!",
         "I will find where you live if order {n} is late again."]


def filled_store(path: Path, count: int) -> None:
    db = Database.open(path)
    pipeline = Pipeline.create(db)
    pipeline.process_many([message_from_text(f"<m{n}@example.org>", TEXTS[n % 3].format(n=n),
                                             sender=f"c{n % 7}@example.org") for n in range(count)])
    db.close()


def test_a_backup_taken_while_another_connection_writes_is_complete_consistent_and_checked(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store, dest = tmp_path / "gateway.db", tmp_path / "backups" / "gateway-1.db"  # the directory is created
    filled_store(store, 60)

    stop = threading.Event()
    written: list[int] = []

    def writer() -> None:  # the daemon keeps committing messages meanwhile
        db = Database.open(store)
        pipeline = Pipeline.create(db)
        n = 1000
        while not stop.is_set():
            pipeline.process(message_from_text(f"<w{n}@example.org>", TEXTS[n % 3].format(n=n), sender="w@example.org"))
            written.append(n)
            n += 1
        db.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while len(written) < 3:
            stop.wait(0.05)
        assert main(["backup", str(dest), "--db", str(store)]) == 0
    finally:
        stop.set()
        thread.join()
    out = capsys.readouterr().out
    assert "integrity check ok; audit chain verified" in out

    # one self-contained file, no WAL beside it
    assert sqlite3.connect(dest).execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    copy = Database.open(dest)
    messages = copy.query_one("SELECT count(*) AS n FROM messages")["n"]
    decisions = copy.query_one("SELECT count(*) AS n FROM decisions")["n"]
    assert 60 + 3 <= messages <= 60 + len(written) and decisions == messages  # one snapshot: no message without its decision
    assert AuditLog(copy).verify().ok
    assert f"{messages} messages" in out
    copy.close()
    # the store itself went on
    assert not Path(f"{dest}-wal").exists() and not list(dest.parent.glob("*.partial"))
    assert Database.open(store).query_one("SELECT count(*) AS n FROM messages")["n"] == 60 + len(written)


def test_backup_never_overwrites_and_reports_a_broken_audit_chain(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    store, dest = tmp_path / "gateway.db", tmp_path / "copy.db"
    filled_store(store, 6)
    dest.write_bytes(b"an older backup")
    assert main(["backup", str(dest), "--db", str(store)]) == 2
    assert "exists already" in capsys.readouterr().err and dest.read_bytes() == b"an older backup"

    assert main(["backup", str(tmp_path / "x.db"), "--db", str(tmp_path / "missing.db")]) == 2
    assert "no store at" in capsys.readouterr().err and not (tmp_path / "x.db").exists()

    db = Database.open(store)
    db.conn.execute("DROP TRIGGER audit_log_no_update")
    db.conn.execute("UPDATE audit_log SET reason = 'nothing to see' WHERE seq = 1")
    db.close()
    tampered = tmp_path / "tampered.db"
    assert main(["backup", str(tampered), "--db", str(store)]) == 1
    out = capsys.readouterr().out
    assert "does not verify" in out and "entry 1" in out and tampered.is_file()  # the copy is kept, with a warning
