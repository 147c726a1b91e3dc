"""The console over HTTP (Starlette's TestClient) against a real SQLite store seeded through the stores."""

from __future__ import annotations

import re

import pytest
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from gateway.audit import AuditLog
from gateway.drafts import DraftStore
from gateway.errors import ConfigError
from gateway.holds import HoldStore
from gateway.web.app import create_app
from gateway.web.evidence import label_for
from tests.web_seed import app, db, seeded  # noqa: F401 (fixtures, found by name)
from tests.web_seed import AGENT_PASSWORD, INSULT, LEAD_PASSWORD, LEAD_TOKEN, console_config, csrf_of, login

HTML = {"accept": "text/html"}


_csrf = csrf_of


def _without_masked(html: str) -> str:
    return re.sub(r'<details class="ev">.*?</details>', "", html, flags=re.S)


# -- login and sessions ----------------------------------------------------------------------------

def test_pages_need_a_login(app):
    client = TestClient(app)
    r = client.get("/holds", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/holds"
    assert client.get("/drafts", follow_redirects=False).status_code == 303
    assert client.get("/audit", follow_redirects=False).status_code == 303


def test_lead_logs_in_with_password_and_lands_on_the_holds_queue(app):
    client = TestClient(app)
    login(client, "kim", LEAD_PASSWORD)
    r = client.get("/")
    assert r.url.path == "/holds"
    assert "kim · lead" in r.text


def test_wrong_password_is_refused_without_saying_which_part_was_wrong(app):
    client = TestClient(app)
    token = _csrf(client.get("/login").text)
    for user, pw in [("kim", "wrong password"), ("nobody", LEAD_PASSWORD), ("kim", AGENT_PASSWORD)]:
        r = client.post("/login", data={"csrf_token": token, "username": user, "password": pw})
        assert r.status_code == 401
        assert "did not match" in r.text
    assert client.get("/holds", follow_redirects=False).status_code == 303


def test_repeated_failures_lock_the_user_name_for_a_while(app):
    client = TestClient(app)
    token = _csrf(client.get("/login").text)
    for _ in range(5):
        client.post("/login", data={"csrf_token": token, "username": "kim", "password": "guess"})
    r = client.post("/login", data={"csrf_token": token, "username": "kim", "password": LEAD_PASSWORD})
    assert r.status_code == 429
    assert client.get("/holds", follow_redirects=False).status_code == 303
    # another user is not locked out by kim's failures
    login(client, "ash", AGENT_PASSWORD)


def test_login_form_without_csrf_token_is_refused(app):
    client = TestClient(app)
    client.get("/login")
    r = client.post("/login", data={"username": "kim", "password": LEAD_PASSWORD}, follow_redirects=False)
    assert r.status_code == 403
    assert client.get("/holds", follow_redirects=False).status_code == 303


def test_token_login_through_the_form(app):
    client = TestClient(app)
    token = _csrf(client.get("/login").text)
    r = client.post("/login", data={"csrf_token": token, "token": LEAD_TOKEN}, follow_redirects=False)
    assert r.status_code == 303
    assert "kim · lead" in client.get("/holds").text


def test_bearer_token_works_for_scripts_and_a_wrong_one_does_not(app, db, seeded):
    client = TestClient(app)
    assert client.get("/holds", headers={"authorization": f"Bearer {LEAD_TOKEN}"}).status_code == 200
    assert client.get("/holds", headers={"authorization": "Bearer not-the-token-at-all-xxxxxxx"}).status_code == 401
    r = client.post(f"/holds/{seeded.hold_id}/reject", data={"reason": "a one-off, no pattern"},
                    headers={"authorization": f"Bearer {LEAD_TOKEN}"}, follow_redirects=False)
    assert r.status_code == 303
    hold = HoldStore(db).get(seeded.hold_id)
    assert (hold.state, hold.decided_by) == ("rejected", "kim")


def test_login_redirects_only_to_paths_on_this_site(app):
    for target, expected in [("/drafts", "/drafts"), ("//evil.example/x", "/"), ("https://evil.example", "/")]:
        client = TestClient(app)
        token = _csrf(client.get("/login").text)
        r = client.post(f"/login?next={target}", data={"csrf_token": token, "username": "kim",
                                                       "password": LEAD_PASSWORD}, follow_redirects=False)
        assert r.headers["location"] == expected


def test_session_cookie_is_httponly_strict_and_secure_over_https(app):
    client = TestClient(app, base_url="https://console.test")
    token = _csrf(client.get("/login").text)
    r = client.post("/login", data={"csrf_token": token, "username": "kim", "password": LEAD_PASSWORD},
                    follow_redirects=False)
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" in cookie
    plain = TestClient(app).get("/login").headers["set-cookie"]
    assert "Secure" not in plain and "HttpOnly" in plain


def test_a_forged_session_cookie_is_ignored(app):
    client = TestClient(app)
    client.cookies.set("hg_session", "eyJ1c2VyIjoia2ltIiwiX2V4cCI6OTk5OTk5OTk5OX0=.AAAA")
    assert client.get("/holds", follow_redirects=False).status_code == 303


def test_logout_ends_the_session_and_needs_the_csrf_token(app):
    client = TestClient(app)
    csrf = login(client, "kim", LEAD_PASSWORD)
    assert client.post("/logout", follow_redirects=False).status_code == 403
    assert client.get("/holds").status_code == 200
    r = client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303
    assert client.get("/holds", follow_redirects=False).status_code == 303


def test_pages_carry_security_headers(app):
    r = TestClient(app).get("/login")
    assert "default-src 'none'" in r.headers["content-security-policy"]
    assert "script-src" not in r.headers["content-security-policy"]
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["referrer-policy"] == "no-referrer"


# -- holds ------------------------------------------------------------------------------------------

def test_holds_queue_shows_evidence_masked_and_the_contact_timeline(app, seeded):
    client = TestClient(app)
    login(client, "kim", LEAD_PASSWORD)
    html = client.get("/holds").text
    assert "repeated verbal abuse towards staff" in html
    assert label_for(INSULT, "verbal_abuse") in html
    assert INSULT in html  # present, but only inside the click-to-reveal element
    assert INSULT not in _without_masked(html)
    assert "Order 1234" in html and "Re: Order 1234" in html  # both messages in the timeline


def test_lead_approves_a_hold_with_a_reason_and_the_audit_names_the_lead(app, db, seeded):
    client = TestClient(app)
    csrf = login(client, "kim", LEAD_PASSWORD)
    r = client.post(f"/holds/{seeded.hold_id}/approve", data={"csrf_token": csrf, "reason": "pattern confirmed"},
                    follow_redirects=False)
    assert r.status_code == 303
    hold = HoldStore(db).get(seeded.hold_id)
    assert (hold.state, hold.decided_by, hold.decision_reason) == ("active", "kim", "pattern confirmed")
    entry = AuditLog(db).entries(subject=f"hold:{seeded.hold_id}", newest_first=True, limit=1)[0]
    assert (entry.actor, entry.action, entry.reason) == ("kim", "hold.approve", "pattern confirmed")
    assert "Hold 1 approved." in client.get("/holds").text


def test_a_decision_without_a_reason_changes_nothing(app, db, seeded):
    client = TestClient(app)
    csrf = login(client, "kim", LEAD_PASSWORD)
    r = client.post(f"/holds/{seeded.hold_id}/approve", data={"csrf_token": csrf, "reason": "   "})
    assert "Give a reason" in r.text
    assert HoldStore(db).get(seeded.hold_id).state == "proposed"


def test_lead_rejects_then_cannot_lift_a_rejected_hold(app, db, seeded):
    client = TestClient(app)
    csrf = login(client, "kim", LEAD_PASSWORD)
    client.post(f"/holds/{seeded.hold_id}/reject", data={"csrf_token": csrf, "reason": "a fair complaint"})
    assert HoldStore(db).get(seeded.hold_id).state == "rejected"
    r = client.post(f"/holds/{seeded.hold_id}/lift", data={"csrf_token": csrf, "reason": "oops"})
    assert "cannot lift" in r.text
    assert HoldStore(db).get(seeded.hold_id).state == "rejected"


def test_lead_lifts_an_active_hold(app, db, seeded):
    client = TestClient(app)
    csrf = login(client, "kim", LEAD_PASSWORD)
    client.post(f"/holds/{seeded.hold_id}/approve", data={"csrf_token": csrf, "reason": "confirmed"})
    page = client.get(f"/holds/{seeded.hold_id}").text
    assert "Lift hold" in page and "Approve hold" not in page
    client.post(f"/holds/{seeded.hold_id}/lift", data={"csrf_token": csrf, "reason": "customer apologised"})
    hold = HoldStore(db).get(seeded.hold_id)
    assert (hold.state, hold.closed_by, hold.close_reason) == ("lifted", "kim", "customer apologised")


def test_post_without_or_with_a_wrong_csrf_token_is_refused_and_changes_nothing(app, db, seeded):
    client = TestClient(app)
    login(client, "kim", LEAD_PASSWORD)
    before = AuditLog(db).count()
    for data in ({"reason": "no token"}, {"reason": "bad token", "csrf_token": "x" * 43}):
        r = client.post(f"/holds/{seeded.hold_id}/approve", data=data, headers=HTML)
        assert r.status_code == 403
        assert "security token" in r.text
    r = client.post(f"/drafts/{seeded.draft_id}/approve", data={"body": "changed"})
    assert r.status_code == 403
    assert HoldStore(db).get(seeded.hold_id).state == "proposed"
    assert DraftStore(db).get(seeded.draft_id).state == "pending"
    assert AuditLog(db).count() == before


def test_csrf_token_of_another_session_is_refused(app, db, seeded):
    other = TestClient(app)
    stolen = login(other, "ash", AGENT_PASSWORD)
    client = TestClient(app)
    login(client, "kim", LEAD_PASSWORD)
    r = client.post(f"/holds/{seeded.hold_id}/approve", data={"csrf_token": stolen, "reason": "x"})
    assert r.status_code == 403
    assert HoldStore(db).get(seeded.hold_id).state == "proposed"


def test_agent_cannot_see_the_holds_queue_or_decide_a_hold(app, db, seeded):
    client = TestClient(app)
    csrf = login(client, "ash", AGENT_PASSWORD)
    assert client.get("/").url.path == "/drafts"
    assert client.get("/holds").status_code == 403
    assert client.get("/audit").status_code == 403
    detail = client.get(f"/holds/{seeded.hold_id}")
    assert detail.status_code == 200
    assert "Only a team lead can decide holds" in detail.text
    assert "/approve" not in detail.text and "/reject" not in detail.text
    for action in ("approve", "reject"):
        r = client.post(f"/holds/{seeded.hold_id}/{action}", data={"csrf_token": csrf, "reason": "agent try"})
        assert r.status_code == 403
    hold = HoldStore(db).get(seeded.hold_id)
    assert hold.state == "proposed" and hold.decided_by is None
    assert not AuditLog(db).entries(actor="ash")


def test_unknown_hold_is_404(app):
    client = TestClient(app)
    csrf = login(client, "kim", LEAD_PASSWORD)
    assert client.get("/holds/999").status_code == 404
    assert client.post("/holds/999/approve", data={"csrf_token": csrf, "reason": "x"}).status_code == 404


# -- drafts -----------------------------------------------------------------------------------------

def test_agent_edits_then_approves_a_draft(app, db, seeded):
    client = TestClient(app)
    csrf = login(client, "ash", AGENT_PASSWORD)
    queue = client.get("/drafts").text
    assert "Regarding your messages to our support team" in queue
    new_body = "Dear customer,\r\n\r\nWe will answer about order 1234, without abusive language please.\r\n"
    r = client.post(f"/drafts/{seeded.draft_id}/approve",
                    data={"csrf_token": csrf, "subject": "About order 1234", "body": new_body}, follow_redirects=False)
    assert r.status_code == 303
    draft = DraftStore(db).get(seeded.draft_id)
    assert draft.state == "approved" and draft.decided_by == "ash" and draft.edited
    assert draft.body == new_body.replace("\r\n", "\n") and draft.subject == "About order 1234"
    assert draft.original_body.startswith("Dear customer,\n\nWe are glad")
    actions = [(e.actor, e.action) for e in AuditLog(db).entries(subject=f"draft:{seeded.draft_id}")]
    assert actions[-1] == ("ash", "draft.approve")


def test_a_plain_text_draft_is_shown_escaped_in_the_console(app, db, seeded):
    # Draft bodies are plain text (no entities); the console escapes them when it shows them.
    DraftStore(db).edit(seeded.draft_id, "ash", body="Dear <script>alert(1)</script>, about Tom's order")
    client = TestClient(app)
    login(client, "ash", AGENT_PASSWORD)
    html = client.get(f"/drafts/{seeded.draft_id}").text
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_saving_an_edit_keeps_the_draft_pending(app, db, seeded):
    client = TestClient(app)
    csrf = login(client, "ash", AGENT_PASSWORD)
    client.post(f"/drafts/{seeded.draft_id}/edit", data={"csrf_token": csrf, "body": "Shorter reply."})
    draft = DraftStore(db).get(seeded.draft_id)
    assert (draft.state, draft.body, draft.edited_by) == ("pending", "Shorter reply.", "ash")


def test_an_empty_draft_cannot_be_approved(app, db, seeded):
    client = TestClient(app)
    csrf = login(client, "ash", AGENT_PASSWORD)
    r = client.post(f"/drafts/{seeded.draft_id}/approve", data={"csrf_token": csrf, "body": "  "})
    assert "cannot be empty" in r.text
    assert DraftStore(db).get(seeded.draft_id).state == "pending"


def test_discarded_draft_is_not_approvable(app, db, seeded):
    client = TestClient(app)
    csrf = login(client, "kim", LEAD_PASSWORD)
    client.post(f"/drafts/{seeded.draft_id}/discard", data={"csrf_token": csrf, "reason": "not needed"})
    assert DraftStore(db).get(seeded.draft_id).state == "discarded"
    r = client.post(f"/drafts/{seeded.draft_id}/approve", data={"csrf_token": csrf})
    assert "cannot approve" in r.text
    assert DraftStore(db).get(seeded.draft_id).state == "discarded"


def test_drafts_page_masks_the_customer_message(app):
    client = TestClient(app)
    login(client, "ash", AGENT_PASSWORD)
    html = client.get("/drafts/1").text
    assert label_for(INSULT, "verbal_abuse") in html and INSULT not in _without_masked(html)


# -- customer and audit -----------------------------------------------------------------------------

def test_customer_page_shows_timeline_findings_holds_and_drafts(app, seeded):
    client = TestClient(app)
    login(client, "ash", AGENT_PASSWORD)
    html = client.get("/customers/angry%40example.com").text
    assert "2 messages stored" in html
    assert "verbal_abuse" in html and f"/holds/{seeded.hold_id}" in html and f"/drafts/{seeded.draft_id}" in html
    assert INSULT not in _without_masked(html)
    assert client.get("/customers/nobody%40example.com").status_code == 404


def test_customer_supplied_text_is_escaped(app, db):
    from gateway.model import Message
    from gateway.store.messages import SqliteMessageStore

    SqliteMessageStore(db).record(Message(id="<x@y>", text="<script>alert(1)</script>", subject="<b>hi</b>",
                                          sender="angry@example.com"), [])
    client = TestClient(app)
    login(client, "kim", LEAD_PASSWORD)
    html = client.get("/customers/angry%40example.com").text
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)" in html
    assert "<b>hi</b>" not in html


