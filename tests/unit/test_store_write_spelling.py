"""What ``SqliteMessageStore.record`` writes is spelled as it always was, whatever shortcut writes
it: the ``findings`` column is ``json.dumps([f.to_json() ...], ensure_ascii=False, sort_keys=True)``
(empty, Japanese, related messages, details, scores), and ``received_at`` is the UTC
``isoformat()`` of the received time (microseconds only when there are some). Readers (case files,
history, the report, the console, disputes) parse these texts."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

from gateway.model import Evidence, Finding, Message, Severity
from gateway.store.db import Database
from gateway.store.messages import SqliteMessageStore, isoformat_utc, to_utc

FINDINGS = [
    [],
    [Finding("verbal_abuse", Severity.MEDIUM, 0.87654321, [Evidence(3, 6, "バカ野郎")], "ja.abuse", "罵倒")],
    [Finding("duplicate_contact", Severity.LOW, 0.5, [], "contact.duplicate", "same text again",
             related=["<a@x>", "<b@x>"], details={"similarity": 0.97, "window": "24h", "z": [1, None]}),
     Finding("threat", Severity.CRITICAL, 1.0, [Evidence(0, 4, 'I "will"\n')], "en.threat", "quote\\slash")],
]


def test_the_findings_and_received_columns_are_spelled_as_before(tmp_path: Path) -> None:
    db = Database.open(tmp_path / "g.db")
    store = SqliteMessageStore(db)
    received = [datetime(2026, 3, 4, 5, 6, 7, tzinfo=timezone.utc),  # no microseconds: none written
                datetime(2026, 3, 4, 14, 6, 7, 120, tzinfo=timezone(timedelta(hours=9))),
                datetime(2026, 3, 4, 5, 6, 7, 999999)]  # naive: taken as UTC
    for i, (findings, at) in enumerate(zip(FINDINGS, received)):
        store.record(Message(id=f"m{i}", text="text", sender="c@example.com", received_at=at), findings)
    rows = db.query("SELECT id, findings, received_at FROM messages ORDER BY seq")
    for row, findings, at in zip(rows, FINDINGS, received):
        assert row["findings"] == json.dumps([f.to_json() for f in findings], ensure_ascii=False, sort_keys=True)
        assert row["received_at"] == to_utc(at).isoformat()
    assert [r["received_at"] for r in rows] == ["2026-03-04T05:06:07+00:00", "2026-03-04T05:06:07.000120+00:00",
                                                "2026-03-04T05:06:07.999999+00:00"]
    assert [f.to_json() for f in store.get("m2").findings] == [f.to_json() for f in FINDINGS[2]]


def test_isoformat_utc_is_isoformat() -> None:
    rnd = random.Random(7)
    zones = [timezone.utc, timezone(timedelta(hours=9)), None]
    for _ in range(5000):
        moment = datetime(rnd.randrange(2, 9998), rnd.randrange(1, 13), rnd.randrange(1, 29), rnd.randrange(24),
                          rnd.randrange(60), rnd.randrange(60), rnd.choice([0, 1, rnd.randrange(10**6)]),
                          tzinfo=rnd.choice(zones))
        assert isoformat_utc(moment) == moment.isoformat()
        assert isoformat_utc(to_utc(moment)) == to_utc(moment).isoformat()
