import sqlite3
import threading

import pytest

from gateway.errors import StoreError
from gateway.store.db import Database, register_schema

register_schema("test_widgets", ["CREATE TABLE test_widgets (id INTEGER PRIMARY KEY, name TEXT)",
                                 "ALTER TABLE test_widgets ADD COLUMN colour TEXT"])


def test_file_store_uses_wal_and_applies_every_step_once(tmp_path):
    path = tmp_path / "gw.db"
    db = Database.open(path)
    assert db.query_one("PRAGMA journal_mode")[0] == "wal"
    row = db.query_one("SELECT version FROM schema_versions WHERE component = 'test_widgets'")
    assert row["version"] == 2
    with db.tx() as c:
        c.execute("INSERT INTO test_widgets(name, colour) VALUES ('a', 'red')")
    db.close()
    again = Database.open(path)  # reopening applies nothing twice
    assert again.query_one("SELECT count(*) FROM test_widgets")[0] == 1
    again.close()


def test_store_written_by_a_newer_version_is_refused(tmp_path):
    path = tmp_path / "gw.db"
    Database.open(path).close()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE schema_versions SET version = 99 WHERE component = 'test_widgets'")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="newer than this gateway knows"):
        Database.open(path)


def test_failed_transaction_rolls_back(tmp_path):
    db = Database.open(tmp_path / "gw.db")
    with pytest.raises(RuntimeError):
        with db.tx() as c:
            c.execute("INSERT INTO test_widgets(name) VALUES ('lost')")
            raise RuntimeError("boom")
    assert db.query_one("SELECT count(*) FROM test_widgets")[0] == 0


def test_state_survives_reopen_and_readers_see_commits(tmp_path):
    path = tmp_path / "gw.db"
    writer = Database.open(path)
    writer.set_state("cursor:zendesk", "abc")
    reader = Database.open(path, readonly=True)
    assert reader.get_state("cursor:zendesk") == "abc"
    seen = []

    def read_many():
        for _ in range(50):
            seen.append(reader.get_state("cursor:zendesk"))

    t = threading.Thread(target=read_many)
    t.start()
    for i in range(50):
        writer.set_state("cursor:zendesk", f"v{i}")
    t.join()
    assert all(v is not None for v in seen)
    assert reader.get_state("cursor:zendesk") == "v49"
