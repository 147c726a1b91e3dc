"""The console on the embedded defaults (no ``console.users``): a one-time token for a lead named
``admin``, on a loopback address only; configured users are untouched by it."""

from __future__ import annotations

import asyncio
import dataclasses
import re
import secrets

import pytest
from starlette.testclient import TestClient

from gateway.config import parse_config
from gateway.daemon import Daemon, default_config, prepare_sample_maildir
from gateway.effects import DecisionLog
from gateway.errors import ConfigError
from gateway.store.db import Database
from gateway.web.app import create_app
from gateway.web.auth import first_run_token, is_loopback
from tests.web_seed import LEAD_PASSWORD, console_config


@pytest.fixture
def db(tmp_path):
    database = Database.open(tmp_path / "console.db")
    yield database
    database.close()


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "page has no CSRF field"
    return match.group(1)


def token_login(client: TestClient, token: str):
    csrf = _csrf(client.get("/login").text)
    return client.post("/login", data={"csrf_token": csrf, "token": token}, follow_redirects=False)


def test_the_printed_token_logs_in_as_the_lead_admin(db, tmp_path):
    token = secrets.token_urlsafe(32)
    app = create_app(default_config(env={}, workdir=tmp_path), db, login_token=token)
    client = TestClient(app)
    r = token_login(client, token)
    assert r.status_code == 303
    page = client.get("/holds")
    assert page.status_code == 200 and "admin · lead" in page.text


def test_any_other_token_and_any_password_are_refused(db, tmp_path):
    token = secrets.token_urlsafe(32)
    app = create_app(default_config(env={}, workdir=tmp_path), db, login_token=token)
    client = TestClient(app)
    for wrong in (secrets.token_urlsafe(32), token[:-1], token + "x"):
        assert token_login(client, wrong).status_code == 401
    csrf = _csrf(client.get("/login").text)
    r = client.post("/login", data={"csrf_token": csrf, "username": "admin", "password": token},
                    follow_redirects=False)
    assert r.status_code == 401  # the token is not a password
    assert client.get("/holds", follow_redirects=False).status_code == 303


def test_without_a_given_token_the_app_makes_one_and_keeps_it_for_the_caller(db, tmp_path):
    app_a = create_app(default_config(env={}, workdir=tmp_path), db)
    app_b = create_app(default_config(env={}, workdir=tmp_path), db)
    made = app_a.state.console.login_token
    assert made and len(made) >= 32 and made != app_b.state.console.login_token  # per process start
    assert token_login(TestClient(app_a), made).status_code == 303
    assert token_login(TestClient(app_a), app_b.state.console.login_token).status_code == 401


@pytest.mark.parametrize("listen", ["0.0.0.0:8080", "192.0.2.10:8080", "[::]:8080", "gateway.example.com:8080"])
def test_no_users_on_a_non_loopback_address_refuses_to_start(db, listen):
    config = parse_config({"console": {"listen": listen}}, env={})
    with pytest.raises(ConfigError, match=r"console.listen: .*console.users is empty"):
        create_app(config, db)
    with pytest.raises(ConfigError):
        create_app(config, db, login_token=secrets.token_urlsafe(32))


@pytest.mark.parametrize("host", ["127.0.0.1", "127.3.2.1", "[::1]", "::1", "localhost"])
def test_loopback_addresses_are_recognised(host):
    assert is_loopback(host)


def test_configured_users_get_no_token_even_when_one_is_offered(db):
    config = console_config()
    assert first_run_token(config) is None
    offered = secrets.token_urlsafe(32)
    app = create_app(config, db, login_token=offered)
    assert app.state.console.login_token is None
    client = TestClient(app)
    assert token_login(client, offered).status_code == 401
    csrf = _csrf(client.get("/login").text)
    r = client.post("/login", data={"csrf_token": csrf, "username": "kim", "password": LEAD_PASSWORD},
                    follow_redirects=False)
    assert r.status_code == 303  # configured users log in as before


def test_configured_users_may_listen_beyond_loopback(db):
    base = console_config()
    config = dataclasses.replace(base, console=dataclasses.replace(base.console, listen="0.0.0.0:8080"))
    assert first_run_token(config) is None
    assert create_app(config, db).state.console.login_token is None


@pytest.mark.timeout(60)  # without the check the daemon would serve on until stopped
def test_the_daemon_refuses_before_reading_mail_when_nobody_could_log_in(tmp_path):
    (tmp_path / "mail").mkdir()
    prepare_sample_maildir(tmp_path / "mail" / "box")  # real mail waiting in the folder
    config = parse_config({"store": {"path": str(tmp_path / "gw.db")},
                           "sources": [{"name": "box", "type": "maildir", "path": str(tmp_path / "mail" / "box")}],
                           "console": {"listen": "0.0.0.0:0"}}, env={})
    daemon = Daemon(config, serve_web=True)
    with pytest.raises(ConfigError, match="console.users is empty"):
        asyncio.run(daemon.run())
    assert not daemon.started.is_set()
    db = Database.open(tmp_path / "gw.db")
    try:
        assert DecisionLog(db).recent(10) == []  # nothing was read or decided
    finally:
        db.close()
