"""``HoldStore.open_rows`` read once answers both questions the effects ask about a customer's
holds: which active ones cover a message (``active_scopes_of`` = ``active_scopes``) and which open
one a new hold adds to (``open(..., open_rows=...)`` = ``open``'s own query)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.holds import SCOPES, HoldStore, active_scopes_of
from gateway.store.db import Database

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=timezone.utc)
NAMES = st.sampled_from(["a@x", "b@x", "é@x", "a@x "])
THREADS = st.sampled_from(["", "t1", "t2", "T1"])
SOURCES = st.sampled_from(["", "imap", "zendesk"])
# (customer, scope, thread, source, mode: propose, apply, or apply then lift)
HOLD = st.tuples(NAMES, st.sampled_from(SCOPES), THREADS, SOURCES, st.sampled_from(["propose", "apply", "lift"]))


def dump(db: Database) -> list[list[tuple[object, ...]]]:
    return [[tuple(r) for r in db.query(f"SELECT * FROM {t} ORDER BY rowid")]
            for t in ("holds", "hold_events", "audit_log")]


def build(store: HoldStore, holds: list[tuple[str, str, str, str, str]]) -> None:
    for i, (customer, scope, thread, source, mode) in enumerate(holds):
        now = T0 + timedelta(minutes=i)
        thread = thread or ("t0" if scope == "thread" else "")
        if mode == "propose":
            store.propose(customer, scope, "abuse", [{"n": i}], thread=thread, source=source, message_id=f"m{i}",
                          now=now)
        else:
            hold = store.apply(customer, scope, "violence", [{"n": i}], thread=thread, source=source,
                               message_id=f"m{i}", expiry_days=30, now=now)
            if mode == "lift":
                store.lift(hold.id, "lead", "resolved", now=now)


def check(tmp: Path, holds: list[tuple[str, str, str, str, str]], asks: list[tuple[Any, ...]]) -> None:
    one, two = HoldStore(Database.open(tmp / "one.db")), HoldStore(Database.open(tmp / "two.db"))
    build(one, holds)
    build(two, holds)
    for i, (customer, scope, thread, source, apply) in enumerate(asks):
        thread = thread or "tx"
        rows = two.open_rows(customer)
        assert active_scopes_of(rows, customer, thread, source) == one.active_scopes(customer, thread, source)
        now = T0 + timedelta(hours=1, minutes=i)
        state = "active" if apply else "proposed"
        with one.db.tx() as c:
            got_one = one.open(state, customer, scope, "more", [{"m": i}], thread=thread, source=source,
                               message_id=f"n{i}", now=now, conn=c)
        with two.db.tx() as c:
            got_two = two.open(state, customer, scope, "more", [{"m": i}], thread=thread, source=source,
                               message_id=f"n{i}", now=now, conn=c, open_rows=two.open_rows(customer, conn=c))
        assert got_one == got_two
    assert dump(one.db) == dump(two.db)


def test_fixed_holds(tmp_path: Path) -> None:
    holds = [("a@x", "customer", "", "imap", "propose"), ("a@x", "thread", "t1", "imap", "apply"),
             ("a@x", "all_channels", "", "", "lift"), ("b@x", "customer", "", "zendesk", "apply"),
             ("a@x", "customer", "", "imap", "apply")]  # activates the proposal
    asks = [("a@x", "customer", "t1", "imap", False), ("a@x", "thread", "t1", "imap", True),
            ("a@x", "all_channels", "t2", "zendesk", True), ("b@x", "customer", "t9", "", False),
            ("c@x", "thread", "t1", "imap", False), ("a@x", "customer", "t1", "imap", True)]
    check(tmp_path, holds, asks)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(HOLD, max_size=6), st.lists(st.tuples(NAMES, st.sampled_from(SCOPES), THREADS, SOURCES,
                                                      st.booleans()), min_size=1, max_size=5))
def test_generated_holds(tmp_path_factory: pytest.TempPathFactory, holds: list[tuple[str, str, str, str, str]],
                         asks: list[tuple[Any, ...]]) -> None:
    check(tmp_path_factory.mktemp("holds"), holds, asks)
