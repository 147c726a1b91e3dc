"""The Zendesk entry of the helpdesks config: validated at start, errors naming the key."""

from __future__ import annotations

import pytest

from connectors.base import Connector
from connectors.zendesk import load_zendesk_config
from gateway.config import parse_config
from gateway.errors import ConfigError
from tests.contract.zendesk_overlay import TOKEN_ENV, db, make_connector, zendesk_entry  # noqa: F401

pytestmark = pytest.mark.contract


def entry(**options):
    return zendesk_entry(**options)


def test_defaults_follow_the_design():
    cfg = load_zendesk_config(entry(), TOKEN_ENV)
    assert cfg.base_url == "https://acme.zendesk.com"
    assert (cfg.hold_tag, cfg.proposed_tag, cfg.approve_tag, cfg.reject_tag) == (
        "hg_hold", "hg_hold_proposed", "hg_hold_approve", "hg_hold_reject")
    assert cfg.hold_status == "hold" and cfg.hold_custom_status_id is None
    assert cfg.suspend_on_customer_hold is False and cfg.dispute_tag == "hg_dispute"
    assert cfg.webhook_path == "/webhooks/zendesk/zendesk"
    assert TOKEN_ENV["ZD_TOKEN"] not in repr(cfg)


def test_subdomain_builds_the_base_url_and_prefix_renames_tags():
    cfg = load_zendesk_config(entry(base_url=None, subdomain="acme", tag_prefix="cx_"), TOKEN_ENV)
    assert cfg.base_url == "https://acme.zendesk.com"
    assert cfg.hold_tag == "cx_hold" and cfg.approve_tag == "cx_hold_approve"
    assert cfg.helpdesk_tag("hg_threat") == "cx_threat"


def test_the_design_example_entry_parses_through_the_gateway_config():
    config = parse_config({"helpdesks": [{"name": "zendesk", "type": "zendesk", "base_url": "https://acme.zendesk.com",
                                          "email": "bot@acme.com", "token_env": "ZENDESK_TOKEN"}]},
                          env={"ZENDESK_TOKEN": "t"})
    cfg = load_zendesk_config(config.helpdesks[0], config.env)
    assert cfg.email == "bot@acme.com" and cfg.token == "t"


@pytest.mark.parametrize(
    ("options", "env", "message"),
    [
        ({"hold_status": "on-hold"}, TOKEN_ENV, "helpdesks.zendesk.hold_status: expected hold or pending"),
        ({"token_env": "MISSING"}, TOKEN_ENV, "helpdesks.zendesk.token_env: environment variable MISSING is not set"),
        ({"token_env": None}, TOKEN_ENV, "helpdesks.zendesk.token_env: required"),
        ({"email": None}, TOKEN_ENV, "helpdesks.zendesk.email: required with token_env"),
        ({"oauth_token_env": "ZD_OAUTH"}, TOKEN_ENV, "not both"),
        ({"base_url": "acme.zendesk.com"}, TOKEN_ENV, "helpdesks.zendesk.base_url: expected an http(s) URL"),
        ({"base_url": None}, TOKEN_ENV, "helpdesks.zendesk.base_url: required"),
        ({"hold_custom_status_id": "abc"}, TOKEN_ENV, "hold_custom_status_id: expected a non-negative integer"),
        ({"approve_tag": "same", "reject_tag": "same"}, TOKEN_ENV, "reject_tag: must differ"),
        ({"dispute_tag": "hg_hold_approve"}, TOKEN_ENV, "dispute_tag: must differ from approve_tag and reject_tag"),
        ({"suspend_on_customer_hold": "yes"}, TOKEN_ENV, "suspend_on_customer_hold: expected true or false"),
        ({"tag_prefix": "HG-"}, TOKEN_ENV, "tag_prefix"),
        ({"colour": "blue"}, TOKEN_ENV, "helpdesks.zendesk.colour: unknown key"),
        ({"start_time": "last tuesday"}, TOKEN_ENV, "start_time: expected unix seconds or an ISO 8601 date"),
    ],
)
def test_bad_options_are_refused_with_the_key(options, env, message):
    with pytest.raises(ConfigError) as info:
        load_zendesk_config(entry(**options), env)
    assert message in str(info.value)


def test_inline_secrets_are_refused_by_the_gateway_config():
    with pytest.raises(ConfigError, match="token_env"):
        parse_config({"helpdesks": [{"name": "z", "type": "zendesk", "token": "plain"}]}, env={})


def test_the_connector_implements_the_shared_protocol(db):
    conn = make_connector(db)
    assert isinstance(conn, Connector)
    assert conn.name == "zendesk"
    assert [r.path for r in conn.webhook_routes()] == ["/webhooks/zendesk/zendesk"]


def test_start_time_accepts_iso_dates():
    cfg = load_zendesk_config(entry(start_time="2026-11-01T00:00:00+00:00"), TOKEN_ENV)
    assert cfg.start_time == 1793491200



def test_create_connector_builds_zendesk_from_a_loaded_config(db):
    from connectors import create_connector
    from connectors.zendesk import ZendeskConnector

    config = parse_config({"helpdesks": [{"name": "zd", "type": "zendesk", "subdomain": "acme",
                                          "email": "bot@acme.com", "token_env": "ZENDESK_TOKEN"}]},
                          env={"ZENDESK_TOKEN": "t"})
    conn = create_connector(config.helpdesks[0], db, config)
    assert isinstance(conn, ZendeskConnector) and conn.name == "zd"
    assert conn.config.base_url == "https://acme.zendesk.com"
