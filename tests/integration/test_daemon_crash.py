"""``harassment-gateway run`` as a real process: SIGKILL at a random point, restart, every
message handled exactly once in effect; SIGTERM stops it cleanly; /metrics and /healthz answer."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from gateway.audit import AuditLog
from gateway.holds import HoldStore
from gateway.store.db import Database
from tests.integration.dovecot import Dovecot, free_port
from tests.integration.mailkit import customer_mail, wait_until

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
COUNT = 300
HELD = "c3@example.org"
SECRET_BODY = "zebra-umbrella-4711"  # appears in every body; must never appear in the logs


def write_config(tmp: Path, server: Dovecot, console_port: int) -> Path:
    config = {
        "store": {"path": "gateway.db"},
        "sources": [{"name": "support", "type": "imap", "host": "127.0.0.1", "port": server.port,
                     "security": "none", "username": server.user, "password_env": "HG_TEST_IMAP_PASSWORD",
                     "mailbox": "INBOX", "held_folder": "Held"}],
        "console": {"listen": f"127.0.0.1:{console_port}"},
    }
    path = tmp / "gateway.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def start(config: Path, *, once: bool = False, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "HG_TEST_IMAP_PASSWORD": "secret", "PYTHONPATH": str(ROOT)}
    args = [sys.executable, "-m", "gateway", "run", "--config", str(config)] + (["--once"] if once else [])
    return subprocess.Popen(args, cwd=config.parent, env=env, stdout=subprocess.DEVNULL,
                            stderr=log.open("ab"))


def verdicts(db_path: Path) -> int:
    try:
        conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5)
        try:
            return int(conn.execute("SELECT count(*) FROM verdicts").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.Error:
        return 0


def mail(n: int) -> bytes:
    body = [f"My order {n} is late, please check. {SECRET_BODY}",
            f"You are an idiot and a useless clown. {SECRET_BODY}",
            f"お前は無能だ。{SECRET_BODY}"][n % 3]
    return customer_mail(n, sender=f"c{n % 8}@example.org", body=body)


def test_sigkill_at_a_random_point_then_restart_handles_every_message_once(dovecot: Dovecot, tmp_path: Path) -> None:
    seed = int.from_bytes(os.urandom(4), "big")
    rng = random.Random(seed)
    dovecot.append([mail(n) for n in range(COUNT)])
    config = write_config(tmp_path, dovecot, free_port())
    db_path = tmp_path / "gateway.db"
    db = Database.open(db_path)
    HoldStore(db).apply(HELD, "all_channels", "test: customer under an active hold", actor="lead-kim")
    db.close()
    log = tmp_path / "daemon.log"

    kills = []
    for _ in range(2):
        target = verdicts(db_path) + rng.randint(1, COUNT // 3)
        proc = start(config, log=log)
        try:
            wait_until(lambda: verdicts(db_path) >= target or proc.poll() is not None, 60, interval=0.005)
            time.sleep(rng.uniform(0, 0.05))
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
        kills.append(verdicts(db_path))
    final = start(config, once=True, log=log)
    assert final.wait(120) == 0, f"seed {seed}: --once run failed; see {log}"

    context = f"seed {seed}, killed at {kills} verdicts"
    inbox, held = dovecot.flags("INBOX"), dovecot.flags("Held")  # each asserts no Message-ID twice
    assert len(inbox) + len(held) == COUNT, context
    assert set(held) == {f"<m{n}@example.org>" for n in range(COUNT) if n % 8 == 3}, context
    assert all("$HGChecked" in f and "$HGHeld" in f for f in held.values()), context
    assert all("$HGChecked" in f and "$HGHeld" not in f for f in inbox.values()), context

    db = Database.open(db_path)
    try:
        assert verdicts(db_path) == COUNT, context
        assert db.query_one("SELECT count(*) AS n FROM messages")["n"] == COUNT, context
        dup_drafts = db.query("SELECT message_id, template, count(*) AS n FROM drafts GROUP BY 1, 2 HAVING n > 1")
        assert not dup_drafts, context
        holds = HoldStore(db).list()
        situations = [(h.customer, h.scope, h.thread, h.source) for h in holds if h.state in ("proposed", "active")]
        assert len(situations) == len(set(situations)), context  # one open hold per situation
        for hold in holds:
            assert len(hold.message_ids) == len(set(hold.message_ids)), context
        assert any(h.customer == HELD and h.state == "active" and h.scope == "all_channels" for h in holds)
        assert AuditLog(db).verify().ok, context
        assert db.query_one("SELECT count(*) AS n FROM quarantine")["n"] == 0, context
    finally:
        db.close()

    text = log.read_text()
    assert SECRET_BODY not in text
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    assert any(line["msg"] == "mailbox opened" for line in lines)


def test_sigterm_finishes_cleanly_and_health_routes_answer(dovecot: Dovecot, tmp_path: Path) -> None:
    dovecot.append([mail(n) for n in range(20)])
    port = free_port()
    config = write_config(tmp_path, dovecot, port)
    log = tmp_path / "daemon.log"
    proc = start(config, log=log)
    try:
        wait_until(lambda: verdicts(tmp_path / "gateway.db") == 20, 60)

        def get(path: str) -> tuple[int, str]:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
                    return r.status, r.read().decode()
            except OSError:
                return 0, ""

        wait_until(lambda: get("/healthz")[0] == 200, 20)
        idle = 'hg_source_state{source="support",mailbox="INBOX",state="idle"} 1'
        wait_until(lambda: idle in get("/metrics")[1], 20)  # caught up, waiting with IDLE
        status, body = get("/metrics")
        assert status == 200
        assert 'hg_messages_processed_total{source="support",mailbox="INBOX"} 20' in body
        assert 'hg_source_lag_messages{source="support",mailbox="INBOX"} 0' in body
        assert "hg_holds_pending" in body and SECRET_BODY not in body
        health = json.loads(get("/healthz")[1])
        assert health["status"] == "ok" and health["sources"][0]["processed"] == 20
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(30)
    assert code == 0
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    assert lines[-1]["msg"] == "gateway stopped"
