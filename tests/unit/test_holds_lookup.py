"""The pipeline's per-message hold look-up: due holds (anyone's) expire first, then the customer's
active holds that cover the message are returned, as ``expire_due`` + ``active_for`` would."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from gateway.audit import AuditLog
from gateway.holds import HoldStore
from gateway.store.db import Database

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=timezone.utc)


def store(tmp_path: Path) -> HoldStore:
    return HoldStore(Database.open(tmp_path / "gateway.db"))


def test_the_customers_covering_holds_are_returned(tmp_path: Path) -> None:
    holds = store(tmp_path)
    whole = holds.apply("a@x", "customer", "violence", source="imap", now=T0)
    holds.apply("a@x", "thread", "abuse", thread="t1", source="imap", now=T0)
    holds.apply("b@x", "customer", "violence", source="imap", now=T0)
    assert [h.id for h in holds.active_after_expiry("a@x", "t2", "imap", T0)] == [whole.id]
    assert len(holds.active_after_expiry("a@x", "t1", "imap", T0)) == 2
    assert holds.active_after_expiry("a@x", "t1", "zendesk", T0) == []  # another channel
    assert holds.active_after_expiry("c@x", "t1", "imap", T0) == []


def test_due_holds_of_anyone_expire_first_with_an_audit_entry(tmp_path: Path) -> None:
    holds = store(tmp_path)
    mine = holds.apply("a@x", "customer", "violence", source="imap", expiry_days=1, now=T0)
    other = holds.apply("b@x", "customer", "violence", source="imap", expiry_days=1, now=T0)
    later = T0 + timedelta(days=1, seconds=1)
    assert [h.id for h in holds.active_after_expiry("a@x", "t", "imap", T0 + timedelta(hours=23))] == [mine.id]
    assert holds.active_after_expiry("a@x", "t", "imap", later) == []
    assert holds.get(mine.id).state == "expired" and holds.get(other.id).state == "expired"
    expired = [e.subject for e in AuditLog(holds.db).entries(action="hold.expire")]
    assert sorted(expired) == [f"hold:{mine.id}", f"hold:{other.id}"]


def test_another_customers_due_hold_expires_while_this_customers_hold_stays(tmp_path: Path) -> None:
    holds = store(tmp_path)
    mine = holds.apply("a@x", "customer", "violence", source="imap", now=T0)  # no expiry
    other = holds.apply("b@x", "customer", "violence", source="imap", expiry_days=1, now=T0)
    found = holds.active_after_expiry("a@x", "t", "imap", T0 + timedelta(days=2))
    assert [h.id for h in found] == [mine.id]
    assert holds.get(other.id).state == "expired"


def test_in_one_transaction_the_holds_are_read_once_and_a_new_hold_is_seen_at_once(tmp_path: Path) -> None:
    holds = store(tmp_path)
    db = holds.db
    holds.apply("b@x", "customer", "violence", source="imap", now=T0)
    seen: list[str] = []
    db.conn.set_trace_callback(lambda sql: seen.append(sql) if "FROM holds" in sql else None)
    with db.tx() as c:
        for i in range(5):
            assert holds.active_after_expiry(f"c{i}@x", "t", "imap", T0) == []
        assert [h.customer for h in holds.active_after_expiry("b@x", "t", "imap", T0)] == ["b@x"]
        new = holds.apply("a@x", "customer", "violence", source="imap", now=T0, conn=c)
        assert [h.id for h in holds.active_after_expiry("a@x", "t", "imap", T0)] == [new.id]
    db.conn.set_trace_callback(None)
    lookups = [s for s in seen if s.lstrip().startswith("SELECT")]
    assert len(lookups) < 10  # not one (or two) per message


def test_in_one_transaction_a_hold_that_falls_due_still_expires(tmp_path: Path) -> None:
    holds = store(tmp_path)
    due = holds.apply("b@x", "customer", "violence", source="imap", expiry_days=1, now=T0)
    with holds.db.tx():
        assert holds.active_after_expiry("a@x", "t", "imap", T0) == []
        assert holds.active_after_expiry("a@x", "t", "imap", T0 + timedelta(hours=1)) == []
        assert holds.active_after_expiry("a@x", "t", "imap", T0 + timedelta(days=2)) == []
        assert holds.get(due.id).state == "expired"
        assert holds.active_after_expiry("b@x", "t", "imap", T0 + timedelta(days=2)) == []


def test_the_pipelines_look_up_reads_only_what_says_whether_a_hold_covers_the_message(tmp_path: Path) -> None:
    """A held customer who keeps writing puts thousands of message ids and the evidence on the
    hold's row; the look-up made for every message (``active_ids_after_expiry``) answers what
    ``active_after_expiry`` does without reading them."""
    holds = store(tmp_path)
    whole = holds.apply("a@x", "customer", "violence", source="imap", now=T0)
    thread = holds.apply("a@x", "thread", "abuse", thread="t1", source="imap", now=T0)
    for i in range(300):
        holds.add_evidence(whole.id, [{"message_id": f"m{i}", "text": "x" * 200}], message_id=f"m{i}", now=T0)
    seen: list[str] = []
    for customer, thread_key, source in [("a@x", "t2", "imap"), ("a@x", "t1", "imap"), ("a@x", "t1", "zendesk"),
                                         ("c@x", "t1", "imap")]:
        holds.db.conn.set_trace_callback(seen.append)
        ids = holds.active_ids_after_expiry(customer, thread_key, source, T0)
        holds.db.conn.set_trace_callback(None)
        assert ids == [h.id for h in holds.active_after_expiry(customer, thread_key, source, T0)]
    assert holds.active_ids_after_expiry("a@x", "t1", "imap", T0) == [whole.id, thread.id]
    assert len(seen) == 4 and not any("SELECT *" in s or "message_ids" in s or "evidence" in s for s in seen), seen
