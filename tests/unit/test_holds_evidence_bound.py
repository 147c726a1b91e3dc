"""A hold's stored evidence stops growing at a bound; every message still joins the hold, and
every message's evidence is still in the audit log."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from gateway.audit import AuditLog
from gateway.holds import HOLD_EVIDENCE_CHARS, HoldStore, _json_append
from gateway.store.db import Database

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)


def finding(n: int) -> dict:
    return {"category": "verbal_abuse", "severity": "medium", "rule": "en.verbal_abuse.insult",
            "reason": "insult aimed at the reader: “idiot”", "message_id": f"<m{n}@example.org>",
            "evidence": [{"start": 4, "end": 9, "text": "idiot"}], "related": [f"<r{k}@x>" for k in range(20)]}


def test_evidence_is_kept_up_to_the_bound_and_the_audit_log_has_the_rest(tmp_path: Path) -> None:
    db = Database.open(tmp_path / "gateway.db")
    holds = HoldStore(db)
    count = 400  # far more evidence than the bound holds
    for n in range(count):
        hold = holds.propose("ann@example.org", "customer", "repeated abuse", [finding(n)], source="imap",
                             message_id=f"<m{n}@example.org>", rule="verbal_abuse.repeated",
                             now=T0 + timedelta(minutes=n))
    stored = db.query("SELECT evidence FROM holds WHERE id = ?", (hold.id,))[0]["evidence"]
    assert HOLD_EVIDENCE_CHARS <= len(stored) < HOLD_EVIDENCE_CHARS + len(json.dumps([finding(0)]))
    kept = json.loads(stored)
    assert kept == [finding(n) for n in range(len(kept))]  # the first findings, in order, whole
    assert 0 < len(kept) < count
    assert hold.message_ids == [f"<m{n}@example.org>" for n in range(count)]  # every message joined
    logged = AuditLog(db).entries(subject=f"hold:{hold.id}", action="hold.evidence")
    assert [e.evidence["evidence"] for e in logged] == [[finding(n)] for n in range(1, count)]


def test_a_redelivered_message_adds_nothing_twice(tmp_path: Path) -> None:
    holds = HoldStore(Database.open(tmp_path / "gateway.db"))
    for _ in range(2):
        hold = holds.propose("ann@example.org", "customer", "abuse", [finding(1)], source="imap",
                             message_id="<m1@example.org>", rule="r", now=T0)
    hold = holds.propose("ann@example.org", "customer", "abuse", [finding(1), finding(2)], source="imap",
                         message_id="<m2@example.org>", rule="r", now=T0)
    assert hold.evidence == [finding(1), finding(2)]
    assert hold.message_ids == ["<m1@example.org>", "<m2@example.org>"]


@pytest.mark.parametrize("stored, items", [
    ([], [{"a": 1}]),
    ([{"a": 1}], [{"b": "日本語"}, {"c": [1, 2]}]),
    ([{"a": 1}], []),
])
def test_appending_to_the_stored_text_equals_dumping_the_merged_list(stored: list, items: list) -> None:
    text = json.dumps(stored, ensure_ascii=False)
    assert _json_append(text, items) == json.dumps(stored + items, ensure_ascii=False)
