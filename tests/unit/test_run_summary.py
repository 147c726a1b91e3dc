"""The ``run --once`` summary read back from a real SQLite store: only this pass's messages and
quarantined items, the store's open work, and next steps that point at the right store."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from gateway.cli.run_summary import format_summary, read_summary
from gateway.quarantine import Quarantine
from gateway.store.db import Database


@pytest.fixture
def db(tmp_path):
    database = Database.open(tmp_path / "gw.db")
    yield database
    database.close()


def test_quarantined_mail_of_this_pass_is_listed_with_its_reason(db):
    before = datetime.now(timezone.utc) - timedelta(seconds=1)
    Quarantine(db).record("support", "INBOX/uid 42", b"\x00not mail", "no headers could be parsed")
    summary = read_summary(db, before)
    assert [q.location for q in summary.quarantined] == ["INBOX/uid 42"]
    text = format_summary(summary)
    assert "support INBOX/uid 42: no headers could be parsed" in text
    assert "This pass: 0 processed, 0 tagged, 1 quarantined." in text


def test_what_happened_before_the_pass_is_not_counted_in_it(db):
    Quarantine(db).record("support", "INBOX/uid 7", b"junk", "unreadable")
    later = datetime.now(timezone.utc) + timedelta(seconds=1)
    summary = read_summary(db, later)
    assert summary.quarantined == [] and summary.messages == []
    assert "No new messages" in format_summary(summary)


def test_next_steps_name_the_store_when_it_is_not_the_default(db, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    summary = read_summary(db, datetime.now(timezone.utc))
    elsewhere = format_summary(summary, db_path=tmp_path / "gw.db", console="127.0.0.1:9090")
    assert f"harassment-gateway holds list --db {tmp_path / 'gw.db'}" in elsewhere
    assert f"harassment-gateway escalations list --db {tmp_path / 'gw.db'}" in elsewhere
    assert "http://127.0.0.1:9090" in elsewhere
    default = format_summary(summary, db_path=Path("gateway.db"))
    assert "--db" not in default and "harassment-gateway drafts list " in default


def test_escalations_count_until_a_lead_acknowledges_them_mailed_or_not(db):
    from gateway.effects import EscalationStore

    store = EscalationStore(db)
    ids = [store.create(f"<m{i}@x>", "rex@example.org", ["leads"], "high", ["threat.intimidation"], ["threat"])
           for i in range(3)]
    store.mark_notified(ids[0])  # mailed: still waiting for a lead
    store.acknowledge(ids[1], "kim", "called the customer")
    text = format_summary(read_summary(db, datetime.now(timezone.utc)))
    assert "2 escalations for a lead to acknowledge." in text
