"""``harassment-gateway audit verify|list``: check the hash chain; read the trail."""

from __future__ import annotations

import argparse
import sys

from gateway.audit import AuditLog
from gateway.cli.storeopts import add_db, open_db, print_json, short


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("audit", help="verify or list the audit trail")
    sub = parser.add_subparsers(dest="audit_command", metavar="ACTION", required=True)

    p = sub.add_parser("verify", help="check the hash chain; exit 1 and name the first broken entry if tampered")
    add_db(p)
    p.set_defaults(func=_verify)

    p = sub.add_parser("list", help="audit entries, newest first")
    add_db(p)
    p.add_argument("--subject", default=None, help="e.g. hold:3, draft:7, message:<id>")
    p.add_argument("--actor", default=None)
    p.add_argument("--action", default=None, help="exact, or a prefix ending in '.' (hold.)")
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_list)


def _verify(args: argparse.Namespace) -> int:
    with open_db(args) as db:
        result = AuditLog(db).verify()
    if result.ok:
        print(f"audit chain intact: {result.checked} entries verified")
        return 0
    print(f"audit chain BROKEN at entry {result.first_bad}: {result.problem}", file=sys.stderr)
    print(f"({result.checked} entries before it verified)", file=sys.stderr)
    return 1


def _list(args: argparse.Namespace) -> int:
    with open_db(args) as db:
        entries = AuditLog(db).entries(subject=args.subject, actor=args.actor, action=args.action,
                                       limit=args.limit, newest_first=True)
    if args.json:
        print_json([e.to_json() for e in entries])
        return 0
    for e in entries:
        print(f"{e.seq:>6}  {e.at.strftime('%Y-%m-%d %H:%M:%S')}  {short(e.actor, 16):<16} {e.action:<18} "
              f"{short(e.subject, 30):<30} {short(e.reason, 60)}")
    return 0
