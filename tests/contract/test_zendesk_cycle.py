"""The daemon's polling cycle with the real pipeline: Zendesk comments in, verdicts out."""

from __future__ import annotations

import asyncio

import pytest

from connectors.cycle import run_cycle
from gateway.pipeline import Pipeline
from tests.contract.zendesk_overlay import db, fake, make_connector, new_ticket  # noqa: F401 - fixtures

pytestmark = pytest.mark.contract


def run(coro):
    return asyncio.run(coro)


def test_cycle_carries_the_pipeline_verdict_to_the_ticket(fake, db):
    pipeline = Pipeline.create(db)
    threat = new_ticket(fake, "Refund me now or I will come to your office and kill you.")
    polite = new_ticket(fake, "Hello, could you tell me when my refund will arrive? Thanks.", email="b@example.com")
    conn = make_connector(db)
    report = run(run_cycle(conn, pipeline))
    assert report.fetched == 2 and report.applied == 2 and report.failed == 0 and report.cursor_committed

    decisions = {m: pipeline.effects.decisions.get(m) for m in
                 (f"zendesk:zendesk:comment:{fake.comments[t['id']][0]['id']}" for t in (threat, polite))}
    threat_decision, polite_decision = decisions.values()
    t = fake.tickets[threat["id"]]
    policy_tags = set(threat_decision.decision["tags"])
    assert policy_tags and policy_tags <= set(t["tags"])  # every tag the policy chose, on the ticket
    [note] = fake.private_notes(threat["id"])
    assert "kill you" not in note["body"]
    if any(a.get("type") == "hold" and a.get("mode") == "apply" for a in threat_decision.decision["actions"]):
        assert t["status"] == "hold" and "hg_hold" in t["tags"]
    # the polite customer: no tags, no note, no status change
    assert not polite_decision.decision["tags"]
    assert fake.tickets[polite["id"]]["tags"] == ["vip", "billing"]
    assert fake.private_notes(polite["id"]) == []
    assert fake.tickets[polite["id"]]["status"] == "open"

    # a second cycle: nothing new, nothing re-applied
    again = run(run_cycle(conn, pipeline))
    assert again.fetched == 0 and fake.contract.count("PUT") == 1


def test_approved_draft_for_a_ticket_is_posted_and_marked_sent(fake, db):
    pipeline = Pipeline.create(db)
    ticket = new_ticket(fake, "You are a useless idiot. Where is my refund?")
    conn = make_connector(db, options={"agent_id": 4242})
    run(run_cycle(conn, pipeline))
    drafts = pipeline.effects.drafts
    [draft] = drafts.pending()  # the default policy drafts a firm warning for a first insult
    assert draft.body.strip() in fake.private_notes(ticket["id"])[0]["body"]  # the agent sees the draft
    drafts.approve(draft.id, "agent.alice")
    report = run(run_cycle(conn, pipeline))
    assert report.replies_sent == 1
    public = [c for c in fake.comments[ticket["id"]] if c["public"] and c["author_id"] == 4242]
    assert len(public) == 1 and public[0]["body"] == draft.body
    assert drafts.get(draft.id).state == "sent"
    assert run(run_cycle(conn, pipeline)).replies_sent == 0  # sent once


def test_a_bug_while_processing_keeps_the_cursor_so_nothing_is_lost(fake, db):
    new_ticket(fake, "Hello")

    class Broken:
        effects = None

        def process(self, message):
            raise RuntimeError("boom")

    conn = make_connector(db)
    report = run(run_cycle(conn, Broken()))
    assert report.failed == 1 and not report.cursor_committed
    assert conn.state.cursor() is None
    assert "boom" in report.errors[0]


def test_holds_decided_in_the_console_reach_the_ticket(fake, db):
    from gateway.holds import HoldStore

    pipeline = Pipeline.create(db)
    holds = HoldStore(db)
    ticket = new_ticket(fake, "You idiot.")
    conn = make_connector(db, holds=holds)
    [m] = run(conn.fetch_new())
    from tests.contract.zendesk_overlay import insult_verdict

    run(conn.apply(m, insult_verdict(m, hold="propose_hold")[1], "note"))
    hold = holds.propose(m.sender, "thread", "repeated abuse", thread=m.thread, message_id=m.id)
    holds.approve(hold.id, "jane.lead")
    report = run(run_cycle(conn, pipeline))
    assert report.holds_synced == 1
    assert fake.tickets[ticket["id"]]["status"] == "hold"
    holds.lift(hold.id, "jane.lead", "apology received")
    assert run(run_cycle(conn, pipeline)).holds_synced == 1
    t = fake.tickets[ticket["id"]]
    assert t["status"] == "open" and "hg_hold" not in t["tags"]
    assert run(run_cycle(conn, pipeline)).holds_synced == 0