def test_audit_page_shows_entries_and_detects_tampering(app, db, seeded):
    client = TestClient(app)
    csrf = login(client, "kim", LEAD_PASSWORD)
    client.post(f"/holds/{seeded.hold_id}/approve", data={"csrf_token": csrf, "reason": "pattern confirmed"})
    html = client.get("/audit").text
    assert "Chain verified" in html and "pattern confirmed" in html and "hold.approve" in html
    db.conn.execute("DROP TRIGGER audit_log_no_update")
    db.conn.execute("UPDATE audit_log SET reason = 'nothing to see' WHERE action = 'hold.approve'")
    html = client.get("/audit").text
    assert "Chain broken" in html and "edited after it was written" in html


# -- the app factory --------------------------------------------------------------------------------

def test_extra_routes_are_mounted_without_console_login_or_csrf(db, seeded):
    async def hook(request):
        return PlainTextResponse("ok")

    app = create_app(console_config(), db, extra_routes=[Route("/webhooks/test", hook, methods=["POST"])])
    assert TestClient(app).post("/webhooks/test", content=b"{}").text == "ok"


def test_missing_token_variable_refuses_to_build_the_app(db):
    from gateway.config import parse_config

    cfg = parse_config({"console": {"users": [{"name": "kim", "role": "lead", "token_env": "NOPE"}]}}, env={})
    with pytest.raises(ConfigError, match="NOPE is not set"):
        create_app(cfg, db)


