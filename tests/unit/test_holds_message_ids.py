"""A hold's message ids live in ``hold_messages``, one row each in the order they were added: adding
a message is one insert however many ids the hold has (a held customer's flood puts thousands on
one hold), a message is added once, and a store written before the table existed keeps its ids,
in order, when it is migrated."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.audit import json_ascii
from gateway.holds import HoldStore
from gateway.store.db import _SCHEMAS, Database, _split_sql

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
_IDS = st.text(alphabet=st.sampled_from(['a', 'b', '"', "\\", ",", " ", "]", "[", "<", ">", "@", "\u00e9", "返"]),
               min_size=1, max_size=6)


def stored_ids(db: Database, hold_id: int) -> list[str]:
    return [r[0] for r in db.query("SELECT message_id FROM hold_messages WHERE hold_id = ? ORDER BY id", (hold_id,))]


def test_a_hold_gains_each_message_once_in_the_order_they_came(tmp_path: Path) -> None:
    holds = HoldStore(Database.open(tmp_path / "h.db"))
    hold = holds.apply("a@x", "customer", "violence", source="imap", message_id='<m"0@x>', now=T0)
    other = holds.apply("b@x", "customer", "violence", source="imap", message_id="<m1@x>", now=T0)
    for mid in ['<m"0@x>', "<m1@x>", '<m"0@x>', "<m1@x>", "m1", '<m"0@x>x']:
        holds.add_evidence(hold.id, [], message_id=mid, now=T0)
        holds.add_evidence(other.id, [], message_id=mid[::-1], now=T0)  # interleaved with another hold's
    assert holds.get(hold.id).message_ids == ['<m"0@x>', "<m1@x>", "m1", '<m"0@x>x']
    assert holds.get(other.id).message_ids == ["<m1@x>", '>x@0"m<', ">x@1m<", "1m", 'x>x@0"m<']
    assert stored_ids(holds.db, hold.id) == holds.get(hold.id).message_ids
    # a message without an id adds none
    holds.add_evidence(hold.id, [], message_id="", now=T0)
    assert holds.get(hold.id).message_ids == ['<m"0@x>', "<m1@x>", "m1", '<m"0@x>x']


def test_every_reader_gets_the_ids_in_order(tmp_path: Path) -> None:
    holds = HoldStore(Database.open(tmp_path / "h.db"))
    a = holds.propose("a@x", "customer", "abuse", source="imap", message_id="m3", now=T0)
    b = holds.propose("a@x", "thread", "abuse", thread="t", source="imap", message_id="m1", now=T0)
    c = holds.apply("a@x", "all_channels", "violence", now=T0)  # no message: no ids
    for n in (2, 1, 0):
        holds.add_evidence(a.id, [], message_id=f"m{n}", now=T0)
    holds.add_evidence(b.id, [], message_id="m0", now=T0)
    want = {a.id: ["m3", "m2", "m1", "m0"], b.id: ["m1", "m0"], c.id: []}
    assert {h.id: h.message_ids for h in holds.list()} == want
    assert {h.id: h.message_ids for h in holds.for_customer("a@x")} == want
    assert {h.id: h.message_ids for h in holds.pending()} == {a.id: want[a.id], b.id: want[b.id]}
    assert {h.id: h.message_ids for h in holds.pending_longer_than(timedelta(0), T0)} == {
        a.id: want[a.id], b.id: want[b.id]}
    assert [(h.id, h.message_ids) for h in holds.active_for("a@x", "t", "imap")] == [(c.id, [])]
    assert holds.get(a.id).to_json()["message_ids"] == want[a.id]
    approved = holds.approve(a.id, "lead", now=T0)
    assert approved.message_ids == want[a.id]
    assert [h.message_ids for h in holds.active_after_expiry("a@x", "t", "imap", T0)] == [want[a.id], []]


def test_a_list_of_holds_reads_the_ids_in_one_query(tmp_path: Path) -> None:
    holds = HoldStore(Database.open(tmp_path / "h.db"))
    for n in range(5):
        holds.propose(f"c{n}@x", "customer", "abuse", source="imap", message_id=f"m{n}", now=T0)
    seen: list[str] = []
    holds.db.conn.set_trace_callback(seen.append)
    listed = holds.list()
    holds.db.conn.set_trace_callback(None)
    assert [h.message_ids for h in listed] == [[f"m{n}"] for n in range(4, -1, -1)]
    assert len([s for s in seen if "hold_messages" in s]) == 1


def test_adding_to_a_hold_of_thousands_of_ids_reads_and_rewrites_none_of_them(tmp_path: Path) -> None:
    """The pipeline's path (``open_rows``, then ``open`` or ``extend``): the one statement about
    the ids is the insert of the new one; nothing selects or rewrites the others."""
    db = Database.open(tmp_path / "h.db")
    holds = HoldStore(db)
    hold = holds.apply("a@x", "customer", "violence", source="imap", message_id="m0", now=T0)
    with db.tx() as c:
        c.executemany("INSERT INTO hold_messages(hold_id, message_id) VALUES (?, ?)",
                      [(hold.id, f"m{n}") for n in range(1, 5000)])
    for new, fresh in (("m5000", True), ("m17", False)):
        seen: list[str] = []
        db.conn.set_trace_callback(seen.append)
        with db.tx() as c:
            rows = holds.open_rows("a@x", conn=c)
            holds.open("active", "a@x", "customer", "violence", [{"message_id": new}], source="imap",
                       message_id=new, now=T0, conn=c, open_rows=rows)
            holds.extend(hold.id, [], message_id=new, now=T0, conn=c)
        db.conn.set_trace_callback(None)
        about_ids = [s for s in seen if "hold_messages" in s or "message_ids" in s]
        assert about_ids == [f"INSERT OR IGNORE INTO hold_messages(hold_id, message_id) VALUES ({hold.id}, '{new}')"] * 2
        assert all("SELECT *" not in s for s in seen), seen
    ids = holds.get(hold.id).message_ids
    assert len(ids) == 5001 and ids[-1] == "m5000" and ids[:3] == ["m0", "m1", "m2"]
    evidence = [e["message_id"] for e in holds.get(hold.id).evidence]
    assert evidence == ["m5000", "m17"]  # a fresh id takes the append path; a known one the merge path


def _old_store(path: Path, lists: list[list[str]]) -> None:
    """A store as the holds component's first schema version wrote it: each hold's ids one JSON
    list (``json_ascii``) in ``holds.message_ids``."""
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE schema_versions (component TEXT PRIMARY KEY, version INTEGER NOT NULL)")
    for statement in _split_sql(_SCHEMAS["holds"].steps[0]):
        conn.execute(statement)
    conn.execute("INSERT INTO schema_versions(component, version) VALUES ('holds', 1)")
    at = "2026-06-01T09:00:00.000000Z"
    for n, ids in enumerate(lists):
        hold_id = conn.execute(
            "INSERT INTO holds(customer, scope, source, state, reason, message_ids, created_at, created_by, "
            "updated_at) VALUES (?, 'customer', 'imap', 'active', 'violence', ?, ?, 'policy', ?)",
            (f"c{n % 3}@x", json_ascii(ids), at, at)).lastrowid
        conn.execute("INSERT INTO hold_events(hold_id, at, actor, action, from_state, to_state, reason) "
                     "VALUES (?, ?, 'policy', 'apply', NULL, 'active', 'violence')", (hold_id, at))
    conn.commit()
    conn.close()


def test_a_store_written_before_the_table_keeps_every_hold_s_ids_in_order(tmp_path: Path) -> None:
    lists = [["<m2@x>", "<m1@x>", 'q"uote', "back\\slash", "\u00e9t\u00e9 返", "[a, b]"], [], ["only"],
             [f"<f{n}@x>" for n in range(3000, 0, -1)]]
    _old_store(tmp_path / "old.db", lists)
    db = Database.open(tmp_path / "old.db")
    assert db.query_one("SELECT version FROM schema_versions WHERE component = 'holds'")[0] == len(_SCHEMAS["holds"].steps)
    assert "message_ids" not in [r[1] for r in db.query("PRAGMA table_info(holds)")]
    holds = HoldStore(db)
    assert [h.message_ids for h in sorted(holds.list(), key=lambda h: h.id)] == lists
    assert [holds.get(n + 1).message_ids for n in range(len(lists))] == lists
    # and the migrated hold goes on gaining messages after the ids it had
    holds.add_evidence(1, [], message_id="<m1@x>", now=T0)
    holds.add_evidence(1, [], message_id="<new@x>", now=T0)
    assert holds.get(1).message_ids == lists[0] + ["<new@x>"]
    assert not db.query("PRAGMA foreign_key_check") and db.query_one("PRAGMA integrity_check")[0] == "ok"


def test_the_migration_keeps_the_first_of_an_id_listed_twice(tmp_path: Path) -> None:
    """(The list never had an id twice: adding one checked for it. Should a file have one, the
    hold keeps it once, where it first came.)"""
    _old_store(tmp_path / "old.db", [["d1", "d2", "d1", "d3"]])
    assert HoldStore(Database.open(tmp_path / "old.db")).get(1).message_ids == ["d1", "d2", "d3"]


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.lists(st.lists(_IDS, max_size=6, unique=True), max_size=4))
def test_the_migration_keeps_any_ids(tmp_path_factory, lists: list[list[str]]) -> None:
    path = tmp_path_factory.mktemp("old") / "old.db"
    _old_store(path, lists)
    db = Database.open(path)
    try:
        assert [h.message_ids for h in HoldStore(db).pending_longer_than(timedelta(0), T0)] == []
        assert [h.message_ids for h in sorted(HoldStore(db).list(), key=lambda h: h.id)] == lists
    finally:
        db.close()
