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


def test_a_dispute_tag_withdraws_the_categories_names_the_agent_and_cleans_the_ticket(fake, db):
    pipeline = Pipeline.create(db)
    ticket = new_ticket(fake, RUDE)
    tid = ticket["id"]
    conn = make_connector(db)
    run(run_cycle(conn, pipeline))
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
    pipeline = Pipeline.create(db)
    ticket = new_ticket(fake, "Hello, when will my refund arrive? Thank you.")
    tid = ticket["id"]
    conn = make_connector(db)
    run(run_cycle(conn, pipeline))
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
