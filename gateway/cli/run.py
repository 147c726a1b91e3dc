"""``harassment-gateway run [--config FILE] [--once]``: the daemon.

Without ``--config`` it runs on the embedded defaults (sample Maildir copied to ./hg-mail, store
./gateway.db, console on 127.0.0.1:8080), so a new user sees the whole flow at once.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "run",
        help="run the gateway daemon over the configured mailboxes",
        description="Read the configured mailboxes, analyse every message, set keywords, move held "
        "customers' mail, send approved replies. With no --config: embedded defaults.",
    )
    p.add_argument("--config", metavar="FILE", help="the YAML config file (default: embedded defaults)")
    p.add_argument("--once", action="store_true", help="process what is waiting, then exit (console not started)")
    p.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                   help="log level of the JSON logs on stderr (default INFO)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gateway.config import load_config
    from gateway.daemon import default_config, run_daemon
    from gateway.logging import setup_logging

    setup_logging(args.log_level)
    config = load_config(Path(args.config)) if args.config else default_config()
    return run_daemon(config, once=args.once)
