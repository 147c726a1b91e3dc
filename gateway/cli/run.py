"""``harassment-gateway run [--config FILE] [--once] [--quiet] [--check]``: the daemon.

``--check`` runs the daemon's start-up checks without starting it (gateway/configcheck.py).

Without ``--config`` it runs on the embedded defaults (sample Maildir copied to ./hg-mail, store
./gateway.db, console on 127.0.0.1:8080), so a new user sees the whole flow at once. With no
console users configured, the console admits a lead ``admin`` by a one-time token printed here.

Two audiences, two streams: JSON logs (no message content) go to stderr; what a person at the
terminal needs (the console's address and token, and after ``--once`` a summary of the pass with
senders and subjects) goes to stdout. ``--quiet`` drops the summary, for cron.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gateway.config import Config


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "run",
        help="run the gateway daemon over the configured mailboxes",
        description="Read the configured mailboxes, analyse every message, set keywords, move held "
        "customers' mail, send approved replies. With no --config: embedded defaults.",
    )
    p.add_argument("--config", metavar="FILE", help="the YAML config file (default: embedded defaults)")
    p.add_argument("--once", action="store_true",
                   help="process what is waiting, print a summary, then exit (console not started)")
    p.add_argument("--quiet", action="store_true", help="no summary on stdout after --once (for cron)")
    p.add_argument("--check", action="store_true",
                   help="check the config, secrets, console users, helpdesks, policy and rules as the daemon "
                   "would at start, report every problem, and exit (0: ready to start) without reading mail")
    p.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                   help="log level of the JSON logs on stderr (default INFO)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gateway.config import load_config
    from gateway.daemon import default_config, run_daemon
    from gateway.logging import setup_logging

    setup_logging(args.log_level)
    config = load_config(Path(args.config)) if args.config else default_config()
    if args.check:
        return _check(config, args.config or "the embedded defaults")
    started = datetime.now(timezone.utc)
    status = run_daemon(config, once=args.once, announce=_say, settle_heap=True)
    if args.once and not args.quiet:
        _say(_summary(config, started))
    return status


def _check(config: "Config", name: str) -> int:
    from gateway.configcheck import check_config

    report = check_config(config)
    for line in report.lines:
        _say(line)
    if report.ok:
        _say(f"\n{name}: ready to start")
        return 0
    for problem in report.problems:
        print(f"harassment-gateway: error: {problem}", file=sys.stderr)
    _say(f"\n{name}: {len(report.problems)} problem(s); the daemon would not start")
    return 2


def _say(line: str) -> None:
    """A line for the operator's terminal: stdout, flushed (it may be a pipe)."""
    print(line, file=sys.stdout, flush=True)


def _summary(config: "Config", started: datetime) -> str:
    from gateway.cli.run_summary import format_summary, read_summary
    from gateway.store.db import Database

    path = Path(config.resolve(config.store.path))
    db = Database.open(path)
    try:
        summary = read_summary(db, started)
    finally:
        db.close()
    return "\n" + format_summary(summary, db_path=path, console=config.console.listen)
