"""Metrics, health routes, JSON logs, keywords and reply headers: numbers and names, never content."""

from __future__ import annotations

import io
import json
import logging

from starlette.applications import Starlette
from starlette.testclient import TestClient

from gateway.checkpoints import Verdict
from gateway.logging import JsonFormatter, setup_logging
from gateway.mail.keywords import keywords_for
from gateway.mail.smtp import auto_reply_blocked, build_reply, reply_subject
from gateway.metrics import Metrics
from gateway.web.health import health_routes


def test_metrics_are_prometheus_text_per_source() -> None:
    metrics = Metrics()
    stats = metrics.source("support", "INBOX")
    stats.state, stats.processed, stats.failed, stats.lag = "idle", 41, 2, 3
    metrics.pending_holds = lambda: 5
    text = metrics.render()
    assert 'hg_messages_processed_total{source="support",mailbox="INBOX"} 41' in text
    assert 'hg_messages_failed_total{source="support",mailbox="INBOX"} 2' in text
    assert 'hg_source_lag_messages{source="support",mailbox="INBOX"} 3' in text
    assert 'hg_source_up{source="support",mailbox="INBOX"} 1' in text
    assert "hg_holds_pending 5" in text
    assert "# TYPE hg_messages_processed_total counter" in text


def test_label_values_are_escaped() -> None:
    metrics = Metrics()
    metrics.source('we"ird', "INBOX\\x")
    assert 'source="we\\"ird",mailbox="INBOX\\\\x"' in metrics.render()


def test_healthz_reports_degraded_when_a_source_failed() -> None:
    metrics = Metrics()
    metrics.source("support", "INBOX").state = "idle"
    client = TestClient(Starlette(routes=health_routes(metrics)))
    assert client.get("/healthz").json()["status"] == "ok"
    metrics.source("billing", "INBOX").state = "failed"
    response = client.get("/healthz")
    assert response.status_code == 503 and response.json()["status"] == "degraded"
    assert client.get("/metrics").headers["content-type"].startswith("text/plain")


def test_a_source_reconnecting_for_long_makes_health_degraded() -> None:
    metrics = Metrics(started=1000.0)
    stats = metrics.source("support", "INBOX")
    stats.state, stats.last_success = "reconnecting", 1100.0
    assert metrics.healthy(now=1200.0)  # a short outage is normal
    assert not metrics.healthy(now=1100.0 + 301)


def test_json_log_lines_carry_allowed_fields_only() -> None:
    record = logging.LogRecord("gateway.x", logging.INFO, __file__, 1, "message handled", None, None)
    record.source = "support"
    record.uid = 7
    record.text = "you are an idiot"  # a body must never reach the log, even if passed by mistake
    record.subject = "secret subject"
    line = json.loads(JsonFormatter().format(record))
    assert line["msg"] == "message handled" and line["source"] == "support" and line["uid"] == 7
    assert "text" not in line and "subject" not in line


def test_setup_logging_writes_json_to_the_stream() -> None:
    stream = io.StringIO()
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    try:
        setup_logging("INFO", stream)
        logging.getLogger("gateway.test").info("hello", extra={"mailbox": "INBOX"})
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    assert json.loads(stream.getvalue().splitlines()[-1])["mailbox"] == "INBOX"


def test_keywords_follow_design_names() -> None:
    assert keywords_for(Verdict()) == {"$HGChecked"}
    assert keywords_for(Verdict(categories=("threat",), tags=("hg_threat",), held=True)) == {
        "$HGChecked", "$Harassment", "$HG_threat", "$HGHeld"}
    assert keywords_for(Verdict(quarantined="unreadable")) == {"$HGQuarantined"}


def test_reply_subject_and_threading_headers() -> None:
    assert reply_subject("Order 12") == "Re: Order 12"
    assert reply_subject("RE: Order 12") == "RE: Order 12"
    assert reply_subject("Re：ご注文") == "Re：ご注文"
    msg = build_reply(sender="support@example.com", to="ann@example.org", subject="Order", body="x",
                      in_reply_to="c2@example.org", references="<c1@example.org>", key="draft:1")
    assert msg["In-Reply-To"] == "<c2@example.org>"
    assert msg["References"] == "<c1@example.org> <c2@example.org>"
    again = build_reply(sender="support@example.com", to="ann@example.org", subject="Order", body="x",
                        in_reply_to="c2@example.org", references="", key="draft:1")
    assert msg["Message-ID"] == again["Message-ID"]  # stable per draft


