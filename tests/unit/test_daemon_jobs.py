"""The daemon's scheduled jobs on a real SQLite store."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from gateway.holds import HoldStore
from gateway.jobs import Jobs
from gateway.quarantine import Quarantine
from gateway.store.db import Database

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def db(tmp_path: Path):
    database = Database.open(tmp_path / "g.db")
    yield database
    database.close()


def test_expire_holds_expires_only_holds_past_their_expiry(db: Database) -> None:
    holds = HoldStore(db)
    old = holds.apply("a@example.org", "customer", "threat", expiry_days=7, now=NOW - timedelta(days=8))
    fresh = holds.apply("b@example.org", "customer", "threat", expiry_days=7, now=NOW - timedelta(days=2))
    jobs = Jobs(db, clock=lambda: NOW)
    assert asyncio.run(jobs.expire_holds()) == 1
    assert holds.get(old.id).state == "expired"
    assert holds.get(fresh.id).state == "active"


def test_reminder_lists_holds_waiting_longer_than_the_limit(db: Database, caplog) -> None:
    holds = HoldStore(db)
    waiting = holds.propose("a@example.org", "customer", "abuse", now=NOW - timedelta(hours=9))
    holds.propose("b@example.org", "customer", "abuse", now=NOW - timedelta(minutes=5))
    jobs = Jobs(db, reminder_after=timedelta(hours=4), clock=lambda: NOW)
    with caplog.at_level("WARNING"):
        assert asyncio.run(jobs.remind_pending_holds()) == [waiting.id]
    assert "waiting for a team lead" in caplog.text


def test_retention_purge_drops_quarantined_raw_mail_but_keeps_the_record(db: Database) -> None:
    quarantine = Quarantine(db)
    quarantine.record("support", "INBOX uid 7", b"From: x\r\n\r\nbad", "unreadable message: test")
    jobs = Jobs(db, retention_days=30, clock=lambda: datetime.now(timezone.utc) + timedelta(days=31))
    assert asyncio.run(jobs.purge_retention()) >= 1
    assert db.query_one("SELECT raw FROM quarantine")["raw"] is None
    assert quarantine.list()[0].reason == "unreadable message: test"


def test_registered_poller_runs_on_the_scheduler_and_a_failing_job_does_not_stop_it(db: Database) -> None:
    calls: list[str] = []

    async def poll() -> None:
        calls.append("poll")

    async def broken() -> None:
        calls.append("broken")
        raise RuntimeError("vendor down")

    async def scenario() -> None:
        jobs = Jobs(db)
        jobs.register_poller("zendesk", poll, interval=0.1)
        jobs.register_poller("freshdesk", broken, interval=0.1)
        with pytest.raises(ValueError):
            jobs.register_poller("zendesk", poll)
        jobs.start()
        await asyncio.sleep(1.6)
        jobs.shutdown()

    asyncio.run(scenario())
    assert calls.count("poll") >= 2 and calls.count("broken") >= 2


def test_run_once_runs_each_job_a_single_time(db: Database) -> None:
    sent: list[int] = []

    async def send() -> int:
        sent.append(1)
        return 0

    jobs = Jobs(db, send_drafts=send)
    asyncio.run(jobs.run_once())
    assert sent == [1]
