"""The project's own error types.

Every error a person may see is one of these, with a message that says what to do and the cause
attached (``raise ConfigError(...) from exc``)::

    GatewayError
    ├── IngestError      a message could not be read (it is quarantined with this reason)
    ├── RulesError       a rules/ file is malformed (file, line and reason in the message)
    ├── ConfigError      the config file is invalid (names the key)
    ├── PolicyError      policy.yaml is invalid, or a decision cannot be carried out
    ├── StoreError       the SQLite store cannot be opened or migrated
    ├── HelpdeskError    a helpdesk API answered with an error (vendor message kept)
    │   └── RateLimited  429 / 503 with Retry-After, after the retry budget ran out
    └── DeliveryError    SMTP refused a message
"""

from __future__ import annotations


class GatewayError(Exception):
    """Base of every error the gateway raises on purpose."""


class IngestError(GatewayError):
    """Raw input could not be turned into a Message."""


class RulesError(GatewayError):
    """A rules file is malformed. The message names the file, the line and the reason."""

    def __init__(self, path: str, line: int | None, reason: str) -> None:
        self.path = str(path)
        self.line = line
        self.reason = reason
        where = f"{self.path} line {line}" if line is not None else self.path
        super().__init__(f"{where}: {reason}")


class ConfigError(GatewayError):
    """The gateway's config is invalid; the message names the key."""


class PolicyError(GatewayError):
    """policy.yaml is invalid or a decision cannot be applied."""


class StoreError(GatewayError):
    """The store cannot be opened, migrated or written."""


class HelpdeskError(GatewayError):
    """A helpdesk API call failed. ``status`` and ``vendor_message`` keep what the vendor said."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        vendor_message: str | None = None,
        details: object = None,
        method: str | None = None,
        url: str | None = None,
    ) -> None:
        self.status = status
        self.vendor_message = vendor_message
        self.details = details
        self.method = method
        self.url = url
        super().__init__(message)


class RateLimited(HelpdeskError):
    """The vendor kept answering 429/503 after the retry budget was spent."""


class DeliveryError(GatewayError):
    """An SMTP server refused a message. ``permanent`` is true for 5xx."""

    def __init__(self, message: str, *, code: int | None = None, permanent: bool = False) -> None:
        self.code = code
        self.permanent = permanent
        super().__init__(message)
