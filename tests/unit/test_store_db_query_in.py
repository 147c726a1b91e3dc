"""``Database.query_in``: a look-up by a list of values longer than SQLite's variable limit is run
in chunks, and returns the rows of every chunk."""

from gateway.store.db import Database


def test_query_in_returns_the_rows_of_every_chunk_with_the_leading_parameters():
    db = Database.open(":memory:")
    with db.tx() as c:
        c.execute("CREATE TABLE t (kind TEXT, n INTEGER)")
        c.executemany("INSERT INTO t VALUES (?, ?)", [(k, n) for k in ("a", "b") for n in range(1_300)])
    wanted = list(range(0, 1_300, 1)) + [99_999]  # three chunks, one value with no row
    rows = db.query_in("SELECT n FROM t WHERE kind = ? AND n IN ({marks}) ORDER BY n", wanted, ("b",))
    assert [r[0] for r in rows] == list(range(1_300))
    assert db.query_in("SELECT n FROM t WHERE n IN ({marks})", []) == []
    db.close()
