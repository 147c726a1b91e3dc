"""A Zendesk entry of the ``helpdesks`` config section, validated into :class:`ZendeskConfig`.

::

    helpdesks:
      - name: zendesk
        type: zendesk
        base_url: https://acme.zendesk.com     # or subdomain: acme
        email: bot@acme.com                    # with token_env: API-token auth
        token_env: ZENDESK_TOKEN               # or oauth_token_env: ZENDESK_OAUTH_TOKEN
        webhook_secret_env: ZENDESK_WEBHOOK_SECRET
        hold_status: hold                      # hold | pending; or hold_custom_status_id: 123
        tag_prefix: hg_
        approve_tag: hg_hold_approve
        reject_tag: hg_hold_reject
        dispute_tag: hg_dispute                # an agent adds it: the gateway's tags on the ticket are wrong
        suspend_on_customer_hold: false
        agent_id: 366000000001                 # author of approved replies

Secrets are read once, here, from the environment mapping the config was loaded with.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from gateway.config import HelpdeskConfig
from gateway.errors import ConfigError

_KEYS = {
    "base_url", "subdomain", "email", "token_env", "oauth_token_env", "webhook_secret_env",
    "hold_status", "hold_custom_status_id", "tag_prefix", "approve_tag", "reject_tag", "dispute_tag",
    "suspend_on_customer_hold", "agent_id", "start_time", "webhook_path", "webhook_tolerance",
    "timeout",
}
_HOLD_STATUSES = {"hold", "pending"}


@dataclass(frozen=True)
class ZendeskConfig:
    name: str
    base_url: str
    email: str = ""
    token: str = ""
    oauth_token: str = ""
    webhook_secret: str = ""
    hold_status: str = "hold"
    hold_custom_status_id: int | None = None
    tag_prefix: str = "hg_"
    approve_tag: str = "hg_hold_approve"
    reject_tag: str = "hg_hold_reject"
    dispute_tag: str = "hg_dispute"
    suspend_on_customer_hold: bool = False
    agent_id: int | None = None
    start_time: int | None = None  # unix seconds for the first export; None: ten minutes ago
    webhook_path: str = ""
    webhook_tolerance: int = 300  # seconds a webhook timestamp may differ from our clock
    timeout: float = 30.0

    def __repr__(self) -> str:  # never print secrets
        return f"ZendeskConfig(name={self.name!r}, base_url={self.base_url!r}, email={self.email!r})"

    @property
    def hold_tag(self) -> str:
        return f"{self.tag_prefix}hold"

    @property
    def proposed_tag(self) -> str:
        return f"{self.tag_prefix}hold_proposed"

    def helpdesk_tag(self, policy_tag: str) -> str:
        """The policy's ``hg_<category>`` tag under the configured prefix."""
        if self.tag_prefix != "hg_" and policy_tag.startswith("hg_"):
            return self.tag_prefix + policy_tag[3:]
        return policy_tag


