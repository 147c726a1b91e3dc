"""The Freshdesk entry of the gateway config, validated into a typed object once at start.

Example (``helpdesks:`` section of the gateway config)::

    - name: freshdesk
      type: freshdesk
      base_url: https://acme.freshdesk.com      # or any URL (a proxy, a test server)
      api_key_env: FRESHDESK_API_KEY            # the agent's API key, from the environment
      webhook_secret_env: FRESHDESK_WEBHOOK_SECRET
      webhook_header: X-HG-Webhook-Secret       # the custom header the automation rule sends
      hold_status_name: "Held by gateway"       # a custom status, looked up in /ticket_fields
      # hold_status: 7                          # ... or its numeric id
      tag_prefix: hg_
      approve_tag: hg_hold_approve
      reject_tag: hg_hold_reject
      dispute_tag: hg_dispute                   # an agent adds it: the gateway's tags on the ticket are wrong
      agent_id: 43000123456                     # approved drafts are sent as this agent

Secrets are read through :meth:`gateway.config.Config.secret`, never from the file, and errors
name the key (``helpdesks[1].hold_status: expected an integer ...``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping

from gateway.config import Config, HelpdeskConfig
from gateway.errors import ConfigError

#: The tag prefix the policy uses for its own tags (DESIGN.md: ``hg_<category>``, ``hg_hold``).
POLICY_TAG_PREFIX = "hg_"

_KEYS = {
    "base_url", "domain", "api_key_env", "webhook_secret_env", "webhook_header", "webhook_path",
    "hold_status", "hold_status_name", "tag_prefix", "approve_tag", "reject_tag", "proposed_tag", "dispute_tag",
    "agent_id", "poll_interval", "first_poll_days", "per_page", "timeout", "rate_limit_low_water",
}
_HEADER = re.compile(r"^[A-Za-z0-9-]+$")
_TAG = re.compile(r"^[^,\s][^,]{0,31}$")  # Freshdesk tags are short strings without commas


@dataclass(frozen=True)
class FreshdeskConfig:
    """Everything the Freshdesk connector needs, secrets included (already read from the env)."""

    name: str
    base_url: str
    api_key: str
    webhook_secret: str = ""  # empty: the webhook route refuses every request
    webhook_header: str = "X-HG-Webhook-Secret"
    webhook_path: str = ""
    hold_status: int | None = None  # numeric status id (2..5 built in, custom ids are >= 6)
    hold_status_name: str = ""  # or a custom status, resolved by name from /api/v2/ticket_fields
    tag_prefix: str = POLICY_TAG_PREFIX
    approve_tag: str = ""
    reject_tag: str = ""
    proposed_tag: str = ""
    dispute_tag: str = ""
    agent_id: int | None = None  # the agent approved drafts are sent as (user_id on /reply)
    poll_interval: int = 60
    first_poll_days: int = 30  # how far back the first poll looks (no high-water mark yet)
    per_page: int = 100  # Freshdesk's maximum (FD docs "Pagination")
    timeout: float = 30.0
    rate_limit_low_water: int = 10  # slow down when X-RateLimit-Remaining falls to this

    def __post_init__(self) -> None:
        p = self.tag_prefix
        object.__setattr__(self, "approve_tag", self.approve_tag or f"{p}hold_approve")
        object.__setattr__(self, "reject_tag", self.reject_tag or f"{p}hold_reject")
        object.__setattr__(self, "proposed_tag", self.proposed_tag or f"{p}hold_proposed")
        object.__setattr__(self, "dispute_tag", self.dispute_tag or f"{p}dispute")
        object.__setattr__(self, "webhook_path", self.webhook_path or f"/webhooks/{self.name}")

    @property
    def hold_tag(self) -> str:
        """The tag that marks a ticket as held while the hold is active (``hg_hold``)."""
        return f"{self.tag_prefix}hold"

    @property
    def holds_configured(self) -> bool:
        return self.hold_status is not None or bool(self.hold_status_name)

    def helpdesk_tag(self, policy_tag: str) -> str:
        """The tag name the helpdesk gets for a policy tag: the policy's ``hg_`` prefix swapped for
        the configured one; a bare category name gets the prefix."""
        if policy_tag.startswith(POLICY_TAG_PREFIX):
            return self.tag_prefix + policy_tag[len(POLICY_TAG_PREFIX):]
        return self.tag_prefix + policy_tag

    def is_own_tag(self, tag: str) -> bool:
        return tag.startswith(self.tag_prefix)


def freshdesk_config(
    entry: HelpdeskConfig, env: Config | Mapping[str, str], *, key: str = "helpdesks[?]"
) -> FreshdeskConfig:
    """Validate one ``type: freshdesk`` entry; ``key`` names it in errors (``helpdesks[1]``).
    ``env`` is the loaded gateway config (its environment) or the environment itself."""
    config = env if isinstance(env, Config) else Config(env=dict(env))
    if entry.type != "freshdesk":
        raise ConfigError(f"{key}.type: expected freshdesk, got {entry.type!r}")
    opts: Mapping[str, Any] = entry.options
    for k in opts:
        if k not in _KEYS:
            raise ConfigError(f"{key}.{k}: unknown key (expected one of {', '.join(sorted(_KEYS))})")
    base_url = _base_url(opts, key)
    api_key = config.secret(_str(opts, "api_key_env", key, required=True), key=f"{key}.api_key_env")
    secret_env = _str(opts, "webhook_secret_env", key)
    webhook_secret = config.secret(secret_env, key=f"{key}.webhook_secret_env") if secret_env else ""
    header = _str(opts, "webhook_header", key) or "X-HG-Webhook-Secret"
    if not _HEADER.match(header):
        raise ConfigError(f"{key}.webhook_header: {header!r} is not a valid HTTP header name")
    hold_status = _int(opts, "hold_status", key)
    hold_status_name = _str(opts, "hold_status_name", key)
    if hold_status is not None and hold_status_name:
        raise ConfigError(f"{key}.hold_status: give hold_status or hold_status_name, not both")
    if hold_status is not None and hold_status < 2:
        raise ConfigError(f"{key}.hold_status: Freshdesk statuses start at 2, got {hold_status}")
    prefix = _str(opts, "tag_prefix", key) or POLICY_TAG_PREFIX
    tags = {k: _str(opts, k, key) for k in ("approve_tag", "reject_tag", "proposed_tag", "dispute_tag")}
    for k, value in tags.items():
        if value and not _TAG.match(value):
            raise ConfigError(f"{key}.{k}: {value!r} is not a usable tag (no commas, at most 32 characters)")
    per_page = _int(opts, "per_page", key) or 100
    for name in ("poll_interval", "first_poll_days"):
        value = _int(opts, name, key)
        if value is not None and value < 1:
            raise ConfigError(f"{key}.{name}: must be at least 1, got {value}")
    if not 1 <= per_page <= 100:
        raise ConfigError(f"{key}.per_page: must be between 1 and 100 (Freshdesk refuses more), got {per_page}")
    cfg = FreshdeskConfig(
        name=entry.name,
        base_url=base_url,
        api_key=api_key,
        webhook_secret=webhook_secret,
        webhook_header=header,
        webhook_path=_str(opts, "webhook_path", key),
        hold_status=hold_status,
        hold_status_name=hold_status_name,
        tag_prefix=prefix,
        agent_id=_int(opts, "agent_id", key),
        poll_interval=_int(opts, "poll_interval", key) or 60,
        first_poll_days=_int(opts, "first_poll_days", key) or 30,
        per_page=per_page,
        timeout=_seconds(opts, "timeout", key, 30.0),
        rate_limit_low_water=max(0, _int(opts, "rate_limit_low_water", key) or 0)
        if opts.get("rate_limit_low_water") is not None else 10,
        **tags,
    )
    if len({cfg.approve_tag, cfg.reject_tag, cfg.proposed_tag, cfg.hold_tag, cfg.dispute_tag}) < 5:
        raise ConfigError(f"{key}: approve_tag, reject_tag, proposed_tag, dispute_tag and the hold tag must differ")
    return cfg


def _base_url(opts: Mapping[str, Any], key: str) -> str:
    base_url = _str(opts, "base_url", key)
    domain = _str(opts, "domain", key)
    if base_url and domain:
        raise ConfigError(f"{key}.domain: give base_url or domain, not both")
    if domain:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9-]*", domain):
            raise ConfigError(f"{key}.domain: expected the DOMAIN of DOMAIN.freshdesk.com, got {domain!r}")
        return f"https://{domain}.freshdesk.com"
    if not base_url:
        raise ConfigError(f"{key}.base_url: required (https://DOMAIN.freshdesk.com)")
    if not re.match(r"^https?://[^/\s]+", base_url):
        raise ConfigError(f"{key}.base_url: expected an http(s) URL, got {base_url!r}")
    return base_url.rstrip("/")


def _str(opts: Mapping[str, Any], name: str, key: str, *, required: bool = False) -> str:
    value = opts.get(name)
    if value is None:
        if required:
            raise ConfigError(f"{key}.{name}: required")
        return ""
    if not isinstance(value, str):
        raise ConfigError(f"{key}.{name}: expected a string, got {value!r}")
    return value.strip()


def _int(opts: Mapping[str, Any], name: str, key: str) -> int | None:
    value = opts.get(name)
    if value is None:
        return None
    if isinstance(value, bool):
        raise ConfigError(f"{key}.{name}: expected an integer, got {value!r}")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{key}.{name}: expected an integer, got {value!r}") from None


def _seconds(opts: Mapping[str, Any], name: str, key: str, default: float) -> float:
    value = opts.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ConfigError(f"{key}.{name}: expected a positive number of seconds, got {value!r}")
    return float(value)
