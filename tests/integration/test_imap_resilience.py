"""Network failures between the daemon and Dovecot lose nothing and repeat nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from gateway.checkpoints import Checkpoints
from gateway.daemon import Daemon
from gateway.store.db import Database
from tests.integration.dovecot import Dovecot
from tests.integration.mailkit import DaemonThread, ScriptedProcess, customer_mail, imap_config, ingest_function, wait_until
from tests.integration.tcpproxy import CutPlan, TcpProxy

pytestmark = pytest.mark.integration

COUNT = 120


def test_connection_cut_mid_fetch_is_survived_with_nothing_lost(dovecot: Dovecot, tmp_path: Path) -> None:
    dovecot.append([customer_mail(i, sender=f"c{i % 5}@example.org", body=("idiot " if i % 4 == 0 else "") + "x" * 600)
                    for i in range(COUNT)])
    # Each cut lands inside a FETCH of message bodies (well past login and SELECT).
    proxy = TcpProxy(("127.0.0.1", dovecot.port), CutPlan(after_bytes=40_000, connections=3)).start()
    try:
        process = ScriptedProcess(held={"c4@example.org"})
        config = imap_config(dovecot, db_path=str(tmp_path / "g.db"), port=proxy.port)
        daemon = Daemon(config, once=True, process=process, ingest=ingest_function(), backoff=(0.05, 0.2),
                        batch_size=50)
        assert asyncio.run(daemon.run()) == 0
    finally:
        proxy.stop()

    assert proxy.cuts == 3
    assert daemon.metrics.source("support", "INBOX").reconnects == 3
    inbox, held = dovecot.flags("INBOX"), dovecot.flags("Held")
    assert len(inbox) + len(held) == COUNT
    assert all("$HGChecked" in f for f in [*inbox.values(), *held.values()])
    assert len(held) == COUNT // 5 and all("$HGHeld" in f for f in held.values())
    assert all(("$HG_verbal_abuse" in f) == (int(mid[2:-13]) % 4 == 0) for mid, f in {**inbox, **held}.items())
    # every message analysed exactly once, however many times it was fetched
    assert len(process.calls) == COUNT and set(process.calls.values()) == {1}


def test_connection_dropped_while_idling_is_reopened(dovecot: Dovecot, tmp_path: Path) -> None:
    proxy = TcpProxy(("127.0.0.1", dovecot.port)).start()
    try:
        process = ScriptedProcess()
        config = imap_config(dovecot, db_path=str(tmp_path / "g.db"), port=proxy.port)
        daemon = Daemon(config, process=process, ingest=ingest_function(), serve_web=False, backoff=(0.05, 0.5))
        stats = daemon.metrics.source("support", "INBOX")
        with DaemonThread(daemon):
            wait_until(lambda: stats.state == "idle", 10)
            dovecot.append([customer_mail(1)])
            wait_until(lambda: "$HGChecked" in dovecot.flags().get("<m1@example.org>", set()), 5)
            proxy.cut_all()
            wait_until(lambda: stats.reconnects >= 1, 10)
            wait_until(lambda: stats.state == "idle", 10)
            dovecot.append([customer_mail(2)])
            wait_until(lambda: "$HGChecked" in dovecot.flags().get("<m2@example.org>", set()), 5)
    finally:
        proxy.stop()
    assert dict(process.calls) == {"<m1@example.org>": 1, "<m2@example.org>": 1}
    db = Database.open(tmp_path / "g.db")
    assert Checkpoints(db).get("support", "INBOX").last_uid == 2  # type: ignore[union-attr]
