"""The SQLite file: WAL mode, one writer and many readers, versioned schema per component.

Each component (messages, holds, drafts, audit, checkpoints, ...) registers an ordered list of SQL
migration steps under its own name. ``Database.open`` applies what a file lacks, inside a
transaction per step, and records ``(component, version)`` in ``schema_versions``; a file written
by a newer version is refused rather than misread.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.errors import StoreError


@dataclass(frozen=True)
class Schema:
    component: str
    steps: tuple[str, ...]  # step i brings the component to version i + 1


_SCHEMAS: dict[str, Schema] = {}


def register_schema(component: str, steps: list[str] | tuple[str, ...]) -> None:
    """Declare a component's migrations. Re-registering the same steps is harmless; different
    steps under one name is a programming error."""
    schema = Schema(component, tuple(steps))
    existing = _SCHEMAS.get(component)
    if existing is not None and existing != schema:
        raise StoreError(f"schema component {component!r} registered twice with different steps")
    _SCHEMAS[component] = schema


register_schema(
    "state",
    [
        """
        CREATE TABLE state (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL,
            updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
        )
        """
    ],
)


class Database:
    """One SQLite file (or ``:memory:``). Thread-safe for one writer: writes go through ``tx()``,
    which holds a lock; readers in other processes see committed data thanks to WAL."""

    def __init__(self, conn: sqlite3.Connection, path: str) -> None:
        self.conn = conn
        self.path = path
        self._lock = threading.RLock()
        self._savepoints = 0  # depth of tx() nested in an open transaction
        self._in_tx = False  # an outer tx() is open
        self._tx_thread = 0  # the thread that opened it
        self._before_commit: dict[str, Callable[[sqlite3.Connection], None]] = {}
        #: Values that hold only inside the open write transaction (e.g. the audit chain's tail as
        #: this transaction left it). Emptied when a transaction begins, commits or rolls back, and
        #: when a nested transaction (savepoint) rolls back.
        self.tx_local: dict[str, Any] = {}
        self._kept: tuple[sqlite3.Connection | None, Any] = (None, None)  # (connection, its kept cursor's execute)

    @classmethod
    def open(cls, path: str | Path = ":memory:", *, readonly: bool = False) -> "Database":
        path = str(path)
        try:
            if readonly and path != ":memory:":
                conn = sqlite3.connect(
                    f"file:{path}?mode=ro", uri=True, check_same_thread=False, timeout=30
                )
            else:
                if path != ":memory:":
                    Path(path).parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(path, check_same_thread=False, timeout=30, isolation_level=None)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA busy_timeout = 30000")
            if not readonly:
                if path != ":memory:":
                    conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = NORMAL")
                conn.execute("PRAGMA foreign_keys = ON")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open store {path}: {exc}") from exc
        db = cls(conn, path)
        if not readonly:
            db.migrate()
        return db

    def migrate(self) -> None:
        """Apply every registered component's missing steps."""
        with self._lock:
            self.conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_versions (component TEXT PRIMARY KEY, version INTEGER NOT NULL)"
            )
            have = {
                r["component"]: r["version"]
                for r in self.conn.execute("SELECT component, version FROM schema_versions")
            }
            for name, schema in sorted(_SCHEMAS.items()):
                current = have.get(name, 0)
                if current > len(schema.steps):
                    raise StoreError(
                        f"store {self.path}: component {name!r} is at schema version {current}, "
                        f"newer than this gateway knows ({len(schema.steps)}); upgrade harassment-gateway"
                    )
                for version in range(current + 1, len(schema.steps) + 1):
                    try:
                        self.conn.execute("BEGIN IMMEDIATE")
                        for statement in _split_sql(schema.steps[version - 1]):
                            self.conn.execute(statement)
                        self.conn.execute(
                            "INSERT INTO schema_versions(component, version) VALUES (?, ?) "
                            "ON CONFLICT(component) DO UPDATE SET version = excluded.version",
                            (name, version),
                        )
                        self.conn.execute("COMMIT")
                    except sqlite3.Error as exc:
                        self.conn.execute("ROLLBACK")
                        raise StoreError(
                            f"store {self.path}: migration {name} v{version} failed: {exc}"
                        ) from exc

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """A write transaction; commits on success, rolls back on error.

        Nested inside another ``tx()`` of the same thread it is a savepoint: its changes are undone
        alone on error, and commit with the outer transaction (one commit per message in the
        pipeline, or per batch of messages in the daemon, instead of one per store)."""
        with self._lock:
            if self.conn.in_transaction:
                self._savepoints += 1
                name = f"tx{self._savepoints}"
                self.conn.execute(f"SAVEPOINT {name}")
                try:
                    yield self.conn
                except BaseException:
                    self.tx_local.clear()
                    self.conn.execute(f"ROLLBACK TO {name}")
                    self.conn.execute(f"RELEASE {name}")
                    raise
                else:
                    self.conn.execute(f"RELEASE {name}")
                finally:
                    self._savepoints -= 1
                return
            self.conn.execute("BEGIN IMMEDIATE")
            self._in_tx = True
            self._tx_thread = threading.get_ident()
            self.tx_local.clear()
            self._before_commit.clear()
            try:
                yield self.conn
                while self._before_commit:  # a hook may register another; each runs once
                    key = next(iter(self._before_commit))
                    self._before_commit.pop(key)(self.conn)
            except BaseException:
                self._end()
                self.conn.execute("ROLLBACK")
                raise
            else:
                self._end()
                self.conn.execute("COMMIT")

    def _end(self) -> None:
        self._in_tx = False
        self.tx_local.clear()
        self._before_commit.clear()

    def kept_execute(self, c: sqlite3.Connection) -> Callable[..., sqlite3.Cursor]:
        """``c.execute``, through one cursor kept for the store's own connection (``c.execute``
        makes a new cursor for every statement): for statements whose results are not read, in
        this thread's open transaction. Another connection gets its own ``execute``."""
        if c is not self.conn:
            return c.execute
        kept = self._kept
        if kept[0] is not c:  # the first call, or the store's connection was replaced
            kept = self._kept = (c, c.cursor().execute)
        return kept[1]  # type: ignore[no-any-return]

    @property
    def in_tx(self) -> bool:
        """True inside a ``tx()`` opened by this thread (whose commit will run the
        ``before_commit`` hooks); other threads wait for it to end before they touch the store."""
        return self._in_tx and self._tx_thread == threading.get_ident() and self.conn.in_transaction

    def before_commit(self, key: str, hook: Callable[[sqlite3.Connection], None]) -> None:
        """Run ``hook(conn)`` once, just before the open ``tx()`` commits (registering the same
        ``key`` again keeps one call). Lets a store write a summary row once per transaction
        instead of once per change; the hook's writes commit with everything else. Outside a
        ``tx()`` the hook runs at once."""
        if self.in_tx:
            self._before_commit[key] = hook
        else:
            hook(self.conn)

    def query(self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self.conn.execute(sql, params).fetchall()

    def query_in(self, sql: str, values: list[Any], params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        """``query`` with ``{marks}`` in ``sql`` standing for the placeholders of ``values`` (after
        ``params``), run in chunks of 500 so a long list stays within SQLite's variable limit;
        the rows of every chunk, in chunk order."""
        rows: list[sqlite3.Row] = []
        for i in range(0, len(values), 500):
            chunk = values[i : i + 500]
            rows += self.query(sql.format(marks=",".join("?" * len(chunk))), (*params, *chunk))
        return rows

    def query_one(self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> sqlite3.Row | None:
        with self._lock:
            return self.conn.execute(sql, params).fetchone()

    def select(
        self, table: str, *, where: dict[str, Any], order: str, limit: int | None = None
    ) -> list[sqlite3.Row]:
        """``SELECT * FROM table`` filtered by equality on the ``where`` items whose value is not
        None (or empty), in ``order``. ``table``, the column names and ``order`` come from code,
        never from input."""
        clauses = [f"{column} = ?" for column, value in where.items() if value]
        params: list[Any] = [value for value in where.values() if value]
        sql = f"SELECT * FROM {table}"
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        sql += f" ORDER BY {order}"
        if limit:
            sql += " LIMIT ?"
            params.append(int(limit))
        return self.query(sql, tuple(params))

    # A small key-value table for cursors, high-water marks and checkpoints.
    def get_state(self, key: str, default: str | None = None) -> str | None:
        row = self.query_one("SELECT value FROM state WHERE key = ?", (key,))
        return row["value"] if row else default

    def set_state(self, key: str, value: str, conn: sqlite3.Connection | None = None) -> None:
        sql = (
            "INSERT INTO state(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value, "
            "updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now')"
        )
        if conn is not None:
            conn.execute(sql, (key, value))
        else:
            with self.tx() as c:
                c.execute(sql, (key, value))

    def close(self) -> None:
        with self._lock:
            self.conn.close()


def _split_sql(script: str) -> list[str]:
    """Split a migration step into statements (our migrations hold no semicolons in literals)."""
    return [s.strip() for s in script.split(";") if s.strip()]
