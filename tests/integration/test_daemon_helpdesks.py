"""The daemon runs each configured helpdesk's polling cycle and mounts its webhook route."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from gateway.config import parse_config
from gateway.daemon import Daemon
from gateway.jobs import Jobs
from gateway.store.db import Database

pytestmark = pytest.mark.integration


def config(tmp_path: Path):
    return parse_config(
        {
            "store": {"path": str(tmp_path / "g.db")},
            "helpdesks": [{"name": "zendesk", "type": "zendesk", "base_url": "https://acme.zendesk.com",
                           "email": "bot@acme.com", "token_env": "ZD_TOKEN", "webhook_secret_env": "ZD_SECRET"}],
        },
        env={"ZD_TOKEN": "t0ken", "ZD_SECRET": "s3cret"},
    )


def test_each_helpdesk_gets_a_poller_and_its_webhook_route(tmp_path: Path) -> None:
    daemon = Daemon(config(tmp_path), process=lambda m: None)
    db = Database.open(tmp_path / "g.db")
    daemon.jobs = Jobs(db)
    daemon.connectors = daemon.build_helpdesks(db, daemon._pipeline(db))
    assert daemon.jobs.pollers() == ["zendesk"]
    paths = {getattr(r, "path", "") for r in daemon.web_app(db).routes}
    assert {"/healthz", "/metrics", "/webhooks/zendesk/zendesk"} <= paths
    asyncio.run(daemon.connectors[0].aclose())
    db.close()


def test_a_missing_helpdesk_secret_stops_the_start_with_the_key_named(tmp_path: Path) -> None:
    cfg = parse_config(
        {"store": {"path": str(tmp_path / "g.db")},
         "helpdesks": [{"name": "zendesk", "type": "zendesk", "base_url": "https://acme.zendesk.com",
                        "email": "bot@acme.com", "token_env": "ZD_TOKEN"}]},
        env={},
    )
    from gateway.errors import ConfigError

    with pytest.raises(ConfigError, match="ZD_TOKEN"):
        asyncio.run(Daemon(cfg, once=True, process=lambda m: None).run())
