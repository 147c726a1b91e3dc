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


# -- disputes made in the console or the CLI reach the ticket on the next cycle -----------------

RUDE = "<p>You useless idiot, where is my parcel?</p>"
THREAT = "I will find where you live and hurt you, idiot."
MORON = "<p>Where is my refund, you moron? Fix it.</p>"


def _queue(connector):
    from connectors.dispute_queue import DisputeQueue

    return DisputeQueue(connector.state.db, connector.disputes.origin)


async def _tagged_ticket(fake, connector, pipeline, ticket_id=301):
    fake.add_contact(9, "kim@example.com")
    fake.add_ticket(ticket_id, 9, "My parcel is late again.", tags=["shipping"])
    fake.add_conversation(ticket_id, RUDE, user_id=9)
    await run_cycle(connector, pipeline)
    [message_id] = connector.state.tagged_messages([str(ticket_id)])[str(ticket_id)]
    assert "hg_verbal_abuse" in fake.tickets[ticket_id]["tags"]
    return message_id


async def test_a_console_dispute_takes_the_tag_off_the_ticket_on_the_next_cycle_with_a_private_note(setup, fake):
    db, pipeline, connector = setup
    message_id = await _tagged_ticket(fake, connector, pipeline)
    before = len(notes(fake, 301))

    Disputes(db).dispute(message_id, "Mika Lead", "the customer quoted a courier", origin="console")
    assert "hg_verbal_abuse" in fake.tickets[301]["tags"]  # nothing reaches Freshdesk before the cycle
    puts = len(fake.calls_to("PUT"))
    report = await run_cycle(connector, pipeline)

    [done] = report.disputes
    assert (done.via, done.ticket_id, done.actor) == ("gateway", "301", "Mika Lead")
    assert done.categories == {message_id: ["verbal_abuse"]} and done.tags_removed == ["hg_verbal_abuse"]
    assert fake.tickets[301]["tags"] == ["shipping"]  # the agents' tag stays
    assert len(fake.calls_to("PUT")) == puts + 1
    assert len(notes(fake, 301)) == before + 1
    body = notes(fake, 301)[-1]
    assert "Mika Lead (console) disputed verbal_abuse" in body
    assert "Withdrawn from this ticket: verbal_abuse" in body and "stays until a team lead lifts it" in body
    assert "idiot" not in body and "courier" not in body
    assert [c["private"] for c in fake.conversations[301][-1:]] == [True]
    assert report.errors == []

    again = await run_cycle(connector, pipeline)  # carried once
    assert again.disputes == [] and len(notes(fake, 301)) == before + 1 and _queue(connector).pending() == []


async def test_a_category_another_message_still_has_keeps_its_tag_and_the_note_says_so(setup, fake):
    db, pipeline, connector = setup
    fake.add_contact(9, "kim@example.com")
    fake.add_ticket(302, 9, THREAT, tags=["shipping"])
    fake.add_conversation(302, MORON, user_id=9)
    await run_cycle(connector, pipeline)
    first, second = connector.state.tagged_messages(["302"])["302"]
    assert first.endswith(":description")
    assert {"hg_threat", "hg_verbal_abuse"} <= set(fake.tickets[302]["tags"])

    Disputes(db).dispute(first, "Mika Lead", "a film quote, not a threat", origin="console")
    [done] = (await run_cycle(connector, pipeline)).disputes
    assert done.categories == {first: ["threat", "verbal_abuse"]} and done.tags_removed == ["hg_threat"]
    tags = set(fake.tickets[302]["tags"])
    assert "hg_threat" not in tags and {"hg_verbal_abuse", "shipping"} <= tags
    body = notes(fake, 302)[-1]
    assert "Withdrawn from this ticket: threat" in body
    assert "Still standing on another message of this ticket, so the tag stays: verbal_abuse" in body

    Disputes(db).dispute(second, "Mika Lead", "frustration, not abuse", origin="cli")
    [done] = (await run_cycle(connector, pipeline)).disputes
    assert done.tags_removed == ["hg_verbal_abuse"] and "hg_verbal_abuse" not in fake.tickets[302]["tags"]


async def test_a_dispute_from_the_dispute_tag_is_not_carried_a_second_time(setup, fake):
    db, pipeline, connector = setup
    await _tagged_ticket(fake, connector, pipeline)
    fake.tickets[301]["tags"].append("hg_dispute")
    fake.tickets[301]["updated_at"] = fake.tick()
    [done] = (await run_cycle(connector, pipeline)).disputes
    assert done.via == "tag"
    [d] = Disputes(db).list()
    assert d.origin == "freshdesk:fd"
    fake.tickets[301]["tags"].append("hg_verbal_abuse")  # an agent puts the tag back on purpose
    fake.tickets[301]["updated_at"] = fake.tick()
    puts, before = len(fake.calls_to("PUT")), len(notes(fake, 301))

    report = await run_cycle(connector, pipeline)
    assert report.disputes == [] and report.errors == []
    assert len(fake.calls_to("PUT")) == puts and len(notes(fake, 301)) == before
    assert "hg_verbal_abuse" in fake.tickets[301]["tags"]
    assert _queue(connector).watermark() == d.id and _queue(connector).pending() == []


