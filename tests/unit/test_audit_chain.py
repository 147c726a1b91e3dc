"""The audit log is append-only and hash-chained: any edit, deletion or truncation is found."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest

from gateway.audit import GENESIS_HASH, AuditLog, canonical_json
from gateway.store.db import Database


@pytest.fixture
def path(tmp_path: Path) -> Path:
    db = Database.open(tmp_path / "gateway.db")
    log = AuditLog(db)
    log.append("policy", "decision", "message:m1", "rules threat.violence fired", {"tags": ["hg_threat"]})
    log.append("policy", "hold.apply", "hold:1", "violence", {"evidence": [{"text": "殺す"}]})
    log.append("lead.ana", "hold.lift", "hold:1", "resolved with counsel")
    db.close()
    return tmp_path / "gateway.db"


def raw(path: Path) -> sqlite3.Connection:
    """Someone with the file and sqlite3, going around the gateway."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
    conn.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
    return conn


def test_an_untouched_chain_verifies(path: Path) -> None:
    result = AuditLog(Database.open(path)).verify()
    assert result.ok and result.checked == 3 and result.first_bad is None


def test_hash_is_sha256_of_previous_hash_and_canonical_json(path: Path) -> None:
    first = AuditLog(Database.open(path)).entries()[0]
    body = canonical_json({"seq": 1, "at": first.to_json()["at"], "actor": "policy", "action": "decision",
                           "subject": "message:m1", "reason": "rules threat.violence fired",
                           "evidence": {"tags": ["hg_threat"]}})
    assert first.prev_hash == GENESIS_HASH
    assert first.hash == hashlib.sha256((GENESIS_HASH + body).encode()).hexdigest()


def test_the_table_refuses_updates_and_deletes(path: Path) -> None:
    conn = sqlite3.connect(path)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("UPDATE audit_log SET reason = 'x' WHERE seq = 1")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("DELETE FROM audit_log WHERE seq = 3")


def test_an_edited_reason_is_found_and_named(path: Path) -> None:
    raw(path).execute("UPDATE audit_log SET reason = 'nothing happened' WHERE seq = 2")
    result = AuditLog(Database.open(path)).verify()
    assert not result.ok and result.first_bad == 2 and "entry 2" in result.problem


def test_edited_evidence_is_found(path: Path) -> None:
    raw(path).execute("UPDATE audit_log SET evidence = ? WHERE seq = 2", (json.dumps({"evidence": []}),))
    assert AuditLog(Database.open(path)).verify().first_bad == 2


def test_a_rehashed_edit_still_breaks_the_link_to_the_next_entry(path: Path) -> None:
    conn = raw(path)
    row = conn.execute("SELECT * FROM audit_log WHERE seq = 1").fetchone()
    from gateway.audit import entry_hash

    # forge entry 1 consistently with its own new content...
    new_hash = entry_hash(GENESIS_HASH, 1, row[1], "policy", "decision", "message:m1", "forged", row[6])
    conn.execute("UPDATE audit_log SET reason = 'forged', hash = ? WHERE seq = 1", (new_hash,))
    result = AuditLog(Database.open(path)).verify()
    # ...and entry 2 no longer links to it.
    assert not result.ok and result.first_bad == 2 and "prev_hash" in result.problem


def test_a_deleted_middle_entry_is_found(path: Path) -> None:
    raw(path).execute("DELETE FROM audit_log WHERE seq = 2")
    result = AuditLog(Database.open(path)).verify()
    assert not result.ok and result.first_bad == 3


def test_a_truncated_tail_is_found(path: Path) -> None:
    raw(path).execute("DELETE FROM audit_log WHERE seq = 3")
    result = AuditLog(Database.open(path)).verify()
    assert not result.ok and result.first_bad == 3 and "removed from the end" in result.problem


def test_entries_filter(path: Path) -> None:
    log = AuditLog(Database.open(path))
    assert [e.seq for e in log.entries(subject="hold:1")] == [2, 3]
    assert [e.seq for e in log.entries(action="hold.")] == [2, 3]
    assert [e.seq for e in log.entries(actor="lead.ana")] == [3]
    assert [e.seq for e in log.entries(newest_first=True, limit=2)] == [3, 2]
    assert [e.seq for e in log.entries(subject_prefix="message:")] == [1]
    assert log.entries()[1].evidence == {"evidence": [{"text": "殺す"}]}


def test_append_needs_actor_action_subject(path: Path) -> None:
    with pytest.raises(ValueError):
        AuditLog(Database.open(path)).append("", "x", "y")


def test_two_writers_on_one_file_keep_one_linear_chain(tmp_path: Path) -> None:
    import threading

    path = tmp_path / "shared.db"
    logs = [AuditLog(Database.open(path)), AuditLog(Database.open(path))]  # e.g. the daemon and the CLI

    def write(log: AuditLog, who: str) -> None:
        for i in range(50):
            log.append(who, "test.write", f"item:{i}", "concurrent")

    threads = [threading.Thread(target=write, args=(log, f"w{n}")) for n, log in enumerate(logs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result = AuditLog(Database.open(path)).verify()
    assert result.ok and result.checked == 100
