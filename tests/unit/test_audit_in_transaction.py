"""Many audit entries in one transaction: the chain links them as it would one by one, the head
marker is written once at the commit, and a rolled-back part leaves a chain that verifies."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from gateway.audit import HEAD_KEY, AuditLog
from gateway.store.db import Database


@pytest.fixture
def db(tmp_path: Path) -> Database:
    return Database.open(tmp_path / "gateway.db")


def statements(db: Database) -> list[str]:
    seen: list[str] = []
    db.conn.set_trace_callback(seen.append)
    return seen


def test_entries_written_in_one_transaction_chain_like_entries_written_alone(tmp_path: Path) -> None:
    alone, together = Database.open(tmp_path / "a.db"), Database.open(tmp_path / "b.db")
    at = datetime(2026, 6, 1, tzinfo=timezone.utc)
    for i in range(3):
        AuditLog(alone).append("policy", "decision", f"message:m{i}", "r", {"i": i}, at=at)
    log = AuditLog(together)
    with together.tx() as c:
        for i in range(3):
            log.append("policy", "decision", f"message:m{i}", "r", {"i": i}, at=at, conn=c)
    hashes = lambda d: [r["hash"] for r in d.query("SELECT hash FROM audit_log ORDER BY seq")]  # noqa: E731
    assert hashes(alone) == hashes(together)
    assert together.get_state(HEAD_KEY) == alone.get_state(HEAD_KEY) == f"3:{hashes(alone)[-1]}"
    assert log.verify().ok


def test_the_head_marker_is_written_once_per_transaction(db: Database) -> None:
    log = AuditLog(db)
    seen = statements(db)
    with db.tx() as c:
        for i in range(5):
            log.append("policy", "decision", f"message:m{i}", "r", conn=c)
    db.conn.set_trace_callback(None)
    assert sum("INSERT INTO audit_log" in s for s in seen) == 5
    assert sum("INSERT INTO state" in s for s in seen) == 1
    assert sum("FROM audit_log ORDER BY seq DESC" in s for s in seen) == 1  # the tail is read once
    assert log.verify().ok and log.verify().checked == 5


def test_entries_of_a_rolled_back_savepoint_leave_a_chain_that_verifies(db: Database) -> None:
    log = AuditLog(db)
    log.append("policy", "decision", "message:m0", "before")
    with db.tx() as c:
        log.append("policy", "decision", "message:m1", "kept", conn=c)
        with pytest.raises(RuntimeError):
            with db.tx() as inner:
                log.append("policy", "decision", "message:m2", "undone", conn=inner)
                raise RuntimeError("this message failed")
        log.append("policy", "decision", "message:m3", "kept", conn=c)
    result = log.verify()
    assert result.ok and result.checked == 3
    assert [e.subject for e in log.entries()] == ["message:m0", "message:m1", "message:m3"]


def test_a_savepoint_rolled_back_last_still_leaves_the_right_head(db: Database) -> None:
    log = AuditLog(db)
    with db.tx() as c:
        log.append("policy", "decision", "message:m1", "kept", conn=c)
        with pytest.raises(RuntimeError):
            with db.tx() as inner:
                log.append("policy", "decision", "message:m2", "undone", conn=inner)
                raise RuntimeError("this message failed")
    assert log.verify().ok and db.get_state(HEAD_KEY).startswith("1:")  # type: ignore[union-attr]


def test_a_rolled_back_transaction_writes_no_entry_and_no_head(db: Database) -> None:
    log = AuditLog(db)
    log.append("policy", "decision", "message:m0", "before")
    head = db.get_state(HEAD_KEY)
    with pytest.raises(RuntimeError):
        with db.tx() as c:
            log.append("policy", "decision", "message:m1", "undone", conn=c)
            raise RuntimeError("the batch failed")
    assert db.get_state(HEAD_KEY) == head and log.count() == 1
    log.append("policy", "decision", "message:m2", "after")
    assert log.verify().ok and log.count() == 2


def test_cutting_entries_off_the_end_of_a_batched_chain_still_shows(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "gateway.db"
    db = Database.open(path)
    log = AuditLog(db)
    with db.tx() as c:
        for i in range(4):
            log.append("policy", "decision", f"message:m{i}", "r", conn=c)
    db.close()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
    conn.execute("DELETE FROM audit_log WHERE seq = 4")
    conn.close()
    result = AuditLog(Database.open(path)).verify()
    assert not result.ok and result.first_bad == 4


def test_another_threads_append_waits_for_the_open_transaction_and_the_chain_holds(db: Database) -> None:
    import threading

    log = AuditLog(db)
    started, done = threading.Event(), threading.Event()

    def other() -> None:
        assert not db.in_tx  # the open transaction belongs to the main thread
        started.set()
        log.append("lead.ana", "hold.approve", "hold:1", "from the console")
        done.set()

    with db.tx() as c:
        log.append("policy", "decision", "message:m1", "batch", conn=c)
        worker = threading.Thread(target=other)
        worker.start()
        started.wait(5)
        assert not done.wait(0.2)  # blocked until the batch commits
        log.append("policy", "decision", "message:m2", "batch", conn=c)
    worker.join(5)
    assert done.is_set()
    result = log.verify()
    assert result.ok and result.checked == 3
    assert [e.subject for e in log.entries()] == ["message:m1", "message:m2", "hold:1"]
