"""The effects' write paths that skip reading a hold or draft back (``HoldStore.open``/``extend``/
``active_scopes``, ``DraftStore.queue``) store what ``propose``/``apply``/``add_evidence``/
``active_for``/``create`` store, and report the same id and state."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from gateway.drafts import DraftStore
from gateway.holds import HoldError, HoldStore
from gateway.store.db import Database

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)
EVIDENCE = [{"category": "verbal_abuse", "evidence": [{"start": 0, "end": 5, "text": "バカ野郎"}], "message_id": "m1"}]
MORE = [{"category": "threat", "evidence": [{"start": 3, "end": 7, "text": "kill"}], "message_id": "m2"}]


def tables(db: Database) -> list[list[tuple[object, ...]]]:
    return [[tuple(r) for r in db.query(f"SELECT * FROM {t} ORDER BY 1")]
            for t in ("holds", "hold_events", "audit_log", "drafts")]


def test_open_and_extend_store_what_propose_apply_and_add_evidence_store(tmp_path: Path) -> None:
    old_db, new_db = Database.open(tmp_path / "old.db"), Database.open(tmp_path / "new.db")
    old, new = HoldStore(old_db), HoldStore(new_db)
    common = dict(thread="t1", source="imap", rule="r", categories=["verbal_abuse"], expiry_days=30)
    steps = [("proposed", "c@example.com", "m1", EVIDENCE, T0),
             ("active", "c@example.com", "m2", MORE, T0 + timedelta(hours=1)),  # activates the proposal
             ("proposed", "c@example.com", "m3", MORE, T0 + timedelta(hours=2)),  # joins the active hold
             ("active", "d@example.com", "m4", EVIDENCE, T0 + timedelta(hours=3))]
    for state, customer, mid, evidence, now in steps:
        make = old.apply if state == "active" else old.propose
        hold = make(customer, "customer", "abuse", evidence, message_id=mid, now=now, **common)  # type: ignore[arg-type]
        assert new.open(state, customer, "customer", "abuse", evidence, message_id=mid, now=now,
                        **common) == (hold.id, hold.state)  # type: ignore[arg-type]
    later = T0 + timedelta(hours=5)
    added = old.add_evidence(1, MORE, message_id="m5", categories=["threat"], reason="more", now=later)
    assert new.extend(1, MORE, message_id="m5", categories=["threat"], reason="more", now=later) == added.state
    assert tables(old_db) == tables(new_db)
    for customer, thread in [("c@example.com", "t1"), ("c@example.com", "other"), ("d@example.com", "")]:
        assert new.active_scopes(customer, thread, "imap") == \
            [(h.id, h.scope) for h in new.active_for(customer, thread, "imap")]
    with pytest.raises(HoldError):
        new.open("lifted", "c@example.com", "customer", "abuse", EVIDENCE)


def test_queue_stores_what_create_stores_and_deduplicates(tmp_path: Path) -> None:
    old_db, new_db = Database.open(tmp_path / "old.db"), Database.open(tmp_path / "new.db")
    args = ("c@example.com", "ja", "warning", "Re: ご注文", "本文です。\n")
    kwargs = dict(to_address="c@example.com", thread="t1", source="imap", message_id="m1", in_reply_to="<m1@x>",
                  references="<m0@x> <m1@x>", rule="r", external={"ticket": 7, "名前": "x"}, now=T0)
    created = DraftStore(old_db).create(*args, **kwargs)  # type: ignore[arg-type]
    queued = DraftStore(new_db).queue(*args, **kwargs)  # type: ignore[arg-type]
    assert queued == created.id
    assert DraftStore(new_db).queue(*args, **kwargs) == queued  # a re-delivery queues nothing new
    assert tables(old_db) == tables(new_db)
