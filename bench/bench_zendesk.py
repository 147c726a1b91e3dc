"""Zendesk connector: API calls per processed comment, and connector overhead per comment.

Runs the connector against the in-memory fake Zendesk used by the contract tests (respx, no
network), with OpenAPI validation switched off so the figure is the connector's own cost:
``N`` tickets, one end-user comment each, half of them abusive (one Update Ticket each), and a
share of them changed by an agent between read and write (409 -> re-read -> resend).

    python bench/bench_zendesk.py [N] [collision_share]
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import respx  # noqa: E402

from connectors.note import render_note  # noqa: E402
from gateway.model import Decision  # noqa: E402
from gateway.store.db import Database  # noqa: E402
from tests.contract.zendesk_overlay import FakeZendesk, insult_verdict, make_connector  # noqa: E402


class NoValidation:
    """Stands in for ZendeskContract: records calls, validates nothing."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, object]] = []

    def check_request(self, request) -> None: ...

    def check_response(self, request, response) -> None: ...

    def record(self, request) -> None:
        self.calls.append((request.method, request.url.path, None))


async def main(n: int, collisions: float) -> None:
    fake = FakeZendesk(NoValidation())  # type: ignore[arg-type]
    for i in range(n):
        requester = fake.add_user(fake.next_id(), f"Customer {i}", f"c{i}@example.com")
        text = f"Order {i}: you idiot, where is my refund?" if i % 2 else f"Order {i}: where is my refund?"
        fake.add_ticket(requester["id"], "Refund", text, tags=["billing"], status="open")
    db = Database.open(":memory:")
    with respx.mock(assert_all_called=False) as router:
        fake.install(router)
        conn = make_connector(db)
        conn.export.max_pages = 1000
        started = time.perf_counter()
        messages = await conn.fetch_new()
        every = max(1, round(1 / collisions)) if collisions else 0
        tagged = 0
        for m in messages:
            if "idiot" in m.text:
                tagged += 1
                findings, decision = insult_verdict(m)
                if every and tagged % every == 0:
                    fake.touch(int(m.external["ticket_id"]))
                await conn.apply(m, decision, render_note(m, findings, decision))
            else:
                await conn.apply(m, Decision(m.id), "")
        await conn.commit_cursor()
        elapsed = time.perf_counter() - started
        await conn.aclose()
    calls = len(fake.contract.calls)
    export = sum(1 for c in fake.contract.calls if "incremental" in c[1])
    flagged = sum(1 for m in messages if "idiot" in m.text)
    print(f"tickets/comments processed: {len(messages)} ({flagged} tagged, collisions every {every or '-'} tagged)")
    print(f"API calls: {calls} total, {export} export pages")
    print(f"API calls per processed comment: {calls / len(messages):.2f} "
          f"(excluding export: {(calls - export) / len(messages):.2f})")
    print(f"connector overhead: {elapsed / len(messages) * 1000:.2f} ms per comment (fake server, no network)")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 500,
                     float(sys.argv[2]) if len(sys.argv) > 2 else 0.0))
