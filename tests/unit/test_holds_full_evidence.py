"""A hold whose evidence is full is extended without reading or rewriting its evidence: the rows
are the ones a store that reads everything writes, and a rolled-back transaction that filled a
hold does not leave the store believing it full."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gateway.holds import HOLD_EVIDENCE_CHARS, HoldStore
from gateway.store.db import Database

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
CUSTOMER = "ann@example.org"


def finding(n: int, category: str = "verbal_abuse") -> dict:
    return {"category": category, "severity": "medium", "rule": "en.verbal_abuse.insult",
            "reason": "insult aimed at the reader: “idiot”", "message_id": f"<m{n}@example.org>",
            "evidence": [{"start": 4, "end": 9, "text": "idiot"}], "related": [f"<r{k}@x>" for k in range(20)]}


def add(holds: HoldStore, n: int, category: str = "verbal_abuse") -> None:
    """One message's evidence, in its own transaction, as the pipeline adds it."""
    with holds.db.tx() as c:
        holds.open("proposed", CUSTOMER, "customer", "repeated abuse", [finding(n, category)], source="imap",
                   message_id=f"<m{n}@example.org>", categories=[category], rule="verbal_abuse.repeated",
                   now=T0 + timedelta(minutes=n), conn=c)


def rows(db: Database) -> list[tuple]:
    return [tuple(r) for r in db.query("SELECT * FROM holds ORDER BY id")] + [
        tuple(r) for r in db.query("SELECT * FROM hold_messages ORDER BY id")]


def test_a_full_hold_gains_messages_and_categories_but_keeps_its_evidence_text(tmp_path: Path) -> None:
    kept = HoldStore(Database.open(tmp_path / "kept.db"))  # one store: learns which holds are full
    fresh_db = Database.open(tmp_path / "fresh.db")
    count = 400
    for n in range(count):
        category = "threat" if n == count - 1 else "verbal_abuse"  # a new category after the bound
        add(kept, n, category)
        add(HoldStore(fresh_db), n, category)  # a new store per message reads every hold afresh
    assert kept._full  # the short path was taken
    assert rows(kept.db) == rows(fresh_db)
    hold = kept.list()[0]
    assert len(hold.evidence_json) >= HOLD_EVIDENCE_CHARS
    assert hold.message_ids == [f"<m{n}@example.org>" for n in range(count)]
    assert hold.categories == ["threat", "verbal_abuse"]
    assert hold.updated_at == T0 + timedelta(minutes=count - 1)


def test_a_rolled_back_fill_is_not_remembered_as_full(tmp_path: Path) -> None:
    db = Database.open(tmp_path / "gateway.db")
    holds = HoldStore(db)
    n = 0
    while True:  # just under the bound: the next message fills it
        add(holds, n)
        size = len(db.query("SELECT evidence FROM holds")[0][0])
        if size + len(json.dumps([finding(n)], ensure_ascii=False)) >= HOLD_EVIDENCE_CHARS:
            break
        n += 1
    with pytest.raises(RuntimeError), db.tx() as c:
        for m in (n + 1, n + 2):  # the first fills the hold, the second finds it full
            holds.open("proposed", CUSTOMER, "customer", "repeated abuse", [finding(m)], source="imap",
                       message_id=f"<m{m}@example.org>", now=T0, conn=c)
        raise RuntimeError("the batch fails after the hold was filled")
    assert not holds._full
    add(holds, n + 3)  # the hold was not full after all: this message's evidence is stored
    stored = json.loads(db.query("SELECT evidence FROM holds")[0][0])
    assert stored[-1] == finding(n + 3)
