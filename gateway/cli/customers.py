"""``harassment-gateway customers link A B`` and ``customers show [KEY]``: one customer across
email addresses and helpdesk requester ids. Linking merges histories at once (rate windows,
duplicates, finding counts) and is recorded in the audit trail."""

from __future__ import annotations

import argparse

from gateway.cli.storeopts import actor, add_actor, add_db, open_db, print_json, short
from gateway.store.messages import SqliteMessageStore


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("customers", help="link a customer's addresses and helpdesk ids, or show them")
    sub = parser.add_subparsers(dest="customers_command", metavar="ACTION", required=True)

    p = sub.add_parser("link", help="make B the same customer as A (histories merge)")
    p.add_argument("a", metavar="A", help="the key that stays canonical, e.g. ann@example.com")
    p.add_argument("b", metavar="B", help="the key to join to it, e.g. zendesk:123")
    add_db(p)
    add_actor(p)
    p.add_argument("--reason", default="", help="why they are the same person (kept in the audit trail)")
    p.set_defaults(func=_link)

    p = sub.add_parser("show", help="one customer's keys and totals, or every customer")
    p.add_argument("key", nargs="?", default=None)
    add_db(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_show)


def _link(args: argparse.Namespace) -> int:
    with open_db(args) as db:
        store = SqliteMessageStore(db)
        before = (store.resolve_customer(args.a), store.resolve_customer(args.b))
        canonical = store.link_customers(args.a, args.b)
        keys = store.customer_keys(canonical)
        if before[0] != before[1]:
            from gateway.audit import AuditLog

            AuditLog(db).append(actor(args), "customer.link", f"customer:{canonical}", args.reason,
                                {"linked": [args.a, args.b], "keys": keys})
            print(f"linked {args.b} to {canonical}: {', '.join(keys)}")
        else:
            print(f"{args.a} and {args.b} are already one customer ({canonical}): {', '.join(keys)}")
        return 0


def _show(args: argparse.Namespace) -> int:
    with open_db(args) as db:
        store = SqliteMessageStore(db)
        keys = [args.key] if args.key else store.customers()
        summaries = []
        for key in keys:
            total, last = store.customer_stats(key)
            summaries.append({
                "customer": store.resolve_customer(key),
                "keys": store.customer_keys(key),
                "messages_total": total,
                "last_seen": last.received_at.isoformat() if last else None,
                "finding_counts": store.finding_counts(key),
            })
        if args.json:
            print_json(summaries[0] if args.key else summaries)
            return 0
        if not summaries:
            print("no customers stored")
            return 0
        print(f"{'CUSTOMER':<36} {'MSGS':>5}  {'LAST SEEN':<20} {'KEYS':<40} FINDINGS")
        for s in summaries:
            counts = ", ".join(f"{c} {n}" for c, n in s["finding_counts"].items()) or "-"
            last_seen = (s["last_seen"] or "-")[:16].replace("T", " ")
            print(f"{short(s['customer'], 36):<36} {s['messages_total']:>5}  {last_seen:<20} "
                  f"{short(', '.join(s['keys']), 40):<40} {counts}")
        return 0
