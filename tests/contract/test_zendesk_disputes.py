"""An agent disputes the gateway's tags inside Zendesk by adding ``hg_dispute``: the categories stop
counting against the customer under the agent's name, and the ticket is cleaned in one safe update."""

from __future__ import annotations

import asyncio

import pytest

from connectors.cycle import run_cycle
from gateway.audit import AuditLog
from gateway.disputes import Disputes
from gateway.pipeline import Pipeline
from tests.contract.zendesk_overlay import LEAD_ID, db, fake, make_connector, new_ticket  # noqa: F401 - fixtures

pytestmark = pytest.mark.contract

RUDE = "You useless idiot. Where is my refund?"


def run(coro):
    return asyncio.run(coro)

def first_cycle(fake, db, text):
    """A new ticket with ``text`` from its requester, through the connector's first cycle."""
    pipeline = Pipeline.create(db)
    ticket = new_ticket(fake, text)
    conn = make_connector(db)
    run(run_cycle(conn, pipeline))
    return pipeline, conn, ticket



def test_a_dispute_tag_withdraws_the_categories_names_the_agent_and_cleans_the_ticket(fake, db):
    pipeline, conn, ticket = first_cycle(fake, db, RUDE)
    tid = ticket["id"]
    assert "hg_verbal_abuse" in fake.tickets[tid]["tags"]
    assert "If a tag is wrong, add the tag hg_dispute" in fake.private_notes(tid)[0]["body"]  # agents are told how
    [message_id] = conn.state.ticket_messages(tid)
    customer = pipeline.tracker.store.get(message_id).customer
    assert pipeline.tracker.history(customer).finding_counts == {"verbal_abuse": 1}
    puts = fake.contract.count("PUT")

    fake.add_tag_by(tid, LEAD_ID, "hg_dispute")
    fake.export_all()
    report = run(run_cycle(conn, pipeline))
    [done] = report.disputes
    assert done.ticket_id == str(tid) and done.categories == {message_id: ["verbal_abuse"]}
    assert "Jane Lead <jane.lead@acme.example>" in done.actor  # from the ticket's audits
    t = fake.tickets[tid]
    assert "hg_dispute" not in t["tags"] and "hg_verbal_abuse" not in t["tags"]
    assert {"vip", "billing"} <= set(t["tags"])  # the agents' own tags stay
    note = fake.private_notes(tid)[-1]["body"]
    assert "dispute recorded" in note and "verbal_abuse" in note and "idiot" not in note
    assert fake.contract.count("PUT") == puts + 1  # one safe update

    [d] = Disputes(db).list()
    assert d.message_id == message_id and d.actor == done.actor and "hg_dispute" in d.reason
    assert pipeline.tracker.history(customer).finding_counts == {}
    assert any(e.action == "message.dispute" and e.actor == done.actor for e in AuditLog(db).entries())

    # handled once: the next cycle neither disputes nor writes again
    again = run(run_cycle(conn, pipeline))
    assert again.disputes == [] and again.fetched == 0 and fake.contract.count("PUT") == puts + 1


def test_a_dispute_tag_where_nothing_stands_is_removed_and_says_so(fake, db):
    pipeline, conn, ticket = first_cycle(fake, db, "Hello, when will my refund arrive? Thank you.")
    tid = ticket["id"]
    fake.add_tag_by(tid, LEAD_ID, "hg_dispute")
    fake.export_all()
    [done] = run(run_cycle(conn, pipeline)).disputes
    assert done.categories == {} and Disputes(db).list() == []
    assert "hg_dispute" not in fake.tickets[tid]["tags"]
    assert "no tag of the gateway's stands" in fake.private_notes(tid)[-1]["body"]


def test_a_webhook_names_the_disputing_agent_without_reading_audits(fake, db):
    from datetime import datetime, timezone

    from tests.contract.zendesk_overlay import WebhookClient, lead_tag_webhook

    pipeline = Pipeline.create(db)
    ticket = new_ticket(fake, RUDE)
    tid = ticket["id"]
    conn = make_connector(db, clock=lambda: datetime(2026, 11, 26, 9, 30, tzinfo=timezone.utc))
    run(run_cycle(conn, pipeline))
    fake.add_tag_by(tid, LEAD_ID, "hg_dispute")
    body, headers = lead_tag_webhook(fake, tid, "inv-d1")
    client = WebhookClient(conn.webhook_routes())
    assert client.post("/webhooks/zendesk/zendesk", content=body, headers=headers).status_code == 202
    [done] = run(conn.poll_disputes())
    assert done.actor == f"zendesk:zendesk:user/{LEAD_ID} Jane Lead <jane.lead@acme.example>"
    assert not any(path.endswith("/audits") for _, path, _ in fake.contract.calls)
    assert [d.actor for d in Disputes(db).list()] == [done.actor]


# -- disputes made in the console or the CLI reach the ticket on the next cycle -----------------

