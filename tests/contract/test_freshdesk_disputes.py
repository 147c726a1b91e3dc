"""An agent disputes the gateway's tags inside Freshdesk by adding ``hg_dispute``: the categories stop
counting against the customer, and the ticket loses the dispute and category tags, with a note."""

from __future__ import annotations

import pytest

from connectors.cycle import run_cycle
from connectors.freshdesk.connector import FreshdeskConnector
from gateway.audit import AuditLog
from gateway.disputes import Disputes
from gateway.pipeline import Pipeline
from gateway.store.db import Database
from tests.contract.freshdesk_fake import FakeFreshdesk, Sleeps, make_config, anyio_backend, fake  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.contract, pytest.mark.anyio]


@pytest.fixture
async def setup(fake, tmp_path):
    db = Database.open(tmp_path / "gateway.db")
    pipeline = Pipeline.create(db, clock=lambda: fake.now)
    connector = FreshdeskConnector(make_config(), db, sleep=Sleeps(), now=lambda: fake.now)
    yield db, pipeline, connector
    await connector.aclose()
    db.close()


def notes(fake: FakeFreshdesk, ticket_id: int) -> list[str]:
    return [c["body"] for c in fake.conversations[ticket_id] if c["private"]]


async def test_a_dispute_tag_withdraws_the_categories_and_cleans_the_ticket(setup, fake):
    db, pipeline, connector = setup
    fake.add_contact(9, "kim@example.com")
    fake.add_ticket(301, 9, "My parcel is late again.", tags=["shipping"])
    fake.add_conversation(301, "<p>You useless idiot, where is my parcel?</p>", user_id=9)
    report = await run_cycle(connector, pipeline)
    assert report.applied >= 1 and "hg_verbal_abuse" in fake.tickets[301]["tags"]
    assert "If a tag is wrong, add the tag hg_dispute" in notes(fake, 301)[-1]  # agents are told how
    [message_id] = connector.state.tagged_messages(["301"])["301"]
    assert pipeline.tracker.history("kim@example.com").finding_counts == {"verbal_abuse": 1}

    fake.tickets[301]["tags"].append("hg_dispute")  # the agent adds the tag in Freshdesk
    fake.tickets[301]["updated_at"] = fake.tick()
    report = await run_cycle(connector, pipeline)
    [done] = report.disputes
    assert done.ticket_id == "301" and done.categories == {message_id: ["verbal_abuse"]}
    assert done.actor == "freshdesk:fd tag hg_dispute on ticket 301"
    assert fake.tickets[301]["tags"] == ["shipping"]  # dispute and category tags gone, the agents' tag stays
    assert "dispute recorded" in notes(fake, 301)[-1] and "verbal_abuse" in notes(fake, 301)[-1]
    assert pipeline.tracker.history("kim@example.com").finding_counts == {}
    [d] = Disputes(db).list()
    assert d.message_id == message_id and d.actor == done.actor
    assert any(e.action == "message.dispute" for e in AuditLog(db).entries()) and AuditLog(db).verify()

    fake.tickets[301]["updated_at"] = fake.tick()  # the ticket shows up again: nothing more to do
    again = await run_cycle(connector, pipeline)
    assert again.disputes == []


async def test_a_dispute_tag_on_a_ticket_the_gateway_never_tagged_is_left_alone(setup, fake):
    db, pipeline, connector = setup
    fake.add_contact(9, "kim@example.com")
    fake.add_ticket(302, 9, "Where is my parcel?", tags=["hg_dispute"])
    fake.add_conversation(302, "<p>Hello, could you tell me when my parcel will arrive? Thank you.</p>", user_id=9)
    report = await run_cycle(connector, pipeline)
    assert report.disputes == [] and fake.tickets[302]["tags"] == ["hg_dispute"] and notes(fake, 302) == []
    assert Disputes(db).list() == []
