"""``harassment-gateway holds list|show|approve|reject|lift``: the leads' hold queue from a shell."""

from __future__ import annotations

import argparse

from gateway.cli.storeopts import actor, add_actor, add_db, open_db, print_json, short
from gateway.holds import STATES, Hold, HoldStore


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("holds", help="list, show, approve, reject or lift contact holds")
    sub = parser.add_subparsers(dest="holds_command", metavar="ACTION", required=True)

    p = sub.add_parser("list", help="holds, newest first (default: proposed and active)")
    add_db(p)
    p.add_argument("--state", choices=STATES + ("all",), default=None)
    p.add_argument("--customer", default=None)
    p.add_argument("--json", action="store_true", help="JSON instead of a table")
    p.set_defaults(func=_list)

    p = sub.add_parser("show", help="one hold with its evidence and history")
    add_db(p)
    p.add_argument("id", type=int)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_show)

    for verb, needs_reason, text in (("approve", False, "proposed -> active"), ("reject", True, "proposed -> rejected"),
                                     ("lift", True, "active -> lifted")):
        p = sub.add_parser(verb, help=text)
        add_db(p)
        add_actor(p)
        p.add_argument("id", type=int)
        p.add_argument("--reason", required=needs_reason, default=None, help="why (kept in the audit trail)")
        if verb == "approve":
            p.add_argument("--expiry-days", type=int, default=None, help="override the proposal's expiry")
        p.set_defaults(func=_transition, verb=verb)


def _list(args: argparse.Namespace) -> int:
    with open_db(args) as db:
        store = HoldStore(db)
        if args.state in (None, "all"):
            holds = store.list(customer=args.customer)
            if args.state is None:
                holds = [h for h in holds if h.is_open]
        else:
            holds = store.list(state=args.state, customer=args.customer)
    if args.json:
        print_json([h.to_json() for h in holds])
        return 0
    if not holds:
        print("no holds")
        return 0
    print(f"{'ID':>4}  {'STATE':<9} {'SCOPE':<12} {'CUSTOMER':<32} {'CREATED':<20} REASON")
    for h in holds:
        print(f"{h.id:>4}  {h.state:<9} {h.scope:<12} {short(h.customer, 32):<32} "
              f"{h.created_at.strftime('%Y-%m-%d %H:%M UTC'):<20} {short(h.reason, 60)}")
    return 0


def _show(args: argparse.Namespace) -> int:
    with open_db(args) as db:
        hold = HoldStore(db).get(args.id)
    if args.json:
        print_json(hold.to_json())
        return 0
    print(describe(hold))
    return 0


def describe(hold: Hold) -> str:
    lines = [
        f"hold {hold.id}: {hold.state}",
        f"  customer: {hold.customer}",
        f"  scope:    {hold.scope}" + (f" (thread {hold.thread})" if hold.thread else "")
        + (f" on {hold.source}" if hold.source else ""),
        f"  reason:   {hold.reason}" + (f" [rule {hold.rule}]" if hold.rule else ""),
        f"  expires:  {hold.expires_at.isoformat() if hold.expires_at else '-'}",
        f"  messages: {', '.join(hold.message_ids) or '-'}",
        "  evidence:",
    ]
    for e in hold.evidence:
        spans = "; ".join(repr(s.get("text", "")) for s in e.get("evidence", []))
        lines.append(f"    - {e.get('category', '?')} ({e.get('severity', '?')}) in {e.get('message_id', '?')}: {spans}")
    lines.append("  history:")
    for ev in hold.events:
        lines.append(f"    {ev.at.isoformat()}  {ev.actor:<16} {ev.action:<8} "
                     f"{ev.from_state or '-'} -> {ev.to_state}  {ev.reason}")
    return "\n".join(lines)


def _transition(args: argparse.Namespace) -> int:
    who = actor(args)
    with open_db(args) as db:
        store = HoldStore(db)
        if args.verb == "approve":
            hold = store.approve(args.id, who, args.reason or "approved", expiry_days=args.expiry_days)
        elif args.verb == "reject":
            hold = store.reject(args.id, who, args.reason)
        else:
            hold = store.lift(args.id, who, args.reason)
    print(f"hold {hold.id}: {hold.state} (by {who})")
    return 0