THREAT = "I will find where you live and hurt you, idiot."
MORON = "Where is my refund, you moron? Fix it."


def _queue(conn):
    from connectors.dispute_queue import DisputeQueue

    return DisputeQueue(conn.state.db, conn.dispute_origin)


def test_a_console_dispute_takes_the_tag_off_the_ticket_on_the_next_cycle_with_a_private_note(fake, db):
    pipeline, conn, ticket = first_cycle(fake, db, RUDE)
    tid = ticket["id"]
    [message_id] = conn.state.ticket_messages(tid)
    assert "hg_verbal_abuse" in fake.tickets[tid]["tags"]
    notes_before, puts = len(fake.private_notes(tid)), fake.contract.count("PUT")

    Disputes(db).dispute(message_id, "Mika Lead", "the customer quoted a courier", origin="console")
    assert "hg_verbal_abuse" in fake.tickets[tid]["tags"]  # nothing reaches Zendesk before the cycle
    report = run(run_cycle(conn, pipeline))

    [done] = report.disputes
    assert (done.via, done.ticket_id, done.actor) == ("gateway", str(tid), "Mika Lead")
    assert done.categories == {message_id: ["verbal_abuse"]} and done.tags_removed == ["hg_verbal_abuse"]
    t = fake.tickets[tid]
    assert "hg_verbal_abuse" not in t["tags"] and {"vip", "billing"} <= set(t["tags"])
    assert fake.contract.count("PUT") == puts + 1  # tags and note in one safe update
    [put] = fake.contract.bodies("PUT", f"/api/v2/tickets/{tid}")[-1:]
    assert put["ticket"]["safe_update"] is True and put["ticket"]["comment"]["public"] is False
    notes = fake.private_notes(tid)
    assert len(notes) == notes_before + 1
    body = notes[-1]["body"]
    assert "Mika Lead (console) disputed verbal_abuse" in body
    assert "Withdrawn from this ticket: verbal_abuse" in body and "stays until a team lead lifts it" in body
    assert "idiot" not in body and "courier" not in body  # no customer text, reasons stay in the gateway
    assert report.errors == []

    again = run(run_cycle(conn, pipeline))  # carried once: our own update's echo costs nothing
    assert again.disputes == [] and again.fetched == 0 and fake.contract.count("PUT") == puts + 1
    assert _queue(conn).pending() == []


def test_a_category_another_comment_still_has_keeps_its_tag_and_the_note_says_so(fake, db):
    pipeline, conn, ticket = first_cycle(fake, db, THREAT)
    tid = ticket["id"]
    fake.add_comment(tid, ticket["requester_id"], MORON)
    run(run_cycle(conn, pipeline))
    first, second = conn.state.ticket_messages(tid)
    tags = set(fake.tickets[tid]["tags"])
    assert {"hg_threat", "hg_verbal_abuse"} <= tags
    assert "hg_hold_proposed" in tags  # the threat proposed a hold

    Disputes(db).dispute(first, "Mika Lead", "a film quote, not a threat", origin="console")
    [done] = run(run_cycle(conn, pipeline)).disputes
    assert done.categories == {first: ["threat", "verbal_abuse"]} and done.tags_removed == ["hg_threat"]
    tags = set(fake.tickets[tid]["tags"])
    assert "hg_threat" not in tags and "hg_verbal_abuse" in tags  # the second comment still insults
    assert "hg_hold_proposed" in tags  # a dispute never lifts or withdraws a hold
    body = fake.private_notes(tid)[-1]["body"]
    assert "Withdrawn from this ticket: threat" in body
    assert "Still standing on another message of this ticket, so the tag stays: verbal_abuse" in body

    Disputes(db).dispute(second, "Mika Lead", "frustration, not abuse", origin="cli")
    [done] = run(run_cycle(conn, pipeline)).disputes
    assert done.tags_removed == ["hg_verbal_abuse"] and "hg_verbal_abuse" not in fake.tickets[tid]["tags"]


def test_a_dispute_from_the_dispute_tag_is_not_carried_a_second_time(fake, db):
    pipeline, conn, ticket = first_cycle(fake, db, RUDE)
    tid = ticket["id"]
    fake.add_tag_by(tid, LEAD_ID, "hg_dispute")
    fake.export_all()
    [done] = run(run_cycle(conn, pipeline)).disputes
    assert done.via == "tag"
    [d] = Disputes(db).list()
    assert d.origin == "zendesk:zendesk"
    fake.tickets[tid]["tags"].append("hg_verbal_abuse")  # an agent puts the tag back on purpose
    fake.touch(tid)
    puts, notes = fake.contract.count("PUT"), len(fake.private_notes(tid))

    report = run(run_cycle(conn, pipeline))
    assert report.disputes == [] and report.errors == []
    assert fake.contract.count("PUT") == puts and len(fake.private_notes(tid)) == notes
    assert "hg_verbal_abuse" in fake.tickets[tid]["tags"]  # the agent's choice stands
    assert _queue(conn).watermark() == d.id and _queue(conn).pending() == []


