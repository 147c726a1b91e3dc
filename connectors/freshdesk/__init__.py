"""Freshdesk v2: tickets in, tags + private notes with drafts + holds out, leads' verdicts back.

See :mod:`connectors.freshdesk.connector` for how the parts fit, and ``schemas/`` for the
project-owned JSON Schemas of every request and response body used (Freshdesk publishes no
OpenAPI description; the contract tests validate against these).
"""

from connectors.freshdesk.client import FreshdeskClient
from connectors.freshdesk.config import FreshdeskConfig, freshdesk_config
from connectors.freshdesk.connector import FreshdeskConnector

__all__ = ["FreshdeskClient", "FreshdeskConfig", "FreshdeskConnector", "freshdesk_config"]
