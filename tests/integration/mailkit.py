"""Shared pieces of the daemon's integration tests: customer mail, a scripted verdict, a runner.

``ScriptedProcess`` is the daemon's pipeline seam (``process(message) -> Result``) with verdicts
the test decides (which customer is held, which words make a category), so the mailbox mechanics
can be checked exactly. test_daemon_pipeline.py, test_daemon_crash.py and the embedded-defaults
test run the real ``gateway.pipeline``; every test reads mail with the real ingest.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import format_datetime
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from gateway.config import Config, SourceConfig, StoreConfig
from gateway.model import Decision, Message


def customer_mail(n: int, *, sender: str = "", subject: str = "", body: str = "", headers: dict[str, str] | None = None,
                  message_id: str | None = None) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender or f"Customer {n} <customer{n % 7}@example.org>"
    msg["To"] = "support@example.com"
    msg["Subject"] = subject or f"Order {1000 + n}"
    msg["Message-ID"] = message_id or f"<m{n}@example.org>"
    msg["Date"] = format_datetime(datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc) + timedelta(minutes=n))
    for k, v in (headers or {}).items():
        msg[k] = v
    msg.set_content(body or f"Hello, my order {1000 + n} has not arrived yet. Could you check it please?\n")
    return bytes(msg)


@dataclass
class Result:
    message: Message
    findings: list[Any]
    decision: Decision


@dataclass
class ScriptedProcess:
    """A pipeline stand-in whose verdicts the test sets: ``held`` customer keys get
    ``Decision.held``; a body containing a key of ``words`` is tagged with that category."""

    held: set[str] = field(default_factory=set)
    words: dict[str, str] = field(default_factory=lambda: {"idiot": "verbal_abuse", "regret": "threat"})
    calls: Counter[str] = field(default_factory=Counter)
    fail_on: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, message: Message) -> Result:
        with self.lock:
            self.calls[message.id] += 1
        if self.fail_on and self.fail_on in message.text:
            raise ValueError("scripted analysis failure")
        cats = sorted({c for w, c in self.words.items() if w in message.text.lower()})
        held = message.sender in self.held or message.sender_address in self.held
        return Result(message, [], Decision(message.id, tags=[f"hg_{c}" for c in cats], categories=cats, held=held))


def imap_config(server: Any, *, db_path: str, name: str = "support", mailboxes: tuple[str, ...] = (),
                idle: bool = True, poll_interval: int = 60, idle_timeout: int = 1500, port: int | None = None,
                held_folder: str = "Held") -> Config:
    """A config reading the test Dovecot (optionally through a proxy on ``port``)."""
    source = SourceConfig(name=name, type="imap", host="127.0.0.1", port=port or server.port, security="none",
                          username=server.user, password_env="HG_TEST_IMAP_PASSWORD", mailboxes=mailboxes,
                          idle=idle, poll_interval=poll_interval, idle_timeout=idle_timeout, held_folder=held_folder)
    return Config(store=StoreConfig(path=db_path), sources=(source,), env={"HG_TEST_IMAP_PASSWORD": server.password})


class DaemonThread:
    """Runs a ``Daemon`` on its own event loop in a thread, for tests that add mail while it runs."""

    def __init__(self, daemon: Any) -> None:
        self.daemon = daemon
        self.result: int | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._main, daemon=True)

    def _main(self) -> None:
        try:
            self.result = asyncio.run(self.daemon.run())
        except BaseException as exc:  # surfaced by stop()
            self.error = exc

    def __enter__(self) -> "DaemonThread":
        self.thread.start()
        assert self.daemon.started.wait(20), "daemon did not start"
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def stop(self) -> None:
        self.daemon.request_stop()
        self.thread.join(30)
        assert not self.thread.is_alive(), "daemon did not stop within 30 s"
        if self.error:
            raise self.error


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.05) -> float:
    """Wait for ``predicate``; returns the seconds it took, fails the test on timeout."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if predicate():
            return time.monotonic() - start
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


def ingest_function() -> Callable[..., Message]:
    """The real ingest: every daemon test reads mail exactly as production does."""
    from gateway.ingest import ingest

    return ingest
