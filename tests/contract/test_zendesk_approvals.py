"""A lead approves or rejects a proposed hold from inside Zendesk by adding a tag."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import pytest

from gateway.audit import AuditLog
from gateway.holds import HoldStore
from tests.contract.zendesk_overlay import (  # noqa: F401 - fixtures
    LEAD_ID,
    TOKEN_ENV,
    WebhookClient,
    db,
    fake,
    insult_verdict,
    lead_tag_webhook,
    make_connector,
    new_ticket,
)

pytestmark = pytest.mark.contract

RUDE = "This is the fifth time, you idiot. Answer me now."
NOW = datetime(2026, 11, 26, 9, 30, tzinfo=timezone.utc)


def run(coro):
    return asyncio.run(coro)


def proposed(fake, db, *, scope="thread", options=None, **extras):
    ticket = new_ticket(fake, RUDE)
    conn = make_connector(db, clock=lambda: NOW, options=options, **extras)
    [m] = run(conn.fetch_new())
    run(conn.apply(m, insult_verdict(m, hold="propose_hold", scope=scope)[1], "note"))
    run(conn.commit_cursor())
    return conn, ticket, m


def test_approve_tag_activates_the_hold_and_records_who_from_the_audit(fake, db):
    audit = AuditLog(db)
    conn, ticket, m = proposed(fake, db, audit=audit)
    tid = ticket["id"]
    fake.add_tag_by(tid, LEAD_ID, "hg_hold_approve")
    fake.export_all()
    assert run(conn.fetch_new()) == []  # a tag is not a customer message
    [approval] = run(conn.poll_approvals())
    assert approval.verdict == "approve"
    assert approval.actor_id == str(LEAD_ID)
    assert "Jane Lead <jane.lead@acme.example>" in approval.actor
    assert approval.source == "audit"
    t = fake.tickets[tid]
    assert t["status"] == "hold"
    assert "hg_hold" in t["tags"]
    assert "hg_hold_proposed" not in t["tags"] and "hg_hold_approve" not in t["tags"]
    assert "vip" in t["tags"]
    [entry] = [e for e in audit.entries() if e.action == "zendesk.hold_approve"]
    assert entry.actor == approval.actor and entry.subject == f"zendesk:zendesk:ticket:{tid}"
    assert run(conn.poll_approvals()) == []  # reported once
    # and lifting later restores the status it had before the approval
    assert run(conn.lift_hold(m, actor="jane", reason="resolved"))
    assert fake.tickets[tid]["status"] == "open"


def test_reject_tag_removes_the_proposal_and_changes_nothing_else(fake, db):
    conn, ticket, m = proposed(fake, db)
    tid = ticket["id"]
    fake.add_tag_by(tid, LEAD_ID, "hg_hold_reject")
    fake.export_all()
    run(conn.fetch_new())
    [approval] = run(conn.poll_approvals())
    assert approval.verdict == "reject"
    t = fake.tickets[tid]
    assert t["status"] == "open"
    assert not {"hg_hold", "hg_hold_proposed", "hg_hold_reject"} & set(t["tags"])
    assert conn.state.hold(tid).state == "rejected"


def test_approval_tag_without_a_proposal_is_ignored(fake, db):
    ticket = new_ticket(fake, "fine")
    conn = make_connector(db)
    run(conn.fetch_new())
    fake.add_tag_by(ticket["id"], LEAD_ID, "hg_hold_approve")
    fake.export_all()
    run(conn.fetch_new())
    assert run(conn.poll_approvals()) == []
    assert fake.tickets[ticket["id"]]["status"] == "open"


def test_webhook_names_the_approver_without_reading_audits(fake, db):
    conn, ticket, m = proposed(fake, db)
    tid = ticket["id"]
    client = WebhookClient(conn.webhook_routes())
    fake.add_tag_by(tid, LEAD_ID, "hg_hold_approve")
    body, h = lead_tag_webhook(fake, tid, "inv-9")
    assert client.post("/webhooks/zendesk/zendesk", content=body, headers=h).status_code == 202
    [approval] = run(conn.poll_approvals())
    assert approval.source == "webhook"
    assert approval.actor == f"zendesk:zendesk:user/{LEAD_ID} Jane Lead <jane.lead@acme.example>"
    assert approval.at == datetime(2026, 11, 26, 9, 29, tzinfo=timezone.utc)
    assert not any(path.endswith("/audits") for _, path, _ in fake.contract.calls)
    assert fake.tickets[tid]["status"] == "hold"


def test_customer_hold_approval_suspends_the_requester_only_when_enabled(fake, db):
    conn, ticket, m = proposed(fake, db, scope="customer", options={"suspend_on_customer_hold": True})
    requester = ticket["requester_id"]
    fake.add_tag_by(ticket["id"], LEAD_ID, "hg_hold_approve")
    fake.export_all()
    run(conn.fetch_new())
    run(conn.poll_approvals())
    assert fake.users[requester]["suspended"] is True
    [put] = fake.contract.bodies("PUT", f"/api/v2/users/{requester}")
    assert put == {"user": {"suspended": True}}
    # lifting unsuspends
    run(conn.lift_hold(m, actor="jane", reason="apology accepted"))
    assert fake.users[requester]["suspended"] is False


def test_no_suspension_when_disabled_or_for_a_thread_hold(fake, db):
    conn, ticket, m = proposed(fake, db, scope="customer")  # suspension not enabled
    fake.add_tag_by(ticket["id"], LEAD_ID, "hg_hold_approve")
    fake.export_all()
    run(conn.fetch_new())
    run(conn.poll_approvals())
    assert fake.users[ticket["requester_id"]]["suspended"] is False
    assert not run(conn.suspend_requester(m, actor="x"))
    assert fake.contract.count("PUT", "/api/v2/users/") == 0


def test_approval_is_carried_to_the_gateway_hold(fake, db):
    holds = HoldStore(db)
    conn, ticket, m = proposed(fake, db, holds=holds)
    hold = holds.propose(m.sender, "thread", "repeated abuse", thread=m.thread, message_id=m.id)
    fake.add_tag_by(ticket["id"], LEAD_ID, "hg_hold_approve")
    fake.export_all()
    run(conn.fetch_new())
    [approval] = run(conn.poll_approvals())
    after = holds.get(hold.id)
    assert after.state == "active"
    assert after.decided_by == approval.actor


def test_console_approval_is_carried_to_the_ticket(fake, db):
    conn, ticket, m = proposed(fake, db)
    assert run(conn.carry_console_verdict(m, "approve", actor="jane"))
    t = fake.tickets[ticket["id"]]
    assert t["status"] == "hold" and "hg_hold" in t["tags"] and "hg_hold_proposed" not in t["tags"]
    assert not run(conn.carry_console_verdict(m, "approve", actor="jane"))  # already decided


def test_customer_keys_of_email_and_zendesk_user_are_linked(fake, db):
    from gateway.store.memory import MemoryMessageStore

    store = MemoryMessageStore()
    ticket = new_ticket(fake, "hello")
    conn = make_connector(db, customers=store)
    [m] = run(conn.fetch_new())
    assert store.resolve_customer(f"zendesk:zendesk:user:{ticket['requester_id']}") == store.resolve_customer(m.sender)


def test_approver_is_found_on_a_later_audit_page(fake, db):
    conn, ticket, m = proposed(fake, db)
    tid = ticket["id"]
    for i in range(3):
        fake.add_tag_by(tid, LEAD_ID + 100 + i, f"note_{i}")  # other people's earlier edits
    fake.add_user(LEAD_ID + 100, "Someone", "someone@acme.example", role="agent")
    fake.add_tag_by(tid, LEAD_ID, "hg_hold_approve")
    fake.page_size_cap = 2
    fake.export_all()
    run(conn.fetch_new())
    [approval] = run(conn.poll_approvals())
    assert approval.actor_id == str(LEAD_ID)
    assert len([c for c in fake.contract.calls if c[1].endswith("/audits")]) >= 3
