"""Zendesk Support: incremental export and webhooks in; tags, private notes, holds and approved
replies out. :class:`ZendeskConnector` implements :class:`connectors.base.Connector`."""

from connectors.zendesk.config import ZendeskConfig, load_zendesk_config
from connectors.zendesk.sync import ZendeskConnector

__all__ = ["ZendeskConfig", "ZendeskConnector", "load_zendesk_config"]
