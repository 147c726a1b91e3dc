"""``harassment-gateway report [--since 7d|DATE] [--until DATE] [--json]``: a team lead's review of
what the gateway did over a period and how often people overruled it (gateway/report.py)."""

from __future__ import annotations

import argparse
import re
from datetime import datetime, timedelta, timezone

from gateway.cli.storeopts import add_db, open_db, print_json
from gateway.errors import GatewayError

_AGO = re.compile(r"^(\d+)([dh])$")


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser("report", help="what the gateway did over a period, and how often people overruled it")
    p.add_argument("--since", default="7d", metavar="WHEN",
                   help="start: 7d, 24h (ago), or a date / ISO 8601 time in UTC (default: 7d)")
    p.add_argument("--until", default=None, metavar="WHEN", help="end, the same forms (default: now)")
    add_db(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_report)


def parse_when(value: str, now: datetime, *, option: str) -> datetime:
    """``7d`` / ``24h`` before ``now``, or a date or ISO 8601 time (UTC when it names no zone)."""
    match = _AGO.match(value.strip())
    if match:
        n, unit = int(match.group(1)), match.group(2)
        return now - (timedelta(days=n) if unit == "d" else timedelta(hours=n))
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        raise GatewayError(f"{option}: expected 7d, 24h, a date (2026-11-01) or an ISO 8601 time, got {value!r}") from None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def _report(args: argparse.Namespace) -> int:
    from gateway.report import build_report, format_report

    now = datetime.now(timezone.utc)
    since = parse_when(args.since, now, option="--since")
    until = parse_when(args.until, now, option="--until") if args.until else now
    if since >= until:
        raise GatewayError("--since must be before --until")
    with open_db(args) as db:
        report = build_report(db, since, until)
    if args.json:
        print_json(report)
    else:
        print(format_report(report))
    return 0
