"""The audit's JSON and timestamps are spelled one way only (the chain's hashes depend on it):
the reusable encoders write what ``json.dumps`` writes, ``append_json`` chains exactly as
``append``, and ``iso`` gives the same text however often and in whatever zone it is asked."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from gateway.audit import AuditLog, canonical_json, iso, json_ascii, json_text
from gateway.store.db import Database

VALUES = [
    {"b": [1, 2.5, "日本語", None, True, -0.0, 1e300], "a": {"z": "x\"\\\n\t\x00", "é": float("nan")}},
    "a string", 3, [], {}, [{"score": 0.1234, "evidence": [{"start": 0, "end": 5, "text": "バカ"}]}],
    {"emoji": "😀", "nested": [[[]]], "ints": [10**20, -1]},
]


def test_the_encoders_write_what_json_dumps_writes() -> None:
    for value in VALUES:
        assert json_text(value) == json.dumps(value, ensure_ascii=False)
        assert json_ascii(value) == json.dumps(value)
        assert canonical_json(value) == json.dumps(value, sort_keys=True, separators=(",", ":"),
                                                   ensure_ascii=False, default=str)
    odd = {"when": date(2026, 1, 2)}  # not JSON data: spelled with str(), as before
    assert canonical_json(odd) == '{"when":"2026-01-02"}'


def test_append_json_chains_exactly_as_append(tmp_path: Path) -> None:
    at = datetime(2026, 2, 3, 4, 5, 6, 789, tzinfo=timezone.utc)
    one, two = Database.open(tmp_path / "one.db"), Database.open(tmp_path / "two.db")
    a, b = AuditLog(one), AuditLog(two)
    entries = [("policy", "decision", "message:m1", "no policy rule fired", VALUES[0]),
               ("lead.ana", "hold.approve", "hold:1", "", {"from": "proposed", "to": "active"}),
               ("policy", "decision", "message:m2", "rules x fired", VALUES[5])]
    for actor, action, subject, reason, evidence in entries:
        a.append(actor, action, subject, reason, evidence, at=at)
        with two.tx() as c:
            b.append_json(actor, action, subject, reason, canonical_json(evidence), at_text=iso(at), conn=c)
    assert [tuple(r) for r in one.query("SELECT * FROM audit_log")] == \
        [tuple(r) for r in two.query("SELECT * FROM audit_log")]
    assert a.verify().ok and b.verify().ok
    assert one.get_state("audit.head") == two.get_state("audit.head")


def test_iso_is_the_same_text_every_time_and_in_every_zone() -> None:
    base = datetime(2026, 7, 8, 9, 10, 11, tzinfo=timezone.utc)
    whole, fraction = base, base + timedelta(microseconds=5)
    tokyo = whole.astimezone(timezone(timedelta(hours=9)))
    assert iso(whole) == "2026-07-08T09:10:11.000000+00:00"
    assert iso(fraction) == "2026-07-08T09:10:11.000005+00:00"
    assert iso(whole) == iso(tokyo) == iso(whole)  # the same instant, asked again and from another zone
    assert iso(tokyo) == "2026-07-08T09:10:11.000000+00:00"
    assert iso(datetime(999, 1, 1, tzinfo=timezone.utc)) == "0999-01-01T00:00:00.000000+00:00"
    try:
        iso(datetime(2026, 1, 1))
    except ValueError:
        pass
    else:
        raise AssertionError("a naive datetime must be refused")


def test_iso_spells_what_isoformat_spells_with_microseconds() -> None:
    import random

    rnd = random.Random(11)
    zones = [timezone.utc, timezone(timedelta(hours=9)), timezone(timedelta(hours=-5, minutes=-30))]
    for _ in range(5000):
        moment = datetime(rnd.randrange(2, 9998), rnd.randrange(1, 13), rnd.randrange(1, 29), rnd.randrange(24),
                          rnd.randrange(60), rnd.randrange(60), rnd.choice([0, 1, rnd.randrange(10**6), 999999]),
                          tzinfo=rnd.choice(zones))
        assert iso(moment) == moment.astimezone(timezone.utc).isoformat(timespec="microseconds")
