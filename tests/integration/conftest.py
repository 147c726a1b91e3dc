"""Fixtures shared by the integration tests: ``smtpd`` (a real aiosmtpd server that records mail)."""

from tests.integration.smtpcapture import smtpd  # noqa: F401 (a fixture, found by name)