def test_lead_can_set_the_hold_length_when_approving(app, db, seeded):
    client = TestClient(app)
    csrf = login(client, "kim", LEAD_PASSWORD)
    r = client.post(f"/holds/{seeded.hold_id}/approve",
                    data={"csrf_token": csrf, "reason": "confirmed", "expiry_days": "0"})
    assert "between 1 and 3650" in r.text
    assert HoldStore(db).get(seeded.hold_id).state == "proposed"
    client.post(f"/holds/{seeded.hold_id}/approve", data={"csrf_token": csrf, "reason": "confirmed", "expiry_days": "7"})
    hold = HoldStore(db).get(seeded.hold_id)
    assert hold.state == "active" and hold.expiry_days == 7
    assert (hold.expires_at - hold.decided_at).days == 7


def test_after_login_the_user_lands_on_the_page_they_asked_for(app, seeded):
    client = TestClient(app)
    r = client.get(f"/drafts/{seeded.draft_id}")  # redirected to the login form
    assert r.url.path == "/login"
    action = re.search(r'<form class="card" method="post" action="([^"]+)"', r.text).group(1)
    assert action == f"/login?next=/drafts/{seeded.draft_id}"
    r = client.post(action, data={"csrf_token": _csrf(r.text), "username": "ash", "password": AGENT_PASSWORD})
    assert r.url.path == f"/drafts/{seeded.draft_id}"


