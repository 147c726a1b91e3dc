"""Policy and effects throughput: Policy.decide (pure), CoreEffects.apply (SQLite file, one
transaction per message: decision record, holds/drafts/escalations, audit entry), and
AuditLog.verify over the resulting chain. One process, no network.

    python bench/bench_policy.py [--count 5000]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gateway.audit import AuditLog  # noqa: E402
from gateway.contact.history import CustomerHistory  # noqa: E402
from gateway.effects import CoreEffects  # noqa: E402
from gateway.model import Evidence, Finding, Message, Severity  # noqa: E402
from gateway.policy import Policy  # noqa: E402
from gateway.store.db import Database  # noqa: E402

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
MIX = [  # (share, findings): mostly clean mail, as in a real support inbox
    (0.80, []),
    (0.08, [("verbal_abuse", "medium")]),
    (0.04, [("staff_punishment_demand", "medium"), ("escalation_pressure", "low")]),
    (0.03, [("escalation_pressure", "low")]),
    (0.02, [("persistent_contact", "low")]),
    (0.02, [("threat", "high")]),
    (0.01, [("threat", "critical")]),
]


def sample(rng: random.Random, i: int) -> tuple[Message, list[Finding], CustomerHistory]:
    r, acc = rng.random(), 0.0
    spec: list[tuple[str, str]] = []
    for share, s in MIX:
        acc += share
        if r <= acc:
            spec = s
            break
    customer = f"c{rng.randrange(2000)}@example.com"
    text = "Please check my order, it has not arrived yet. " * 3
    msg = Message(id=f"m{i}", text=text, sender=customer, sender_address=customer, thread=f"t{i % 500}",
                  subject="Order", source="imap", lang=rng.choice(["en", "ja"]),
                  received_at=T0 + timedelta(seconds=i))
    findings = [Finding(c, Severity.parse(s), 0.9, [Evidence(0, 6, text[:6])], "bench", "bench") for c, s in spec]
    history = CustomerHistory(customer=customer, finding_counts={"verbal_abuse": rng.choice([0, 0, 1, 2, 3])})
    return msg, findings, history


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=5000)
    args = parser.parse_args()
    rng = random.Random(7)
    items = [sample(rng, i) for i in range(args.count)]
    policy = Policy.load()

    start = time.perf_counter()
    decisions = [policy.decide(m, f, h) for m, f, h in items]
    decide_s = time.perf_counter() - start

    with tempfile.TemporaryDirectory() as tmp:
        db = Database.open(Path(tmp) / "bench.db")
        effects = CoreEffects(db, policy)
        start = time.perf_counter()
        for (m, f, _), d in zip(items, decisions):
            effects.apply(m, f, d)
        apply_s = time.perf_counter() - start
        start = time.perf_counter()
        for (m, f, _), d in zip(items[:1000], decisions[:1000]):
            effects.apply(m, f, d)  # re-deliveries: idempotent no-ops
        replay_s = time.perf_counter() - start
        audit = AuditLog(db)
        start = time.perf_counter()
        result = audit.verify()
        verify_s = time.perf_counter() - start
        assert result.ok
        holds, drafts = len(effects.holds.list()), len(effects.drafts.list())

    n = args.count
    print(f"messages:            {n}")
    print(f"Policy.decide:       {n / decide_s:,.0f} decisions/s ({decide_s * 1e6 / n:.1f} us each)")
    print(f"CoreEffects.apply:   {n / apply_s:,.0f} messages/s ({apply_s * 1e3 / n:.2f} ms each; "
          f"{holds} holds, {drafts} drafts)")
    print(f"re-delivery no-op:   {1000 / replay_s:,.0f} messages/s")
    print(f"AuditLog.verify:     {result.checked} entries in {verify_s:.2f} s "
          f"({result.checked / verify_s:,.0f} entries/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
