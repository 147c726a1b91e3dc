"""Helpdesk connectors. Each helpdesk is one sub-package (``connectors.zendesk``,
``connectors.freshdesk``) implementing :class:`connectors.base.Connector`; the HTTP retry policy
(:mod:`connectors.http`) and the private-note text (:mod:`connectors.note`) are shared.
"""

from collections.abc import Mapping
from importlib import import_module
from typing import Any

from connectors.base import ApplyResult, Approval, Connector, external_ref
from gateway.config import Config, HelpdeskConfig
from gateway.errors import ConfigError

#: helpdesk ``type`` -> "module:Class" of its connector
CONNECTORS: dict[str, str] = {
    "zendesk": "connectors.zendesk.sync:ZendeskConnector",
    "freshdesk": "connectors.freshdesk.connector:FreshdeskConnector",
}


def create_connector(entry: HelpdeskConfig, db: Any, env: Config | Mapping[str, str], **kwargs: Any) -> Connector:
    """The connector for a ``helpdesks`` entry (validated by its own config module)."""
    target = CONNECTORS.get(entry.type)
    if target is None:
        raise ConfigError(f"helpdesks.{entry.name}.type: no connector for {entry.type!r}")
    module, _, cls = target.partition(":")
    return getattr(import_module(module), cls).from_config(entry, db, env, **kwargs)


__all__ = ["CONNECTORS", "ApplyResult", "Approval", "Connector", "create_connector", "external_ref"]
