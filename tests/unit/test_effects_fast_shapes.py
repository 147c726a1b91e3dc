"""The effects' fast paths write, byte for byte, what the general path writes.

A decision with actions takes its decision text and its audit evidence from texts cached per
shape (``_action_shape``); a decision without actions spells its audit entry's hashed fields
itself (``AuditLog.append_spelled``); both insert through a kept cursor. An escalation takes its
texts from its shape (``_escalation_shape``), and a hold is looked up once (``HoldStore.open_rows``)
for both questions the general path asks separately. Every stored row, and so the audit chain's
hashes, must be what encoding the values each time gives."""

from __future__ import annotations

import dataclasses
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

import gateway.effects as effects_module
from gateway.audit import AuditLog, entry_hash
from gateway.effects import CoreEffects
from gateway.holds import HoldStore
from gateway.model import Action, Decision, Evidence, Finding, Message, Severity
from gateway.policy import Policy
from gateway.store.db import Database

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=timezone.utc)
TABLES = ("decisions", "audit_log", "holds", "hold_events", "escalations", "drafts")


class Ticking:
    def __init__(self) -> None:
        self.n = 0

    def __call__(self) -> datetime:
        self.n += 1
        return T0 + timedelta(seconds=self.n * 7, microseconds=self.n * 137 if self.n % 3 else 0)


def message(mid: str, text: str, *, sender: str = "c@example.com", lang: str = "en") -> Message:
    return Message(id=mid, text=text, sender=sender, sender_address=sender.upper(), thread=f"t-{mid}",
                   subject="Bestellung «42» \"quoted\"", lang=lang, source="imap", message_id=f"<{mid}@x>",
                   received_at=T0 - timedelta(minutes=len(mid)))


def finding(text: str, category: str = "verbal_abuse") -> Finding:
    return Finding(category, Severity.MEDIUM, 0.85, [Evidence(0, len(text), text)], "en.insult",
                   "an insult: “" + text + "”", details={"lang": "en"})


def hold(mode: str = "propose", **extra: Any) -> Action:
    params = {"mode": mode, "scope": "customer", "expiry_days": 30, "rules": ["verbal_abuse.hold"],
              "categories": ["verbal_abuse"], "reason": "repeated \"abuse\" – 繰り返し"}
    params.update(extra)
    return Action("hold", params)


def escalate(**extra: Any) -> Action:
    params = {"to": ["leads", "legal"], "priority": "high", "rules": ["threat.violence"], "categories": ["threat"]}
    params.update(extra)
    return Action("escalate", params)


def draft(**extra: Any) -> Action:
    params = {"template": "warning", "lang": "en", "rule": "verbal_abuse.warning", "categories": ["verbal_abuse"]}
    params.update(extra)
    return Action("draft", params)


def decision(mid: str, actions: list[Action], **extra: Any) -> Decision:
    base: dict[str, Any] = {"tags": ["hg_verbal_abuse"], "categories": ["verbal_abuse"],
                            "hits": ["verbal_abuse.warning"], "misses": ["threat.violence", "contact.persistent"]}
    base.update(extra)
    return Decision(message_id=mid, actions=actions, **base)


def dump(db: Database) -> dict[str, list[tuple[object, ...]]]:
    return {t: [tuple(r) for r in db.query(f"SELECT * FROM {t} ORDER BY rowid")] for t in TABLES}


def run_both(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, policy: Policy,
             cases: list[tuple[Message, list[Finding], Decision]]) -> Database:
    """Apply ``cases`` through the fast paths and through the general one; the stores must match."""
    fast_db, slow_db = Database.open(tmp_path / "fast.db"), Database.open(tmp_path / "slow.db")
    fast, slow = CoreEffects(fast_db, policy, clock=Ticking()), CoreEffects(slow_db, policy, clock=Ticking())
    general_open = HoldStore.open
    for msg, found, dec in cases:
        with monkeypatch.context() as m:  # the general path: no cached shape, the generic audit append
            m.setattr(effects_module, "_plain_shape", lambda decision: None)
            m.setattr(effects_module, "_action_shape", lambda decision: None)
            m.setattr(effects_module, "_escalation_shape", lambda *values: None)
            # the holds looked up as before: active_scopes, then open's own query
            m.setattr(effects_module, "active_scopes_of",
                      lambda rows, customer, thread, source: slow.holds.active_scopes(customer, thread, source))
            m.setattr(HoldStore, "open", lambda self, *a, open_rows=None, **k: general_open(self, *a, **k))
            slow_report = slow.apply(msg, list(found), dec, customer=msg.sender)
        fast_report = fast.apply(msg, list(found), dec, customer=msg.sender)
        assert fast_report.to_json() == slow_report.to_json()
    assert dump(fast_db) == dump(slow_db)
    assert AuditLog(fast_db).verify().ok
    return fast_db