def load_zendesk_config(entry: HelpdeskConfig, env: Mapping[str, str], *, key: str = "helpdesks") -> ZendeskConfig:
    """Validate ``entry.options``; errors name the key (``helpdesks.zendesk.hold_status: ...``)."""
    k = f"{key}.{entry.name}"
    opts: dict[str, Any] = dict(entry.options)
    for name in opts:
        if name not in _KEYS:
            raise ConfigError(f"{k}.{name}: unknown key (expected one of {', '.join(sorted(_KEYS))})")

    base_url = _s(opts, "base_url", k)
    subdomain = _s(opts, "subdomain", k)
    if base_url and subdomain:
        raise ConfigError(f"{k}: give base_url or subdomain, not both")
    if subdomain:
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", subdomain):
            raise ConfigError(f"{k}.subdomain: expected a Zendesk subdomain like 'acme', got {subdomain!r}")
        base_url = f"https://{subdomain}.zendesk.com"
    if not base_url:
        raise ConfigError(f"{k}.base_url: required (https://SUBDOMAIN.zendesk.com, or any URL for a proxy)")
    if not re.match(r"https?://[^/\s]+", base_url):
        raise ConfigError(f"{k}.base_url: expected an http(s) URL, got {base_url!r}")

    def secret(opt: str) -> str:
        var = _s(opts, opt, k)
        if not var:
            return ""
        value = env.get(var)
        if not value:
            raise ConfigError(f"{k}.{opt}: environment variable {var} is not set")
        return value

    email = _s(opts, "email", k)
    token = secret("token_env")
    oauth = secret("oauth_token_env")
    if token and oauth:
        raise ConfigError(f"{k}: give token_env (API token) or oauth_token_env (OAuth), not both")
    if not token and not oauth:
        raise ConfigError(f"{k}.token_env: required (or oauth_token_env): the gateway needs API access")
    if token and not email:
        raise ConfigError(f"{k}.email: required with token_env (API tokens authenticate as email/token)")

    hold_status = _s(opts, "hold_status", k) or "hold"
    if hold_status not in _HOLD_STATUSES:
        raise ConfigError(f"{k}.hold_status: expected hold or pending, got {hold_status!r}")
    custom = _int(opts, "hold_custom_status_id", k)
    prefix = _s(opts, "tag_prefix", k) or "hg_"
    if not re.fullmatch(r"[a-z0-9_]+", prefix):
        raise ConfigError(f"{k}.tag_prefix: Zendesk tags are lowercase letters, digits and _; got {prefix!r}")
    approve = _s(opts, "approve_tag", k) or f"{prefix}hold_approve"
    reject = _s(opts, "reject_tag", k) or f"{prefix}hold_reject"
    if approve == reject:
        raise ConfigError(f"{k}.reject_tag: must differ from approve_tag")
    dispute = _s(opts, "dispute_tag", k) or f"{prefix}dispute"
    if dispute in (approve, reject):
        raise ConfigError(f"{k}.dispute_tag: must differ from approve_tag and reject_tag")
    suspend = opts.get("suspend_on_customer_hold", False)
    if not isinstance(suspend, bool):
        raise ConfigError(f"{k}.suspend_on_customer_hold: expected true or false, got {suspend!r}")
    tolerance = _int(opts, "webhook_tolerance", k)
    timeout = opts.get("timeout", 30.0)
    if not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or timeout <= 0:
        raise ConfigError(f"{k}.timeout: expected a positive number of seconds, got {timeout!r}")
    return ZendeskConfig(
        name=entry.name,
        base_url=base_url.rstrip("/"),
        email=email,
        token=token,
        oauth_token=oauth,
        webhook_secret=secret("webhook_secret_env"),
        hold_status=hold_status,
        hold_custom_status_id=custom,
        tag_prefix=prefix,
        approve_tag=approve,
        reject_tag=reject,
        dispute_tag=dispute,
        suspend_on_customer_hold=suspend,
        agent_id=_int(opts, "agent_id", k),
        start_time=_start_time(opts.get("start_time"), f"{k}.start_time"),
        webhook_path=_s(opts, "webhook_path", k) or f"/webhooks/zendesk/{entry.name}",
        webhook_tolerance=300 if tolerance is None else tolerance,
        timeout=float(timeout),
    )


def _s(opts: dict[str, Any], name: str, k: str) -> str:
    value = opts.get(name, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ConfigError(f"{k}.{name}: expected a string, got {value!r}")
    return value.strip()


def _int(opts: dict[str, Any], name: str, k: str) -> int | None:
    value = opts.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"{k}.{name}: expected a non-negative integer, got {value!r}")
    return value


def _start_time(value: Any, key: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, datetime):
        dt = value
    else:
        try:
            dt = datetime.fromisoformat(str(value))
        except ValueError:
            raise ConfigError(f"{key}: expected unix seconds or an ISO 8601 date, got {value!r}") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return int(dt.timestamp())