def test_holds_queue_says_how_long_a_proposal_has_waited(db, seeded):
    from datetime import timedelta

    from tests.web_seed import T0

    app = create_app(console_config(), db, clock=lambda: T0 + timedelta(days=3, hours=7))
    client = TestClient(app)
    login(client, "kim", LEAD_PASSWORD)
    assert "waiting 3 days" in client.get("/holds").text


def test_audit_page_pages_back_through_older_entries(app, db, seeded):
    from gateway.web.console import AUDIT_PAGE

    log_ = AuditLog(db)
    for i in range(AUDIT_PAGE + 5):
        log_.append("system", "test.entry", f"item:{i}", f"entry number {i}")
    total = log_.count()
    client = TestClient(app)
    login(client, "kim", LEAD_PASSWORD)
    first = client.get("/audit").text
    assert f"Showing {AUDIT_PAGE} of {total} entries" in first
    assert f"entry number {AUDIT_PAGE + 4}" in first and "entry number 4<" not in first
    newest = [e.seq for e in log_.entries(newest_first=True, limit=AUDIT_PAGE)]
    assert f'href="/audit?before={newest[-1]}"' in first
    second = client.get(f"/audit?before={newest[-1]}").text
    assert "entry number 4<" in second and f"entry number {AUDIT_PAGE + 4}<" not in second
    assert f"Showing {total - AUDIT_PAGE} of {total} entries" in second and 'id="audit-older"' not in second
    assert 'id="audit-newest"' in second


