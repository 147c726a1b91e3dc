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


def test_the_mail_the_detector_has_seen_is_other_mail_and_changes_no_finding() -> None:
    """``--seen``: the detector reads mail of the same kind but none of the timed messages, and
    having read it, finds in the timed mail exactly what a fresh detector finds."""
    from bench.bench_pipeline import SEEN_SEED, see
    from bench.mailcorpus import corpus
    from gateway.detect import Detector
    from gateway.ingest import ingest

    timed = [ingest(raw, source="bench") for raw in corpus(60, varied=True)]
    seen = [ingest(raw, source="seen") for raw in corpus(60, varied=True, seed=SEEN_SEED)]
    assert not {m.id for m in timed} & {m.id for m in seen}
    assert not {m.text for m in timed} & {m.text for m in seen}

    fresh = [[f.to_json() for f in Detector.load().detect(m)] for m in timed]
    reader = Detector.load()
    assert see(reader, 60, varied=True) == sum(len(reader.detect(m)) for m in seen)
    assert [[f.to_json() for f in reader.detect(m)] for m in timed] == fresh
    assert any(fresh)  # (the mail has findings to compare)


def test_the_benchmarks_name_the_interpreter_that_ran_them() -> None:
    """``interpreter()``: the version and the real executable, and whether this process has a
    shared ``libpython`` mapped (a pyenv default build) or the interpreter linked in (Debian's)."""
    import os
    import platform
    import sys

    from bench.hostspeed import interpreter

    text = interpreter()
    assert text.startswith(f"Python {platform.python_version()} ({os.path.realpath(sys.executable)};")
    with open("/proc/self/maps", encoding="ascii", errors="replace") as fh:
        shared = any("/libpython" in line for line in fh)
    assert ("libpython shared" in text) == shared
    assert ("libpython linked into the executable" in text) == (not shared)
