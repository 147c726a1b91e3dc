"""``harassment-gateway history CUSTOMER``: a customer's contact timeline with findings, in the
terminal — every message of every linked key, oldest first, abusive passages masked, and the
customer's contact holds (proposed, active and closed) with their state."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from gateway.cli.storeopts import add_db, open_db, print_json, short
from gateway.contact import ContactSettings, ContactTracker
from gateway.contact.settings import parse_duration
from gateway.errors import PolicyError
from gateway.holds import Hold, HoldStore
from gateway.store.messages import SqliteMessageStore, StoredMessage

CONTACT_CATEGORIES = {"persistent_contact", "duplicate_contact"}


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "history", help="a customer's contact timeline with findings",
        description="Show every stored message of a customer (all linked addresses and helpdesk ids), "
        "oldest first, with the findings recorded for each, and the customer's contact holds.",
    )
    parser.add_argument("customer", help="an address or helpdesk key, e.g. ann@example.com or zendesk:123")
    add_db(parser)
    parser.add_argument("--since", metavar="DURATION", default=None, help="only the last DURATION (e.g. 24h, 30d)")
    parser.add_argument("--limit", type=int, default=200, help="show at most the N most recent messages (default 200)")
    parser.add_argument("--policy", metavar="FILE", default=None, help="policy.yaml whose contact windows apply")
    parser.add_argument("--json", action="store_true", help="JSON instead of the timeline")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        since = datetime.now(timezone.utc) - parse_duration(args.since, "--since") if args.since else None
    except PolicyError as exc:
        raise PolicyError(str(exc).replace("policy.yaml ", "")) from None
    with open_db(args) as db:
        store = SqliteMessageStore(db)
        tracker = ContactTracker(store, ContactSettings.load(Path(args.policy) if args.policy else None))
        history = tracker.history(args.customer)
        rows = store.customer_messages(args.customer, since=since)[-max(1, args.limit) :]
        holds = customer_holds(HoldStore(db), history.keys or [history.customer])
        from gateway.disputes import Disputes

        disputed: dict[str, dict[str, Any]] = {}
        for d in Disputes(db).list(history.customer):
            disputed.setdefault(d.message_id, {})[d.category] = d
        if args.json:
            print_json({"history": history.to_json(), "holds": [h.to_json() for h in holds],
                        "messages": [_message_json(r, disputed.get(r.id, {})) for r in rows]})
            return 0
        print(render(history, rows, holds, disputed))
        return 0


def customer_holds(store: HoldStore, keys: list[str]) -> list[Hold]:
    """Every hold on any of the customer's linked keys, oldest first."""
    return sorted((h for key in dict.fromkeys(keys) for h in store.for_customer(key)), key=lambda h: h.id)


def render(history, rows: list[StoredMessage], holds: Sequence[Hold] = (),  # type: ignore[no-untyped-def]
           disputed: dict[str, dict[str, Any]] | None = None) -> str:
    """The timeline as text: a header with the customer's totals and holds, then one block per
    message; a finding an agent or lead disputed (``disputed``: message id -> category -> Dispute)
    is marked so."""
    disputed = disputed or {}
    others = [k for k in history.keys if k != history.customer]
    lines = [f"customer {history.customer}" + (f" (also {', '.join(others)})" if others else "")]
    for hold in holds:
        lines.append(f"  {_hold_line(hold)}")
    if not history.messages_total:
        lines.append("  no messages stored")
        return "\n".join(lines)
    counts = ", ".join(f"{c} {n}" for c, n in sorted(history.finding_counts.items(), key=lambda kv: (-kv[1], kv[0])))
    lines.append(f"  {history.messages_total} messages, last {_when(history.last_seen)}")
    lines.append(f"  messages with findings: {counts or 'none'}")
    if history.window_breaches:
        lines.append(f"  rate windows breached by the latest message: {', '.join(history.window_breaches)}")
    if len(rows) < history.messages_total:
        lines.append(f"  (showing the {len(rows)} most recent)")
    for row in rows:
        lines.append("")
        where = f"{row.source or '-'}" + (f"  thread {short(row.thread, 40)}" if row.thread else "")
        key = f"  as {row.customer}" if row.customer != history.customer else ""
        lines.append(f"{_when(row.received_at)}  {where}{key}  {short(row.id, 60)}")
        lines.append(f"    {_excerpt(row)}")
        for f in row.findings:
            d = disputed.get(row.id, {}).get(f.category)
            if d is not None:
                lines.append(f"    - {f.category} DISPUTED by {d.actor}: {short(d.reason, 90)} (not counted)")
                continue
            lines.append(f"    ! {f.category} ({f.severity.label}, {f.score:.2f}) {f.rule}: {short(f.reason, 110)}")
            if f.related:
                lines.append(f"      related: {short(', '.join(f.related), 100)}")
    return "\n".join(lines)


def _hold_line(hold: Hold) -> str:
    """One line per hold: what it covers, its state and when that state began or ends."""
    scope = hold.scope + (f" {short(hold.thread, 40)}" if hold.scope == "thread" and hold.thread else "")
    since = hold.closed_at or hold.decided_at or hold.created_at
    line = f"hold #{hold.id} {hold.state} ({scope}; {', '.join(hold.categories) or '-'}) since {_when(since)}"
    if hold.state == "active" and hold.expires_at:
        line += f", expires {_when(hold.expires_at)}"
    who = hold.closed_by or hold.decided_by
    return line + (f" by {who}" if who else "")


def _excerpt(row: StoredMessage) -> str:
    if row.text is None:
        return "(text purged by retention; fingerprints and findings kept)"
    text = row.text
    try:
        from gateway.detect import mask

        text = mask(text, [f for f in row.findings if f.category not in CONTACT_CATEGORIES])
    except ImportError:  # detection not installed: show the text as stored
        pass
    return f'"{short(text, 100)}"'


def _when(moment: datetime | None) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC") if moment else "-"


def _message_json(row: StoredMessage, disputed: dict[str, Any]) -> dict[str, object]:
    return {
        "disputes": [d.to_json() for d in disputed.values()],
        "id": row.id,
        "source": row.source,
        "customer": row.customer,
        "thread": row.thread,
        "received_at": row.received_at.isoformat(),
        "lang": row.lang,
        "text_purged": row.text is None,
        "findings": [f.to_json() for f in row.findings],
    }
