"""The daemon's loop for Freshdesk with the real stages: a polled ticket goes through the real
pipeline (detect, contact history, policy, holds in SQLite), the note is rendered, and the verdict
lands on the schema-checked fake account. A threat of violence is held at once; a polite
complaint leaves the ticket as it was."""

from __future__ import annotations

import pytest
import respx

from connectors.freshdesk.connector import FreshdeskConnector
from connectors.note import render_note
from gateway.pipeline import Pipeline
from gateway.store.db import Database
from tests.contract.freshdesk_fake import FakeFreshdesk, Sleeps, make_config, anyio_backend, fake  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.contract, pytest.mark.anyio, pytest.mark.slow]


@pytest.fixture
async def loop(fake, tmp_path):
    db = Database.open(tmp_path / "gateway.db")
    pipeline = Pipeline.create(db, clock=lambda: fake.now)
    connector = FreshdeskConnector(make_config(), db, sleep=Sleeps(), now=lambda: fake.now)

    async def run_once():
        results = []
        for message in await connector.fetch_new():
            result = pipeline.process(message)
            note = render_note(message, result.findings, result.decision)
            results.append((result, await connector.apply(message, result.decision, note)))
        await connector.commit_cursor()
        return results

    yield run_once
    await connector.aclose()
    db.close()


async def test_a_violent_threat_is_tagged_noted_and_held(loop, fake):
    fake.add_contact(9, "kim@example.com")
    fake.add_ticket(301, 9, "My parcel is late again.", tags=["shipping"])
    fake.add_conversation(301, "<p>I know where you live. I will come to your office and kill you.</p>", user_id=9)
    results = await loop()
    threat_result, applied = results[-1]
    assert "threat" in threat_result.decision.categories and threat_result.decision.held
    ticket = fake.tickets[301]
    assert ticket["tags"][0] == "shipping" and {"hg_threat", "hg_hold"} <= set(ticket["tags"])
    assert ticket["status"] == 8
    note = [c for c in fake.conversations[301] if c["private"]][-1]["body"]
    assert note.startswith("<div>harassment-gateway: found") and "[threat]" in note
    evidence = {e.text for f in threat_result.findings for e in f.evidence}
    excerpts = [line for line in note.split("<br>") if line.startswith("    \u201c")]
    assert evidence and excerpts
    assert not [text for line in excerpts for text in evidence if text in line]  # the message text is masked
    assert applied.api_calls == 4


async def test_a_polite_complaint_leaves_the_ticket_as_it_was(loop, fake):
    fake.add_contact(9, "kim@example.com")
    fake.add_ticket(302, 9, "I am disappointed: the refund you promised has not arrived. Please check.")
    results = await loop()
    assert results and not results[0][0].decision.categories
    assert fake.tickets[302]["tags"] == [] and fake.tickets[302]["status"] == 2
    assert fake.calls_to("PUT") == [] and fake.calls_to("POST") == []
