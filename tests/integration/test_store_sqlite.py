"""The message store on a real SQLite file: one writer (the daemon) and concurrent readers in
other processes (the console, `history`) see whole, committed messages; the file survives a
restart."""

from __future__ import annotations

import multiprocessing as mp
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from gateway.contact import ContactSettings, ContactTracker
from gateway.model import Evidence, Finding, Message, Severity
from gateway.store.db import Database
from gateway.store.messages import SqliteMessageStore

pytestmark = pytest.mark.integration

T0 = datetime(2026, 8, 1, 9, 0, tzinfo=timezone.utc)
TOTAL = 150


def make(i: int) -> tuple[Message, list[Finding]]:
    text = f"Message {i}: order {i * 7919 % 100000} " + ("you idiot" if i % 3 == 0 else "is late")
    msg = Message(id=f"<w{i}@example.com>", text=text, sender=f"c{i % 4}@example.com", thread=f"t{i % 5}",
                  received_at=T0 + timedelta(minutes=i))
    findings = []
    if i % 3 == 0:
        start = text.index("idiot")
        findings.append(Finding("verbal_abuse", Severity.MEDIUM, 0.8, [Evidence(start, start + 5, "idiot")], "t", "r"))
    return msg, findings


def reader(path: str, ready, results) -> None:  # runs in another process
    db = Database.open(path, readonly=True)
    store = SqliteMessageStore(db)
    seen: list[int] = []
    errors: list[str] = []
    ready.set()
    last = -1
    for _ in range(20000):
        n = store.count()
        if n < last:
            errors.append(f"count went back from {last} to {n}")
        last = n
        seen.append(n)
        for r in store.customer_messages("c0@example.com"):
            if ("verbal_abuse" in [f.category for f in r.findings]) != (int(r.id[2:-13]) % 3 == 0):
                errors.append(f"{r.id}: findings missing or partial")
            for f in r.findings:
                for ev in f.evidence:
                    if r.text is None or r.text[ev.start : ev.end] != ev.text:
                        errors.append(f"{r.id}: evidence does not match its text")
        if n == TOTAL:
            break
    for key in ("c0@example.com", "c1@example.com", "c2@example.com"):
        abusive = sum(1 for r in store.customer_messages(key) if "verbal_abuse" in r.categories)
        if store.finding_counts(key).get("verbal_abuse", 0) != abusive:
            errors.append(f"{key}: finding_counts disagree with the stored findings")
    results.put({"seen": sorted(set(seen)), "errors": errors})
    db.close()


def test_one_writer_and_readers_in_other_processes(tmp_path: Path) -> None:
    path = str(tmp_path / "gateway.db")
    Database.open(path).close()  # create the file and its schema before readers open it read-only
    SqliteMessageStore(Database.open(path))
    ctx = mp.get_context("fork")
    results = ctx.Queue()
    readies = [ctx.Event() for _ in range(2)]
    procs = [ctx.Process(target=reader, args=(path, ev, results)) for ev in readies]
    for p in procs:
        p.start()
    for ev in readies:
        assert ev.wait(30)

    db = Database.open(path)
    tracker = ContactTracker(SqliteMessageStore(db), ContactSettings.defaults())
    in_thread_reads: list[int] = []

    def thread_reader() -> None:  # a reader thread in the writer's process, on its own connection
        rdb = Database.open(path, readonly=True)
        store = SqliteMessageStore(rdb)
        while (n := store.count()) < TOTAL:
            in_thread_reads.append(n)
        rdb.close()

    t = threading.Thread(target=thread_reader)
    t.start()
    for i in range(TOTAL):
        msg, findings = make(i)
        tracker.observe(msg, findings)
    t.join(60)
    outcomes = [results.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    assert [o["errors"] for o in outcomes] == [[], []]
    assert all(o["seen"][-1] == TOTAL for o in outcomes)
    distinct = set().union(*(o["seen"] for o in outcomes)) | set(in_thread_reads)
    assert len(distinct) > 2, "readers never saw the store while it was being written"
    db.close()


def test_the_store_survives_a_restart_and_migrates_once(tmp_path: Path) -> None:
    path = tmp_path / "gateway.db"
    db = Database.open(path)
    store = SqliteMessageStore(db)
    msg, findings = make(3)
    store.record(msg, findings)
    store.link_customers("c3@example.com", "zendesk:555")
    db.close()

    db = Database.open(path)
    store = SqliteMessageStore(db)
    assert db.query_one("SELECT version FROM schema_versions WHERE component = 'messages'")[0] == 1
    got = store.get(msg.id)
    assert got is not None and [f.category for f in got.findings] == ["verbal_abuse"]
    assert store.resolve_customer("zendesk:555") == "c3@example.com"
    assert db.query_one("PRAGMA journal_mode")[0] == "wal"
    db.close()
