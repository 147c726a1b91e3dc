"""Case export: a self-contained, escaped HTML report and a JSON file with the whole record."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from gateway.case import CaseError, export_case, highlight, safe_name
from gateway.cli import main
from gateway.contact.history import CustomerHistory
from gateway.effects import CoreEffects
from gateway.model import Evidence, Finding, Message, Severity
from gateway.policy import Policy
from gateway.store.db import Database
from gateway.store.messages import SqliteMessageStore

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=timezone.utc)
HOSTILE = 'You <script>alert(1)</script> idiots <img src="http://evil.example/x.png"> I will hurt you'


def span(text: str, part: str) -> Evidence:
    i = text.index(part)
    return Evidence(i, i + len(part), part)


@pytest.fixture
def db(tmp_path: Path) -> Database:
    db = Database.open(tmp_path / "gateway.db")
    store = SqliteMessageStore(db)
    effects = CoreEffects(db, Policy.load(), clock=lambda: T0 + timedelta(hours=1))
    policy = effects.policy
    rows = [
        (Message(id="m1", text="My parcel is late, please check.", sender="c@example.com", thread="t1",
                 subject="Parcel", source="imap", received_at=T0), []),
        (Message(id="m2", text=HOSTILE, sender="c@example.com", thread="t1", subject="<b>Parcel</b>",
                 source="imap", received_at=T0 + timedelta(minutes=30)),
         [Finding("verbal_abuse", Severity.MEDIUM, 0.8, [span(HOSTILE, "idiots")], "en.insult", "insult"),
          Finding("threat", Severity.CRITICAL, 1.0, [span(HOSTILE, "I will hurt you")], "en.violence", "violence")]),
    ]
    for message, findings in rows:
        store.record(message, findings)
        decision = policy.decide(message, findings, CustomerHistory(customer="c@example.com"))
        effects.apply(message, findings, decision, customer="c@example.com")
    store.record(Message(id="other", text="hello", sender="someone@example.com", received_at=T0), [])
    return db


def test_export_writes_json_with_timeline_findings_holds_and_hashes(db: Database, tmp_path: Path) -> None:
    files = export_case(db, "c@example.com", tmp_path / "out")
    case = json.loads(files.json_path.read_text(encoding="utf-8"))
    assert case["customer"] == "c@example.com" and case["summary"]["messages"] == 2
    assert [m["message_id"] for m in case["messages"]] == ["m1", "m2"]  # timeline order
    m2 = case["messages"][1]
    assert {f["category"] for f in m2["findings"]} == {"verbal_abuse", "threat"}
    assert m2["findings"][0]["evidence"][0]["text"] in HOSTILE
    assert len(m2["text_sha256"]) == 64 and m2["text"] == HOSTILE
    assert m2["decision"]["hits"] == ["threat.violence", "verbal_abuse.warning"]
    assert case["holds"][0]["state"] == "active" and case["holds"][0]["events"][0]["action"] == "apply"
    assert case["escalations"][0]["recipients"] == ["leads", "legal"]
    assert {a["subject"] for a in case["audit"]} >= {"message:m1", "message:m2", "hold:1"}
    assert case["audit_chain"]["ok"] is True
    assert "someone@example.com" not in files.json_path.read_text(encoding="utf-8")  # other customers stay out


def test_html_is_self_contained_and_escapes_message_content(db: Database, tmp_path: Path) -> None:
    files = export_case(db, "c@example.com", tmp_path / "out")
    html = files.html_path.read_text(encoding="utf-8")
    assert "<script" not in html.lower()
    assert "<img" not in html.lower() and "<link" not in html.lower()
    assert not re.search(r"""(src|href)\s*=\s*["']?https?:""", html, re.I)
    assert "url(" not in html and "@import" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b&gt;Parcel&lt;/b&gt;" in html
    assert "<mark>I will hurt you<small>threat</small></mark>" in html
    assert "<style>" in html and "intact" in html


def test_tampered_audit_shows_in_the_case_file(db: Database, tmp_path: Path) -> None:
    db.conn.execute("DROP TRIGGER audit_log_no_update")
    db.conn.execute("UPDATE audit_log SET reason = 'nothing' WHERE seq = 2")
    files = export_case(db, "c@example.com", tmp_path / "out")
    case = json.loads(files.json_path.read_text(encoding="utf-8"))
    assert case["audit_chain"]["ok"] is False and case["audit_chain"]["first_bad"] == 2
    assert "BROKEN" in files.html_path.read_text(encoding="utf-8")


def test_unknown_customer_is_an_error(db: Database, tmp_path: Path) -> None:
    with pytest.raises(CaseError, match="nobody@example.com"):
        export_case(db, "nobody@example.com", tmp_path / "out")


def test_linked_keys_are_exported_together(db: Database, tmp_path: Path) -> None:
    SqliteMessageStore(db).link_customers("c@example.com", "zendesk:4711")
    files = export_case(db, "zendesk:4711", tmp_path / "out")
    case = json.loads(files.json_path.read_text(encoding="utf-8"))
    assert case["summary"]["messages"] == 2 and "zendesk:4711" in case["customer_keys"]


def test_cli_case_export(db: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "case"
    assert main(["case", "export", "c@example.com", "--out", str(out), "--db", db.path]) == 0
    assert (out / "case-c_at_example.com.html").is_file() and (out / "case-c_at_example.com.json").is_file()
    assert "sha256" in capsys.readouterr().out
    assert main(["case", "export", "nobody@example.com", "--out", str(out), "--db", db.path]) == 2


def test_highlight_splits_text_around_evidence() -> None:
    findings = [{"category": "verbal_abuse", "evidence": [{"start": 4, "end": 9, "text": "idiot"}]},
                {"category": "threat", "evidence": [{"start": 6, "end": 12, "text": "iot yo"}]}]
    segs = highlight("you idiot you", findings)
    assert "".join(s["text"] for s in segs) == "you idiot you"
    assert segs[1] == {"text": "idiot yo", "category": "verbal_abuse"}


def test_safe_name() -> None:
    assert safe_name("a.b+x@example.com") == "a.b_x_at_example.com"
    assert "/" not in safe_name("../../etc/passwd")


def test_a_disputed_tag_is_shown_with_who_and_why_and_left_out_of_the_counts(db: Database, tmp_path: Path) -> None:
    from gateway.disputes import Disputes

    files = export_case(db, "c@example.com", tmp_path / "before")
    assert json.loads(files.json_path.read_text())["summary"]["messages_by_category"] == {"threat": 1, "verbal_abuse": 1}
    Disputes(db).dispute("m2", "lead.kim", "the insult was about the courier's van", ["verbal_abuse"])
    files = export_case(db, "c@example.com", tmp_path / "after")
    case = json.loads(files.json_path.read_text())
    assert case["summary"]["messages_by_category"] == {"threat": 1} and case["summary"]["disputed_tags"] == 1
    [dispute] = case["messages"][1]["disputes"]
    assert dispute["category"] == "verbal_abuse" and dispute["actor"] == "lead.kim"
    assert {f["category"] for f in case["messages"][1]["findings"]} == {"verbal_abuse", "threat"}  # as found then
    assert "message.dispute" in {a["action"] for a in case["audit"]}
    html = files.html_path.read_text()
    assert "Disputed:</strong> verbal_abuse, by lead.kim" in html and "1 disputed tag not counted" in html
