"""From an exported Zendesk ticket to tags, a private note and a hold — and back when lifted.

Every request is validated against Zendesk's OpenAPI description (with the overlay of its known
gaps), every mocked answer too; the fake account follows Zendesk's documented semantics.
"""

from __future__ import annotations

import asyncio

import pytest

from connectors.note import render_note
from gateway.audit import AuditLog
from gateway.model import Action, Decision, Evidence, Finding, Message, Severity
from tests.contract.zendesk_overlay import (  # noqa: F401 - fixtures
    API_USER_ID,
    FakeZendesk,
    SleepRecorder,
    db,
    fake,
    make_connector,
)

pytestmark = pytest.mark.contract

THREAT = "I have waited three weeks. Refund me or I will come to your office and hurt you, idiot."


def run(coro):
    return asyncio.run(coro)


def span(text: str, needle: str) -> Evidence:
    start = text.index(needle)
    return Evidence(start, start + len(needle), needle)


def threat_verdict(message: Message, *, hold: str = "apply_hold", scope: str = "thread"):
    findings = [
        Finding("threat", Severity.CRITICAL, 0.97, [span(message.text, "come to your office and hurt you")],
                "threat.violence", "threatens violence against staff"),
        Finding("verbal_abuse", Severity.MEDIUM, 0.8, [span(message.text, "idiot")], "abuse.insult", "insult"),
    ]
    decision = Decision(message.id, tags=["hg_threat", "hg_verbal_abuse"], categories=["threat", "verbal_abuse"],
                        actions=[Action(hold, {"scope": scope})], hits=["violence_hold"], misses=["repeat_abuse"])
    return findings, decision


def note_for(message: Message, findings: list[Finding], decision: Decision) -> str:
    return render_note(message, findings, decision, draft="We will not continue this conversation.")


def new_ticket(fake: FakeZendesk, text: str = THREAT, *, email: str | None = "Taro.Yamada+zd@Example.com"):
    requester = fake.add_user(fake.next_id(), "Taro Yamada", email)
    ticket = fake.add_ticket(requester["id"], "Refund still not received", text, tags=["vip", "billing"],
                             status="open")
    fake.export_all()
    return ticket


def test_exported_comment_becomes_a_message_with_ids_and_customer_key(fake, db):
    ticket = new_ticket(fake)
    conn = make_connector(db)
    messages = run(conn.fetch_new())
    assert len(messages) == 1
    m = messages[0]
    first = fake.comments[ticket["id"]][0]
    assert m.external["ticket_id"] == str(ticket["id"])
    assert m.external["comment_id"] == str(first["id"])
    assert m.external["requester_id"] == str(ticket["requester_id"])
    assert m.external["requester_email"] == "Taro.Yamada+zd@Example.com"
    assert m.sender == "taro.yamada@example.com"  # the same customer key mail would give
    assert "hurt you" in m.text and "<p>" not in m.text
    assert m.thread == f"zendesk:zendesk:ticket:{ticket['id']}"
    assert m.received_at is not None and m.received_at.tzinfo is not None


def test_requester_without_email_gets_a_zendesk_customer_key(fake, db):
    ticket = new_ticket(fake, email=None)
    [m] = run(make_connector(db).fetch_new())
    assert m.sender == f"zendesk:zendesk:user:{ticket['requester_id']}"


def test_full_flow_tags_note_and_hold_in_one_update(fake, db):
    ticket = new_ticket(fake)
    tid = ticket["id"]
    conn = make_connector(db)
    [m] = run(conn.fetch_new())
    findings, decision = threat_verdict(m)
    result = run(conn.apply(m, decision, note_for(m, findings, decision)))

    t = fake.tickets[tid]
    assert t["tags"] == ["vip", "billing", "hg_threat", "hg_verbal_abuse", "hg_hold"]  # the agents' tags kept
    assert t["status"] == "hold"
    [note] = fake.private_notes(tid)
    assert note["author_id"] == API_USER_ID and note["public"] is False
    assert "[threat]" in note["body"]
    assert "hurt you" not in note["body"] and "idiot" not in note["body"]  # abusive passages masked
    assert "We will not continue this conversation." in note["body"]
    [put] = fake.contract.bodies("PUT", f"/api/v2/tickets/{tid}")
    assert put["ticket"]["comment"]["public"] is False  # always explicit
    assert put["ticket"]["safe_update"] is True and put["ticket"]["updated_stamp"]
    assert result.applied and result.hold_applied and result.api_calls == 1


def test_api_calls_per_processed_comment_is_two(fake, db):
    """README figure: one comments read and one Update Ticket per processed comment (the export
    page is shared by up to 1,000 tickets), and the export's echo of our own update is free."""
    for _ in range(3):
        new_ticket(fake)
    fake.export_all()
    conn = make_connector(db)
    messages = run(conn.fetch_new())
    for m in messages:
        findings, decision = threat_verdict(m)
        run(conn.apply(m, decision, note_for(m, findings, decision)))
    run(conn.commit_cursor())
    export_calls = fake.contract.count("GET", "/api/v2/incremental/")
    per_comment = (len(fake.contract.calls) - export_calls) / len(messages)
    assert len(messages) == 3 and export_calls == 1
    assert per_comment == 2

    fake.export_all()  # the next export returns the three tickets we just updated
    before = len(fake.contract.calls)
    assert run(conn.fetch_new()) == []
    assert len(fake.contract.calls) - before == 1  # the export page only: no re-read of our own echo


