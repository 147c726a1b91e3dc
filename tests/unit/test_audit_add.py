"""``AuditLog.add`` (what the stores call inside their own transaction) writes the row and the
chain ``append`` writes; the head marker's hook, registered once per transaction, still leaves the
marker at the chain's end (after a savepoint rolled back, after another hook appended); ``iso``'s
two remembered texts are those of their own datetimes."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.audit import HEAD_KEY, AuditLog, iso
from gateway.store.db import Database

T0 = datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=timezone.utc)
TABLES = ("audit_log",)


def rows(db: Database) -> list[tuple[object, ...]]:
    return [tuple(r) for r in db.query("SELECT * FROM audit_log ORDER BY seq")]


ENTRIES = [
    ("policy", "hold.propose", "hold:1", "repeated \"abuse\" – 繰り返し",
     {"customer": "c@x", "evidence": [{"text": "バカ\u2028", "score": 0.85}], "expires_at": None}),
    ("lead.ana", "hold.approve", "hold:1", "", {"from": "proposed", "to": "active"}),
    ("policy", "draft.suppressed", "message:<m\"1>", "cap", None),
    ("system", "escalation.notified", "escalation:3", "leads notified", {"n": [1, 2.5, True, -0.0]}),
]


def test_add_writes_what_append_writes(tmp_path: Path) -> None:
    one, two, three = (Database.open(tmp_path / f"{n}.db") for n in ("one", "two", "three"))
    a, b, c3 = AuditLog(one), AuditLog(two), AuditLog(three)
    for i, (actor, action, subject, reason, evidence) in enumerate(ENTRIES):
        at = T0 + timedelta(seconds=i, microseconds=i * 7)
        with one.tx() as c:
            a.append(actor, action, subject, reason, evidence, at=at, conn=c)
        with two.tx() as c:
            assert b.add(actor, action, subject, reason, evidence, at=at, conn=c) == i + 1
        c3.add(actor, action, subject, reason, evidence, at=at, conn=three.conn)  # outside a transaction
    assert rows(one) == rows(two) == rows(three)
    assert one.get_state(HEAD_KEY) == two.get_state(HEAD_KEY) == three.get_state(HEAD_KEY)
    assert b.verify().ok and c3.verify().ok


def test_add_refuses_what_append_refuses(tmp_path: Path) -> None:
    db = Database.open(tmp_path / "g.db")
    with db.tx() as c, pytest.raises(ValueError):
        AuditLog(db).add("", "x", "y", "", {}, at=T0, conn=c)


def test_the_head_marker_is_the_chains_end_with_one_hook_per_transaction(tmp_path: Path) -> None:
    db = Database.open(tmp_path / "g.db")
    log = AuditLog(db)
    with db.tx() as c:
        for i in range(3):
            log.add("policy", "decision", f"message:{i}", "", {}, at=T0, conn=c)
    assert db.get_state(HEAD_KEY) == f"3:{rows(db)[-1][-1]}"
    # a savepoint rolled back (it forgets the transaction's values): the marker still ends the chain
    with db.tx() as c:
        log.add("policy", "decision", "message:a", "", {}, at=T0, conn=c)
        with pytest.raises(RuntimeError), db.tx() as inner:
            log.add("policy", "decision", "message:b", "", {}, at=T0, conn=inner)
            raise RuntimeError("undo")
        log.add("policy", "decision", "message:c", "", {}, at=T0, conn=c)
    assert [r[4] for r in rows(db)][-2:] == ["message:a", "message:c"]
    assert db.get_state(HEAD_KEY) == f"5:{rows(db)[-1][-1]}"
    # another before-commit hook appends after the head marker was written: it is written again
    with db.tx() as c:
        log.add("policy", "decision", "message:d", "", {}, at=T0, conn=c)
        db.before_commit("zz.late", lambda conn: log.add("system", "late", "message:e", "", {}, at=T0, conn=conn))
    assert db.get_state(HEAD_KEY) == f"7:{rows(db)[-1][-1]}"
    assert log.verify().ok


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(-10**6, 10**6), st.sampled_from([0, 60, -330, 540])),
                min_size=1, max_size=12))
def test_iso_remembers_texts_of_their_own_datetimes(steps: list[tuple[int, int, int]]) -> None:
    made: list[datetime] = []
    for pick, micros, offset in steps:
        zone = timezone(timedelta(minutes=offset)) if offset else timezone.utc
        if made and pick < len(made):
            dt = made[-1 - pick]  # the same object again (one of the last ones, or older)
        else:
            dt = (T0 + timedelta(microseconds=micros)).astimezone(zone)
            made.append(dt)
        assert iso(dt) == dt.astimezone(timezone.utc).isoformat(timespec="microseconds")
