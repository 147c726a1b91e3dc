"""Cursor-based incremental export and comment pagination: every page read, the cursor persisted
only after the effects, a restart resuming where it stopped."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import pytest

from gateway.model import Decision
from tests.contract.zendesk_overlay import (  # noqa: F401 - fixtures
    LEAD_ID,
    db,
    fake,
    make_connector,
    new_ticket,
)

pytestmark = pytest.mark.contract


def run(coro):
    return asyncio.run(coro)


def export_requests(fake):
    return [c for c in fake.contract.calls if c[1] == "/api/v2/incremental/tickets/cursor"]


def test_export_follows_cursor_across_pages_and_persists_it_after_commit(fake, db):
    tickets = [new_ticket(fake, f"Question number {i}") for i in range(5)]
    fake.export_pages = [[tickets[0]["id"], tickets[1]["id"]], [tickets[2]["id"], tickets[3]["id"]],
                         [tickets[4]["id"]]]
    conn = make_connector(db)
    messages = run(conn.fetch_new())
    assert [m.external["ticket_id"] for m in messages] == [str(t["id"]) for t in tickets]
    assert len(export_requests(fake)) == 3
    assert conn.state.cursor() is None  # staged, not yet committed
    run(conn.commit_cursor())
    assert conn.state.cursor() == "cursor-3"

    # A restart resumes from the stored cursor (a cursor-only request: the overlay allows it).
    seen = []
    fake.faults.append(lambda request: seen.append(dict(request.url.params)))
    restarted = make_connector(db)
    assert run(restarted.fetch_new()) == []
    assert seen == [{"cursor": "cursor-3", "include": "users"}]


def test_first_export_starts_at_the_configured_time_and_never_within_the_last_minute(fake, db):
    new_ticket(fake, "hello")
    clock = datetime(2026, 11, 26, 9, 0, tzinfo=timezone.utc)
    requests = []

    def spy(request):
        if "incremental" in request.url.path:
            requests.append(dict(request.url.params))
        return None

    fake.faults.append(spy)
    conn = make_connector(db, clock=lambda: clock, options={"start_time": int(clock.timestamp())})
    run(conn.fetch_new())
    assert requests[0]["start_time"] == str(int(clock.timestamp()) - 60)
    assert requests[0]["include"] == "users"
    assert "cursor" not in requests[0]


def test_crash_before_commit_rereads_but_does_not_reapply(fake, db):
    ticket = new_ticket(fake, "You idiot.")
    conn = make_connector(db)
    [m] = run(conn.fetch_new())
    from tests.contract.zendesk_overlay import insult_verdict

    run(conn.apply(m, insult_verdict(m)[1], "note"))
    # crash: commit_cursor never ran. The restarted connector sees the same export page again.
    again = make_connector(db)
    fake.touch(ticket["id"])
    assert run(again.fetch_new()) == []
    assert len(fake.private_notes(ticket["id"])) == 1


def test_comment_pages_are_followed_newest_first_until_known_comments(fake, db):
    ticket = new_ticket(fake, "first")
    tid = ticket["id"]
    requester = ticket["requester_id"]
    for i in range(4):
        fake.add_comment(tid, requester, f"follow-up {i}")
    fake.add_comment(tid, LEAD_ID, "An agent's answer", public=True)
    conn = make_connector(db)

    fake.page_size_cap = 2  # Zendesk may return fewer per page than asked
    messages = run(conn.fetch_new())
    assert [m.text for m in messages] == ["first", "follow-up 0", "follow-up 1", "follow-up 2", "follow-up 3"]
    comment_reads = [c for c in fake.contract.calls if c[1].endswith("/comments")]
    assert len(comment_reads) == 3  # 6 comments, 2 a page

    # Later: one new comment; only the newest page is read and reading stops at known comments.
    for m in messages:
        run(conn.apply(m, Decision(m.id), ""))
    fake.add_comment(tid, requester, "one more")
    fake.export_all()
    fake.contract.calls.clear()
    [latest] = run(conn.fetch_new())
    assert latest.text == "one more"
    assert len([c for c in fake.contract.calls if c[1].endswith("/comments")]) == 1


def test_agent_comments_and_closed_tickets_are_not_messages(fake, db):
    ticket = new_ticket(fake, "A customer question")
    fake.add_comment(ticket["id"], LEAD_ID, "An agent's internal note", public=False)
    closed = new_ticket(fake, "old", status="closed")
    fake.export_all()
    messages = run(make_connector(db).fetch_new())
    assert [m.text for m in messages] == ["A customer question"]
    assert not any(c[1].startswith(f"/api/v2/tickets/{closed['id']}") for c in fake.contract.calls)


def test_html_comment_body_becomes_clean_text(fake, db):
    requester = fake.add_user(fake.next_id(), "Hanako", "hanako@example.jp")
    body = "<div><p>返金を<b>至急</b>お願いします。</p><script>alert(1)</script></div>"
    fake.add_ticket(requester["id"], "件名", body, html=True)
    fake.export_all()
    [m] = run(make_connector(db).fetch_new())
    assert "返金を" in m.text and "至急" in m.text
    assert "<b>" not in m.text and "alert(1)" not in m.text


def test_requesters_missing_from_the_side_load_are_fetched_in_one_call(fake, db):
    tickets = [new_ticket(fake, f"q{i}") for i in range(3)]
    original = fake._export

    def without_users(params):
        response = original(params)
        import json as _json

        body = _json.loads(response.content)
        body.pop("users", None)
        from tests.contract.zendesk_overlay import json_response

        return json_response(200, body)

    fake._export = without_users
    messages = run(make_connector(db).fetch_new())
    assert {m.external["requester_email"] for m in messages} == {"taro.yamada@example.com"}
    assert len([c for c in fake.contract.calls if c[1] == "/api/v2/users/show_many"]) == 1
    assert len(messages) == len(tickets)


def test_history_before_the_first_export_is_not_new_contact(fake, db):
    requester = fake.add_user(fake.next_id(), "Long-time customer", "old@example.com")
    ticket = fake.add_ticket(requester["id"], "Old thread", "A comment from long ago", status="open")
    fake.add_comment(ticket["id"], requester["id"], "Another old comment")
    clock = fake._clock  # the gateway starts now; everything above is history
    fake.add_comment(ticket["id"], requester["id"], "A new comment")
    start = int(clock.timestamp()) + 1
    conn = make_connector(db, clock=lambda: clock.replace(year=2027), options={"start_time": start})
    messages = run(conn.fetch_new())
    assert [m.text for m in messages] == ["A new comment"]
