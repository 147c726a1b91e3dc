"""The Freshdesk entry of the gateway config: validated once, secrets from the environment, errors
that name the key."""

from __future__ import annotations

import pytest

from connectors.freshdesk.config import freshdesk_config
from gateway.config import parse_config
from gateway.errors import ConfigError

ENV = {"FD_KEY": "k", "FD_HOOK": "s"}


def load(**options):
    entry = {"name": "fd", "type": "freshdesk", "base_url": "https://acme.freshdesk.com", "api_key_env": "FD_KEY"}
    entry.update(options)
    cfg = parse_config({"helpdesks": [entry]}, env=ENV)
    return freshdesk_config(cfg.helpdesks[0], cfg, key="helpdesks[0]")


def test_design_example_entry_gets_defaults():
    cfg = load()
    assert cfg.base_url == "https://acme.freshdesk.com" and cfg.api_key == "k"
    assert (cfg.hold_tag, cfg.approve_tag, cfg.reject_tag, cfg.proposed_tag, cfg.dispute_tag) == (
        "hg_hold", "hg_hold_approve", "hg_hold_reject", "hg_hold_proposed", "hg_dispute")
    assert cfg.webhook_path == "/webhooks/fd" and cfg.webhook_secret == ""
    assert cfg.hold_status is None and not cfg.holds_configured
    assert cfg.per_page == 100


def test_domain_builds_the_freshdesk_url_and_any_url_is_accepted():
    assert load(base_url=None, domain="acme").base_url == "https://acme.freshdesk.com"
    assert load(base_url="http://127.0.0.1:9000/").base_url == "http://127.0.0.1:9000"


def test_a_tag_prefix_renames_the_policy_tags():
    cfg = load(tag_prefix="harass_")
    assert cfg.helpdesk_tag("hg_threat") == "harass_threat"
    assert cfg.helpdesk_tag("verbal_abuse") == "harass_verbal_abuse"
    assert cfg.hold_tag == "harass_hold" and cfg.approve_tag == "harass_hold_approve"
    assert cfg.dispute_tag == "harass_dispute"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"api_key_env": None}, r"helpdesks\[0\]\.api_key_env: required"),
        ({"api_key_env": "MISSING"}, r"helpdesks\[0\]\.api_key_env: environment variable MISSING is not set"),
        ({"hold_status": 8, "hold_status_name": "Held"}, r"hold_status: give hold_status or hold_status_name"),
        ({"hold_status": "held"}, r"helpdesks\[0\]\.hold_status: expected an integer"),
        ({"hold_status": 1}, r"statuses start at 2"),
        ({"per_page": 500}, r"per_page: must be between 1 and 100"),
        ({"webhook_header": "X Secret"}, r"webhook_header: 'X Secret' is not a valid HTTP header name"),
        ({"approve_tag": "a,b"}, r"approve_tag: 'a,b' is not a usable tag"),
        ({"approve_tag": "same", "reject_tag": "same"}, r"must differ"),
        ({"dispute_tag": "hg_hold_reject"}, r"dispute_tag and the hold tag must differ"),
        ({"holdstatus": 8}, r"helpdesks\[0\]\.holdstatus: unknown key"),
        ({"base_url": "acme.freshdesk.com"}, r"base_url: expected an http\(s\) URL"),
        ({"domain": "acme"}, r"domain: give base_url or domain, not both"),
        ({"timeout": "soon"}, r"timeout: expected a positive number of seconds"),
        ({"poll_interval": 0}, r"poll_interval: must be at least 1"),
    ],
)
def test_bad_entries_are_refused_naming_the_key(options, message):
    with pytest.raises(ConfigError, match=message):
        load(**options)


def test_an_inline_api_key_is_refused_by_the_gateway_config():
    with pytest.raises(ConfigError, match="api_key: secrets are not read from the file"):
        parse_config({"helpdesks": [{"name": "fd", "type": "freshdesk", "api_key": "plain"}]}, env=ENV)


def test_the_webhook_secret_comes_from_the_named_variable():
    assert load(webhook_secret_env="FD_HOOK").webhook_secret == "s"


def test_the_connector_is_built_from_a_helpdesks_entry_like_zendesks(tmp_path):
    from connectors.freshdesk import FreshdeskConnector
    from gateway.store.db import Database

    cfg = parse_config({"helpdesks": [{"name": "support-fd", "type": "freshdesk", "domain": "acme",
                                       "api_key_env": "FD_KEY", "hold_status": 8}]}, env=ENV)
    db = Database.open(tmp_path / "g.db")
    connector = FreshdeskConnector.from_config(cfg.helpdesks[0], db, ENV)
    assert connector.name == "support-fd" and connector.config.base_url == "https://acme.freshdesk.com"
    assert [r.path for r in connector.webhook_routes()] == ["/webhooks/support-fd"]
    with pytest.raises(ConfigError, match=r"helpdesks\.support-fd\.api_key_env: environment variable FD_KEY"):
        FreshdeskConnector.from_config(cfg.helpdesks[0], db, {})
    db.close()