def test_same_comment_is_never_applied_twice(fake, db):
    new_ticket(fake)
    conn = make_connector(db)
    [m] = run(conn.fetch_new())
    findings, decision = threat_verdict(m)
    run(conn.apply(m, decision, note_for(m, findings, decision)))
    again = run(conn.apply(m, decision, note_for(m, findings, decision)))
    assert not again.applied
    assert fake.contract.count("PUT") == 1
    # Another connector on the same store (a restart) does not fetch or apply it again either.
    fake.export_all()
    conn2 = make_connector(db)
    fake.touch(int(m.external["ticket_id"]))  # looks changed, so it is re-read
    assert run(conn2.fetch_new()) == []
    assert not run(conn2.apply(m, decision, "note")).applied


def test_clean_message_costs_no_update(fake, db):
    new_ticket(fake, "Could you tell me when my refund will arrive? Thank you.")
    conn = make_connector(db)
    [m] = run(conn.fetch_new())
    result = run(conn.apply(m, Decision(m.id), "unused"))
    assert result.applied and result.api_calls == 0
    assert fake.contract.count("PUT") == 0


def test_proposed_hold_only_tags_the_proposal(fake, db):
    ticket = new_ticket(fake)
    conn = make_connector(db)
    [m] = run(conn.fetch_new())
    findings, decision = threat_verdict(m, hold="propose_hold")
    run(conn.apply(m, decision, note_for(m, findings, decision)))
    t = fake.tickets[ticket["id"]]
    assert "hg_hold_proposed" in t["tags"] and "hg_hold" not in t["tags"]
    assert t["status"] == "open"
    assert "waiting for a team lead" in fake.private_notes(ticket["id"])[0]["body"]


def test_lifting_restores_exactly_what_the_gateway_changed(fake, db):
    ticket = new_ticket(fake)
    tid = ticket["id"]
    audit = AuditLog(db)
    conn = make_connector(db, audit=audit)
    [m] = run(conn.fetch_new())
    findings, decision = threat_verdict(m)
    run(conn.apply(m, decision, note_for(m, findings, decision)))
    fake.tickets[tid]["tags"].append("agent_followup")  # an agent tags it meanwhile
    fake.touch(tid)
    assert run(conn.lift_hold(m, actor="jane.lead", reason="customer apologised"))
    t = fake.tickets[tid]
    assert t["status"] == "open"
    assert t["tags"] == ["vip", "billing", "hg_threat", "hg_verbal_abuse", "agent_followup"]
    assert not run(conn.lift_hold(m, actor="jane.lead", reason="again"))  # nothing left to lift
    [entry] = [e for e in audit.entries() if e.action == "zendesk.hold_lift"]
    assert entry.actor == "jane.lead" and entry.reason == "customer apologised"


def test_lifting_keeps_a_status_an_agent_set_since(fake, db):
    ticket = new_ticket(fake)
    tid = ticket["id"]
    conn = make_connector(db)
    [m] = run(conn.fetch_new())
    findings, decision = threat_verdict(m)
    run(conn.apply(m, decision, note_for(m, findings, decision)))
    fake.tickets[tid]["status"] = "solved"
    fake.touch(tid)
    run(conn.lift_hold(m, actor="lead", reason="done"))
    assert fake.tickets[tid]["status"] == "solved"
    assert "hg_hold" not in fake.tickets[tid]["tags"]


def test_custom_hold_status_is_set_and_restored(fake, db):
    ticket = new_ticket(fake)
    tid = ticket["id"]
    fake.tickets[tid]["custom_status_id"] = 11
    conn = make_connector(db, options={"hold_custom_status_id": 4242})
    [m] = run(conn.fetch_new())
    findings, decision = threat_verdict(m)
    run(conn.apply(m, decision, note_for(m, findings, decision)))
    [put] = fake.contract.bodies("PUT", f"/api/v2/tickets/{tid}")
    assert put["ticket"]["custom_status_id"] == 4242 and "status" not in put["ticket"]
    run(conn.lift_hold(m, actor="lead", reason="done"))
    assert fake.tickets[tid]["custom_status_id"] == 11


def test_approved_draft_is_sent_once_as_a_public_comment_by_the_agent(fake, db):
    ticket = new_ticket(fake)
    conn = make_connector(db, options={"agent_id": 366})
    [m] = run(conn.fetch_new())
    ref = run(conn.send_reply(m, "Thank you for your message. We cannot continue ...", draft_id="draft-7"))
    again = run(conn.send_reply(m, "Thank you for your message. We cannot continue ...", draft_id="draft-7"))
    assert ref and again == ref
    public = [c for c in fake.comments[ticket["id"]] if c["public"] and c["author_id"] == 366]
    assert len(public) == 1
    [put] = fake.contract.bodies("PUT", f"/api/v2/tickets/{ticket['id']}")
    assert put["ticket"]["comment"] == {"body": "Thank you for your message. We cannot continue ...",
                                        "public": True, "author_id": 366}


def test_oauth_bearer_token_is_sent_and_accepted_by_the_overlay(fake, db):
    new_ticket(fake)
    conn = make_connector(db, options={"token_env": None, "email": None, "oauth_token_env": "ZD_OAUTH"})
    run(conn.fetch_new())
    assert fake.contract.calls  # every call passed security validation with bearerAuth


def test_sleep_recorder_untouched_on_the_happy_path(fake, db):
    sleep = SleepRecorder()
    new_ticket(fake)
    conn = make_connector(db, sleep=sleep)
    [m] = run(conn.fetch_new())
    findings, decision = threat_verdict(m)
    run(conn.apply(m, decision, note_for(m, findings, decision)))
    assert sleep.waits == []
