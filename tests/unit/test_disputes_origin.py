"""Every dispute records where it was made (console, CLI, a helpdesk's dispute tag), so a helpdesk
connector carries to its tickets the ones it did not make; stores from before keep working."""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

from starlette.testclient import TestClient

from gateway.cli import main
from gateway.disputes import Disputes, disputes_after
from gateway.ingest import message_from_text
from gateway.pipeline import Pipeline
from gateway.store.db import Database

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)

# The disputes table as the first schema step made it (before ``origin``).
V1 = """
CREATE TABLE disputes (
    id INTEGER PRIMARY KEY, message_id TEXT NOT NULL, category TEXT NOT NULL, customer TEXT NOT NULL,
    actor TEXT NOT NULL, reason TEXT NOT NULL, created_at TEXT NOT NULL, UNIQUE (message_id, category));
CREATE INDEX disputes_customer ON disputes(customer, created_at);
CREATE TABLE schema_versions (component TEXT PRIMARY KEY, version INTEGER NOT NULL);
INSERT INTO schema_versions VALUES ('disputes', 1);
INSERT INTO disputes(message_id, category, customer, actor, reason, created_at)
    VALUES ('<old@example.org>', 'verbal_abuse', 'kai@example.org', 'kim', 'an old dispute', '2026-10-01T09:00:00+00:00');
"""


def test_an_existing_store_gains_the_origin_column_and_keeps_its_disputes(tmp_path: Path):
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.executescript(V1)
    conn.close()

    db = Database.open(path)
    try:
        disputes = Disputes(db)  # migrates
        [old] = disputes.list()
        assert (old.message_id, old.actor, old.reason, old.origin) == ("<old@example.org>", "kim", "an old dispute", "")
        pipeline = Pipeline.create(db)
        pipeline.process(message_from_text("<new@example.org>", "You useless idiot, where is my parcel?",
                                           sender="kai@example.org", received_at=T0))
        assert disputes.dispute("<new@example.org>", "ash", "quoting the courier", origin="console") == ["verbal_abuse"]
        assert [(d.id, d.origin) for d in disputes_after(db, old.id)] == [(old.id + 1, "console")]
        assert disputes.list()[-1].to_json()["origin"] == "console"
        version = db.query_one("SELECT version FROM schema_versions WHERE component = 'disputes'")["version"]
        assert version == 2
    finally:
        db.close()


def test_the_cli_records_its_disputes_as_made_from_the_cli(tmp_path: Path, capsys):
    path = tmp_path / "g.db"
    db = Database.open(path)
    Pipeline.create(db).process(message_from_text("<d1@example.org>", "Answer me, you incompetent moron.",
                                                  sender="kai@example.org", received_at=T0))
    db.close()
    assert main(["disputes", "add", "<d1@example.org>", "--reason", "a quote", "--actor", "kim", "--db", str(path)]) == 0
    capsys.readouterr()
    assert main(["disputes", "list", "--json", "--db", str(path)]) == 0
    [listed] = json.loads(capsys.readouterr().out)
    assert listed["origin"] == "cli" and listed["actor"] == "kim"
    assert main(["disputes", "list", "--db", str(path)]) == 0  # the table shows where it was made too
    header, row = capsys.readouterr().out.splitlines()
    assert header.split()[4] == "FROM" and row.split()[5] == "cli"  # WHEN is two words: date and time


def test_the_console_records_its_disputes_as_made_in_the_console(tmp_path: Path):
    from gateway.web.app import create_app
    from tests.web_seed import AGENT_PASSWORD, console_config, seed

    db = Database.open(tmp_path / "console.db")
    try:
        seeded = seed(db)
        client = TestClient(create_app(console_config(), db))

        def csrf(html: str) -> str:
            return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)

        client.post("/login", data={"csrf_token": csrf(client.get("/login").text), "username": "ash",
                                    "password": AGENT_PASSWORD})
        token = csrf(client.get("/drafts").text)
        r = client.post("/disputes", data={"csrf_token": token, "message_id": seeded.abusive_id,
                                           "category": "verbal_abuse", "reason": "quoting the courier"})
        assert "Disputed verbal_abuse" in r.text
        [d] = Disputes(db).list()
        assert (d.message_id, d.actor, d.origin) == (seeded.abusive_id, "ash", "console")
    finally:
        db.close()
