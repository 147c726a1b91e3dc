"""How many customers would the default contact windows flag in real complaint traffic?

The Twitter US Airline Sentiment tweets (../shared/data/airline_tweets) carry a hashed user key
and the tweet time. Each tweet is run through ``ContactTracker`` in time order with the shipped
policy (thread windows do not apply: tweets have no thread), and the script reports how many
customers breached each window, how many sent near-duplicates, and shows the flagged customers'
tweets so a person can judge whether the thresholds are sane.

    python bench/airline_windows.py [--show 8] [--data DIR]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gateway.contact import ContactSettings, ContactTracker  # noqa: E402
from gateway.contact.settings import parse_duration  # noqa: E402
from gateway.model import Message  # noqa: E402
from gateway.store.memory import MemoryMessageStore  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "airline_tweets"


def load(data_dir: Path) -> list[Message]:
    out = []
    for path in sorted(data_dir.glob("*.jsonl")):
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                row = json.loads(line)
                meta = row.get("meta") or {}
                if not meta.get("user_key") or not meta.get("tweet_created"):
                    continue
                when = datetime.strptime(meta["tweet_created"], "%m/%d/%Y %H:%M").replace(tzinfo=timezone.utc)
                out.append(Message(id=str(row["id"]), text=row["text"], sender=f"tw:{meta['user_key']}",
                                   source="twitter", received_at=when))
    out.sort(key=lambda m: (m.received_at, m.id))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--show", type=int, default=8, help="flagged customers whose tweets are printed")
    ap.add_argument("--burst", default=None, help="override contact.burst (e.g. 0, 2m, 5m) to compare")
    ap.add_argument("--burst-max", type=int, default=None,
                    help="override contact.burst_max (messages in one contact at most; 0: no limit)")
    args = ap.parse_args()
    if not args.data.is_dir():
        print(f"no data at {args.data}", file=sys.stderr)
        return 2
    messages = load(args.data)
    settings = ContactSettings.load()
    if args.burst is not None:
        burst = timedelta(0) if args.burst in ("0", "") else parse_duration(args.burst, "--burst")
        settings = dataclasses.replace(settings, burst=burst)
    if args.burst_max is not None:
        settings = dataclasses.replace(settings, burst_max=args.burst_max)
    tracker = ContactTracker(MemoryMessageStore(), settings)
    per_customer = Counter(m.sender for m in messages)
    breached: dict[str, set[str]] = defaultdict(set)
    duplicates: dict[str, int] = Counter()
    findings_by_msg: dict[str, list[str]] = {}
    for m in messages:
        found = tracker.observe(m, [])
        findings_by_msg[m.id] = [f.rule for f in found]
        for f in found:
            if f.rule == "contact.rate_window":
                breached[m.sender].update(f.details["breached"])
            elif f.rule == "contact.near_duplicate":
                duplicates[m.sender] += 1
    span = (messages[-1].received_at - messages[0].received_at) if messages else None
    print(f"# burst gap: {settings.burst}, at most {settings.burst_max or 'any number of'} messages a contact")
    print(f"# airline tweets: {len(messages):,} tweets from {len(per_customer):,} customers over {span}")
    hist = Counter(min(n, 10) for n in per_customer.values())
    print("tweets per customer: " + ", ".join(f"{k if k < 10 else '10+'}: {hist[k]}" for k in sorted(hist)))
    windows = Counter(w for ws in breached.values() for w in ws)
    print(f"customers flagged by a rate window: {len(breached)} "
          f"({len(breached) / max(1, len(per_customer)):.2%}); by window: {dict(sorted(windows.items()))}")
    print(f"customers with near-duplicates: {len(duplicates)}; messages flagged duplicate: {sum(duplicates.values())}")
    flagged_msgs = sum(1 for rules in findings_by_msg.values() if "contact.rate_window" in rules)
    print(f"tweets flagged persistent_contact by a window: {flagged_msgs} ({flagged_msgs / max(1, len(messages)):.2%})")
    shown = sorted(set(breached) | set(duplicates), key=lambda c: -per_customer[c])[: args.show]
    for customer in shown:
        print(f"\n## {customer}: {per_customer[customer]} tweets; windows {sorted(breached.get(customer, []))}; "
              f"duplicates {duplicates.get(customer, 0)}")
        for m in (x for x in messages if x.sender == customer):
            rules = ",".join(r.replace("contact.", "") for r in findings_by_msg[m.id]) or "-"
            print(f"  {m.received_at:%m-%d %H:%M}  [{rules}]  {' '.join(m.text.split())[:110]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