def test_customer_page_lists_the_automatic_acknowledgments_sent_to_any_of_their_addresses(app, db):
    from datetime import datetime, timezone

    from gateway.mail.acknowledge import AckQueue
    from gateway.model import Decision, Message
    from gateway.policy.schema import AckSettings, Organization
    from gateway.resources import rules_dir
    from gateway.store.messages import SqliteMessageStore
    from tests.web_seed import CUSTOMER

    when = datetime(2026, 11, 21, 9, 0, tzinfo=timezone.utc)
    queue = AckQueue(db, AckSettings(enabled=True), templates_dir=rules_dir() / "templates",
                     organization=Organization(name="Acme Support"), clock=lambda: when)
    held = Message(id="<held@example.com>", text="Where is my refund?", subject="Refund", sender=CUSTOMER,
                   sender_address=CUSTOMER, received_at=when, source="support")
    assert queue.consider(held, Decision(held.id, tags=["hg_hold"], held=True)) == ""
    queue.finish(held.id, "sent", "250 OK")
    # a second address linked to the customer, whose acknowledgment failed
    SqliteMessageStore(db).link_customers(CUSTOMER, "angry.alt@example.com")
    other = Message(id="<held2@example.com>", text="Again: where is my refund?", subject="Refund 2",
                    sender="angry.alt@example.com", sender_address="angry.alt@example.com", received_at=when, source="support")
    assert queue.consider(other, Decision(other.id, tags=["hg_hold"], held=True)) == ""
    queue.finish(other.id, "failed", "550 mailbox unavailable")

    client = TestClient(app)
    login(client, "kim", LEAD_PASSWORD)
    html = client.get("/customers/angry%40example.com").text
    card = html[html.index("Automatic acknowledgments"):html.index("Contact timeline")]
    assert card.count('class="pill sent"') == 1 and card.count('class="pill failed"') == 1
    assert "Re: Refund" in card and "to angry.alt@example.com" in card and "550 mailbox unavailable" in card
    assert "250 OK" not in card  # the detail is shown only when it explains a failure
    assert "Acme Support" in card  # the body as sent, in its details element


def test_customer_page_says_when_no_acknowledgment_was_sent(app):
    client = TestClient(app)
    login(client, "ash", AGENT_PASSWORD)
    html = client.get("/customers/angry%40example.com").text
    card = html[html.index("Automatic acknowledgments"):html.index("Contact timeline")]
    assert "None sent." in card


