"""The pipeline benchmark counts the store's commits without a statement trace (which would make
SQLite spell out every statement with its values, and so slow what is measured)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.bench_pipeline import _count_commits  # noqa: E402
from gateway.store.db import Database  # noqa: E402


def test_outermost_transactions_that_end_well_are_the_commits(tmp_path: Path) -> None:
    db = Database.open(tmp_path / "b.db")
    db.conn.execute("CREATE TABLE t (n INTEGER)")
    commits = [0]
    _count_commits(db, commits)
    seen: list[str] = []
    db.conn.set_trace_callback(lambda sql: seen.append(sql) if sql == "COMMIT" else None)

    with db.tx() as c:
        c.execute("INSERT INTO t VALUES (1)")
        with db.tx() as inner:  # a savepoint: commits with the outer transaction
            inner.execute("INSERT INTO t VALUES (2)")
    with pytest.raises(RuntimeError):
        with db.tx() as c:
            c.execute("INSERT INTO t VALUES (3)")
            raise RuntimeError("rolled back")
    with db.tx() as c:
        c.execute("INSERT INTO t VALUES (4)")

    db.conn.set_trace_callback(None)
    assert commits[0] == len(seen) == 2
    assert [r[0] for r in db.conn.execute("SELECT n FROM t ORDER BY n")] == [1, 2, 4]


def test_a_history_store_fills_the_campaign_index_and_each_run_starts_from_a_copy(tmp_path: Path) -> None:
    """``--history``: the messages stored before the run lie within the campaign lookback of the
    benchmark mail (so the index holds them), and a run works on a copy, leaving them as built."""
    from bench.bench_pipeline import history_store, run
    from bench.mailcorpus import START, corpus
    from gateway.detect import Detector
    from gateway.pipeline import Pipeline

    path = tmp_path / "history.db"
    indexed = history_store(path, 300, START)
    assert 250 <= indexed <= 300  # (the synthetic texts are nearly all long enough to index)
    db = Database.open(path)
    assert db.query_one("SELECT COUNT(*) FROM messages")[0] == 300
    assert db.query_one("SELECT MAX(received_us) FROM messages")[0] < START.timestamp() * 1e6
    assert len(Pipeline.create(db).tracker.index) == indexed
    db.close()

    cpu, wall, tagged, commits = run(corpus(30), 10, Detector.load(), history=path)
    assert commits == 3 and cpu > 0
    db = Database.open(path)
    assert db.query_one("SELECT COUNT(*) FROM messages")[0] == 300  # the run's messages went to its copy
    db.close()
