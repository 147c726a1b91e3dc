"""A store seeded for the `holds` and `drafts` command tests, and a way to run a command on it."""

from __future__ import annotations

from pathlib import Path

from gateway.cli import main
from gateway.drafts import DraftStore
from gateway.holds import HoldStore
from gateway.store.db import Database


def seed_store(p: Path) -> Path:
    """Two proposed holds (customer c@ with evidence, thread t9 for d@) and one pending draft for c@."""
    db = Database.open(p)
    holds = HoldStore(db)
    holds.propose("c@example.com", "customer", "repeated abuse",
                  [{"category": "verbal_abuse", "severity": "medium", "message_id": "m1",
                    "evidence": [{"start": 0, "end": 5, "text": "idiot"}]}], message_id="m1", expiry_days=30)
    holds.propose("d@example.com", "thread", "persistent contact", [], thread="t9")
    DraftStore(db).create("c@example.com", "en", "warning", "Re: Order", "Dear customer,\nplease.",
                          to_address="c@example.com", message_id="m1")
    db.close()
    return p


def cli(path: Path, *args: str) -> int:
    """``harassment-gateway GROUP VERB --db PATH ARGS...``"""
    return main([*args[:2], "--db", str(path), *args[2:]])
