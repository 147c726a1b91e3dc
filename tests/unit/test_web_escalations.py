"""The console's escalations page: one card per customer, masked messages, lead-only, acknowledged
with a reason that reaches the audit trail."""

from __future__ import annotations

import re
from datetime import timedelta

from starlette.testclient import TestClient

from gateway.audit import AuditLog
from gateway.effects import EscalationStore
from gateway.store.db import Database
from tests.web_seed import app, db, seeded  # noqa: F401 (fixtures, found by name)
from tests.web_seed import AGENT_PASSWORD, CUSTOMER, INSULT, LEAD_PASSWORD, T0, csrf_of, login

_csrf = csrf_of
HTML = {"accept": "text/html"}


def escalate(db: Database, message_id: str, customer: str, priority: str, minutes: int = 0) -> int:
    return EscalationStore(db).create(message_id, customer, ["leads"], priority, ["threat.intimidation"], ["threat"],
                                      now=T0 + timedelta(hours=5, minutes=minutes))


def test_escalations_are_grouped_per_customer_most_urgent_first_with_masked_messages(app, db, seeded):
    escalate(db, seeded.abusive_id, CUSTOMER, "high")
    escalate(db, seeded.abusive_id, CUSTOMER, "normal", minutes=1)
    other = escalate(db, "<z1@example.org>", "other@example.org", "urgent")
    EscalationStore(db).mark_notified(other, detail="mailed to kim@example.com")
    client = TestClient(app)
    login(client, "kim", LEAD_PASSWORD)
    page = client.get("/escalations", headers=HTML)
    assert page.status_code == 200
    html = page.text
    cards = re.findall(r'aria-label="Escalations for ([^"]+)"', html)
    assert cards == ["other@example.org", CUSTOMER]  # urgent before high
    assert f"{CUSTOMER}</a> · 2 messages" in html
    assert "Not mailed to anybody (2)" in html  # the customer's two were never mailed
    assert INSULT not in re.sub(r'<details class="ev">.*?</details>', "", html, flags=re.S)  # masked
    assert 'href="/escalations" class="on"' in html


def test_acknowledging_needs_a_reason_and_is_audited(app, db, seeded):
    ids = [escalate(db, seeded.abusive_id, CUSTOMER, "high"), escalate(db, seeded.abusive_id, CUSTOMER, "high", 1)]
    client = TestClient(app)
    login(client, "kim", LEAD_PASSWORD)
    token = _csrf(client.get("/escalations", headers=HTML).text)
    r = client.post("/escalations/acknowledge", data={"csrf_token": token, "ids": ",".join(map(str, ids)),
                                                       "reason": "  "}, follow_redirects=False)
    assert r.status_code == 303
    assert {EscalationStore(db).get(i).state for i in ids} == {"open"}
    assert "Give a reason to acknowledge" in client.get("/escalations", headers=HTML).text

    r = client.post("/escalations/acknowledge", data={"csrf_token": token, "ids": ",".join(map(str, ids)),
                                                       "reason": "called the customer; legal informed"},
                    follow_redirects=False)
    assert r.status_code == 303
    store = EscalationStore(db)
    assert [store.get(i).state for i in ids] == ["acknowledged", "acknowledged"]
    assert {store.get(i).acknowledged_by for i in ids} == {"kim"}
    entries = AuditLog(db).entries(action="escalation.acknowledged")
    assert len(entries) == 2 and entries[0].reason == "called the customer; legal informed"
    html = client.get("/escalations", headers=HTML).text
    assert "No escalations are waiting" in html and "Recently acknowledged" in html
    assert html.count("<td>kim</td>") == 2


def test_agents_cannot_see_or_acknowledge_escalations(app, db, seeded):
    esc = escalate(db, seeded.abusive_id, CUSTOMER, "high")
    client = TestClient(app)
    login(client, "ash", AGENT_PASSWORD)
    assert client.get("/escalations", headers=HTML).status_code == 403
    token = _csrf(client.get("/drafts", headers=HTML).text)
    assert "/escalations" not in client.get("/drafts", headers=HTML).text  # not in the agent's menu
    r = client.post("/escalations/acknowledge", data={"csrf_token": token, "ids": str(esc), "reason": "x"})
    assert r.status_code == 403
    assert EscalationStore(db).get(esc).state == "open"


def test_an_unknown_escalation_is_a_404(app, db, seeded):
    client = TestClient(app)
    login(client, "kim", LEAD_PASSWORD)
    token = _csrf(client.get("/escalations", headers=HTML).text)
    r = client.post("/escalations/acknowledge", data={"csrf_token": token, "ids": "999", "reason": "done"})
    assert r.status_code == 404


def test_a_list_with_an_unknown_escalation_changes_nothing(app, db, seeded):
    esc = escalate(db, seeded.abusive_id, CUSTOMER, "high")
    client = TestClient(app)
    login(client, "kim", LEAD_PASSWORD)
    token = _csrf(client.get("/escalations", headers=HTML).text)
    r = client.post("/escalations/acknowledge", data={"csrf_token": token, "ids": f"{esc},999", "reason": "done"})
    assert r.status_code == 404 and "no escalation with id 999" in r.text
    assert EscalationStore(db).get(esc).state == "open"
    assert AuditLog(db).entries(action="escalation.acknowledged") == []
