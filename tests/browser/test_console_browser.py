"""The console driven by Debian's Chromium through Playwright, against the real app served by uvicorn
on 127.0.0.1 and a real SQLite file seeded through the stores.

Each test reads the outcome back from the store through its own connection, as another process
would: what the browser showed must be what was recorded.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn

from gateway.audit import AuditLog
from gateway.drafts import DraftStore
from gateway.holds import HoldStore
from gateway.store.db import Database
from gateway.web.app import create_app
from tests.conftest import ROOT, require
from tests.web_seed import AGENT_PASSWORD, INSULT, LEAD_PASSWORD, T0, Seeded, console_config, seed

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOT = ROOT / "docs" / "console.png"


@dataclass
class Console:
    url: str
    db_path: Path
    seeded: Seeded

    def store(self) -> Database:
        return Database.open(self.db_path)


@pytest.fixture
def console(tmp_path: Path) -> Iterator[Console]:
    db_path = tmp_path / "gateway.db"
    db = Database.open(db_path)
    seeded = seed(db)
    # A second customer already held for a threat, so the queue page shows both sections.
    HoldStore(db).apply("threat.sender@example.org", "all_channels", "threat of violence against staff",
                        [{"category": "threat", "evidence": []}], rule="violence_hold_now",
                        categories=["threat"], expiry_days=90, now=T0)
    app = create_app(console_config(str(db_path)), db)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the console server did not start")
        time.sleep(0.02)
    try:
        yield Console(f"http://127.0.0.1:{port}", db_path, seeded)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
        db.close()


@pytest.fixture
def browser():
    require(os.access(CHROMIUM, os.X_OK), f"Debian's Chromium at {CHROMIUM}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require(False, "Playwright for Python")
    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


def _login(browser, console: Console, user: str, password: str):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(console.url + "/")
    assert page.url.endswith("/login")
    page.fill("#username", user)
    page.fill("#password", password)
    page.click("button[value=password]")
    page.wait_for_load_state()
    return page


def test_lead_approves_a_proposed_hold(browser, console):
    page = _login(browser, console, "kim", LEAD_PASSWORD)
    assert page.url.endswith("/holds")
    card = page.locator("section[aria-label='Proposed hold %d']" % console.seeded.hold_id)
    assert "repeated verbal abuse towards staff" in card.inner_text()

    # the abusive words are masked until a click reveals them
    words = card.locator("details.ev mark").first
    assert not words.is_visible()
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    card.locator("details.ev summary").first.click()
    assert words.is_visible() and words.inner_text() == INSULT

    card.get_by_role("link", name="Review and decide →").click()
    page.fill("#reason-approve", "second abusive message after a warning")
    page.click("text=Approve hold")
    page.wait_for_load_state()
    assert page.url.endswith("/holds")
    assert "Hold %d approved." % console.seeded.hold_id in page.inner_text("main")

    db = console.store()
    try:
        hold = HoldStore(db).get(console.seeded.hold_id)
        assert (hold.state, hold.decided_by) == ("active", "kim")
        assert hold.decision_reason == "second abusive message after a warning"
        entry = AuditLog(db).entries(subject=f"hold:{hold.id}", newest_first=True, limit=1)[0]
        assert (entry.actor, entry.action) == ("kim", "hold.approve")
        assert AuditLog(db).verify().ok
    finally:
        db.close()


def test_agent_edits_and_approves_a_draft(browser, console):
    page = _login(browser, console, "ash", AGENT_PASSWORD)
    assert page.url.endswith("/drafts")
    draft_id = console.seeded.draft_id
    body = page.locator(f"#body-{draft_id}")
    assert "we cannot accept abusive language" in body.input_value()
    edited = "Dear customer,\n\nWe will look into order 1234 today. Please keep your messages courteous.\n"
    body.fill(edited)
    page.locator(f"section[aria-label='Draft {draft_id}']").get_by_role("button", name="Approve and send").click()
    page.wait_for_load_state()
    assert f"Draft {draft_id} approved." in page.inner_text("main")

    db = console.store()
    try:
        draft = DraftStore(db).get(draft_id)
        assert draft.state == "approved" and draft.decided_by == "ash" and draft.edited
        assert draft.body == edited
    finally:
        db.close()


def test_agent_cannot_approve_a_hold(browser, console):
    page = _login(browser, console, "ash", AGENT_PASSWORD)
    hold_id = console.seeded.hold_id
    response = page.goto(console.url + "/holds")
    assert response.status == 403
    page.goto(console.url + f"/holds/{hold_id}")
    assert "Only a team lead can decide holds" in page.inner_text("main")
    assert page.locator("#reason-approve").count() == 0
    # Even a hand-made request with the agent's own valid CSRF token is refused on the server.
    csrf = page.locator("input[name=csrf_token]").first.get_attribute("value")
    refused = page.request.post(console.url + f"/holds/{hold_id}/approve",
                                form={"csrf_token": csrf, "reason": "agent tries"})
    assert refused.status == 403

    db = console.store()
    try:
        hold = HoldStore(db).get(hold_id)
        assert hold.state == "proposed" and hold.decided_by is None
        assert not AuditLog(db).entries(actor="ash")
    finally:
        db.close()


def test_form_posted_without_the_csrf_token_is_refused(browser, console):
    page = _login(browser, console, "kim", LEAD_PASSWORD)
    hold_id = console.seeded.hold_id
    db = console.store()
    try:
        entries_before = AuditLog(db).count()
        page.goto(console.url + f"/holds/{hold_id}")
        page.fill("#reason-approve", "this form lost its token")
        form = page.locator(f"form[action='/holds/{hold_id}/approve']")
        form.locator("input[name=csrf_token]").evaluate("el => el.remove()")
        with page.expect_response(lambda r: r.url.endswith(f"/holds/{hold_id}/approve")) as answer:
            form.get_by_role("button", name="Approve hold").click()
        assert answer.value.status == 403
        assert "security token" in page.inner_text("main")
        assert HoldStore(db).get(hold_id).state == "proposed"
        assert AuditLog(db).count() == entries_before
    finally:
        db.close()


def test_agent_disputes_a_wrong_tag_from_the_customer_page(browser, console):
    page = _login(browser, console, "ash", AGENT_PASSWORD)
    page.goto(console.url + "/customers/angry%40example.com")
    form = page.locator("form.dispute")
    assert form.count() == 1  # only the tagged message offers it
    form.locator("input[name=reason]").fill("he was quoting the courier, not insulting us")
    form.get_by_role("button", name="Dispute tag").click()
    page.wait_for_load_state()
    main = page.inner_text("main")
    assert "Disputed verbal_abuse: no longer counted against this customer" in main
    assert "disputed by ash" in main and page.locator("form.dispute").count() == 0

    db = console.store()
    try:
        from gateway.disputes import Disputes
        from gateway.store.messages import SqliteMessageStore

        [dispute] = Disputes(db).list()
        assert dispute.actor == "ash" and dispute.reason == "he was quoting the courier, not insulting us"
        assert SqliteMessageStore(db).finding_counts("angry@example.com") == {}
        assert [e.action for e in AuditLog(db).entries()][-1] == "message.dispute"
    finally:
        db.close()


def test_lead_acknowledges_a_customers_escalations_from_the_menu(browser, console):
    from datetime import timedelta

    from gateway.effects import EscalationStore

    db = console.store()
    try:
        ids = [EscalationStore(db).create(console.seeded.abusive_id, "angry@example.com", ["leads"], "high",
                                          ["threat.intimidation"], ["threat"], now=T0 + timedelta(minutes=m))
               for m in (0, 5)]
    finally:
        db.close()
    page = _login(browser, console, "kim", LEAD_PASSWORD)
    page.get_by_role("link", name="Escalations").click()
    page.wait_for_load_state()
    card = page.locator("section[aria-label='Escalations for angry@example.com']")
    assert "2 messages" in card.inner_text() and "Not mailed to anybody (2)" in card.inner_text()
    assert not card.locator("details.ev mark").first.is_visible()  # the words are masked
    card.locator("input[name=reason]").fill("called the customer; legal informed")
    card.get_by_role("button", name="Acknowledge 2").click()
    page.wait_for_load_state()
    assert "2 escalations acknowledged." in page.inner_text("main")
    assert "No escalations are waiting" in page.inner_text("main")

    db = console.store()
    try:
        store = EscalationStore(db)
        assert [(store.get(i).state, store.get(i).acknowledged_by) for i in ids] == [("acknowledged", "kim")] * 2
        assert AuditLog(db).verify().ok
    finally:
        db.close()
