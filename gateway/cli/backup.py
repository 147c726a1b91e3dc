"""``harassment-gateway backup DEST``: a consistent copy of the store, safe while the daemon runs.

Copying ``gateway.db`` with ``cp`` while the daemon writes can give a torn copy (the store is in
WAL mode: recent commits live in ``gateway.db-wal`` until a checkpoint). This uses SQLite's online
backup in one step, which reads one snapshot while writers go on, then checks the copy before
calling it a backup: SQLite's integrity check, and the audit log's hash chain. The copy is one
self-contained file (rollback journal, no ``-wal`` beside it); an existing file is never
overwritten. Restore by stopping the daemon and putting the copy in the store's place.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
from pathlib import Path

from gateway.cli.storeopts import add_db
from gateway.errors import GatewayError, StoreError


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("backup", help="copy the store consistently while the daemon runs, then check the copy")
    parser.add_argument("dest", metavar="DEST", help="the file to write (it must not exist yet)")
    add_db(parser)
    parser.set_defaults(func=_backup)


def backup(source: Path, dest: Path) -> dict[str, object]:
    """Copy ``source`` to ``dest`` (which must not exist) and check the copy. Returns what the
    copy holds and whether its audit chain verifies; raises GatewayError when nothing usable was
    written (and leaves no partial file behind)."""
    if not source.is_file():
        raise StoreError(f"no store at {source} (pass --db PATH)")
    if dest.exists():
        raise GatewayError(f"{dest} exists already; choose another file")
    partial = dest.with_name(dest.name + ".partial")
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise GatewayError(f"cannot create {dest.parent}: {exc.strerror or exc}") from None
    partial.unlink(missing_ok=True)
    try:
        try:
            src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
            try:
                dst = sqlite3.connect(partial)
                try:
                    src.backup(dst)  # all pages in one step: one snapshot, writers are not blocked (WAL)
                    check = dst.execute("PRAGMA integrity_check").fetchone()[0]
                finally:
                    dst.close()
            finally:
                src.close()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot back up {source}: {exc}") from exc
        except OSError as exc:
            raise GatewayError(f"cannot write {partial}: {exc.strerror or exc}") from exc
        if check != "ok":
            raise StoreError(f"the copy of {source} failed SQLite's integrity check: {check}")
        summary = _summary(partial)
        try:
            with sqlite3.connect(partial) as conn:
                conn.execute("PRAGMA journal_mode = DELETE")  # one self-contained file, no -wal beside it
            conn.close()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot finish the copy {partial}: {exc}") from exc
        try:
            os.link(partial, dest)  # fails if dest appeared meanwhile: never overwrite
        except FileExistsError:
            raise GatewayError(f"{dest} exists already; choose another file") from None
        return {**summary, "size": dest.stat().st_size}
    finally:
        partial.unlink(missing_ok=True)


def _summary(path: Path) -> dict[str, object]:
    from gateway.audit import AuditLog
    from gateway.store.db import Database

    # Opened as a store, so tables of components the source never used are created (empty), as
    # the daemon would on the first start after a restore; nothing in the copied data changes.
    db = Database.open(path)
    try:
        def count(table: str) -> int:
            try:
                return int(db.query_one(f"SELECT count(*) AS n FROM {table}")["n"])  # type: ignore[index]
            except sqlite3.Error:
                return 0  # a component this store never used

        verified = AuditLog(db).verify()
        return {"messages": count("messages"), "holds": count("holds"), "drafts": count("drafts"),
                "audit_entries": verified.checked, "audit_ok": verified.ok, "audit_problem": verified.problem}
    finally:
        db.close()


def _backup(args: argparse.Namespace) -> int:
    dest = Path(args.dest)
    s = backup(Path(args.db), dest)
    print(f"backed up {args.db} to {dest} ({int(s['size']) / 1e6:.1f} MB): {s['messages']} messages, "  # type: ignore[call-overload]
          f"{s['holds']} holds, {s['drafts']} drafts, {s['audit_entries']} audit entries")
    if not s["audit_ok"]:
        print(f"warning: the audit chain does not verify in this copy: {s['audit_problem']} "
              "(the copy is kept; the store itself needs checking: `harassment-gateway audit verify`)")
        return 1
    print("integrity check ok; audit chain verified")
    return 0
