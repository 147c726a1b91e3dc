"""A console store seeded through the real stores: a customer's history with abusive messages, a
proposed hold citing them, and a pending reply draft. Shared by the console's unit and browser tests."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest

from gateway.config import parse_config
from gateway.drafts import DraftStore
from gateway.holds import HoldStore
from gateway.model import Evidence, Finding, Message, Severity
from gateway.store.db import Database
from gateway.store.messages import SqliteMessageStore
from gateway.web.auth import hash_password

LEAD_PASSWORD = "lead-password-for-tests"
AGENT_PASSWORD = "agent-password-for-tests"
LEAD_TOKEN = "lead-token-0123456789-abcdefghijkl"
CUSTOMER = "angry@example.com"
T0 = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)
INSULT = "you useless idiot"
ABUSIVE = f"I have written three times. Listen, {INSULT}, refund me today or else."

# scrypt at n=2**14 keeps the tests quick; the format and checks are the same.
_HASHES: dict[str, str] = {}


def _hash(password: str) -> str:
    if password not in _HASHES:
        _HASHES[password] = hash_password(password, n=2**14)
    return _HASHES[password]


def console_config(store_path: str = ":memory:"):
    return parse_config(
        {
            "store": {"path": store_path},
            "console": {
                "users": [
                    {"name": "kim", "role": "lead", "password_hash": _hash(LEAD_PASSWORD), "token_env": "HG_KIM_TOKEN"},
                    {"name": "ash", "role": "agent", "password_hash": _hash(AGENT_PASSWORD)},
                ]
            },
        },
        env={"HG_KIM_TOKEN": LEAD_TOKEN},
    )


@dataclass
class Seeded:
    hold_id: int
    draft_id: int
    abusive_id: str


def seed(db: Database) -> Seeded:
    messages = SqliteMessageStore(db)
    polite = Message(id="<m1@example.com>", text="Hello, my order 1234 has not arrived. Could you check?",
                     subject="Order 1234", sender=CUSTOMER, thread="t-1234", received_at=T0, source="support")
    messages.record(polite, [])
    start = ABUSIVE.index(INSULT)
    finding = Finding("verbal_abuse", Severity.MEDIUM, 0.9, [Evidence(start, start + len(INSULT), INSULT)],
                      "verbal_abuse.insult", "insult aimed at the employee")
    abusive = Message(id="<m2@example.com>", text=ABUSIVE, subject="Re: Order 1234", sender=CUSTOMER,
                      thread="t-1234", received_at=T0 + timedelta(hours=5), source="support")
    messages.record(abusive, [finding])
    hold = HoldStore(db).propose(
        CUSTOMER, "customer", "repeated verbal abuse towards staff",
        [{"message_id": abusive.id, **finding.to_json()}],
        thread="t-1234", source="support", message_id=abusive.id, rule="repeat_abuse_hold",
        categories=["verbal_abuse"], expiry_days=30, now=T0 + timedelta(hours=5),
    )
    draft = DraftStore(db).create(
        CUSTOMER, "en", "abuse_warning", "Regarding your messages to our support team",
        "Dear customer,\n\nWe are glad to help with your order, but we cannot accept abusive language "
        "towards our staff.\n\nSupport team\n",
        to_address=CUSTOMER, thread="t-1234", source="support", message_id=abusive.id,
        rule="first_abuse_warning", now=T0 + timedelta(hours=5),
    )
    return Seeded(hold.id, draft.id, abusive.id)


def csrf_of(html: str) -> str:
    """The CSRF token of a console page's forms."""
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "page has no CSRF field"
    return match.group(1)


def login(client, user: str, password: str) -> str:  # type: ignore[no-untyped-def]
    """Log ``client`` (a Starlette TestClient) in with a password; returns a CSRF token for the
    session's forms."""
    token = csrf_of(client.get("/login").text)
    r = client.post("/login", data={"csrf_token": token, "username": user, "password": password},
                    follow_redirects=False)
    assert r.status_code == 303, r.text
    return csrf_of(client.get("/drafts").text)


# -- fixtures for the console's tests (imported by name into each module, as pytest finds them) --

@pytest.fixture
def db(tmp_path):  # type: ignore[no-untyped-def]
    database = Database.open(tmp_path / "console.db")
    yield database
    database.close()


@pytest.fixture
def seeded(db):  # type: ignore[no-untyped-def]
    return seed(db)


@pytest.fixture
def app(db, seeded):  # type: ignore[no-untyped-def]
    from gateway.web.app import create_app

    return create_app(console_config(), db)