def fixed_cases() -> list[tuple[Message, list[Finding], Decision]]:
    out = []
    for i, (actions, extra) in enumerate([
        ([hold(), escalate(), draft()], {}),
        ([hold("apply")], {"held": True, "tags": ["hg_verbal_abuse", "hg_held"]}),
        ([escalate(hold_note=None, count=3, urgent=True)], {}),
        ([draft(lang="ja")], {"hits": ["a \"quoted\" rule", "ルール"]}),
        ([draft()], {}),  # the notice cap may suppress this one: the effects differ, the texts not
        ([escalate(weight=0.5)], {}),  # a float parameter: not a cache key, the general path
        ([escalate(extra={"nested": 1})], {}),  # a dict parameter: unhashable, the general path
        ([escalate(to=("leads",))], {}),  # a tuple, not a list: the general path
        ([hold(), draft()], {"shadow": True}),
        ([Action("custom", {"note": "no such effect"})], {}),
    ]):
        mid = f"m{i}\"\\é"
        msg = message(mid, f"You are useless #{i}", sender=f"c{i % 3}@example.com")
        found = [finding("useless")] if i % 2 == 0 else [finding("useless"), finding("idiot", "threat")]
        out.append((msg, found, decision(mid, actions, **extra)))
    # the same shapes again, for other messages: now taken from the cache
    for msg, found, dec in list(out):
        mid = msg.id + "-again"
        out.append((dataclasses.replace(msg, id=mid), found, dataclasses.replace(dec, message_id=mid)))
    # a decision whose id is not the message's
    msg = message("own-id", "hello")
    out.append((msg, [finding("x")], decision("other-id", [escalate()])))
    # decisions without actions: the plain path
    for i in range(3):
        msg = message(f"plain-{i}\u2028", "Where is my parcel?", sender="顧客@example.jp")
        out.append((msg, [finding("mild")] if i == 1 else [], decision(msg.id, [], tags=[], hits=[], held=i == 2)))
    return out


@pytest.mark.parametrize("shadow", [False, True])
def test_fixed_decisions_write_what_the_general_path_writes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            shadow: bool) -> None:
    policy = Policy.load()
    policy.settings = dataclasses.replace(policy.settings, shadow=shadow)
    db = run_both(tmp_path, monkeypatch, policy, fixed_cases())
    assert db.query_one("SELECT COUNT(*) AS n FROM escalations")["n"] > 0