async def test_a_429_on_the_note_keeps_the_dispute_queued_and_the_next_cycle_posts_it_once(setup, fake):
    import httpx

    db, pipeline, connector = setup
    message_id = await _tagged_ticket(fake, connector, pipeline)
    Disputes(db).dispute(message_id, "Mika Lead", "quoting a courier", origin="console")
    before = len(notes(fake, 301))
    for _ in range(10):  # beyond the client's retry budget
        fake.queue("POST", "/api/v2/tickets/301/notes", httpx.Response(429, headers={"retry-after": "30"}))

    report = await run_cycle(connector, pipeline)
    assert report.disputes == []
    [error] = report.errors
    assert error.startswith("dispute on ticket 301:") and "429" in error and "tried again next cycle" in error
    assert fake.tickets[301]["tags"] == ["shipping"] and len(notes(fake, 301)) == before  # the tags went first
    [failure] = _queue(connector).failures()
    assert failure["attempts"] == 1 and "429" in failure["error"]

    fake._queued.clear()
    puts = len(fake.calls_to("PUT"))
    [done] = (await run_cycle(connector, pipeline)).disputes
    assert done.tags_removed == ["hg_verbal_abuse"]  # what the first attempt removed
    assert len(fake.calls_to("PUT")) == puts  # the tags are not written again
    assert len(notes(fake, 301)) == before + 1 and "Withdrawn from this ticket: verbal_abuse" in notes(fake, 301)[-1]
    assert _queue(connector).pending() == []


async def test_a_server_error_on_the_tags_keeps_the_dispute_and_a_deleted_ticket_drops_it(setup, fake):
    import httpx

    from tests.contract.freshdesk_fake import error_body

    db, pipeline, connector = setup
    message_id = await _tagged_ticket(fake, connector, pipeline)
    Disputes(db).dispute(message_id, "Mika Lead", "quoting a courier", origin="console")
    for _ in range(10):
        fake.queue("PUT", "/api/v2/tickets/301", httpx.Response(503, json=error_body("Service down", [])))
    report = await run_cycle(connector, pipeline)
    assert report.disputes == [] and "503" in report.errors[0]
    assert "hg_verbal_abuse" in fake.tickets[301]["tags"] and len(_queue(connector).pending()) == 1

    fake._queued.clear()
    del fake.tickets[301]  # an admin deleted the ticket meanwhile
    report = await run_cycle(connector, pipeline)
    assert report.disputes == [] and any("404" in e and "gone" in e for e in report.errors)
    assert _queue(connector).pending() == []


async def test_a_dispute_on_mail_or_another_helpdesks_message_is_left_to_its_source(setup, fake):
    from gateway.ingest import message_from_text

    db, pipeline, connector = setup
    await _tagged_ticket(fake, connector, pipeline)
    text = "Where is my refund, you moron? Fix it."
    mail = message_from_text("<m1@example.com>", text, sender="lee@example.com", source="imap:support")
    other = message_from_text("zendesk:zendesk:comment:77", text, sender="ann@example.com", source="zendesk")
    for m in (mail, other):
        pipeline.process(m)
        Disputes(db).dispute(m.id, "Mika Lead", "not abuse", origin="console")
    puts = len(fake.calls_to("PUT"))

    report = await run_cycle(connector, pipeline)
    assert report.disputes == [] and report.errors == [] and len(fake.calls_to("PUT")) == puts
    assert "hg_verbal_abuse" in fake.tickets[301]["tags"]
    assert _queue(connector).pending() == [] and _queue(connector).watermark() == Disputes(db).list()[-1].id


async def test_a_dispute_tag_whose_write_hit_the_rate_limit_is_carried_on_a_later_cycle(setup, fake):
    import httpx

    db, pipeline, connector = setup
    await _tagged_ticket(fake, connector, pipeline)
    fake.tickets[301]["tags"].append("hg_dispute")
    fake.tickets[301]["updated_at"] = fake.tick()
    for _ in range(10):  # beyond the client's retry budget
        fake.queue("PUT", "/api/v2/tickets/301", httpx.Response(429, headers={"retry-after": "30"}))
    report = await run_cycle(connector, pipeline)
    assert report.disputes == [] and any("429" in e for e in report.errors)
    [d] = Disputes(db).list()
    assert d.category == "verbal_abuse" and d.origin == "freshdesk:fd"  # recorded before the write
    assert {"hg_dispute", "hg_verbal_abuse"} <= set(fake.tickets[301]["tags"])

    [queued] = _queue(connector).pending()  # even if the ticket is never listed again
    assert queued.ids == [d.id]

    fake._queued.clear()
    report = await run_cycle(connector, pipeline)
    assert len(report.disputes) == 1 and report.errors == []
    assert fake.tickets[301]["tags"] == ["shipping"]
    assert sum("Withdrawn" in n and "verbal_abuse" in n for n in notes(fake, 301)) == 1
    assert (await run_cycle(connector, pipeline)).disputes == [] and _queue(connector).pending() == []


