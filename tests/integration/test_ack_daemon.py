"""Automatic acknowledgments end to end: ``harassment-gateway run --once`` over a Maildir, the real
pipeline and policy, a real aiosmtpd server. A held customer's mail goes to the held folder and
gets exactly one acknowledgment; nothing is sent with the setting off (the default); a SIGKILL in
the middle of a send, then a restart, never sends it a second time."""

from __future__ import annotations

import asyncio
import email
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

import pytest
import yaml
from aiosmtpd.controller import Controller

from gateway.audit import AuditLog
from gateway.holds import HoldStore
from gateway.resources import rules_dir
from gateway.store.db import Database
from tests.integration.dovecot import free_port

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SUPPORT = "support@example.com"
COMPLAINT = "My parcel has still not arrived. Please tell me when it will be delivered."


class Capture:
    def __init__(self, *, hang: bool = False) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.attempts = 0
        self.hang = hang

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd hook name)
        self.attempts += 1
        if self.hang:  # the server never answers: the gateway is killed while it waits
            await asyncio.sleep(3600)
        self.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


class Smtpd:
    def __init__(self, port: int, *, hang: bool = False) -> None:
        self.handler = Capture(hang=hang)
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=port)

    def __enter__(self) -> Capture:
        self.controller.start()
        return self.handler

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


def customer_mail(n: int, sender: str, *, subject: str = "Parcel", headers: dict[str, str] | None = None) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = SUPPORT
    msg["Subject"] = subject
    msg["Message-ID"] = f"<ack{n}@example.org>"
    msg["Date"] = format_datetime(datetime.now(timezone.utc))  # fresh mail: within max_age
    for k, v in (headers or {}).items():
        msg[k] = v
    msg.set_content(COMPLAINT)
    return bytes(msg)


def deliver(box: Path, raws: dict[str, bytes]) -> None:
    for d in ("cur", "new", "tmp"):
        (box / d).mkdir(parents=True, exist_ok=True)
    for name, raw in raws.items():
        (box / "new" / f"{name}.test").write_bytes(raw)


def write_config(tmp: Path, smtp_port: int, *, acknowledgments: bool) -> Path:
    policy_path = tmp / "policy.yaml"
    text = (rules_dir() / "policy.yaml").read_text(encoding="utf-8")
    if acknowledgments:
        assert "acknowledgments:\n  enabled: false\n" in text
        text = text.replace("acknowledgments:\n  enabled: false\n", "acknowledgments:\n  enabled: true\n")
    policy_path.write_text(text, encoding="utf-8")
    config = {
        "store": {"path": str(tmp / "gateway.db")},
        "sources": [{"name": "support", "type": "maildir", "path": str(tmp / "mail")}],
        "smtp": {"host": "127.0.0.1", "port": smtp_port, "security": "none", "from": f"Acme Support <{SUPPORT}>"},
        "policy": str(policy_path),
    }
    path = tmp / "gateway.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def hold(tmp: Path, *customers: str) -> None:
    db = Database.open(tmp / "gateway.db")
    try:
        for customer in customers:
            HoldStore(db).apply(customer, "customer", "repeated abuse last month", actor="lead-kim")
    finally:
        db.close()