def test_generated_decisions_write_what_the_general_path_writes(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(20261127)
    words = ["a", "b\"", "c\\d", "é", "日本", "\u2028", "\x01", "tab\t", "x y"]
    values: list[Any] = [None, True, False, 0, 1, 7, "", "s", "ü\"", ["x"], [], ["y", "日本"], 2.5, -0.0]

    def word() -> str:
        return "".join(rng.choice(words) for _ in range(rng.randint(1, 3)))

    cases = []
    for i in range(120):
        actions = []
        for make in (hold, escalate, draft):
            if rng.random() < 0.5:
                extra = {word(): rng.choice(values) for _ in range(rng.randint(0, 2))}
                actions.append(make(**extra))
        mid = f"g{i}{word()}"
        msg = message(mid, word() * 3, sender=f"c{rng.randint(0, 5)}@example.com")
        found = [finding(word()) for _ in range(rng.randint(0, 2))]
        dec = decision(mid, actions, tags=[word() for _ in range(rng.randint(0, 2))],
                       hits=[rng.choice(["r1", "r2", word()])], misses=["m1", "m2"][: rng.randint(0, 2)],
                       held=rng.random() < 0.2)
        cases.append((msg, found, dec))
    run_both(tmp_path, monkeypatch, Policy.load(), cases)


def test_append_spelled_hashes_as_entry_hash(tmp_path: Path) -> None:
    db = Database.open(tmp_path / "a.db")
    audit = AuditLog(db)
    s = effects_module._str_text
    rng = random.Random(5)
    pieces = ["policy", "décision", "\"q\"", "back\\slash", "日本", "\u2028", "\x00", "message:<id@x>"]
    with db.tx() as c:
        for i in range(50):
            actor, action, subject, reason = (rng.choice(pieces) + str(i) for _ in range(4))
            at = f"2026-05-01T08:00:{i % 60:02d}.000137+00:00"
            evidence = '{"n":' + str(i) + "}"
            spelled = ('{"action":' + s(action) + ',"actor":' + s(actor) + ',"at":' + s(at) + ',"evidence":',
                       ',"reason":' + s(reason) + ',"seq":', ',"subject":' + s(subject) + "}")
            audit.append_spelled(actor, action, subject, reason, evidence, spelled, at_text=at, conn=c)
    rows = db.query("SELECT * FROM audit_log ORDER BY seq")
    for r in rows:
        assert r["hash"] == entry_hash(r["prev_hash"], r["seq"], r["at"], r["actor"], r["action"], r["subject"],
                                       r["reason"], r["evidence"])
    assert audit.verify().ok and len(rows) == 50


def test_the_kept_cursor_follows_the_connection(tmp_path: Path) -> None:
    """Entries written inside and outside a transaction, and after the store's connection was
    replaced, all land and chain."""
    db = Database.open(tmp_path / "k.db")
    audit = AuditLog(db)
    audit.append("system", "test.one", "x:1")
    with db.tx() as c:
        audit.append("system", "test.two", "x:2", conn=c)
        audit.append("system", "test.three", "x:3", conn=c)
    db.conn.close()
    db.conn = Database.open(tmp_path / "k.db").conn
    with db.tx() as c:
        audit.append("system", "test.four", "x:4", conn=c)
    assert [e.action for e in audit.entries()] == ["test.one", "test.two", "test.three", "test.four"]
    assert audit.verify().ok


def test_report_texts_are_the_encoders_texts() -> None:
    rng = random.Random(11)
    strings = ["", "x", "é\"\\", "日本\u2028", "cap reached (3 notice(s); at most 2)", "\x01\t"]
    for _ in range(500):
        report = effects_module.EffectsReport(
            rng.choice(strings) + str(rng.randint(0, 9)),
            rng.choice([None, 0, 7, 123456789]), rng.choice([None, "active", "proposed", "é"]),
            rng.choice([None, 1, 42]), rng.choice([None, 3]),
            [rng.choice(strings) for _ in range(rng.randint(0, 3))],
            [rng.choice(strings) for _ in range(rng.randint(0, 2))])
        data = report.to_json()
        assert effects_module._report_texts(report) == (effects_module._json_ascii(data),
                                                        effects_module._canonical(data))
    for odd in (effects_module.EffectsReport("m", hold_id=True), effects_module.EffectsReport("m", draft_id=2.0),
                effects_module.EffectsReport("m", suppressed=[1]), effects_module.EffectsReport("m", hold_state=1)):
        assert effects_module._report_texts(odd) is None


@pytest.mark.parametrize("when", [
    datetime(2026, 3, 1, 9, 0, 0, 7000, tzinfo=timezone.utc),
    datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=timezone.utc),
    datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=9))),
    datetime(999, 1, 2, 3, 4, 5, 6, tzinfo=timezone.utc),
    datetime(1, 1, 1, 0, 0, tzinfo=timezone.utc),
    datetime(9999, 12, 31, 23, 59, 59, 1, tzinfo=timezone.utc),
])
def test_iso_is_isoformat_in_utc(when: datetime) -> None:
    from gateway.audit import iso

    assert iso(when) == when.astimezone(timezone.utc).isoformat(timespec="microseconds")
