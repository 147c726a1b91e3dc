"""Disputed tags stop counting against the customer: the policy no longer escalates on them, a
re-delivery does not bring them back, and each dispute is audited and exported for `eval`."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from gateway.audit import AuditLog
from gateway.cli import main
from gateway.disputes import DisputeError, Disputes
from gateway.ingest import message_from_text
from gateway.pipeline import Pipeline
from gateway.store.db import Database

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)
CUSTOMER = "kai@example.org"
ABUSE = ["You useless idiot, where is my parcel?", "Answer me, you incompetent moron.",
         "You stupid idiot, I asked for the refund twice."]


def mail(n: int, text: str):
    return message_from_text(f"<d{n}@example.org>", text, sender=CUSTOMER, received_at=T0 + timedelta(days=n))


@pytest.fixture
def db(tmp_path: Path):
    database = Database.open(tmp_path / "g.db")
    yield database
    database.close()


def third_message_decision(db: Database, dispute_first: bool):
    pipeline = Pipeline.create(db)
    first, second = (pipeline.process(mail(n, ABUSE[n])) for n in (0, 1))
    assert "verbal_abuse" in first.decision.categories and "verbal_abuse" in second.decision.categories
    if dispute_first:
        Disputes(db).dispute("<d0@example.org>", "agent.ash", "he was quoting what a courier said to him")
    return pipeline, pipeline.process(mail(2, ABUSE[2])).decision


def test_without_a_dispute_the_third_abusive_message_proposes_a_hold(db: Database) -> None:
    _, decision = third_message_decision(db, dispute_first=False)
    assert "verbal_abuse.repeated" in decision.hits
    assert any(a.type == "hold" for a in decision.actions)


def test_a_disputed_tag_no_longer_counts_so_the_same_message_only_gets_a_warning(db: Database) -> None:
    pipeline, decision = third_message_decision(db, dispute_first=True)
    assert "verbal_abuse.repeated" not in decision.hits and "verbal_abuse.warning" in decision.hits
    assert not any(a.type == "hold" for a in decision.actions)
    history = pipeline.tracker.history(CUSTOMER)
    assert history.finding_counts.get("verbal_abuse") == 2  # the second and third, not the disputed first

    # a re-delivery of the disputed message records it again: the category stays out
    again = pipeline.process(mail(0, ABUSE[0]))
    assert "verbal_abuse" in again.decision.categories  # what was decided then is reported as it was
    assert pipeline.tracker.history(CUSTOMER).finding_counts.get("verbal_abuse") == 2

    [entry] = [e for e in AuditLog(db).entries() if e.action == "message.dispute"]
    assert entry.actor == "agent.ash" and entry.subject == "message:<d0@example.org>"
    assert entry.reason == "he was quoting what a courier said to him"
    assert entry.evidence["categories"] == ["verbal_abuse"] and entry.evidence["customer"] == CUSTOMER
    assert AuditLog(db).verify().ok
    # the findings as the rules produced them are kept with the message
    assert "verbal_abuse" in pipeline.tracker.store.get("<d0@example.org>").categories


def test_disputes_are_refused_without_a_reason_a_message_or_the_category(db: Database) -> None:
    pipeline = Pipeline.create(db)
    pipeline.process(mail(0, ABUSE[0]))
    disputes = Disputes(db)
    with pytest.raises(DisputeError, match="give a reason"):
        disputes.dispute("<d0@example.org>", "ash", "   ")
    with pytest.raises(DisputeError, match="no stored message"):
        disputes.dispute("<nope@example.org>", "ash", "wrong")
    with pytest.raises(DisputeError, match="has no threat finding"):
        disputes.dispute("<d0@example.org>", "ash", "wrong", ["threat"])
    assert disputes.dispute("<d0@example.org>", "ash", "wrong", ["verbal_abuse"]) == ["verbal_abuse"]
    with pytest.raises(DisputeError, match="already disputed"):
        disputes.dispute("<d0@example.org>", "kim", "wrong", ["verbal_abuse"])
    assert [d.actor for d in disputes.list(CUSTOMER)] == ["ash"]


def test_cli_adds_lists_and_exports_what_eval_reads(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "g.db"
    db = Database.open(path)
    pipeline = Pipeline.create(db)
    for n in (0, 1):
        pipeline.process(mail(n, ABUSE[n]))
    db.close()

    assert main(["disputes", "add", "<d1@example.org>", "--reason", "a quote from the courier", "--actor", "kim",
                 "--db", str(path)]) == 0
    assert "disputed verbal_abuse on <d1@example.org>" in capsys.readouterr().out
    assert main(["disputes", "list", "--json", "--db", str(path)]) == 0
    [listed] = json.loads(capsys.readouterr().out)
    assert listed["actor"] == "kim" and listed["category"] == "verbal_abuse" and listed["customer"] == CUSTOMER

    out = tmp_path / "corrections.jsonl"
    assert main(["disputes", "export", "-o", str(out), "--db", str(path)]) == 0
    [example] = [json.loads(line) for line in out.read_text().splitlines()]
    assert example == {"id": "<d1@example.org>", "text": ABUSE[1], "labels": [], "disputed": ["verbal_abuse"],
                       "reason": "a quote from the courier"}
    capsys.readouterr()
    # eval measures today's rules on the corrected message: a negative they still flag
    assert main(["eval", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["rows"] == 1 and report["flagged"]["fp"] == 1 and report["flagged"]["negatives_flagged"] == 1.0


def test_history_marks_the_disputed_finding_and_leaves_it_out_of_the_counts(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "g.db"
    db = Database.open(path)
    pipeline = Pipeline.create(db)
    for n in (0, 1):
        pipeline.process(mail(n, ABUSE[n]))
    Disputes(db).dispute("<d0@example.org>", "lead.kim", "a quote from the courier")
    db.close()
    assert main(["history", CUSTOMER, "--db", str(path)]) == 0
    out = capsys.readouterr().out
    assert "messages with findings: verbal_abuse 1" in out
    assert "verbal_abuse DISPUTED by lead.kim: a quote from the courier (not counted)" in out
    assert main(["history", CUSTOMER, "--json", "--db", str(path)]) == 0
    messages = {m["id"]: m for m in json.loads(capsys.readouterr().out)["messages"]}
    assert [d["actor"] for d in messages["<d0@example.org>"]["disputes"]] == ["lead.kim"]
    assert messages["<d1@example.org>"]["disputes"] == []
