"""Freshdesk connector: API calls per processed conversation, and connector overhead per conversation.

Runs the connector against the in-memory fake Freshdesk account of the contract tests (respx, no
network): ``N`` tickets, one customer conversation each, half of them tagged by a verdict (tags +
private note; every fourth of those also held), and a share of the tagged ones whose tag list is
replaced by a concurrent writer right after our write (re-read -> merge again -> write again).
Schema validation of the fake is switched off so the time is the connector's own (plus respx).

    python bench/bench_freshdesk.py [N] [race_share]
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import respx  # noqa: E402

import tests.contract.freshdesk_fake as fake_module  # noqa: E402
from connectors.freshdesk.connector import FreshdeskConnector  # noqa: E402
from gateway.model import Action, Decision  # noqa: E402
from gateway.store.db import Database  # noqa: E402
from tests.contract.freshdesk_fake import FakeFreshdesk, Sleeps, make_config  # noqa: E402


async def run(n: int, race_share: float, db_path: Path) -> None:
    fake_module.VALIDATE = False
    with respx.mock(assert_all_called=False) as router:
        fake = FakeFreshdesk(router, per_page_default=100)
        for i in range(n):
            fake.add_contact(10_000 + i, f"customer{i}@example.com")
            fake.add_ticket(i + 1, 10_000 + i, f"Question number {i}", source=2)
        fake.tick(5)
        db = Database.open(db_path)
        connector = FreshdeskConnector(make_config(per_page=100), db, sleep=Sleeps(), now=lambda: fake.now)
        started = time.perf_counter()
        messages = await connector.fetch_new()
        fetched = time.perf_counter()
        list_calls = len(fake.calls_to("GET", "/api/v2/tickets")) - len(fake.calls_to("GET", "/api/v2/tickets/"))
        conv_calls = len(fake.calls_to("GET", "/conversations"))
        fake.calls.clear()
        tagged = clean = raced = 0
        tagged_calls = clean_calls = 0
        races_every = int(1 / race_share) if race_share > 0 else 0
        for k, message in enumerate(messages):
            if k % 2:
                before = len(fake.calls)
                await connector.apply(message, Decision(message.id), "")
                clean += 1
                clean_calls += len(fake.calls) - before
                continue
            hold = (k // 2) % 4 == 0
            decision = Decision(message.id, tags=["hg_verbal_abuse"], categories=["verbal_abuse"],
                                actions=[Action("hold", {"mode": "apply"})] if hold else [], held=hold)
            if races_every and tagged % races_every == 0:
                tid = int(message.external["ticket_id"])

                def overwrite(ticket_id: int, tid: int = tid) -> None:
                    fake.tickets[tid]["tags"] = ["agent_tag"]

                fake.after_put = overwrite
                raced += 1
            before = len(fake.calls)
            await connector.apply(message, decision, "harassment-gateway: found verbal_abuse\n")
            tagged += 1
            tagged_calls += len(fake.calls) - before
        applied = time.perf_counter()
        await connector.commit_cursor()
        await connector.aclose()
        db.close()
    total = applied - started
    print(f"conversations: {len(messages)} ({tagged} tagged, {clean} clean; {raced} tag races)")
    print(f"poll: {list_calls} list call(s) for {n} tickets, {conv_calls} conversation reads "
          f"({conv_calls / max(1, len(messages)):.2f} per conversation), {fetched - started:.2f}s")
    print(f"effects: {tagged_calls / max(1, tagged):.2f} calls per tagged conversation "
          f"(4 without a race, 6 with one), {clean_calls / max(1, clean):.2f} per clean one")
    print(f"connector time: {total / max(1, len(messages)) * 1000:.2f} ms per conversation "
          f"({len(messages) / total:.0f} conversations/s, respx fake included)")


if __name__ == "__main__":
    import tempfile

    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    share = float(sys.argv[2]) if len(sys.argv) > 2 else 0.1
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(run(count, share, Path(tmp) / "bench.db"))
