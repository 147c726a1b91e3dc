"""``harassment-gateway disputes add|list|export``: tags an agent or lead says are wrong.

``add`` withdraws a message's category from the customer's standing record (see
gateway/disputes.py), with the reason in the audit trail; ``export`` writes the disputed messages
as labeled JSON Lines that ``eval`` reads, to measure a rule change on the mistakes people
corrected.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from gateway.cli.storeopts import actor, add_actor, add_db, open_db, print_json, short
from gateway.errors import GatewayError


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("disputes", help="dispute a wrong tag, list disputes, export them for eval")
    sub = parser.add_subparsers(dest="disputes_command", metavar="ACTION", required=True)

    p = sub.add_parser("add", help="dispute a message's categories (default: all it has); they stop counting")
    p.add_argument("message_id", metavar="MESSAGE_ID", help="the message's id, e.g. '<abc@example.com>'")
    p.add_argument("--category", action="append", default=None, metavar="NAME",
                   help="a category to dispute (repeat for several; default: every category it still has)")
    p.add_argument("--reason", required=True, help="why the tag is wrong (kept in the audit trail)")
    add_db(p)
    add_actor(p)
    p.set_defaults(func=_add)

    p = sub.add_parser("list", help="every dispute, oldest first, or one customer's")
    p.add_argument("--customer", default=None, metavar="KEY")
    add_db(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_list)

    p = sub.add_parser("export", help="the disputed messages still stored, as JSON Lines for `eval`")
    add_db(p)
    p.add_argument("-o", "--output", metavar="FILE", default=None, help="write here (default: standard output)")
    p.set_defaults(func=_export)


def _add(args: argparse.Namespace) -> int:
    from gateway.disputes import Disputes

    with open_db(args) as db:
        done = Disputes(db).dispute(args.message_id, actor(args), args.reason, args.category, origin="cli")
        print(f"disputed {', '.join(done)} on {args.message_id}: no longer counted in the customer's record")
        return 0


def _list(args: argparse.Namespace) -> int:
    from gateway.disputes import Disputes

    with open_db(args) as db:
        found = Disputes(db).list(args.customer)
        if args.json:
            print_json([d.to_json() for d in found])
            return 0
        if not found:
            print("no disputes")
            return 0
        print(f"{'WHEN':<16}  {'CATEGORY':<24} {'CUSTOMER':<28} {'BY':<12} {'FROM':<16} {'MESSAGE':<30} REASON")
        for d in found:
            print(f"{d.created_at.isoformat()[:16].replace('T', ' '):<16}  {d.category:<24} {short(d.customer, 28):<28} "
                  f"{short(d.actor, 12):<12} {short(d.origin or '-', 16):<16} {short(d.message_id, 30):<30} "
                  f"{short(d.reason, 60)}")
        return 0


def _export(args: argparse.Namespace) -> int:
    from gateway.disputes import Disputes

    with open_db(args) as db:
        lines = [json.dumps(e, ensure_ascii=False) + "\n" for e in Disputes(db).examples()]
    if args.output is None:
        sys.stdout.writelines(lines)
    else:
        try:
            Path(args.output).write_text("".join(lines), encoding="utf-8")
        except OSError as exc:
            raise GatewayError(f"cannot write {args.output}: {exc.strerror or exc}") from None
        print(f"wrote {len(lines)} disputed message(s) to {args.output}", file=sys.stderr)
    return 0
