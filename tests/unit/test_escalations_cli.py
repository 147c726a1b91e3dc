"""`escalations` sub-commands: list what waits for a lead, acknowledge with a reason and --actor
recorded in the audit trail."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway.audit import AuditLog
from gateway.effects import EscalationStore
from gateway.store.db import Database
from tests.cli_seed import cli, seed_store


@pytest.fixture
def path(tmp_path: Path) -> Path:
    p = seed_store(tmp_path / "gateway.db")
    db = Database.open(p)
    store = EscalationStore(db)
    store.create("m1", "c@example.com", ["leads", "legal"], "urgent", ["threat.violence"], ["threat"])
    store.create("m2", "c@example.com", ["leads"], "high", ["threat.intimidation"], ["threat"])
    done = store.create("m3", "d@example.com", ["leads"], "normal", ["threat.veiled"], ["threat"])
    store.mark_notified(2)
    store.acknowledge(done, "lead.lee", "spoke to the customer")
    db.close()
    return p


def test_list_shows_what_waits_for_a_lead_mailed_or_not(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(path, "escalations", "list") == 0
    out = capsys.readouterr().out
    assert "urgent" in out and "notified" in out and "threat.violence" in out
    assert "d@example.com" not in out  # acknowledged: not waiting
    assert cli(path, "escalations", "list", "--state", "acknowledged", "--json") == 0
    [row] = json.loads(capsys.readouterr().out)
    assert (row["customer"], row["acknowledged_by"]) == ("d@example.com", "lead.lee")
    assert cli(path, "escalations", "list", "--customer", "nobody@example.com") == 0
    assert "no escalations" in capsys.readouterr().out


def test_ack_records_the_reason_and_actor_and_refuses_unknown_ids(path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(path, "escalations", "ack", "1", "99", "--reason", "x", "--actor", "lead.kim") == 2
    assert "no escalation with id 99" in capsys.readouterr().err
    assert EscalationStore(Database.open(path)).get(1).state == "open"  # nothing changed
    assert cli(path, "escalations", "ack", "1", "--reason", "  ", "--actor", "lead.kim") == 2
    assert "--reason must say what was done" in capsys.readouterr().err
    assert cli(path, "escalations", "ack", "1", "2", "3", "--reason", "called the customer", "--actor", "lead.kim") == 0
    out = capsys.readouterr().out
    assert "escalation 1: acknowledged (by lead.kim)" in out and "escalation 3: already acknowledged" in out
    db = Database.open(path)
    assert [EscalationStore(db).get(i).acknowledged_by for i in (1, 2, 3)] == ["lead.kim", "lead.kim", "lead.lee"]
    [entry] = AuditLog(db).entries(subject="escalation:1", action="escalation.acknowledged")
    assert (entry.actor, entry.reason) == ("lead.kim", "called the customer")
    assert cli(path, "escalations", "list") == 0
    assert "no escalations" in capsys.readouterr().out
