"""Escalations and waiting holds mailed to leads through a real aiosmtpd server: one notice per
customer, the roles' addresses, at least once after an interrupted send, 4xx and 5xx kept open."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from gateway.audit import AuditLog
from gateway.config import SmtpConfig, parse_config
from gateway.effects import EscalationStore
from gateway.holds import HoldStore
from gateway.jobs import Jobs
from gateway.mail.notify import FOLLOW_UP, RETRY_REFUSED, LeadNotifier
from gateway.mail.smtp import Outbox, SmtpClient
from gateway.store.db import Database

pytestmark = pytest.mark.integration

SUPPORT = "support@example.com"
NOTIFY = {"leads": ("Kim Lead <kim@example.com>", "lee@example.com"), "legal": ("counsel@example.com",)}
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def db(tmp_path: Path):
    database = Database.open(tmp_path / "g.db")
    yield database
    database.close()


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def notifier_for(db: Database, port: int, clock: Clock, *, notify=NOTIFY, attempts: int = 3) -> LeadNotifier:
    cfg = SmtpConfig(host="127.0.0.1", port=port, security="none", sender=f"Support <{SUPPORT}>",
                     own_addresses=(SUPPORT,), notify=notify)

    async def no_wait(_: float) -> None:
        return None

    client = SmtpClient(cfg, None, attempts=attempts, backoff=0.01, sleep=no_wait)
    return LeadNotifier(db, cfg, Outbox(db, cfg, client), console_url="https://gw.example.com", clock=clock,
                        remind_after=timedelta(hours=24))


def escalate(db: Database, message_id: str, customer: str, to=("leads",), priority="high", *,
             categories=("threat",), rules=("threat.intimidation",), hold_id=None) -> int:
    return EscalationStore(db).create(message_id, customer, list(to), priority, list(rules), list(categories),
                                      hold_id=hold_id, now=T0)


def test_one_notice_per_customer_to_the_roles_addresses(smtpd, db: Database) -> None:
    handler, port = smtpd
    ids = [escalate(db, f"<m{i}@x>", "ann@example.org") for i in range(3)]
    urgent = escalate(db, "<b1@x>", "bob@example.org", to=("leads", "legal"), priority="urgent",
                      rules=("threat.violence",))
    notifier = notifier_for(db, port, Clock())

    assert asyncio.run(notifier.notify_escalations()) == 2
    by_subject = {m["Subject"]: (m, env) for m, env in zip(handler.messages, handler.envelopes)}
    ann, ann_env = by_subject["[high] Escalation: threat from ann@example.org (3 messages)"]
    bob, bob_env = by_subject["[urgent] Escalation: threat from bob@example.org"]
    assert sorted(ann_env[1]) == ["kim@example.com", "lee@example.com"]
    assert sorted(bob_env[1]) == ["counsel@example.com", "kim@example.com", "lee@example.com"]
    assert ann["Auto-Submitted"] == "auto-generated"
    body = ann.get_content()
    assert "3 messages from ann@example.org to leads" in body
    assert all(f"message <m{i}@x>" in body for i in range(3))
    assert "https://gw.example.com/escalations" in body
    assert "https://gw.example.com/customers/ann@example.org" in body
    assert "threat.violence" in bob.get_content() and "legal" in bob.get_content()

    store = EscalationStore(db)
    assert {store.get(i).state for i in [*ids, urgent]} == {"notified"}
    assert store.open() == []
    audit = AuditLog(db).entries(action="escalation.notified")
    assert len(audit) == 4 and "mailed to Kim Lead <kim@example.com>, lee@example.com" in audit[0].reason
    # a second round has nothing new to say
    assert asyncio.run(notifier.notify_escalations()) == 0
    assert len(handler.messages) == 2


def test_a_flood_while_the_notice_waits_makes_one_follow_up_an_hour_and_a_higher_priority_goes_at_once(
        smtpd, db: Database) -> None:
    handler, port = smtpd
    clock = Clock()
    notifier = notifier_for(db, port, clock)
    escalate(db, "<m0@x>", "ann@example.org")
    assert asyncio.run(notifier.notify_escalations()) == 1
    later = []
    for minute in range(1, 40):  # a threat a minute while nobody has acknowledged the first notice
        clock.now = T0 + timedelta(minutes=minute)
        later.append(escalate(db, f"<m{minute}@x>", "ann@example.org"))
        asyncio.run(notifier.notify_escalations())
    assert len(handler.messages) == 1
    assert {EscalationStore(db).get(i).state for i in later} == {"open"}
    clock.now = T0 + timedelta(minutes=40)
    urgent = escalate(db, "<u1@x>", "ann@example.org", to=("leads", "legal"), priority="urgent")
    assert asyncio.run(notifier.notify_escalations()) == 1  # a higher priority: at once, with the gathered ones
    assert handler.messages[-1]["Subject"] == "[urgent] Escalation: threat from ann@example.org (40 messages)"
    assert EscalationStore(db).get(urgent).state == "notified"
    clock.now = T0 + timedelta(minutes=41)
    escalate(db, "<m41@x>", "ann@example.org")
    assert asyncio.run(notifier.notify_escalations()) == 0
    clock.now = T0 + timedelta(minutes=40) + FOLLOW_UP
    assert asyncio.run(notifier.notify_escalations()) == 1  # the hourly follow-up
    assert len(handler.messages) == 3
    # once a lead acknowledges, the next escalation is mailed at once again
    for esc in EscalationStore(db).list(state="notified"):
        EscalationStore(db).acknowledge(esc.id, "kim", "talked to the customer")
    clock.now += timedelta(minutes=1)
    escalate(db, "<m99@x>", "ann@example.org")
    assert asyncio.run(notifier.notify_escalations()) == 1


def test_roles_without_addresses_stay_open_for_the_console(smtpd, db: Database) -> None:
    handler, port = smtpd
    esc = escalate(db, "<m1@x>", "ann@example.org", to=("legal",))
    notifier = notifier_for(db, port, Clock(), notify={"leads": ("kim@example.com",)})
    assert notifier.unmailed_roles(["leads", "legal"]) == ["legal"]
    assert asyncio.run(notifier.notify_escalations()) == 0
    assert handler.messages == []
    assert EscalationStore(db).get(esc).state == "open"


def test_a_notice_interrupted_mid_send_is_sent_again_and_says_so(smtpd, db: Database) -> None:
    handler, port = smtpd
    esc = escalate(db, "<m1@x>", "ann@example.org")
    notifier = notifier_for(db, port, Clock())
    # what a SIGKILL between "sending" and the server's answer leaves behind
    with db.tx() as c:
        c.execute("INSERT INTO outbox(key, kind, message_id, to_address, state, created_at) "
                  "VALUES (?, 'notice', '<x>', 'kim@example.com', 'sending', ?)",
                  (f"notice:escalation:{esc}", T0.isoformat()))
    assert asyncio.run(notifier.notify_escalations()) == 1
    [msg] = handler.messages
    assert msg.get_content().startswith("(Sent again: the gateway stopped while sending this notice")
    assert EscalationStore(db).get(esc).state == "notified"


def test_a_notice_the_server_took_before_a_crash_is_not_sent_twice(smtpd, db: Database) -> None:
    handler, port = smtpd
    esc = escalate(db, "<m1@x>", "ann@example.org")
    with db.tx() as c:
        c.execute("INSERT INTO outbox(key, kind, message_id, to_address, state, created_at) "
                  "VALUES (?, 'notice', '<x>', 'kim@example.com', 'sent', ?)",
                  (f"notice:escalation:{esc}", T0.isoformat()))
    assert asyncio.run(notifier_for(db, port, Clock()).notify_escalations()) == 0
    assert handler.messages == []
    assert EscalationStore(db).get(esc).state == "notified"


def test_4xx_keeps_the_escalation_open_for_the_next_round(smtpd, db: Database) -> None:
    handler, port = smtpd
    esc = escalate(db, "<m1@x>", "ann@example.org")
    notifier = notifier_for(db, port, Clock(), attempts=2)
    handler.replies = ["451 try later", "451 try later"]
    assert asyncio.run(notifier.notify_escalations()) == 0
    assert EscalationStore(db).get(esc).state == "open"
    assert asyncio.run(notifier.notify_escalations()) == 1  # the server takes it now
    assert EscalationStore(db).get(esc).state == "notified"
    assert handler.attempts == 3


def test_5xx_keeps_it_open_and_tries_again_an_hour_later(smtpd, db: Database) -> None:
    handler, port = smtpd
    esc = escalate(db, "<m1@x>", "ann@example.org")
    clock = Clock()
    notifier = notifier_for(db, port, clock)
    handler.replies = ["554 no such user"]
    assert asyncio.run(notifier.notify_escalations()) == 0
    [row] = [dict(r) for r in db.query("SELECT * FROM outbox")]
    assert row["state"] == "failed" and "554" in row["response"]
    assert EscalationStore(db).get(esc).state == "open"
    clock.now = T0 + RETRY_REFUSED - timedelta(minutes=1)
    assert asyncio.run(notifier.notify_escalations()) == 0 and handler.attempts == 1  # not hammered
    clock.now = T0 + RETRY_REFUSED
    assert asyncio.run(notifier.notify_escalations()) == 1
    assert EscalationStore(db).get(esc).state == "notified"


def test_waiting_holds_are_mailed_to_leads_once_per_period(smtpd, db: Database) -> None:
    handler, port = smtpd
    clock = Clock()
    holds = HoldStore(db)
    for customer in ("ann@example.org", "bob@example.org"):
        holds.propose(customer, "customer", "repeated abuse", [], categories=["verbal_abuse"], now=T0)
    jobs = Jobs(db, reminder_after=timedelta(hours=24), clock=clock, notifier=notifier_for(db, port, clock))

    clock.now = T0 + timedelta(hours=23)
    assert asyncio.run(jobs.remind_pending_holds()) == [] and handler.messages == []
    clock.now = T0 + timedelta(hours=25)
    assert len(asyncio.run(jobs.remind_pending_holds())) == 2
    [msg] = handler.messages
    assert msg["Subject"] == "2 holds waiting for a decision"
    assert sorted(handler.envelopes[0][1]) == ["kim@example.com", "lee@example.com"]  # leads, not legal
    assert "ann@example.org" in msg.get_content() and "https://gw.example.com/holds" in msg.get_content()
    clock.now = T0 + timedelta(hours=30)  # the hourly job again: not another mail within the period
    asyncio.run(jobs.remind_pending_holds())
    assert len(handler.messages) == 1
    clock.now = T0 + timedelta(hours=25 + 24)
    asyncio.run(jobs.remind_pending_holds())
    assert len(handler.messages) == 2


def test_notify_config_is_validated_with_the_key_named() -> None:
    cfg = parse_config({"smtp": {"host": "h", "from": SUPPORT, "notify": {"leads": ["kim@example.com"],
                                                                           "legal": "counsel@example.com"}},
                        "console": {"url": "https://gw.example.com/"}}, env={})
    assert cfg.smtp is not None and cfg.smtp.notify == {"leads": ("kim@example.com",),
                                                          "legal": ("counsel@example.com",)}
    assert cfg.console.url == "https://gw.example.com"
    from gateway.errors import ConfigError

    with pytest.raises(ConfigError, match=r"smtp\.notify\.leads\[1\]: expected an email address"):
        parse_config({"smtp": {"host": "h", "from": SUPPORT, "notify": {"leads": ["kim@example.com", "kim"]}}}, env={})
    with pytest.raises(ConfigError, match=r"smtp\.notify: expected a mapping"):
        parse_config({"smtp": {"host": "h", "from": SUPPORT, "notify": ["kim@example.com"]}}, env={})
    with pytest.raises(ConfigError, match=r"console\.url: expected an http"):
        parse_config({"console": {"url": "gw.example.com"}}, env={})


def test_run_once_mails_a_threat_to_leads_and_legal(tmp_path: Path, smtpd) -> None:
    """End to end: ``harassment-gateway run --once`` over a Maildir with the shipped policy: a
    violent threat is escalated to leads and legal (urgent) and the notice reaches both roles'
    addresses; a polite complaint escalates nothing."""
    import email.message
    import os
    import subprocess
    import sys

    import yaml

    from tests.integration.test_ack_daemon import ROOT, deliver

    handler, port = smtpd

    def mail(n: int, sender: str, text: str) -> bytes:
        msg = email.message.EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = sender, SUPPORT, "My order"
        msg["Message-ID"] = f"<n{n}@example.org>"
        msg.set_content(text)
        return bytes(msg)

    deliver(tmp_path / "mail", {
        "t1": mail(1, "Rex <rex@example.org>", "I know where your office is. I will come and hurt you tomorrow."),
        "p1": mail(2, "Pia <pia@example.org>", "My parcel has still not arrived. Could you check order 1042?"),
    })
    config = tmp_path / "gateway.yaml"
    config.write_text(yaml.safe_dump({
        "store": {"path": str(tmp_path / "gateway.db")},
        "sources": [{"name": "support", "type": "maildir", "path": str(tmp_path / "mail")}],
        "smtp": {"host": "127.0.0.1", "port": port, "security": "none", "from": f"Acme Support <{SUPPORT}>",
                 "notify": {"leads": ["kim@example.com"], "legal": ["counsel@example.com"]}},
        "console": {"url": "https://gw.example.com"},
    }), encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "gateway", "run", "--once", "--quiet", "--config", str(config)],
                          cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, timeout=180)
    assert proc.returncode == 0, proc.stderr.decode()[-3000:]

    [msg] = handler.messages
    assert msg["Subject"].startswith("[urgent] Escalation: threat from rex@example.org")
    assert sorted(handler.envelopes[0][1]) == ["counsel@example.com", "kim@example.com"]
    assert "message <n1@example.org>" in msg.get_content()
    assert "hurt" not in msg.get_content()  # no message text in the notice
    db = Database.open(tmp_path / "gateway.db")
    try:
        [esc] = EscalationStore(db).list()
        assert esc.customer == "rex@example.org" and esc.state == "notified"
    finally:
        db.close()


def test_the_daemon_takes_the_reminder_period_from_the_policy_and_warns_of_unmailed_roles(db: Database, caplog) -> None:
    import dataclasses
    import logging
    from types import SimpleNamespace

    from gateway.config import Config
    from gateway.daemon import Daemon
    from gateway.policy import Policy

    policy = Policy.load()
    settings = dataclasses.replace(policy.settings, holds=dataclasses.replace(policy.settings.holds,
                                                                              remind_after=timedelta(hours=6)))
    daemon = Daemon(Config())
    notifier = notifier_for(db, 1, Clock(), notify={"leads": ("kim@example.com",)})
    daemon.jobs = Jobs(db, notifier=notifier)
    with caplog.at_level(logging.WARNING, logger="gateway.daemon"):
        daemon._policy_known(SimpleNamespace(policy=SimpleNamespace(settings=settings)))
    assert daemon.jobs.reminder_after == notifier.remind_after == timedelta(hours=6)
    [record] = [r for r in caplog.records if "not mailed to anybody" in r.getMessage()]
    assert record.reason == "no address for legal"  # the shipped policy escalates to leads and legal