def test_a_429_on_the_update_keeps_the_dispute_queued_and_the_next_cycle_carries_it(fake, db):
    from tests.contract.zendesk_overlay import text_response

    pipeline, conn, ticket = first_cycle(fake, db, RUDE)
    tid = ticket["id"]
    [message_id] = conn.state.ticket_messages(tid)
    Disputes(db).dispute(message_id, "Mika Lead", "quoting a courier", origin="console")
    notes = len(fake.private_notes(tid))

    def limited(request):
        if request.method == "PUT" and request.url.path == f"/api/v2/tickets/{tid}":
            return text_response(429, "Number of allowed API requests per minute exceeded", {"retry-after": "60"})
        return None

    fake.faults.extend([limited] * 10)  # beyond the client's retry budget
    report = run(run_cycle(conn, pipeline))
    assert report.disputes == []
    [error] = report.errors
    assert error.startswith(f"dispute on ticket {tid}:") and "429" in error and "tried again next cycle" in error
    assert "hg_verbal_abuse" in fake.tickets[tid]["tags"] and len(fake.private_notes(tid)) == notes
    [failure] = _queue(conn).failures()
    assert failure["attempts"] == 1 and "429" in failure["error"]

    fake.faults.clear()
    [done] = run(run_cycle(conn, pipeline)).disputes
    assert done.tags_removed == ["hg_verbal_abuse"] and "hg_verbal_abuse" not in fake.tickets[tid]["tags"]
    assert len(fake.private_notes(tid)) == notes + 1 and _queue(conn).pending() == []


def test_a_deleted_ticket_drops_the_dispute_with_the_reason_in_the_report(fake, db):
    pipeline, conn, ticket = first_cycle(fake, db, RUDE)
    tid = ticket["id"]
    [message_id] = conn.state.ticket_messages(tid)
    Disputes(db).dispute(message_id, "Mika Lead", "quoting a courier", origin="console")
    from tests.contract.zendesk_overlay import json_response

    def deleted(request):  # an admin deleted the ticket meanwhile
        if request.url.path == f"/api/v2/tickets/{tid}":
            return json_response(404, {"error": "RecordNotFound", "description": "Not found"})
        return None

    fake.faults.append(deleted)

    report = run(run_cycle(conn, pipeline))
    assert report.disputes == [] and any("404" in e and "gone" in e for e in report.errors)
    assert _queue(conn).pending() == []
    assert pipeline.tracker.history(pipeline.tracker.store.get(message_id).customer).finding_counts == {}


def test_a_dispute_on_mail_or_another_helpdesks_message_is_left_to_its_source(fake, db):
    from gateway.ingest import message_from_text

    pipeline, conn, ticket = first_cycle(fake, db, RUDE)
    tid = ticket["id"]
    mail = message_from_text("<m1@example.com>", MORON, sender="kim@example.com", source="imap:support")
    other = message_from_text("freshdesk:fd:301:description", MORON, sender="lee@example.com",
                              source="freshdesk:fd")
    for m in (mail, other):
        pipeline.process(m)
        Disputes(db).dispute(m.id, "Mika Lead", "not abuse", origin="console")
    puts = fake.contract.count("PUT")

    report = run(run_cycle(conn, pipeline))
    assert report.disputes == [] and report.errors == [] and fake.contract.count("PUT") == puts
    assert "hg_verbal_abuse" in fake.tickets[tid]["tags"]
    assert _queue(conn).pending() == [] and _queue(conn).watermark() == Disputes(db).list()[-1].id


def test_a_dispute_tag_whose_update_hit_the_rate_limit_still_takes_the_tags_off_next_cycle(fake, db):
    from tests.contract.zendesk_overlay import text_response

    pipeline, conn, ticket = first_cycle(fake, db, RUDE)
    tid = ticket["id"]
    fake.add_tag_by(tid, LEAD_ID, "hg_dispute")
    fake.export_all()

    def limited(request):
        if request.method == "PUT":
            return text_response(429, "Number of allowed API requests per minute exceeded", {"retry-after": "60"})
        return None

    fake.faults.extend([limited] * 10)
    report = run(run_cycle(conn, pipeline))
    assert report.disputes == [] and any("429" in e for e in report.errors)
    assert [d.category for d in Disputes(db).list()] == ["verbal_abuse"]  # recorded before the write
    assert {"hg_dispute", "hg_verbal_abuse"} <= set(fake.tickets[tid]["tags"])

    fake.faults.clear()
    [done] = run(run_cycle(conn, pipeline)).disputes
    assert done.categories == {}  # nothing left to dispute, but the tag is still on the ticket
    tags = set(fake.tickets[tid]["tags"])
    assert "hg_dispute" not in tags and "hg_verbal_abuse" not in tags
    assert "Withdrawn: verbal_abuse" in fake.private_notes(tid)[-1]["body"]