def test_an_agent_disputes_a_tag_from_the_customer_page_and_a_lead_sees_it_on_the_hold(app, db, seeded):
    from gateway.store.messages import SqliteMessageStore
    from tests.web_seed import CUSTOMER

    assert SqliteMessageStore(db).finding_counts(CUSTOMER) == {"verbal_abuse": 1}
    client = TestClient(app)
    csrf = login(client, "ash", AGENT_PASSWORD)
    html = client.get("/customers/angry%40example.com").text
    assert html.count('action="/disputes"') == 1  # only the tagged message offers it
    # without a reason: refused, nothing recorded
    r = client.post("/disputes", data={"csrf_token": csrf, "message_id": seeded.abusive_id, "category": "verbal_abuse",
                                       "reason": "  "}, follow_redirects=True)
    assert "give a reason" in r.text and SqliteMessageStore(db).finding_counts(CUSTOMER) == {"verbal_abuse": 1}
    # without the form's token: refused
    assert client.post("/disputes", data={"message_id": seeded.abusive_id, "reason": "x"}).status_code == 403

    r = client.post("/disputes", data={"csrf_token": csrf, "message_id": seeded.abusive_id, "category": "verbal_abuse",
                                       "reason": "quoting the courier, not aimed at us"}, follow_redirects=True)
    assert r.url.path == "/customers/angry@example.com"
    assert "Disputed verbal_abuse: no longer counted against this customer" in r.text
    assert 'class="pill disputed"' in r.text and 'action="/disputes"' not in r.text
    assert "disputed by ash" in r.text and "quoting the courier, not aimed at us" in r.text
    assert SqliteMessageStore(db).finding_counts(CUSTOMER) == {}

    lead = TestClient(app)
    login(lead, "kim", LEAD_PASSWORD)
    hold_page = lead.get(f"/holds/{seeded.hold_id}").text
    assert "disputed by ash" in hold_page  # the lead deciding the hold sees the correction
    audit = lead.get("/audit").text
    assert "message.dispute" in audit


def test_a_flooded_hold_shows_its_first_and_newest_messages_and_the_latest_contacts(app, db, seeded):
    """A customer who keeps writing under a hold (hundreds of messages) does not make the hold's
    page, the queue or the customer's page as long as the flood: the hold shows the message that
    opened it and the newest ones, each timeline the newest contacts, and both say what is left out."""
    from datetime import timedelta

    from gateway.holds import HoldStore
    from gateway.model import Message
    from gateway.store.messages import SqliteMessageStore
    from gateway.web import console
    from tests.web_seed import CUSTOMER, T0

    store, holds = SqliteMessageStore(db), HoldStore(db)
    for i in range(260):
        m = Message(id=f"<flood{i}@example.com>", text=f"Answer me now, message number {i}.", subject=f"Flood {i}",
                    sender=CUSTOMER, thread="t-1234", received_at=T0 + timedelta(hours=6, minutes=i), source="support")
        store.record(m, [])
        holds.add_evidence(seeded.hold_id, [], message_id=m.id, now=T0 + timedelta(hours=6, minutes=i))
    assert len(holds.get(seeded.hold_id).message_ids) == 261  # the abusive message that opened it, and the flood
    client = TestClient(app)
    login(client, "kim", LEAD_PASSWORD)

    html = client.get(f"/holds/{seeded.hold_id}").text
    evidence = html.split("<h3>Details</h3>")[0]
    shown = re.findall(r"message number (\d+)", evidence)
    assert shown == [str(i) for i in range(260 - console.HOLD_MESSAGES + 1, 260)]  # the newest 49, in order
    assert evidence.index(label_for(INSULT, "verbal_abuse")) < evidence.index("211 messages under this hold not shown")
    timeline = html.split("Contact timeline")[1]
    assert timeline.count("<li") == console.TIMELINE_ENTRIES and "62 earlier contacts not listed" in timeline
    assert re.findall(r"Flood (\d+)", timeline) == [str(i) for i in range(60, 260)]  # the newest 200, oldest first

    queue = client.get("/holds").text  # the proposal's timeline in the queue
    assert queue.count("Flood ") == console.TIMELINE_ENTRIES + 3  # the timeline, and the newest 3 messages
    customer = client.get("/customers/angry%40example.com").text
    assert "262 messages stored" in customer and "62 earlier contacts not listed" in customer
