"""A real aiosmtpd server on 127.0.0.1 that records what it is sent, for the SMTP tests."""

from __future__ import annotations

import email
from email import policy
from typing import Iterator

import pytest
from aiosmtpd.controller import Controller

from tests.integration.dovecot import free_port


class Capture:
    """Records every message; answers with the queued replies first (e.g. "451 ..."), then 250."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.replies: list[str] = []
        self.attempts = 0

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd hook name)
        self.attempts += 1
        if self.replies:
            return self.replies.pop(0)
        self.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK queued"


@pytest.fixture
def smtpd() -> Iterator[tuple[Capture, int]]:
    """``(capture, port)`` of a started server, stopped after the test."""
    handler = Capture()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield handler, controller.port
    controller.stop()
