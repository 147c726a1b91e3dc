"""``harassment-gateway escalations list|ack``: the escalations a lead has not acknowledged, from a
shell (the console's Escalations page does the same)."""

from __future__ import annotations

import argparse

from gateway.cli.storeopts import actor, add_actor, add_db, open_db, print_json, short
from gateway.effects import EscalationStore
from gateway.errors import PolicyError

#: ``waiting``: not acknowledged yet, mailed or not (what the console lists)
_STATES = ("waiting", "open", "notified", "acknowledged", "all")


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("escalations", help="list escalations, or acknowledge them")
    sub = parser.add_subparsers(dest="escalations_command", metavar="ACTION", required=True)

    p = sub.add_parser("list", help="escalations, oldest first (default: waiting for a lead)")
    add_db(p)
    p.add_argument("--state", choices=_STATES, default="waiting",
                   help="waiting (not acknowledged: open or notified), open (not mailed yet), notified, "
                        "acknowledged, or all")
    p.add_argument("--customer", default=None)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_list)

    p = sub.add_parser("ack", help="acknowledge escalations, saying what was done (for the audit trail)")
    add_db(p)
    add_actor(p)
    p.add_argument("ids", type=int, nargs="+", metavar="ID")
    p.add_argument("--reason", required=True, help="what was done: called the customer, told legal, ...")
    p.set_defaults(func=_ack)


def _list(args: argparse.Namespace) -> int:
    with open_db(args) as db:
        store = EscalationStore(db)
        if args.state == "waiting":
            found = store.waiting(customer=args.customer)
        else:
            found = store.list(state=None if args.state == "all" else args.state, customer=args.customer)
    if args.json:
        print_json([e.to_json() for e in found])
        return 0
    if not found:
        print("no escalations")
        return 0
    print(f"{'ID':>4}  {'STATE':<12} {'PRIORITY':<8} {'CREATED':<17} {'CUSTOMER':<32} CATEGORIES / RULES")
    for e in found:
        print(f"{e.id:>4}  {e.state:<12} {e.priority:<8} {e.created_at:%Y-%m-%d %H:%M} {short(e.customer, 32):<32} "
              f"{', '.join(e.categories)} / {', '.join(e.rules)}")
    return 0


def _ack(args: argparse.Namespace) -> int:
    reason = args.reason.strip()
    if not reason:
        raise PolicyError("escalations ack: --reason must say what was done (it goes into the audit trail)")
    who = actor(args)
    with open_db(args) as db:
        done = set(EscalationStore(db).acknowledge_many(args.ids, who, reason))  # all named, or none
    for esc_id in dict.fromkeys(args.ids):
        print(f"escalation {esc_id}: acknowledged (by {who})" if esc_id in done else
              f"escalation {esc_id}: already acknowledged")
    return 0
