"""Options the store-reading sub-commands share: ``--db PATH`` and ``--actor NAME``."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from contextlib import closing
from pathlib import Path
from typing import Any

from gateway.errors import StoreError
from gateway.store.db import Database


def add_db(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", metavar="PATH", default="gateway.db",
                        help="the gateway's SQLite store (default: gateway.db)")


def add_actor(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--actor", metavar="NAME", default=None,
                        help="who is deciding, for the audit trail (default: your login name)")


def open_db(args: argparse.Namespace) -> closing[Database]:
    """Open an existing store for ``with open_db(args) as db:``, closed when the block ends; a
    missing file is an error rather than a new empty store."""
    path = Path(args.db)
    if str(path) != ":memory:" and not path.is_file():
        raise StoreError(f"no store at {path} (pass --db PATH, or run the gateway first)")
    return closing(Database.open(path))


def actor(args: argparse.Namespace) -> str:
    name = (getattr(args, "actor", None) or "").strip()
    if name:
        return name
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "cli"


def print_json(value: Any) -> None:
    json.dump(value, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")


def short(text: str | None, width: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= width else text[: width - 1] + "…"
