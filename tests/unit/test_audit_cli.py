"""`harassment-gateway audit verify` exits non-zero and names the first broken entry when tampered."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.cli import main
from gateway.holds import HoldStore
from gateway.store.db import Database


@pytest.fixture
def store(tmp_path: Path) -> Path:
    path = tmp_path / "gateway.db"
    db = Database.open(path)
    holds = HoldStore(db)
    h = holds.propose("c@example.com", "customer", "repeated abuse", [{"category": "verbal_abuse"}])
    holds.approve(h.id, "lead.ana", "confirmed")
    holds.lift(h.id, "lead.ana", "resolved")
    db.close()
    return path


def test_verify_passes_on_an_intact_store(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "verify", "--db", str(store)]) == 0
    assert "intact: 3 entries" in capsys.readouterr().out


def test_verify_fails_and_names_the_entry_after_a_direct_sqlite_edit(store: Path) -> None:
    conn = sqlite3.connect(store, isolation_level=None)
    conn.execute("DROP TRIGGER audit_log_no_update")
    conn.execute("UPDATE audit_log SET actor = 'someone.else' WHERE seq = 2")
    conn.close()
    proc = subprocess.run([sys.executable, "-m", "gateway", "audit", "verify", "--db", str(store)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert "BROKEN at entry 2" in proc.stderr


def test_audit_list_shows_who_did_what(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "list", "--db", str(store), "--subject", "hold:1"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "hold.lift" in out[0] and "lead.ana" in out[0] and "hold.propose" in out[-1]


def test_missing_store_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "verify", "--db", str(tmp_path / "nope.db")]) == 2
    assert "no store at" in capsys.readouterr().err
    assert not (tmp_path / "nope.db").exists()
