"""Fixtures shared by the integration tests: ``smtpd`` (a real aiosmtpd server that records mail)
and ``dovecot`` (a real Dovecot on 127.0.0.1, started with a config the test writes)."""

from collections.abc import Iterator

import pytest

from tests.integration.dovecot import Dovecot
from tests.integration.smtpcapture import smtpd  # noqa: F401 (a fixture, found by name)


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    server = Dovecot.start()
    yield server
    server.stop()