def test_rfc_3834_allows_an_ordinary_customer_message() -> None:
    assert auto_reply_blocked({"auto-submitted": "no", "subject": "hi"}, "ann@example.org", ("support@example.com",)) == ""
    assert auto_reply_blocked({}, "owner-list@example.org", ()) != ""
    assert auto_reply_blocked({}, "list-request@example.org", ()) != ""


def test_tagged_and_held_messages_are_counted_per_category_once_each(tmp_path) -> None:
    from gateway.checkpoints import Checkpoints
    from gateway.disputes import Disputes
    from gateway.holds import HoldStore
    from gateway.mail.handler import MessageHandler
    from gateway.pipeline import Pipeline
    from gateway.quarantine import Quarantine
    from gateway.store.db import Database
    from tests.integration.mailkit import customer_mail

    db = Database.open(tmp_path / "g.db")
    handler = MessageHandler(Checkpoints(db), Quarantine(db), Pipeline.create(db).process)
    metrics = Metrics()
    stats = metrics.source("support", "INBOX")
    raws = [customer_mail(1, sender="a@example.org", body="You useless idiot, where is my parcel?"),
            customer_mail(2, sender="b@example.org", body="I am going to kill you and your family."),
            customer_mail(3, sender="c@example.org")]
    for n, raw in enumerate(raws + raws[:1]):  # the first one again: a duplicate, not counted twice
        handler.handle(raw, source="support", location=f"INBOX uid {n}", stats=stats)
    # a threat of violence applies a hold at once, so that message and b@'s next one are held
    handler.handle(customer_mail(4, sender="b@example.org"), source="support", location="INBOX uid 9", stats=stats)
    assert HoldStore(db).active_for("b@example.org")
    Disputes(db).dispute("<m1@example.org>", "ash", "about the courier")
    metrics.disputed_tags = lambda: len(Disputes(db).list())
    from gateway.config import Config
    from gateway.daemon import Daemon
    from gateway.effects import EscalationStore

    metrics.escalations = lambda: Daemon(Config())._escalations(db)  # what the daemon wires
    text = metrics.render()
    assert 'hg_escalations_waiting{state="open"} 1' in text  # the threat, escalated, not mailed (no SMTP)
    assert 'hg_escalations_waiting{state="notified"} 0' in text
    [esc] = EscalationStore(db).open()
    EscalationStore(db).mark_notified(esc.id)
    text = metrics.render()
    assert 'hg_escalations_waiting{state="open"} 0' in text and 'hg_escalations_waiting{state="notified"} 1' in text
    lab = 'source="support",mailbox="INBOX"'
    assert f'hg_messages_tagged_total{{{lab},category="verbal_abuse"}} 1' in text
    assert f'hg_messages_tagged_total{{{lab},category="threat"}} 1' in text
    assert f"hg_messages_held_total{{{lab}}} 2" in text
    assert "hg_disputed_tags 1" in text
    assert stats.processed == 4 and stats.duplicates == 1
    db.close()


def test_memory_gauges_show_the_bounded_structures_and_a_failing_reading_never_breaks_a_scrape(tmp_path) -> None:
    from gateway.daemon import _memory_sizes
    from gateway.ingest import message_from_text
    from gateway.pipeline import Pipeline
    from gateway.store.db import Database

    pipeline = Pipeline.create(Database.open(tmp_path / "g.db"))
    pipeline.process(message_from_text("m1", "My parcel never arrived and nobody answers my mails about it.",
                                       sender="ann@example.org"))
    metrics = Metrics()
    metrics.memory = lambda: _memory_sizes(pipeline)
    text = metrics.render()
    rows = [line for line in text.splitlines() if line.startswith('hg_memory_structure_entries{structure="row_cache"}')]
    assert rows and int(rows[0].split()[-1]) >= 1  # the message just recorded is cached
    assert 'hg_memory_structure_bytes{structure="row_cache"}' in text
    index = [line for line in text.splitlines()
             if line.startswith('hg_memory_structure_entries{structure="campaign_index"}')]
    assert index and int(index[0].split()[-1]) >= 1  # the campaign check indexed the message
    assert int(next(line for line in text.splitlines() if line.startswith("process_resident_memory_bytes")).split()[-1]) > 0

    def broken() -> dict:
        raise RuntimeError("changed during iteration")

    metrics.memory = broken
    assert "hg_uptime_seconds" in metrics.render()
