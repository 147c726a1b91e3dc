"""Sliding rate windows, computed from the messages' own timestamps (a controlled clock)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

from hypothesis import given, settings as hsettings, strategies as st

from gateway.contact import ContactSettings, ContactTracker
from gateway.contact.settings import RateWindow
from gateway.contact.windows import Stamp, breached_counts, contacts, count_windows
from gateway.model import Message
from gateway.store.memory import MemoryMessageStore

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
HOUR = RateWindow(timedelta(hours=1), 5, "customer")


def msg(i: int, at: datetime, *, sender: str = "ann@example.com", thread: str = "t1", text: str | None = None) -> Message:
    return Message(id=f"m{i:04d}", text=text or f"Question number {i} about order {1000 + i * 7919 % 8999}",
                   sender=sender, thread=thread, received_at=at)


def rate_finding(findings):
    return next((f for f in findings if f.rule == "contact.rate_window"), None)


def test_sixth_message_within_an_hour_breaches_and_names_the_earlier_five() -> None:
    tracker = ContactTracker(MemoryMessageStore(), ContactSettings.defaults())
    messages = [msg(i, T0 + timedelta(minutes=10 * i)) for i in range(6)]
    results = [tracker.observe(m, []) for m in messages]
    assert all(rate_finding(r) is None for r in results[:5])
    finding = rate_finding(results[5])
    assert finding is not None and finding.category == "persistent_contact"
    assert finding.related == ["m0000", "m0001", "m0002", "m0003", "m0004"]
    assert "6 messages in 1h from this customer (policy: more than 5)" in finding.reason
    windows = {w["window"]: w for w in finding.details["windows"]}
    assert windows["customer:1h"]["count"] == 6 and windows["customer:1h"]["breached"]
    assert windows["customer:24h"]["count"] == 6 and not windows["customer:24h"]["breached"]
    ev = finding.evidence[0]
    assert ev.text and messages[5].text[ev.start : ev.end] == ev.text


def test_message_exactly_one_window_old_is_outside() -> None:
    history = [Stamp(0, "a")]
    at = Stamp(3600 * 1_000_000, "b")
    assert count_windows([HOUR], at, history, [])[0].count == 1
    at_inside = Stamp(3600 * 1_000_000 - 1, "b")
    assert count_windows([HOUR], at_inside, history, [])[0].count == 2


def test_spread_out_messages_never_breach_the_hour() -> None:
    tracker = ContactTracker(MemoryMessageStore(), ContactSettings.defaults())
    found = [rate_finding(tracker.observe(msg(i, T0 + timedelta(minutes=13 * i)), [])) for i in range(12)]
    assert found == [None] * 12  # at most 5 in any hour; 12 in 24h is within 15


def test_thread_window_counts_all_customers_in_the_thread() -> None:
    tracker = ContactTracker(MemoryMessageStore(), ContactSettings.defaults())
    out = [
        tracker.observe(msg(i, T0 + timedelta(minutes=3 * i), sender=f"user{i}@example.com", thread="ticket-9"), [])
        for i in range(6)
    ]
    finding = rate_finding(out[5])
    assert finding is not None
    assert finding.details["breached"] == ["thread:1h"]


def test_wall_clock_is_never_read_when_received_at_is_given() -> None:
    def broken_clock() -> datetime:
        raise AssertionError("the wall clock was read")

    tracker = ContactTracker(MemoryMessageStore(), ContactSettings.defaults(), clock=broken_clock)
    for i in range(7):
        tracker.observe(msg(i, T0 + timedelta(seconds=i)), [])


def test_missing_received_at_takes_the_injected_clock() -> None:
    tracker = ContactTracker(MemoryMessageStore(), ContactSettings.defaults(), clock=lambda: T0)
    m = Message(id="x", text="hello there, my parcel is late", sender="a@example.com")
    tracker.observe(m, [])
    assert tracker.store.get("x").received_at == T0


# -- property: the tracker's counts equal a brute-force count on random timelines ------------------

timelines = st.lists(
    # a 2-minute grid over 6 hours, so messages exactly one window (or one burst gap) apart are common
    st.tuples(st.sampled_from(range(0, 6 * 3600, 120)), st.sampled_from(["a@x.com", "b@x.com", "c@x.com"]), st.sampled_from(["t1", "t2", ""])),
    min_size=1,
    max_size=60,
)


def _brute_contacts(times: list[float], burst: float, max_run: int) -> int:
    """Contacts by hand: a message more than ``burst`` after the previous one starts a contact,
    and so does one that would make the current contact longer than ``max_run`` (0: no limit)."""
    count = run = 0
    for i, t in enumerate(times):
        if i == 0 or burst == 0 or t - times[i - 1] > burst or (max_run and run >= max_run):
            count, run = count + 1, 1
        else:
            run += 1
    return count


@hsettings(max_examples=90, deadline=None, derandomize=True)
@given(timelines, st.sampled_from([0, 120]), st.sampled_from([0, 2, 3]))
def test_window_counts_equal_brute_force(timeline: list[tuple[int, str, str]], burst: int, max_run: int) -> None:
    windows = tuple(
        RateWindow(timedelta(seconds=s), limit, scope)
        for s, limit in ((600, 2), (3600, 3), (3 * 3600, 6))
        for scope in ("customer", "thread")
    )
    settings = ContactSettings(
        windows=windows, burst=timedelta(seconds=burst), ignore_lines=ContactSettings.defaults().ignore_lines,
        burst_max=max_run,
    )
    tracker = ContactTracker(MemoryMessageStore(), settings)
    msgs = [
        Message(id=f"m{i:03d}", text=f"note {i}", sender=sender, thread=thread, received_at=T0 + timedelta(seconds=sec))
        for i, (sec, sender, thread) in enumerate(timeline)
    ]
    order = sorted(msgs, key=lambda m: (m.received_at, m.id))  # live order = timestamp order
    for m in order:
        findings = tracker.observe(m, [])
        finding = rate_finding(findings)
        for w in windows:
            def same_scope(o: Message) -> bool:
                return o.sender == m.sender if w.scope == "customer" else (bool(m.thread) and o.thread == m.thread)

            inside = sorted(
                (
                    o
                    for o in msgs
                    if same_scope(o)
                    and (o.received_at, o.id) < (m.received_at, m.id)
                    and o.received_at > m.received_at - w.within
                ),
                key=lambda o: (o.received_at, o.id),
            ) + [m]
            brute = _brute_contacts([(o.received_at - T0).total_seconds() for o in inside], burst, max_run)
            breached = brute > w.limit
            if finding is None:
                assert not breached, (w.name, brute)
            else:
                got = {d["window"]: d for d in finding.details["windows"]}
                if w.scope == "customer" or m.thread:
                    assert got[w.name]["count"] == brute, (w.name, m.id)
                assert got.get(w.name, {"breached": False})["breached"] == breached

    # A replay of the same timeline gives the same answers and stores nothing twice.
    first = {m.id: [f.to_json() for f in tracker.store.get(m.id).findings] for m in msgs}
    for m in order:
        tracker.observe(m, [])
    assert tracker.store.count() == len(msgs)
    assert {m.id: [f.to_json() for f in tracker.store.get(m.id).findings] for m in msgs} == first


@hsettings(max_examples=300, deadline=None, derandomize=True)
@given(
    st.lists(st.sampled_from(range(0, 3 * 3600, 300)), min_size=1, max_size=40),
    st.integers(0, 39),
    st.sampled_from([0, 300, 600]),
    st.sampled_from([0, 1, 2, 4]),
)
def test_count_windows_equals_brute_force_at_every_message(seconds: list[int], pick: int, burst: int,
                                                           max_run: int) -> None:
    stamps = [Stamp(s * 1_000_000, f"m{i:02d}") for i, s in enumerate(seconds)]
    stamps.sort(key=lambda s: s.key)
    at = stamps[pick % len(stamps)]
    got = count_windows([HOUR], at, stamps, [], timedelta(seconds=burst), max_run)[0]
    inside = [s for s in stamps if s.key < at.key and s.received_us > at.received_us - 3600 * 1_000_000]
    run = [*inside, at]
    brute = _brute_contacts([s.received_us / 1e6 for s in run], burst, max_run)
    assert got.count == brute
    assert contacts(run, burst * 1_000_000, max_run) == brute
    breached = breached_counts([HOUR], at, stamps, [], timedelta(seconds=burst), max_run)
    assert (breached is not None) == (brute > 5) and (breached is None or breached[0].count == brute)
    assert got.messages == len(run)
    assert got.related == [s.id for s in inside]
    assert got.breached == (brute > 5)


def test_a_complaint_split_over_quick_messages_is_one_contact() -> None:
    tracker = ContactTracker(MemoryMessageStore(), ContactSettings.defaults())  # burst 2m
    times = [0, 1, 2, 3, 4, 5, 6, 7]  # minutes: one long complaint in eight parts
    found = [rate_finding(tracker.observe(msg(i, T0 + timedelta(minutes=t)), [])) for i, t in enumerate(times)]
    assert found == [None] * 8
    later = [30, 36, 42, 48, 54]  # five more separate contacts within the hour: six in all
    found = [rate_finding(tracker.observe(msg(10 + i, T0 + timedelta(minutes=t)), [])) for i, t in enumerate(later)]
    assert found[:-1] == [None] * 4
    assert found[-1] is not None
    hour = next(w for w in found[-1].details["windows"] if w["window"] == "customer:1h")
    assert (hour["count"], hour["messages"]) == (6, 13)
    assert "6 contacts (13 messages) in 1h" in found[-1].reason


def test_a_flood_of_quick_messages_is_many_contacts() -> None:
    """Mail every 5 seconds is not one long complaint: a contact ends at its tenth message
    (``contact.burst_max``), so the 1-hour window (more than 5 contacts) is breached at the 51st
    message. With no limit (``burst_max: 0``) the whole flood was one contact and no window fired."""
    def flood(burst_max: int) -> list[object]:
        tracker = ContactTracker(MemoryMessageStore(), replace(ContactSettings.defaults(), burst_max=burst_max))
        return [rate_finding(tracker.observe(msg(i, T0 + timedelta(seconds=5 * i)), [])) for i in range(120)]

    assert ContactSettings.defaults().burst_max == 10
    found = flood(10)
    assert [i for i, f in enumerate(found) if f is not None][:3] == [50, 51, 52]
    assert "6 contacts (51 messages) in 1h" in found[50].reason
    assert "12 contacts (120 messages) in 1h" in found[119].reason
    assert flood(0) == [None] * 120


def test_contacts_counts_gaps_longer_than_the_burst() -> None:
    stamps = [Stamp(s * 1_000_000, f"m{s}") for s in (0, 60, 120, 300, 301, 1000)]
    assert contacts(stamps, 0) == 6
    assert contacts(stamps, 120 * 1_000_000) == 3


def test_a_long_history_replayed_counts_as_it_did_live() -> None:
    """With hundreds of earlier rows the contact stage asks the store whether the message is
    stored instead of scanning the rows for its id; a re-delivered message (stored: its own row is
    among the earlier ones) is still left out of its own counts, as live."""
    from gateway.contact import tracker as tracker_module

    tracker = ContactTracker(MemoryMessageStore(), ContactSettings.defaults())
    messages = [msg(i, T0 + timedelta(minutes=3 * i)) for i in range(400)]
    live = [[f.to_json() for f in tracker.observe(m, [])] for m in messages]
    assert sum(1 for found in live if found) > 300  # the windows fire on most of them
    asked: list[str] = []
    has = tracker.store.has
    tracker.store.has = lambda message_id: asked.append(message_id) or has(message_id)  # type: ignore[method-assign]
    for i in (tracker_module._SCAN_ROWS + 10, 399):
        again = [f.to_json() for f in tracker.observe(replace(messages[i]), [])]
        assert again == live[i], i
    assert asked == [messages[tracker_module._SCAN_ROWS + 10].id, messages[399].id]


def test_a_window_of_thousands_keeps_the_latest_ids_and_counts_them_all() -> None:
    """A flood's window holds thousands of rows: the count and ``messages`` are all of them, the
    ids kept are the latest ``RELATED`` (what a finding cites comes from the end)."""
    from gateway.contact.windows import RELATED

    history = [Stamp(i * 1_000_000, f"m{i:05d}") for i in range(3000)]  # a message a second
    at = Stamp(3000 * 1_000_000, "last")
    for burst in (timedelta(0), timedelta(minutes=2)):
        (count,) = count_windows([HOUR], at, history, [], burst)
        assert count.messages == 3001 and count.count == (3001 if not burst else 1)
        assert count.related == [s.id for s in history[-RELATED:]]
