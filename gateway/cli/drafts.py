"""``harassment-gateway drafts list|show|approve|discard``: the reply drafts queue from a shell."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gateway.cli.storeopts import actor, add_actor, add_db, open_db, print_json, short
from gateway.drafts import STATES, DraftError, DraftStore


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("drafts", help="list, show, approve or discard reply drafts")
    sub = parser.add_subparsers(dest="drafts_command", metavar="ACTION", required=True)

    p = sub.add_parser("list", help="drafts, newest first (default: pending)")
    add_db(p)
    p.add_argument("--state", choices=STATES + ("all",), default="pending")
    p.add_argument("--customer", default=None)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_list)

    p = sub.add_parser("show", help="one draft: headers and body")
    add_db(p)
    p.add_argument("id", type=int)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_show)

    p = sub.add_parser("approve", help="approve a pending draft for sending (optionally edited first)")
    add_db(p)
    add_actor(p)
    p.add_argument("id", type=int)
    p.add_argument("--body-file", metavar="FILE", default=None,
                   help="replace the body with this file's text before approving ('-' for stdin)")
    p.add_argument("--subject", default=None, help="replace the subject before approving")
    p.add_argument("--reason", default=None)
    p.set_defaults(func=_approve)

    p = sub.add_parser("discard", help="discard a pending draft; nothing will be sent")
    add_db(p)
    add_actor(p)
    p.add_argument("id", type=int)
    p.add_argument("--reason", default=None)
    p.set_defaults(func=_discard)


def _list(args: argparse.Namespace) -> int:
    with open_db(args) as db:
        drafts = DraftStore(db).list(state=None if args.state == "all" else args.state, customer=args.customer)
    if args.json:
        print_json([d.to_json() for d in drafts])
        return 0
    if not drafts:
        print("no drafts")
        return 0
    print(f"{'ID':>4}  {'STATE':<9} {'TEMPLATE':<14} {'CUSTOMER':<32} SUBJECT")
    for d in drafts:
        print(f"{d.id:>4}  {d.state:<9} {d.lang + '/' + d.template:<14} {short(d.customer, 32):<32} {short(d.subject, 60)}")
    return 0


def _show(args: argparse.Namespace) -> int:
    with open_db(args) as db:
        d = DraftStore(db).get(args.id)
    if args.json:
        print_json(d.to_json())
        return 0
    print(f"draft {d.id}: {d.state}  ({d.lang}/{d.template}, rule {d.rule or '-'}, message {d.message_id or '-'})")
    print(f"To: {d.to_address}")
    print(f"Subject: {d.subject}")
    if d.in_reply_to:
        print(f"In-Reply-To: {d.in_reply_to}")
    print()
    print(d.body.rstrip("\n"))
    if d.edited:
        print(f"\n(edited by {d.edited_by})")
    if d.error:
        print(f"\nerror: {d.error}")
    return 0


def _approve(args: argparse.Namespace) -> int:
    body = None
    if args.body_file:
        try:
            body = sys.stdin.read() if args.body_file == "-" else Path(args.body_file).read_text(encoding="utf-8")
        except OSError as exc:
            raise DraftError(f"cannot read {args.body_file}: {exc.strerror or exc}") from exc
    who = actor(args)
    with open_db(args) as db:
        d = DraftStore(db).approve(args.id, who, body=body, subject=args.subject, reason=args.reason or "")
    print(f"draft {d.id}: {d.state}{' (edited)' if d.edited else ''} (by {who})")
    return 0


def _discard(args: argparse.Namespace) -> int:
    who = actor(args)
    with open_db(args) as db:
        d = DraftStore(db).discard(args.id, who, args.reason or "")
    print(f"draft {d.id}: {d.state} (by {who})")
    return 0
