"""Remembered customer links never go stale, and a transaction nested in another is a savepoint."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.store.db import Database
from gateway.store.messages import SqliteMessageStore


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "gateway.db"


def test_a_link_made_through_another_store_on_the_same_database_shows_at_once(path: Path) -> None:
    db = Database.open(path)
    reader, writer = SqliteMessageStore(db), SqliteMessageStore(db)
    assert reader.customer_keys("b@example.com") == ["b@example.com"]  # now remembered
    writer.link_customers("a@example.com", "b@example.com")
    assert reader.resolve_customer("b@example.com") == "a@example.com"
    assert reader.customer_keys("b@example.com") == ["a@example.com", "b@example.com"]


def test_a_link_made_by_another_process_shows_at_once(path: Path) -> None:
    daemon_db, cli_db = Database.open(path), Database.open(path)
    daemon = SqliteMessageStore(daemon_db)
    assert daemon.resolve_customer("b@example.com") == "b@example.com"
    SqliteMessageStore(cli_db).link_customers("a@example.com", "b@example.com")
    assert daemon.resolve_customer("b@example.com") == "a@example.com"
    assert daemon.customer_keys("a@example.com") == ["a@example.com", "b@example.com"]


def test_a_failed_nested_transaction_undoes_only_its_own_writes(path: Path) -> None:
    db = Database.open(path)
    with db.tx():
        db.set_state("outer", "kept", conn=db.conn)
        with pytest.raises(RuntimeError):
            with db.tx() as c:
                c.execute("INSERT INTO state(key, value) VALUES ('inner', 'gone')")
                raise RuntimeError("inner step failed")
        with db.tx() as c:
            c.execute("INSERT INTO state(key, value) VALUES ('second', 'kept')")
    assert db.get_state("outer") == "kept" and db.get_state("second") == "kept"
    assert db.get_state("inner") is None


def test_an_outer_failure_rolls_back_what_nested_transactions_did(path: Path) -> None:
    db = Database.open(path)
    with pytest.raises(RuntimeError):
        with db.tx():
            with db.tx() as c:
                c.execute("INSERT INTO state(key, value) VALUES ('inner', 'x')")
            raise RuntimeError("later step failed")
    assert db.get_state("inner") is None
    assert not db.conn.in_transaction
