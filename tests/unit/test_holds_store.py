"""HoldStore: the state machine, who/when/why, expiry as an audited transition, reminders."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from gateway.audit import AuditLog
from gateway.holds import HoldError, HoldStore, HoldTransitionError
from gateway.store.db import Database

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)
EVIDENCE = [{"category": "verbal_abuse", "evidence": [{"start": 0, "end": 5, "text": "idiot"}], "message_id": "m1"}]


@pytest.fixture
def db(tmp_path: Path) -> Database:
    return Database.open(tmp_path / "gateway.db")


@pytest.fixture
def holds(db: Database) -> HoldStore:
    return HoldStore(db)


def propose(holds: HoldStore, **kw: object):
    args = dict(customer="c@example.com", scope="customer", reason="repeated abuse", evidence=EVIDENCE,
                source="imap", message_id="m1", rule="verbal_abuse.repeated", now=T0)
    args.update(kw)
    return holds.propose(**args)  # type: ignore[arg-type]


def test_proposed_hold_is_approved_with_who_when_why_and_expiry(holds: HoldStore) -> None:
    h = propose(holds, expiry_days=30)
    assert h.state == "proposed" and h.expires_at is None
    approved = holds.approve(h.id, "lead.ana", "pattern confirmed", now=T0 + timedelta(hours=2))
    assert approved.state == "active"
    assert approved.decided_by == "lead.ana" and approved.decision_reason == "pattern confirmed"
    assert approved.decided_at == T0 + timedelta(hours=2)
    assert approved.expires_at == T0 + timedelta(hours=2, days=30)
    assert [(e.action, e.from_state, e.to_state, e.actor) for e in approved.events] == [
        ("propose", None, "proposed", "policy"), ("approve", "proposed", "active", "lead.ana")]


def test_reject_and_lift_need_a_reason_and_record_it(holds: HoldStore) -> None:
    a, b = propose(holds), propose(holds, scope="thread", thread="t9")
    with pytest.raises(HoldError, match="reason"):
        holds.reject(a.id, "lead.ana", "  ")
    assert holds.reject(a.id, "lead.ana", "complaint is legitimate").close_reason == "complaint is legitimate"
    holds.approve(b.id, "lead.ana")
    with pytest.raises(HoldError, match="reason"):
        holds.lift(b.id, "lead.ana", "")
    lifted = holds.lift(b.id, "lead.bo", "customer apologised")
    assert lifted.state == "lifted" and lifted.closed_by == "lead.bo"


@pytest.mark.parametrize("path,verb", [
    ([], "lift"),                      # proposed -> lifted is not allowed
    ([], "expire"),
    (["approve"], "approve"),          # active -> active
    (["approve"], "reject"),
    (["reject"], "approve"),           # rejected is final
    (["approve", "lift"], "approve"),  # lifted is final
    (["approve", "lift"], "lift"),
    (["approve", "expire"], "lift"),   # expired is final
])
def test_illegal_transitions_are_refused_and_change_nothing(holds: HoldStore, path: list[str], verb: str) -> None:
    h = propose(holds)
    for step in path:
        getattr(holds, step)(h.id, **({"actor": "lead", "reason": "r"} if step != "expire" else {}))
    before = holds.get(h.id)
    with pytest.raises(HoldTransitionError, match=f"hold {h.id} is {before.state}: cannot {verb}"):
        if verb == "expire":
            holds.expire(h.id)
        else:
            getattr(holds, verb)(h.id, "lead", "r")
    after = holds.get(h.id)
    assert after.state == before.state and len(after.events) == len(before.events)


def test_unknown_hold_and_missing_actor_are_errors(holds: HoldStore) -> None:
    with pytest.raises(HoldError, match="no hold with id 99"):
        holds.approve(99, "lead")
    h = propose(holds)
    with pytest.raises(HoldError, match="actor"):
        holds.approve(h.id, " ")


def test_bad_scope_and_thread_hold_without_thread_are_refused(holds: HoldStore) -> None:
    with pytest.raises(HoldError, match="unknown hold scope"):
        propose(holds, scope="planet")
    with pytest.raises(HoldError, match="thread"):
        propose(holds, scope="thread", thread="")


def test_a_second_proposal_for_the_same_situation_joins_the_open_hold(holds: HoldStore) -> None:
    a = propose(holds)
    more = [{"category": "verbal_abuse", "evidence": [], "message_id": "m2"}]
    b = propose(holds, message_id="m2", evidence=more)
    assert b.id == a.id and b.message_ids == ["m1", "m2"] and len(b.evidence) == 2
    assert len(holds.pending()) == 1
    c = propose(holds, scope="thread", thread="t1")  # a different scope is a different hold
    assert c.id != a.id


def test_apply_creates_an_active_hold_and_activates_a_matching_proposal(holds: HoldStore) -> None:
    a = propose(holds)
    applied = holds.apply("c@example.com", "customer", "violence", EVIDENCE, source="imap", message_id="m3", now=T0)
    assert applied.id == a.id and applied.state == "active" and applied.decided_by == "policy"
    fresh = holds.apply("d@example.com", "all_channels", "violence", EVIDENCE, expiry_days=10, now=T0)
    assert fresh.state == "active" and fresh.expires_at == T0 + timedelta(days=10)
    assert fresh.events[0].action == "apply"


def test_active_for_respects_scope(holds: HoldStore) -> None:
    t = holds.apply("c@example.com", "thread", "persistent", EVIDENCE, thread="t1", source="imap")
    assert [h.id for h in holds.active_for("c@example.com", "t1", "imap")] == [t.id]
    assert holds.active_for("c@example.com", "t2", "imap") == []
    cust = holds.apply("c@example.com", "customer", "abuse", EVIDENCE, source="imap")
    assert [h.id for h in holds.active_for("c@example.com", "t2", "imap")] == [cust.id]
    assert holds.active_for("c@example.com", "t2", "zendesk") == []  # customer scope is per channel
    allc = holds.apply("c@example.com", "all_channels", "threat", EVIDENCE, source="imap")
    assert [h.id for h in holds.active_for("c@example.com", "t2", "zendesk")] == [allc.id]
    assert holds.active_for("other@example.com", "t1", "imap") == []
    proposed = propose(holds, customer="p@example.com")
    assert proposed.state == "proposed" and holds.active_for("p@example.com", "", "imap") == []


def test_expiry_is_an_audited_transition_never_silent(db: Database, holds: HoldStore) -> None:
    h = holds.apply("c@example.com", "customer", "abuse", EVIDENCE, expiry_days=7, now=T0)
    assert holds.expire_due(T0 + timedelta(days=6)) == []
    assert holds.get(h.id).state == "active"  # past-due holds stay active until expired, visibly
    expired = holds.expire_due(T0 + timedelta(days=7, seconds=1))
    assert [x.id for x in expired] == [h.id] and expired[0].state == "expired"
    assert expired[0].closed_by == "system"
    entries = AuditLog(db).entries(subject=f"hold:{h.id}")
    assert [e.action for e in entries] == ["hold.apply", "hold.expire"]
    assert holds.expire_due(T0 + timedelta(days=30)) == []


def test_holds_without_expiry_never_expire(holds: HoldStore) -> None:
    h = holds.apply("c@example.com", "customer", "abuse", EVIDENCE, now=T0)
    assert h.expires_at is None and holds.expire_due(T0 + timedelta(days=3650)) == []


def test_pending_longer_than_lists_holds_for_reminders(holds: HoldStore) -> None:
    old = propose(holds, now=T0)
    propose(holds, customer="new@example.com", now=T0 + timedelta(hours=23))
    due = holds.pending_longer_than(timedelta(hours=24), now=T0 + timedelta(hours=25))
    assert [h.id for h in due] == [old.id]


def test_every_transition_is_in_the_audit_log(db: Database, holds: HoldStore) -> None:
    h = propose(holds)
    holds.approve(h.id, "lead.ana", "ok")
    holds.lift(h.id, "lead.ana", "resolved")
    entries = AuditLog(db).entries(subject=f"hold:{h.id}")
    assert [(e.actor, e.action, e.reason) for e in entries] == [
        ("policy", "hold.propose", "repeated abuse"), ("lead.ana", "hold.approve", "ok"),
        ("lead.ana", "hold.lift", "resolved")]
    assert entries[0].evidence["evidence"] == EVIDENCE
    assert AuditLog(db).verify().ok


def test_list_filters_and_survives_reopen(tmp_path: Path) -> None:
    db = Database.open(tmp_path / "g.db")
    store = HoldStore(db)
    a = propose(store)
    propose(store, customer="x@example.com")
    store.approve(a.id, "lead")
    db.close()
    again = HoldStore(Database.open(tmp_path / "g.db"))
    assert [h.customer for h in again.list(state="active")] == ["c@example.com"]
    assert [h.customer for h in again.list(customer="x@example.com")] == ["x@example.com"]
    assert len(again.for_customer("c@example.com")[0].events) == 2
    with pytest.raises(HoldError, match="unknown hold state"):
        again.list(state="paused")


def test_evidence_can_be_added_to_open_holds_only(holds: HoldStore) -> None:
    h = propose(holds)
    more = holds.add_evidence(h.id, [{"category": "threat", "message_id": "m9"}], message_id="m9",
                              categories=["threat"])
    assert more.state == "proposed" and more.message_ids == ["m1", "m9"] and "threat" in more.categories
    holds.reject(h.id, "lead", "not harassment")
    with pytest.raises(HoldTransitionError, match="open holds only"):
        holds.add_evidence(h.id, [], message_id="m10")
