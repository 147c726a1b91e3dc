"""An escalation's texts cached per shape (recipients, priority, rules, categories) are what
encoding its values each time writes: the escalation row, and the audit entry (so the chain)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gateway.effects as effects_module
from gateway.effects import EscalationStore
from gateway.store.db import Database

T0 = datetime(2026, 5, 1, 8, 0, 0, 137, tzinfo=timezone.utc)
TEXT = st.text(st.sampled_from(["a", "b", "\"", "\\", "é", "日", "\u2028", "\x00", "\x01", " ", ",", "]"]),
               max_size=6)
ODD = st.one_of(st.integers(-3, 3), st.none(), st.booleans(), st.floats(allow_nan=False), st.just(("t",)))


def dump(db: Database) -> list[list[tuple[object, ...]]]:
    return [[tuple(r) for r in db.query(f"SELECT * FROM {t} ORDER BY rowid")] for t in ("escalations", "audit_log")]


def write_both(tmp: Path, calls: list[tuple[Any, ...]]) -> None:
    fast_db, slow_db = Database.open(tmp / "fast.db"), Database.open(tmp / "slow.db")
    fast, slow = EscalationStore(fast_db), EscalationStore(slow_db)
    for i, (mid, customer, to, priority, rules, cats, hold_id) in enumerate(calls):
        now = T0 + timedelta(seconds=i, microseconds=i)
        results = []
        for store, general in ((slow, True), (fast, False)):
            with pytest.MonkeyPatch.context() as m:
                if general:
                    m.setattr(effects_module, "_escalation_shape", lambda *values: None)
                try:
                    results.append(store.create(mid, customer, to, priority, rules, cats, hold_id=hold_id, now=now))
                except Exception as exc:  # noqa: BLE001 - both must fail alike
                    results.append(type(exc))
        assert results[0] == results[1]
    assert dump(fast_db) == dump(slow_db)
    if all(type(r) is int for r in results):
        assert fast.audit.verify().ok


def test_fixed_escalations(tmp_path: Path) -> None:
    calls = [
        ("<m1@x>", "c@x", ["leads"], "high", ["threat.violence"], ["threat"], None),
        ("<m2@x>", "c@x", ["leads"], "high", ["threat.violence"], ["threat"], 7),  # the same shape again
        ("m\"3\\é", "顧客@x", ["leads", "legal"], "normal", [], ["a", "b"], 0),
        ("m4", "c@x", ["le\x00ads"], "high", ["r"], ["c"], None),  # a NUL: not cached
        ("m5", "c@x", ["leads"], "high", ["r"], ["c"], True),  # a bool hold id: the general path
        ("m6", "c@x", ("leads",), "high", ["r"], ["c"], None),  # a tuple: the general path
        ("m7", "c@x", ["leads"], 3, ["r"], ["c"], None),  # not a str priority
        ("m8", "c@x", [["x"]], "high", ["r"], ["c"], None),  # unhashable inside
    ]
    write_both(tmp_path, calls)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(TEXT, TEXT, st.lists(st.one_of(TEXT, ODD), max_size=3), st.one_of(TEXT, ODD),
                          st.lists(TEXT, max_size=3), st.lists(TEXT, max_size=3),
                          st.one_of(st.none(), st.integers(0, 10**12), st.booleans())),
                min_size=1, max_size=8))
def test_generated_escalations(tmp_path_factory: pytest.TempPathFactory, calls: list[tuple[Any, ...]]) -> None:
    write_both(tmp_path_factory.mktemp("esc"), calls)
