"""`harassment-gateway report`: the period's numbers from a real store, and the two ways people
overrule the gateway (disputed tags, rejected holds) counted where they belong."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from gateway.cli import main
from gateway.cli.report import parse_when
from gateway.disputes import Disputes
from gateway.errors import GatewayError
from gateway.ingest import message_from_text
from gateway.pipeline import Pipeline
from gateway.report import build_report, format_report
from gateway.store.db import Database

T0 = datetime(2026, 11, 16, 9, 0, tzinfo=timezone.utc)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def seeded(path: Path) -> Database:
    """Five customers over two days: two intimidation threats (holds proposed), one violent threat
    (a hold applied at once), two insults (one later disputed), one polite question; one message
    outside the period."""
    db = Database.open(path)
    clock = Clock()
    pipeline = Pipeline.create(db, clock=clock)
    mails = [
        ("a@example.org", "I will find where you live and hurt you."),
        ("b@example.org", "I will find where you live and you will regret it."),
        ("c@example.org", "I am going to kill you and your family."),
        ("d@example.org", "You useless idiot, where is my parcel?"),
        ("e@example.org", "Answer me, you incompetent moron."),
        ("f@example.org", "Hello, could you tell me when my refund arrives? Thank you."),
    ]
    for n, (sender, text) in enumerate(mails):
        clock.now = T0 + timedelta(hours=n)
        pipeline.process(message_from_text(f"<r{n}@example.org>", text, sender=sender, received_at=clock.now))
    holds = pipeline.effects.holds
    proposed = sorted(holds.pending(), key=lambda h: h.id)
    assert len(proposed) == 2
    holds.approve(proposed[0].id, "lead.kim", "pattern confirmed", now=T0 + timedelta(hours=3))
    holds.reject(proposed[1].id, "lead.kim", "an idiom, not a threat", now=T0 + timedelta(hours=6))
    Disputes(db).dispute("<r3@example.org>", "agent.ash", "he was quoting the courier")
    clock.now = T0 + timedelta(days=9)  # outside the period
    pipeline.process(message_from_text("<late@example.org>", "You idiot.", sender="g@example.org", received_at=clock.now))
    return db


def test_the_report_counts_tags_disputes_and_the_leads_verdicts(tmp_path: Path) -> None:
    db = seeded(tmp_path / "g.db")
    report = build_report(db, T0 - timedelta(hours=1), T0 + timedelta(days=2))
    m, h = report["messages"], report["holds"]
    assert (m["analysed"], m["customers"], m["tagged"]) == (6, 6, 5)
    assert m["categories"]["threat"] == {"tagged": 3, "disputed": 0, "dispute_rate": 0.0}
    assert m["categories"]["verbal_abuse"] == {"tagged": 2, "disputed": 1, "dispute_rate": 0.5}
    assert m["disputed_tags"] == 1 and m["held"] == 1
    assert (h["proposed"], h["approved"], h["rejected"], h["rejection_rate"]) == (2, 1, 1, 0.5)
    assert h["applied_at_once"] == 1 and h["waiting"] == 0
    assert h["decision_hours_median"] == 4.0 and h["decision_hours_max"] == 5.0  # waits of 3 h and 6 h - 1 h
    assert report["drafts"].get("pending", 0) >= 1 and report["quarantined"] == 0
    text = format_report(report)
    assert "verbal_abuse" in text and "50.0%" in text and "idiot" not in text  # numbers, never content
    db.close()


def test_the_cli_reads_a_period_and_refuses_a_bad_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seeded(tmp_path / "g.db").close()
    db = str(tmp_path / "g.db")
    assert main(["report", "--since", "2026-11-16", "--until", "2026-11-18", "--json", "--db", db]) == 0
    assert json.loads(capsys.readouterr().out)["messages"]["analysed"] == 6
    assert main(["report", "--since", "2026-11-25", "--until", "2026-11-26", "--json", "--db", db]) == 0
    assert json.loads(capsys.readouterr().out)["messages"]["analysed"] == 1  # the late one only
    assert main(["report", "--since", "last week", "--db", db]) == 2
    assert "--since: expected 7d" in capsys.readouterr().err
    assert main(["report", "--since", "2026-11-18", "--until", "2026-11-16", "--db", db]) == 2


def test_relative_and_absolute_times() -> None:
    now = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc)
    assert parse_when("7d", now, option="--since") == now - timedelta(days=7)
    assert parse_when("24h", now, option="--since") == now - timedelta(hours=24)
    assert parse_when("2026-11-01", now, option="--since") == datetime(2026, 11, 1, tzinfo=timezone.utc)
    assert parse_when("2026-11-01T09:00:00+09:00", now, option="--since") == datetime(2026, 11, 1, 0, 0, tzinfo=timezone.utc)
    with pytest.raises(GatewayError):
        parse_when("soon", now, option="--since")