def gateway(config: Path, cwd: Path) -> subprocess.Popen[bytes]:
    """``harassment-gateway run --once --config FILE`` (the console script's module entry)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "gateway", "run", "--once", "--quiet", "--config", str(config)],
                            cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def run_once(config: Path, cwd: Path) -> None:
    proc = gateway(config, cwd)
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err.decode()[-3000:]


def audit_actions(tmp: Path, message_id: str) -> list[tuple[str, str]]:
    db = Database.open(tmp / "gateway.db")
    try:
        return [(e.action, e.reason) for e in AuditLog(db).entries(subject=f"message:{message_id}")
                if e.action.startswith("acknowledgment.")]
    finally:
        db.close()


def held_files(box: Path) -> set[str]:
    return {p.name for sub in ("cur", "new") for p in (box / ".Held" / sub).glob("*.test*")}


def test_run_once_acknowledges_a_held_customer_once_and_refuses_automated_mail(tmp_path: Path) -> None:
    port = free_port()
    config = write_config(tmp_path, port, acknowledgments=True)
    hold(tmp_path, "ann@example.org", "bulk@example.org", "lists@example.org", "mailer-daemon@example.org")
    deliver(tmp_path / "mail", {
        "a1": customer_mail(1, "Ann Customer <ann@example.org>", subject="Parcel 1042"),
        "a2": customer_mail(2, "Ann Customer <ann@example.org>", subject="Parcel 1042 again"),
        "b1": customer_mail(3, "bulk@example.org", headers={"Precedence": "bulk"}),
        "c1": customer_mail(4, "lists@example.org", headers={"List-Id": "<news.example.org>"}),
        "d1": customer_mail(5, "MAILER-DAEMON@example.org", subject="Undelivered Mail"),
        "e1": customer_mail(6, "bulk@example.org", subject="Out of office", headers={"Auto-Submitted": "auto-replied"}),
        "f1": customer_mail(7, "Dee <dee@example.org>"),  # no hold: an agent answers, never the gateway
    })

    with Smtpd(port) as smtp:
        run_once(config, tmp_path)
        [ack] = smtp.messages
        assert ack["To"] == "ann@example.org"
        assert ack["Auto-Submitted"] == "auto-replied"
        assert ack["In-Reply-To"] == "<ack1@example.org>" and "<ack1@example.org>" in ack["References"]
        assert ack["Subject"] == "Re: Parcel 1042"
        assert "automatic reply" in ack.get_content()
        assert held_files(tmp_path / "mail") == {"a1.test", "a2.test", "b1.test", "c1.test", "d1.test", "e1.test"}

        # every refusal is on the record with its reason
        assert [a for a, _ in audit_actions(tmp_path, "<ack1@example.org>")] == ["acknowledgment.queued",
                                                                                  "acknowledgment.sent"]
        [(action, reason)] = audit_actions(tmp_path, "<ack2@example.org>")
        assert action == "acknowledgment.suppressed" and "already acknowledged" in reason
        for n, why in ((3, "Precedence: bulk"), (4, "List-Id"), (5, "mailer-daemon"), (6, "Auto-Submitted")):
            [(action, reason)] = audit_actions(tmp_path, f"<ack{n}@example.org>")
            assert action == "acknowledgment.suppressed" and why.lower() in reason.lower(), (n, reason)
        assert audit_actions(tmp_path, "<ack7@example.org>") == []

        # a later run: Ann writes again within the period, and gets nothing more
        deliver(tmp_path / "mail", {"a3": customer_mail(8, "Ann Customer <ann@example.org>")})
        run_once(config, tmp_path)
        assert len(smtp.messages) == 1 and smtp.attempts == 1
        assert "a3.test" in held_files(tmp_path / "mail")

    db = Database.open(tmp_path / "gateway.db")
    try:
        rows = db.query("SELECT kind, state, to_address FROM outbox")
        assert [tuple(r) for r in rows] == [("ack", "sent", "ann@example.org")]
    finally:
        db.close()


def test_with_the_shipped_default_nothing_is_ever_sent(tmp_path: Path) -> None:
    port = free_port()
    config = write_config(tmp_path, port, acknowledgments=False)
    hold(tmp_path, "ann@example.org")
    deliver(tmp_path / "mail", {"a1": customer_mail(1, "Ann <ann@example.org>"),
                                "a2": customer_mail(2, "Ann <ann@example.org>")})
    with Smtpd(port) as smtp:
        run_once(config, tmp_path)
        assert smtp.attempts == 0
    assert held_files(tmp_path / "mail") == {"a1.test", "a2.test"}  # the hold still works
    db = Database.open(tmp_path / "gateway.db")
    try:
        assert db.query_one("SELECT count(*) AS n FROM outbox")["n"] == 0
        assert AuditLog(db).entries(subject_prefix="message:") != []
        assert not [e for e in AuditLog(db).entries() if e.action.startswith("acknowledgment.")]
    finally:
        db.close()


def test_a_sigkill_mid_send_then_a_restart_never_sends_the_acknowledgment_twice(tmp_path: Path) -> None:
    port = free_port()
    config = write_config(tmp_path, port, acknowledgments=True)
    hold(tmp_path, "ann@example.org")
    deliver(tmp_path / "mail", {"a1": customer_mail(1, "Ann <ann@example.org>")})

    with Smtpd(port, hang=True) as smtp:
        proc = gateway(config, tmp_path)
        deadline = time.monotonic() + 120
        while smtp.attempts == 0 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert smtp.attempts == 1, proc.stderr.read().decode()[-3000:] if proc.poll() is not None else "no send"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
        assert smtp.messages == []

    with Smtpd(port) as smtp:
        run_once(config, tmp_path)  # the restart
        assert smtp.attempts == 0 and smtp.messages == []

    actions = audit_actions(tmp_path, "<ack1@example.org>")
    assert [a for a, _ in actions] == ["acknowledgment.queued", "acknowledgment.failed"]
    assert "interrupted" in actions[1][1]


def test_over_dovecot_held_mail_is_moved_and_acknowledged_once(tmp_path: Path) -> None:
    """The same flow from an IMAP mailbox: the daemon in-process, as the other Dovecot tests run it."""
    from dataclasses import replace

    from gateway.config import SmtpConfig
    from gateway.daemon import Daemon
    from tests.integration.dovecot import Dovecot
    from tests.integration.mailkit import imap_config

    server = Dovecot.start()
    try:
        server.append([customer_mail(1, "Ann <ann@example.org>", subject="Parcel 1042"),
                       customer_mail(2, "Ann <ann@example.org>", subject="Parcel 1042"),
                       customer_mail(3, "Dee <dee@example.org>")])
        port = free_port()
        policy_path = write_config(tmp_path, port, acknowledgments=True).parent / "policy.yaml"
        hold(tmp_path, "ann@example.org")
        base = imap_config(server, db_path=str(tmp_path / "gateway.db"))
        config = replace(base, policy=str(policy_path),
                         smtp=SmtpConfig(host="127.0.0.1", port=port, security="none", sender=SUPPORT,
                                         own_addresses=(SUPPORT,)))
        with Smtpd(port) as smtp:
            assert asyncio.run(Daemon(config, once=True).run()) == 0
            assert set(server.flags("Held")) == {"<ack1@example.org>", "<ack2@example.org>"}
            [ack] = smtp.messages
            assert ack["In-Reply-To"] == "<ack1@example.org>" and ack["Auto-Submitted"] == "auto-replied"
            assert asyncio.run(Daemon(config, once=True).run()) == 0  # a second pass sends nothing more
            assert len(smtp.messages) == 1
    finally:
        server.stop()
