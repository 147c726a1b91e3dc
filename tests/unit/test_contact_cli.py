"""`history` and `customers` sub-commands on a real store file."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from gateway.cli import main
from gateway.contact import ContactSettings, ContactTracker
from gateway.model import Evidence, Finding, Message, Severity
from gateway.store.db import Database
from gateway.store.messages import SqliteMessageStore

T0 = datetime(2026, 7, 1, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def db_path(tmp_path: Path) -> str:
    path = tmp_path / "gateway.db"
    db = Database.open(path)
    tracker = ContactTracker(SqliteMessageStore(db), ContactSettings.defaults())
    for i in range(3):
        text = f"Refund order 4821 now, you useless idiot. Attempt {i}."
        start = text.index("idiot")
        abuse = Finding("verbal_abuse", Severity.MEDIUM, 0.8, [Evidence(start, start + 5, "idiot")], "abuse.t", "insult")
        tracker.observe(Message(id=f"<m{i}@x>", text=text, sender="zendesk:123" if i else "ann@example.com",
                                thread="zd-55", source="zendesk", received_at=T0 + timedelta(minutes=i)), [abuse])
    db.close()
    return str(path)


def test_customers_link_merges_and_is_audited(db_path: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["customers", "link", "ann@example.com", "zendesk:123", "--db", db_path, "--actor", "lead",
                 "--reason", "same order"]) == 0
    assert "linked zendesk:123 to ann@example.com" in capsys.readouterr().out
    assert main(["customers", "show", "zendesk:123", "--db", db_path, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["customer"] == "ann@example.com"
    assert shown["keys"] == ["ann@example.com", "zendesk:123"]
    assert shown["messages_total"] == 3
    db = Database.open(db_path)
    row = db.query_one("SELECT actor, action, subject, reason FROM audit_log ORDER BY seq DESC LIMIT 1")
    assert tuple(row) == ("lead", "customer.link", "customer:ann@example.com", "same order")
    db.close()


def test_history_shows_the_timeline_with_masked_abuse_and_findings(db_path: str, capsys: pytest.CaptureFixture[str]) -> None:
    main(["customers", "link", "ann@example.com", "zendesk:123", "--db", db_path])
    capsys.readouterr()
    assert main(["history", "ann@example.com", "--db", db_path]) == 0
    out = capsys.readouterr().out
    assert out.startswith("customer ann@example.com (also zendesk:123)")
    assert "3 messages" in out
    assert out.count("! verbal_abuse") == 3
    assert "duplicate_contact" in out and "related: <m1@x>" in out  # found before the link: zendesk key only
    assert "idiot" not in out.split("messages with findings")[1].replace("! verbal_abuse", "")  # masked text


def test_history_json_lists_every_message(db_path: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["history", "zendesk:123", "--db", db_path, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["history"]["messages_total"] == 2  # not linked yet: only the zendesk key's messages
    assert [m["id"] for m in data["messages"]] == ["<m1@x>", "<m2@x>"]


def test_history_of_a_missing_store_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["history", "ann@example.com", "--db", str(tmp_path / "nope.db")]) == 2
    assert "no store at" in capsys.readouterr().err


def test_history_shows_the_customers_holds_on_every_linked_key(db_path: str, capsys: pytest.CaptureFixture[str]) -> None:
    from gateway.holds import HoldStore

    db = Database.open(db_path)
    holds = HoldStore(db)
    proposed = holds.propose("zendesk:123", "customer", "repeated insults", categories=["verbal_abuse"],
                             now=T0 + timedelta(hours=1))
    holds.approve(proposed.id, "lead.kim", expiry_days=30, now=T0 + timedelta(hours=2))
    holds.propose("ann@example.com", "thread", "insults in one thread", thread="zd-55", categories=["verbal_abuse"],
                  now=T0 + timedelta(hours=3))
    db.close()

    assert main(["history", "zendesk:123", "--db", db_path]) == 0
    out = capsys.readouterr().out
    assert "hold #1 active (customer; verbal_abuse) since 2026-07-01 11:00 UTC, expires 2026-07-31 11:00 UTC by lead.kim" in out
    assert "hold #2" not in out  # the other key's hold shows only once the keys are linked

    main(["customers", "link", "ann@example.com", "zendesk:123", "--db", db_path])
    capsys.readouterr()
    assert main(["history", "ann@example.com", "--db", db_path, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [(h["id"], h["state"], h["scope"]) for h in data["holds"]] == [(1, "active", "customer"), (2, "proposed", "thread")]
