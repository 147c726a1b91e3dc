"""A Maildir directory as a mail source (the embedded default reads one of sample mail).

Maildir has no keywords, so the gateway's keywords for each file live in a sidecar table in the
store (``maildir_marks``), keyed by the file's unique name (the part before ``:2,``), which
survives the renames mail clients make when they change flags. Held customers' mail is moved into
the Maildir++ subfolder ``.<held_folder>`` by an atomic rename. Files are never deleted or
rewritten: the gateway only reads them, and renames for a hold.

Crash safety: the mark is written (verdict committed) before the rename, and a mark without
``applied`` is finished on the next scan, so a kill at any point repeats nothing visible.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from gateway.config import SourceConfig
from gateway.mail.handler import MessageHandler
from gateway.mail.keywords import keywords_for
from gateway.metrics import SourceStats
from gateway.store.db import Database, register_schema

log = logging.getLogger(__name__)

register_schema(
    "maildir",
    [
        """
        CREATE TABLE maildir_marks (
            source TEXT NOT NULL,
            name TEXT NOT NULL,
            message_id TEXT NOT NULL,
            keywords TEXT NOT NULL,
            held INTEGER NOT NULL,
            applied INTEGER NOT NULL DEFAULT 0,
            marked_at TEXT NOT NULL,
            PRIMARY KEY (source, name)
        )
        """
    ],
)


def unique_name(filename: str) -> str:
    """A Maildir file's stable name: the part before the ``:2,`` info suffix."""
    return filename.split(":", 1)[0]


@dataclass(frozen=True)
class Mark:
    name: str
    message_id: str
    keywords: frozenset[str]
    held: bool
    applied: bool


class MaildirMarks:
    """The sidecar of keywords per Maildir file."""

    def __init__(self, db: Database) -> None:
        self.db = db
        db.migrate()

    def get(self, source: str, name: str) -> Mark | None:
        row = self.db.query_one("SELECT * FROM maildir_marks WHERE source = ? AND name = ?", (source, name))
        if row is None:
            return None
        return Mark(row["name"], row["message_id"], frozenset(json.loads(row["keywords"])), bool(row["held"]),
                    bool(row["applied"]))

    def all(self, source: str) -> dict[str, Mark]:
        rows = self.db.query("SELECT * FROM maildir_marks WHERE source = ?", (source,))
        return {r["name"]: Mark(r["name"], r["message_id"], frozenset(json.loads(r["keywords"])), bool(r["held"]),
                                bool(r["applied"])) for r in rows}

    def put(self, source: str, name: str, message_id: str, keywords: frozenset[str], held: bool) -> None:
        with self.db.tx() as conn:
            conn.execute(
                "INSERT INTO maildir_marks(source, name, message_id, keywords, held, applied, marked_at) "
                "VALUES (?, ?, ?, ?, ?, 0, ?) ON CONFLICT(source, name) DO NOTHING",
                (source, name, message_id, json.dumps(sorted(keywords)), int(held),
                 datetime.now(timezone.utc).isoformat()),
            )

    def remove_keywords(self, source: str, message_id: str, words: list[str]) -> bool:
        """Take ``words`` off every file of ``source`` carrying this message id; returns whether
        there was one (keywords live here, not in the Maildir)."""
        gone = set(words)
        with self.db.tx() as conn:
            rows = conn.execute("SELECT name, keywords FROM maildir_marks WHERE source = ? AND message_id = ?",
                                (source, message_id)).fetchall()
            for r in rows:
                kept = sorted(k for k in json.loads(r["keywords"]) if k not in gone)
                conn.execute("UPDATE maildir_marks SET keywords = ? WHERE source = ? AND name = ?",
                             (json.dumps(kept), source, r["name"]))
        return bool(rows)

    def applied(self, source: str, name: str) -> None:
        with self.db.tx() as conn:
            conn.execute("UPDATE maildir_marks SET applied = 1 WHERE source = ? AND name = ?", (source, name))


@dataclass
class MaildirSource:
    """Reads ``cur/`` and ``new/`` of a Maildir; polls for new files every ``poll_interval`` s."""

    cfg: SourceConfig
    root: Path
    handler: MessageHandler
    marks: MaildirMarks
    stats: SourceStats
    poll_interval: float = 5.0

    @property
    def name(self) -> str:
        return self.cfg.name

    @property
    def held_dir(self) -> Path:
        return self.root / f".{self.cfg.held_folder}"

    async def run(self, stop: asyncio.Event, *, once: bool = False) -> None:
        self.stats.state = "polling"
        while not stop.is_set():
            try:
                await self.scan(stop)
            except Exception as exc:  # an unreadable folder, or the store was busy: try again later
                self.stats.state = "reconnecting"
                self.stats.last_error = type(exc).__name__
                log.warning("Maildir pass failed", exc_info=not isinstance(exc, OSError),
                            extra={"source": self.name, "path": str(self.root), "error": str(exc)[:300]})
                if once:
                    raise
            else:
                self.stats.state = "polling"
                self.stats.last_success = time.time()
            if once:
                break
            try:
                await asyncio.wait_for(stop.wait(), timeout=self.poll_interval)
            except asyncio.TimeoutError:
                pass
        self.stats.state = "stopped"

    def pending(self) -> list[Path]:
        files: list[Path] = []
        for sub in ("new", "cur"):
            folder = self.root / sub
            if folder.is_dir():
                files.extend(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
        return sorted(files, key=lambda p: (p.stat().st_mtime, p.name))

    async def scan(self, stop: asyncio.Event) -> None:
        if not (self.root / "cur").is_dir() and not (self.root / "new").is_dir():
            raise FileNotFoundError(f"{self.root} is not a Maildir (no cur/ or new/)")
        marks = self.marks.all(self.name)
        todo = [p for p in self.pending() if not (marks.get(unique_name(p.name)) and marks[unique_name(p.name)].applied)]
        self.stats.lag = len(todo)
        for path in todo:
            if stop.is_set():
                return
            name = unique_name(path.name)
            mark = marks.get(name)
            if mark is None:
                try:
                    raw = path.read_bytes()
                except FileNotFoundError:
                    continue  # a mail client renamed it meanwhile; the next scan finds it
                outcome = await asyncio.to_thread(
                    self.handler.handle, raw, source=self.name, location=f"{path.parent.name}/{path.name}",
                    stats=self.stats, external={"maildir": {"source": self.name, "name": name}},
                )
                self.marks.put(self.name, name, outcome.message_id, keywords_for(outcome.verdict),
                               bool(outcome.verdict.held))
                mark = self.marks.get(self.name, name)
                assert mark is not None
            if mark.held and self.cfg.held_folder:
                self._move_to_held(path)
            self.marks.applied(self.name, name)
            self.stats.lag = max(0, self.stats.lag - 1)
        self._correct()

    def _correct(self) -> None:
        """Take back the keywords of categories people disputed since (gateway/disputes.py)."""
        checkpoints = self.handler.checkpoints
        for correction_id, message_id, words in checkpoints.pending_corrections(self.name):
            found = self.marks.remove_keywords(self.name, message_id, words)
            checkpoints.correction_done(correction_id, found=found, final=True)  # the sidecar has it or never will

    def _move_to_held(self, path: Path) -> None:
        for sub in ("cur", "new", "tmp"):
            (self.held_dir / sub).mkdir(parents=True, exist_ok=True)
        target = self.held_dir / path.parent.name / path.name
        try:
            os.rename(path, target)  # atomic within one file system; never copies then deletes
        except FileNotFoundError:
            pass
        log.info("held customer's mail moved", extra={"source": self.name, "folder": self.cfg.held_folder})
