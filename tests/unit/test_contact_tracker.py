"""ContactTracker as the pipeline uses it: observe records the message with every finding,
idempotently; history() is what the policy engine reads; linked keys are one customer."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from gateway.contact import ContactSettings, ContactTracker, CustomerHistory
from gateway.model import Evidence, Finding, Message, Severity
from gateway.store.memory import MemoryMessageStore

T0 = datetime(2026, 7, 1, 9, 0, tzinfo=timezone.utc)
TEXTS = [
    "My parcel has not arrived yet.",
    "Could you tell me when the courier comes?",
    "The tracking page shows an error.",
    "Is there a phone number I can call instead?",
    "I paid for express shipping, not standard.",
    "Please cancel the second order I placed.",
    "Where do I send the return label?",
]


def note(i: int, sender: str, minutes: int, thread: str = "") -> Message:
    return Message(id=f"n{i}", text=TEXTS[i], sender=sender,
                   thread=thread, received_at=T0 + timedelta(minutes=3 * minutes))  # 3 min apart: separate contacts


def insult(msg: Message) -> Finding:
    return Finding("verbal_abuse", Severity.MEDIUM, 0.8, [Evidence(0, 6, msg.text[:6])], "abuse.test", "insult")


def test_observe_records_detection_and_contact_findings() -> None:
    store = MemoryMessageStore()
    tracker = ContactTracker(store, ContactSettings.defaults())
    msgs = [note(i, "ann@example.com", i) for i in range(6)]
    for m in msgs[:-1]:
        tracker.observe(m, [])
    contact = tracker.observe(msgs[-1], [insult(msgs[-1])])
    assert [f.category for f in contact] == ["persistent_contact"]
    stored = store.get("n5")
    assert [f.category for f in stored.findings] == ["verbal_abuse", "persistent_contact"]


def test_observing_a_message_again_changes_nothing() -> None:
    store = MemoryMessageStore()
    tracker = ContactTracker(store, ContactSettings.defaults())
    msgs = [note(i, "ann@example.com", i) for i in range(7)]
    first = [[f.to_json() for f in tracker.observe(m, [])] for m in msgs]
    again = [[f.to_json() for f in tracker.observe(m, [])] for m in msgs]
    assert again == first
    assert store.count() == 7
    assert store.finding_counts("ann@example.com") == {"persistent_contact": 2}


def test_linked_helpdesk_requester_and_email_count_as_one_customer() -> None:
    store = MemoryMessageStore()
    store.link_customers("ann@example.com", "zendesk:123")
    tracker = ContactTracker(store, ContactSettings.defaults())
    out = []
    for i in range(6):
        sender = "ann@example.com" if i % 2 else "zendesk:123"
        out.append(tracker.observe(note(i, sender, i), []))
    rate = next(f for f in out[-1] if f.rule == "contact.rate_window")
    assert rate.details["breached"] == ["customer:1h"]
    assert rate.related == ["n0", "n1", "n2", "n3", "n4"]


def test_linking_after_the_fact_merges_history() -> None:
    store = MemoryMessageStore()
    tracker = ContactTracker(store, ContactSettings.defaults())
    for i in range(3):
        tracker.observe(note(i, "freshdesk:9", i), [insult(note(i, "freshdesk:9", i))])
    for i in range(3, 6):
        tracker.observe(note(i, "ann@example.com", i), [])
    assert tracker.history("ann@example.com").messages_total == 3
    store.link_customers("ann@example.com", "freshdesk:9")
    history = tracker.history("freshdesk:9")
    assert history.customer == "ann@example.com"
    assert history.messages_total == 6
    assert history.finding_counts == {"verbal_abuse": 3}
    assert history.keys == ["ann@example.com", "freshdesk:9"]


def test_history_excludes_the_message_being_decided() -> None:
    tracker = ContactTracker(MemoryMessageStore(), ContactSettings.defaults())
    msgs = [note(i, "bob@example.com", i, thread="t7") for i in range(6)]
    for m in msgs:
        tracker.observe(m, [])
    with_current = tracker.history("bob@example.com")
    assert isinstance(with_current, CustomerHistory)
    assert with_current.messages_total == 6
    assert with_current.window_breaches == ["customer:1h", "thread:1h"]
    assert with_current.finding_counts == {"persistent_contact": 1}
    before = tracker.history("bob@example.com", exclude_id="n5")
    assert before.messages_total == 5
    assert before.window_breaches == []
    assert before.finding_counts == {}
    assert before.last_seen == T0 + timedelta(minutes=12)


def test_unknown_customer_has_an_empty_history() -> None:
    history = ContactTracker(MemoryMessageStore()).history("nobody@example.com")
    assert history.to_json() == {
        "customer": "nobody@example.com", "finding_counts": {}, "messages_total": 0, "window_breaches": [],
        "keys": ["nobody@example.com"], "last_seen": None,
    }


def test_message_without_sender_only_counts_its_thread() -> None:
    tracker = ContactTracker(MemoryMessageStore(), ContactSettings.defaults())
    out = [tracker.observe(note(i, "", i, thread="form-42"), []) for i in range(6)]
    rate = next(f for f in out[-1] if f.rule == "contact.rate_window")
    assert rate.details["breached"] == ["thread:1h"]
    assert all(w["scope"] == "thread" for w in rate.details["windows"])
