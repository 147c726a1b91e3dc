"""From a polled Freshdesk ticket to tags, a private note and a hold, against the schema-checked
fake account: the whole flow, its idempotence, its API budget, the tag race, lifting, a lead's
verdict tag, and sending an approved draft."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
import respx

from connectors.base import Connector
from connectors.freshdesk.approvals import record_approval
from connectors.freshdesk.connector import FreshdeskConnector
from connectors.note import render_note
from gateway.errors import ConfigError, HelpdeskError
from gateway.holds import HoldStore
from gateway.model import Action, Decision, Evidence, Finding, Message, Severity
from gateway.quarantine import Quarantine
from gateway.store.db import Database
from tests.contract.freshdesk_fake import BASE, FakeFreshdesk, Sleeps, error_body, make_config, stamp, anyio_backend, fake  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.contract, pytest.mark.anyio]

THREAT = "I know where you live and you will regret this."


@pytest.fixture
def db(tmp_path):
    database = Database.open(tmp_path / "gateway.db")
    yield database
    database.close()


@pytest.fixture
async def connector(fake, db):
    c = FreshdeskConnector(make_config(), db, sleep=Sleeps(), now=lambda: fake.now)
    yield c
    await c.aclose()


def seed_threat_ticket(fake: FakeFreshdesk, *, tags: list[str] | None = None) -> dict:
    fake.add_contact(9, "Kim.Customer@Example.com", "Kim")
    ticket = fake.add_ticket(101, 9, "Where is my order 4411?", tags=tags or ["vip"])
    fake.add_conversation(101, "<div>Thanks, waiting.</div>", user_id=1, incoming=False)  # an agent's reply
    fake.add_conversation(101, "<div>internal</div>", user_id=1, incoming=False, private=True)
    fake.add_conversation(101, f"<p>{THREAT}</p>", user_id=9)
    return ticket


def threat_decision(message: Message, *, mode: str = "apply") -> tuple[Decision, str]:
    start = message.text.index("I know")
    ev = Evidence(start, start + len("I know where you live"), "I know where you live")
    assert message.text[ev.start:ev.end] == ev.text
    finding = Finding("threat", Severity.HIGH, 0.95, [ev], "threat.know_where_you_live", "stalking threat")
    decision = Decision(message.id, tags=["hg_threat"], categories=["threat"],
                        actions=[Action("hold", {"mode": mode, "scope": "customer"})],
                        hits=["threat_hold"], misses=["abuse_warning"], held=mode == "apply")
    if mode == "apply":
        decision.tags.append("hg_hold")
    draft = "We will not continue this conversation while threats are made."
    return decision, render_note(message, [finding], decision, draft=draft)


async def test_the_connector_satisfies_the_shared_protocol(connector):
    assert isinstance(connector, Connector)


async def test_polled_ticket_becomes_messages_for_the_customer_only(connector, fake):
    seed_threat_ticket(fake)
    window_start = stamp(fake.now - timedelta(days=30))
    messages = await connector.fetch_new()
    assert [m.id for m in messages] == ["freshdesk:fd:101:description", f"freshdesk:fd:101:{fake.conversations[101][2]['id']}"]
    threat = messages[1]
    assert THREAT in threat.text and "<p>" not in threat.text
    assert threat.sender == "kim.customer@example.com"
    assert threat.thread == "freshdesk:fd:ticket:101" and threat.source == "fd"
    assert threat.external["ticket_id"] == "101" and threat.external["requester_id"] == "9"
    listed = fake.router.calls[0].request.url.params
    assert listed["updated_since"] == window_start  # first poll: 30 days back, never without
    assert listed["order_by"] == "updated_at" and listed["order_type"] == "asc"


async def test_full_flow_tags_note_and_hold(connector, fake):
    seed_threat_ticket(fake)
    messages = await connector.fetch_new()
    threat = messages[-1]
    decision, note = threat_decision(threat)
    result = await connector.apply(threat, decision, note)
    await connector.commit_cursor()

    ticket = fake.tickets[101]
    assert ticket["tags"] == ["vip", "hg_threat", "hg_hold"]  # the agent's tag kept
    assert ticket["status"] == 8  # the configured hold status
    notes = [c for c in fake.conversations[101] if c["private"] and not c["incoming"] and c["id"] > 5003]
    assert len(notes) == 1
    body = notes[0]["body"]
    assert "[threat]" in body and "I know where you live" not in body  # masked for the agent
    assert "We will not continue this conversation" in body  # the drafted reply, in the note only
    assert fake.calls_to("POST", "/reply") == []
    assert result.applied and result.hold_applied and result.note_added
    assert result.tags_added == ["hg_threat", "hg_hold"]


async def test_api_calls_per_processed_conversation(connector, fake):
    """The budget the readme states: 1 list page (shared by every ticket on it), then per
    conversation 1 conversations read, and for a tagged one GET + PUT + re-read GET + note POST."""
    seed_threat_ticket(fake)
    messages = await connector.fetch_new()
    assert fake.calls == [("GET", "/api/v2/tickets"), ("GET", "/api/v2/tickets/101/conversations")]
    fake.calls.clear()
    threat = messages[-1]
    decision, note = threat_decision(threat)
    result = await connector.apply(threat, decision, note)
    assert fake.calls == [
        ("GET", "/api/v2/tickets/101"), ("PUT", "/api/v2/tickets/101"), ("GET", "/api/v2/tickets/101"),
        ("POST", "/api/v2/tickets/101/notes"),
    ]
    assert result.api_calls == 4
    fake.calls.clear()
    clean = messages[0]
    untouched = await connector.apply(clean, Decision(clean.id), "")
    assert untouched.api_calls == 0 and fake.calls == []


async def test_nothing_is_applied_twice_for_the_same_conversation(connector, fake):
    seed_threat_ticket(fake)
    threat = (await connector.fetch_new())[-1]
    decision, note = threat_decision(threat)
    await connector.apply(threat, decision, note)
    await connector.commit_cursor()
    fake.calls.clear()
    again = await connector.apply(threat, decision, note)
    assert not again.applied and fake.calls == []
    # the webhook or the next poll re-reads the ticket: the applied conversation is not offered again
    assert [m.id for m in await connector.fetch_new()] == ["freshdesk:fd:101:description"]


async def test_the_high_water_mark_moves_only_on_commit(connector, fake):
    seed_threat_ticket(fake)
    fake.tick(5)
    await connector.fetch_new()
    assert connector.poller.mark() is None
    await connector.commit_cursor()
    mark = connector.poller.mark()
    assert mark is not None and mark.ids == {101}
    fake.calls.clear()
    assert await connector.fetch_new() == []  # the ticket at the mark was handled: no conversations read
    assert fake.calls == [("GET", "/api/v2/tickets")]
    since = fake.router.calls.last.request.url.params["updated_since"]
    assert since == fake.tickets[101]["updated_at"]


async def test_a_ticket_listed_in_the_second_it_changed_is_read_again(connector, fake):
    seed_threat_ticket(fake)  # the fake's clock still shows the second of the last update
    await connector.fetch_new()
    await connector.commit_cursor()
    assert connector.poller.mark().ids == set()
    late = fake.conversations[101][-1]["updated_at"]
    fake.add_conversation(101, "<div>and one more thing</div>", user_id=9)
    fake.conversations[101][-1]["created_at"] = fake.tickets[101]["updated_at"] = late  # same second
    messages = await connector.fetch_new()
    assert [m.text for m in messages][-1] == "and one more thing"


async def test_cc_and_agent_conversations_are_not_the_customers(connector, fake):
    fake.add_contact(9, "kim@example.com")
    fake.add_contact(10, "boss@example.com")
    fake.add_ticket(8, 9, "Question")
    fake.add_conversation(8, "<div>cc'd colleague: you are useless</div>", user_id=10)
    fake.add_conversation(8, "<div>portal reply from the customer</div>", user_id=9, incoming=False)
    fake.add_conversation(8, "<div>agent public reply</div>", user_id=1, incoming=False)
    messages = await connector.fetch_new()
    assert [m.text for m in messages] == ["Question", "portal reply from the customer"]


async def test_new_reply_on_an_old_ticket_is_found_through_updated_since(connector, fake):
    fake.add_contact(9, "kim@example.com")
    fake.add_ticket(7, 9, "Old question", ago=timedelta(days=90))
    await connector.fetch_new()
    await connector.commit_cursor()
    fake.add_conversation(7, "<div>Answer me now, you idiot.</div>", user_id=9)
    messages = await connector.fetch_new()
    assert [m.text for m in messages] == ["Answer me now, you idiot."]


async def test_tag_merge_survives_a_concurrent_change(connector, fake):
    seed_threat_ticket(fake)
    threat = (await connector.fetch_new())[-1]
    decision, note = threat_decision(threat, mode="propose")

    def colleague_writes_from_an_old_read(ticket_id: int) -> None:
        # an agent's app read ["vip"] before our write and now saves ["vip", "refund"]
        fake.tickets[ticket_id]["tags"] = ["vip", "refund"]
        fake.tick()

    fake.after_put = colleague_writes_from_an_old_read
    result = await connector.apply(threat, decision, note)
    assert fake.tickets[101]["tags"] == ["vip", "refund", "hg_threat", "hg_hold_proposed"]
    assert len(fake.calls_to("PUT", "/api/v2/tickets/101")) == 2
    assert result.applied


async def test_a_tag_change_lost_twice_is_an_error_and_recorded(connector, fake):
    seed_threat_ticket(fake)
    threat = (await connector.fetch_new())[-1]
    decision, note = threat_decision(threat, mode="propose")

    def keep_overwriting(ticket_id: int) -> None:
        fake.tickets[ticket_id]["tags"] = ["vip"]
        fake.after_put = keep_overwriting

    fake.after_put = keep_overwriting
    with pytest.raises(HelpdeskError, match="overwritten twice"):
        await connector.apply(threat, decision, note)
    assert connector.state.failures(threat.id)[0]["step"] == "tags"
    assert fake.calls_to("POST", "/notes") == []
    fake.after_put = None


async def test_5xx_then_give_up_records_the_failure_and_retries_later(connector, fake):
    seed_threat_ticket(fake)
    threat = (await connector.fetch_new())[-1]
    decision, note = threat_decision(threat)
    for _ in range(5):
        fake.queue("PUT", "/api/v2/tickets/101", httpx.Response(500, json=error_body("Unexpected error", [])))
    with pytest.raises(HelpdeskError, match="gave up after 5 attempts"):
        await connector.apply(threat, decision, note)
    failure = connector.state.failures(threat.id)[0]
    assert failure["status"] == 500 and failure["step"] == "tags" and "Unexpected error" in failure["error"]
    assert fake.tickets[101]["tags"] == ["vip"]
    # the message is not lost: the next poll offers it again, and then it applies once
    assert threat.id in [m.id for m in await connector.fetch_new()]
    assert (await connector.apply(threat, decision, note)).applied
    assert fake.tickets[101]["tags"] == ["vip", "hg_threat", "hg_hold"] and fake.tickets[101]["status"] == 8
    # what the interrupted hold changed was recorded before the write, so lifting still undoes it
    assert await connector.lift_hold(threat, actor="lead:ana", reason="resolved")
    assert fake.tickets[101]["tags"] == ["vip", "hg_threat"] and fake.tickets[101]["status"] == 2


async def test_a_note_failure_after_tags_resumes_with_the_note_only(connector, fake):
    seed_threat_ticket(fake)
    threat = (await connector.fetch_new())[-1]
    decision, note = threat_decision(threat)
    fake.queue("POST", "/api/v2/tickets/101/notes", httpx.Response(503, text="unavailable"))
    with pytest.raises(HelpdeskError):
        await connector.apply(threat, decision, note)
    assert connector.state.failures(threat.id)[-1]["step"] == "note"
    fake.calls.clear()
    assert (await connector.apply(threat, decision, note)).note_added
    assert fake.calls == [("POST", "/api/v2/tickets/101/notes")]


async def test_lifting_undoes_exactly_what_the_hold_applied(connector, fake):
    seed_threat_ticket(fake, tags=["vip", "hg_threat"])  # an earlier verdict's tag stays
    threat = (await connector.fetch_new())[-1]
    decision, note = threat_decision(threat)
    await connector.apply(threat, decision, note)
    assert fake.tickets[101]["status"] == 8
    fake.tickets[101]["tags"].append("callback")  # an agent adds a tag while held
    assert await connector.lift_hold(threat, actor="lead:ana", reason="customer apologised")
    assert fake.tickets[101]["tags"] == ["vip", "hg_threat", "callback"]
    assert fake.tickets[101]["status"] == 2  # back to Open, as before the hold
    assert not await connector.lift_hold(threat, actor="lead:ana", reason="again")


async def test_lifting_leaves_a_status_an_agent_changed_since(connector, fake):
    seed_threat_ticket(fake)
    threat = (await connector.fetch_new())[-1]
    decision, note = threat_decision(threat)
    await connector.apply(threat, decision, note)
    fake.tickets[101]["status"] = 4  # an agent resolved it meanwhile
    assert await connector.lift_hold(threat, actor="lead:ana", reason="done")
    assert fake.tickets[101]["status"] == 4 and "hg_hold" not in fake.tickets[101]["tags"]


async def test_hold_status_by_name_is_looked_up_in_ticket_fields(fake, db):
    c = FreshdeskConnector(make_config(hold_status=None, hold_status_name="held by gateway"), db,
                           sleep=Sleeps(), now=lambda: fake.now)
    seed_threat_ticket(fake)
    threat = (await c.fetch_new())[-1]
    decision, note = threat_decision(threat)
    await c.apply(threat, decision, note)
    await c.aclose()
    assert fake.tickets[101]["status"] == 8
    assert fake.calls_to("GET", "/api/v2/ticket_fields")


async def test_an_unknown_hold_status_name_is_a_clear_config_error(fake, db):
    c = FreshdeskConnector(make_config(hold_status=None, hold_status_name="On hold"), db,
                           sleep=Sleeps(), now=lambda: fake.now)
    seed_threat_ticket(fake)
    threat = (await c.fetch_new())[-1]
    decision, note = threat_decision(threat)
    with pytest.raises(ConfigError, match="no status named 'On hold'.*8 'Held by gateway'"):
        await c.apply(threat, decision, note)
    await c.aclose()
    assert fake.calls_to("PUT") == []


async def test_shadow_mode_records_without_touching_the_ticket(connector, fake):
    seed_threat_ticket(fake)
    threat = (await connector.fetch_new())[-1]
    decision, note = threat_decision(threat)
    decision.shadow = True
    fake.calls.clear()
    result = await connector.apply(threat, decision, note)
    assert fake.calls == [] and not result.applied
    assert fake.tickets[101]["tags"] == ["vip"] and fake.tickets[101]["status"] == 2
    assert threat.id not in [m.id for m in await connector.fetch_new()]  # recorded as handled


async def test_a_clean_message_leaves_the_ticket_alone(connector, fake):
    seed_threat_ticket(fake)
    clean = (await connector.fetch_new())[0]
    fake.calls.clear()
    note = render_note(clean, [], Decision(clean.id))
    await connector.apply(clean, Decision(clean.id, misses=["threat_hold"]), note)
    assert fake.calls == [] and fake.tickets[101]["tags"] == ["vip"]


async def test_a_new_threat_on_a_held_ticket_adds_tags_without_a_second_hold(connector, fake):
    seed_threat_ticket(fake)
    threat = (await connector.fetch_new())[-1]
    decision, note = threat_decision(threat)
    await connector.apply(threat, decision, note)
    fake.add_conversation(101, "<p>I know where you live. Again.</p>", user_id=9)
    again = (await connector.fetch_new())[-1]
    decision2, note2 = threat_decision(again, mode="propose")
    decision2.tags.append("hg_verbal_abuse")
    await connector.apply(again, decision2, note2)
    assert fake.tickets[101]["tags"] == ["vip", "hg_threat", "hg_hold", "hg_verbal_abuse"]
    assert connector.state.open_proposals() == []
    assert await connector.lift_hold(again, actor="lead:ana", reason="ok")
    assert "hg_hold" not in fake.tickets[101]["tags"] and fake.tickets[101]["status"] == 2


async def test_a_leads_approval_tag_applies_the_proposed_hold_and_is_audited(fake, db):
    holds = HoldStore(db)
    connector = FreshdeskConnector(make_config(), db, sleep=Sleeps(), now=lambda: fake.now,
                                   holds=holds, audit=holds.audit)
    seed_threat_ticket(fake)
    threat = (await connector.fetch_new())[-1]
    decision, note = threat_decision(threat, mode="propose")
    hold = holds.propose(threat.sender, "customer", "stalking threat", [{"message_id": threat.id}],
                         message_id=threat.id, source=threat.source)
    await connector.apply(threat, decision, note)
    await connector.commit_cursor()
    assert "hg_hold_proposed" in fake.tickets[101]["tags"] and fake.tickets[101]["status"] == 2
    posted = [c for c in fake.conversations[101] if c["private"] and "Team leads" in c["body"]]
    assert posted and "hg_hold_approve" in posted[0]["body"]

    assert await connector.poll_approvals() == []  # nobody decided yet
    fake.tickets[101]["tags"].append("hg_hold_approve")  # the lead adds the tag in Freshdesk
    fake.tickets[101]["updated_at"] = fake.tick()
    await connector.fetch_new()
    approvals = await connector.poll_approvals()
    assert [(a.ticket_id, a.verdict) for a in approvals] == [("101", "approve")]
    assert fake.tickets[101]["tags"] == ["vip", "hg_threat", "hg_hold"]
    assert fake.tickets[101]["status"] == 8

    decided = holds.get(hold.id)
    assert decided.state == "active" and decided.decided_by == approvals[0].actor
    actions = [(e.action, e.actor) for e in holds.audit.entries()]
    assert ("freshdesk.hold_approve", approvals[0].actor) in actions
    assert ("hold.approve", approvals[0].actor) in actions
    assert holds.audit.verify()

    await connector.fetch_new()
    assert await connector.poll_approvals() == []  # reported once
    await connector.aclose()


async def test_record_approval_matches_the_gateway_hold_by_its_messages(db):
    from connectors.base import Approval

    holds = HoldStore(db)
    mine = holds.propose("kim@example.com", "customer", "threat", message_id="freshdesk:fd:101:5003")
    other = holds.propose("lee@example.com", "customer", "abuse", message_id="freshdesk:fd:202:6001")
    verdict = Approval(helpdesk="fd", ticket_id="101", verdict="reject", actor="freshdesk:fd tag x", actor_id="",
                       at=None)
    assert record_approval(verdict, holds) == [mine.id]
    assert holds.get(mine.id).state == "rejected" and holds.get(other.id).state == "proposed"


async def test_a_leads_reject_tag_closes_the_proposal_without_a_hold(connector, fake, db):
    seed_threat_ticket(fake)
    threat = (await connector.fetch_new())[-1]
    decision, note = threat_decision(threat, mode="propose")
    await connector.apply(threat, decision, note)
    fake.tickets[101]["tags"].append("hg_hold_reject")
    fake.tickets[101]["updated_at"] = fake.tick()
    await connector.fetch_new()
    approvals = await connector.poll_approvals()
    assert [a.verdict for a in approvals] == ["reject"]
    assert fake.tickets[101]["tags"] == ["vip", "hg_threat"] and fake.tickets[101]["status"] == 2


async def test_an_approval_tag_without_a_proposal_does_nothing(connector, fake):
    fake.add_contact(9, "kim@example.com")
    fake.add_ticket(5, 9, "hi", tags=["hg_hold_approve"])
    await connector.fetch_new()
    assert await connector.poll_approvals() == []
    assert fake.calls_to("PUT") == []


async def test_an_approved_draft_is_sent_once_as_the_configured_agent(connector, fake):
    seed_threat_ticket(fake)
    threat = (await connector.fetch_new())[-1]
    sent = await connector.send_reply(threat, "Dear Kim,\nwe cannot continue <this> way.", draft_id="d-1")
    again = await connector.send_reply(threat, "Dear Kim,\nwe cannot continue <this> way.", draft_id="d-1")
    assert sent == again
    replies = fake.calls_to("POST", "/reply")
    assert len(replies) == 1
    _, _, body = [b for b in fake.bodies if b[1].endswith("/reply")][0]
    assert body == {"body": "<div>Dear Kim,<br>we cannot continue &lt;this&gt; way.</div>", "user_id": 77}


async def test_a_conversation_ingest_refuses_is_quarantined_not_lost(connector, fake, db, monkeypatch):
    from gateway.errors import IngestError
    import connectors.freshdesk.poll as poll

    seed_threat_ticket(fake)
    real = poll.message_from_text

    def picky(id, text, **kw):  # noqa: A002
        if "regret" in text:
            raise IngestError("HTML over the limit")
        return real(id, text, **kw)

    monkeypatch.setattr(poll, "message_from_text", picky)
    messages = await connector.fetch_new()
    assert [m.id for m in messages] == ["freshdesk:fd:101:description"]
    items = Quarantine(db).list("fd")
    assert len(items) == 1 and items[0].reason == "HTML over the limit"


async def test_suspending_a_requester_is_never_done_on_freshdesk(connector, fake):
    seed_threat_ticket(fake)
    threat = (await connector.fetch_new())[-1]
    fake.calls.clear()
    assert await connector.suspend_requester(threat, actor="lead:ana") is False
    assert fake.calls == []


async def test_a_transient_failure_keeps_the_mark_before_its_ticket(connector, fake):
    seed_threat_ticket(fake)
    fake.add_contact(12, "other@example.com")
    fake.add_ticket(102, 12, "A later, polite question")
    messages = await connector.fetch_new()
    threat = next(m for m in messages if m.external["ticket_id"] == "101" and m.external["comment_id"] != "description")
    for _ in range(5):
        fake.queue("PUT", "/api/v2/tickets/101", httpx.Response(503, text="unavailable"))
    with pytest.raises(HelpdeskError):
        await connector.apply(threat, *threat_decision(threat))
    for m in messages:
        if m is not threat:
            await connector.apply(m, Decision(m.id), "")
    await connector.commit_cursor()
    mark = connector.poller.mark()
    assert mark is not None and stamp(mark.since) == fake.tickets[101]["updated_at"] and mark.ids == set()
    again = await connector.fetch_new()
    assert [m.id for m in again] == [threat.id]  # offered again; the clean ones are not


async def test_a_permanent_refusal_does_not_hold_the_mark_back(connector, fake):
    seed_threat_ticket(fake)
    fake.tick(5)
    threat = (await connector.fetch_new())[-1]
    fake.queue("PUT", "/api/v2/tickets/101", httpx.Response(405, json=error_body(
        "Method not allowed", [{"code": "invalid_value", "message": "ticket is spam"}])))
    with pytest.raises(HelpdeskError, match="405"):
        await connector.apply(threat, *threat_decision(threat))
    await connector.commit_cursor()
    assert connector.poller.mark().ids == {101}
    assert connector.state.failures(threat.id)[0]["status"] == 405


async def test_the_requester_is_linked_to_the_customer_key(fake, db):
    from gateway.store.memory import MemoryMessageStore

    customers = MemoryMessageStore()
    c = FreshdeskConnector(make_config(), db, sleep=Sleeps(), now=lambda: fake.now, customers=customers)
    seed_threat_ticket(fake)
    messages = await c.fetch_new()
    await c.aclose()
    assert messages[0].external["requester_key"] == "freshdesk:fd:contact:9"
    assert customers.resolve_customer("freshdesk:fd:contact:9") == customers.resolve_customer("kim.customer@example.com")


async def test_a_ticket_that_moves_to_a_later_page_while_paging_is_read_once(connector, fake):
    fake.add_contact(9, "kim@example.com")
    for i in (1, 2, 3):
        fake.add_ticket(i, 9, f"question {i}")
    first = [fake._ticket_view(fake.tickets[i], "requester") for i in (1, 2)]
    fake.tickets[2]["updated_at"] = fake.tick()  # updated between our two page reads
    second = [fake._ticket_view(fake.tickets[i], "requester") for i in (3, 2)]
    link = {"link": f'<{BASE}/api/v2/tickets?page=2&per_page=2>; rel="next"'}
    fake.queue("GET", "/api/v2/tickets", httpx.Response(200, json=first, headers=link))
    fake.queue("GET", "/api/v2/tickets", httpx.Response(200, json=second))
    messages = await connector.fetch_new()
    assert sorted(m.text for m in messages) == ["question 1", "question 2", "question 3"]
    assert len(fake.calls_to("GET", "/api/v2/tickets/2/conversations")) == 1