async def test_a_queued_dispute_tag_write_takes_the_dispute_tag_off_too(setup, fake):
    from connectors.dispute_queue import DisputeQueue

    db, pipeline, connector = setup
    message_id = await _tagged_ticket(fake, connector, pipeline)
    fake.tickets[301]["tags"].append("hg_dispute")  # seen, recorded, and the write failed:
    actor = "freshdesk:fd tag hg_dispute on ticket 301"
    Disputes(db).dispute(message_id, actor, "hg_dispute tag added in Freshdesk on ticket 301", origin="freshdesk:fd")
    DisputeQueue(db, "freshdesk:fd").enqueue("301", [d.id for d in Disputes(db).list()])

    [done] = await connector.carry_disputes()
    assert done.via == "gateway" and done.tags_removed == ["hg_verbal_abuse"]
    assert fake.tickets[301]["tags"] == ["shipping"]
    assert f"{actor} (freshdesk:fd) disputed verbal_abuse" in notes(fake, 301)[-1]


async def test_a_dispute_tag_whose_note_hit_the_rate_limit_gets_its_note_on_the_next_cycle(setup, fake):
    import httpx

    db, pipeline, connector = setup
    await _tagged_ticket(fake, connector, pipeline)
    fake.tickets[301]["tags"].append("hg_dispute")
    fake.tickets[301]["updated_at"] = fake.tick()
    before = len(notes(fake, 301))
    for _ in range(10):  # beyond the client's retry budget
        fake.queue("POST", "/api/v2/tickets/301/notes", httpx.Response(429, headers={"retry-after": "30"}))
    report = await run_cycle(connector, pipeline)
    assert any("429" in e for e in report.errors)
    assert fake.tickets[301]["tags"] == ["shipping"] and len(notes(fake, 301)) == before  # tags off, no note yet
    [queued] = _queue(connector).pending()
    assert queued.step == "tags" and queued.ids == [d.id for d in Disputes(db).list()]

    fake._queued.clear()
    puts = len(fake.calls_to("PUT"))
    [done] = (await run_cycle(connector, pipeline)).disputes
    assert done.tags_removed == ["hg_verbal_abuse"]  # what the dispute tag's handler removed
    assert len(fake.calls_to("PUT")) == puts  # the tags are not written again
    assert len(notes(fake, 301)) == before + 1 and "verbal_abuse" in notes(fake, 301)[-1]
    assert (await run_cycle(connector, pipeline)).disputes == [] and _queue(connector).pending() == []
    assert len(notes(fake, 301)) == before + 1


async def test_a_dispute_made_before_the_ticket_was_tagged_keeps_the_tag_off_when_the_effects_are_retried(setup, fake):
    import httpx

    db, pipeline, connector = setup
    fake.add_contact(9, "kim@example.com")
    fake.add_ticket(301, 9, "My parcel is late again.", tags=["shipping"])
    fake.add_conversation(301, RUDE, user_id=9)

    def writes_fail() -> None:  # beyond the retry budget: the ticket is not tagged
        for _ in range(10):
            fake.queue("PUT", "/api/v2/tickets/301", httpx.Response(429, headers={"retry-after": "30"}))

    writes_fail()
    report = await run_cycle(connector, pipeline)
    assert report.failed == 1 and "hg_verbal_abuse" not in fake.tickets[301]["tags"]
    [message_id] = [r["message_id"] for r in db.query("SELECT message_id FROM decisions WHERE decision LIKE '%hg_verbal_abuse%'")]
    Disputes(db).dispute(message_id, "Mika Lead", "the customer quoted a courier", origin="console")

    fake._queued.clear()
    writes_fail()  # tag writes still fail; the dispute's carry finds no tag to take off
    await run_cycle(connector, pipeline)
    assert "hg_verbal_abuse" not in fake.tickets[301]["tags"]

    fake._queued.clear()
    fake.tickets[301]["updated_at"] = fake.tick()
    report = await run_cycle(connector, pipeline)  # whatever is left to retry lands now
    assert report.errors == []
    assert "hg_verbal_abuse" not in fake.tickets[301]["tags"]  # the withdrawn accusation stays off
    assert "shipping" in fake.tickets[301]["tags"]
