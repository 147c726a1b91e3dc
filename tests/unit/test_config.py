import pytest

from gateway.config import load_config, parse_config
from gateway.errors import ConfigError

FULL = {
    "store": {"path": "gw.db"},
    "sources": [
        {"name": "support", "type": "imap", "host": "imap.example.com", "port": 993, "security": "ssl",
         "username": "support@example.com", "password_env": "SUPPORT_IMAP_PASSWORD", "mailbox": "INBOX",
         "held_folder": "Held"},
        {"name": "local", "type": "maildir", "path": "./mail"},
    ],
    "smtp": {"host": "smtp.example.com", "port": 587, "security": "starttls", "username": "support@example.com",
             "password_env": "SUPPORT_SMTP_PASSWORD", "from": "support@example.com"},
    "console": {"listen": "127.0.0.1:8080"},
    "helpdesks": [
        {"name": "zendesk", "type": "zendesk", "base_url": "https://acme.zendesk.com", "email": "bot@acme.com",
         "token_env": "ZENDESK_TOKEN"},
        {"name": "freshdesk", "type": "freshdesk", "base_url": "https://acme.freshdesk.com",
         "api_key_env": "FRESHDESK_API_KEY"},
    ],
    "policy": "rules/policy.yaml",
}


def test_design_example_config_is_accepted():
    cfg = parse_config(FULL, env={"SUPPORT_IMAP_PASSWORD": "s3cret"})
    assert [s.name for s in cfg.sources] == ["support", "local"]
    assert cfg.sources[0].all_mailboxes == ("INBOX",)
    assert cfg.smtp is not None and cfg.smtp.sender == "support@example.com"
    assert cfg.console.host == "127.0.0.1" and cfg.console.port == 8080
    assert cfg.helpdesks[0].options["token_env"] == "ZENDESK_TOKEN"
    assert cfg.secret("SUPPORT_IMAP_PASSWORD", key="sources[0].password_env") == "s3cret"


def test_missing_secret_names_the_key_and_variable():
    cfg = parse_config(FULL, env={})
    with pytest.raises(ConfigError, match=r"sources\[0\].password_env: environment variable SUPPORT_IMAP_PASSWORD"):
        cfg.secret("SUPPORT_IMAP_PASSWORD", key="sources[0].password_env")


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda c: c["sources"][0].update(port="abc"), r"sources\[0\]\.port: expected an integer"),
        (lambda c: c["sources"][0].update(security="tls13"), r"sources\[0\]\.security: expected ssl, starttls or none"),
        (lambda c: c["sources"][1].update(type="pop3"), r"sources\[1\]\.type: expected imap or maildir"),
        (lambda c: c["sources"][0].update(password="hunter2"), r"sources\[0\]\.password: secrets are not read"),
        (lambda c: c.update(stroe={}), r"stroe: unknown key"),
        (lambda c: c["console"].update(listen="localhost"), r"console\.listen: expected HOST:PORT"),
        (lambda c: c["helpdesks"][0].update(type="jira"), r"helpdesks\[0\]\.type: expected zendesk or freshdesk"),
        (lambda c: c["sources"][1].update(name="support"), r"sources: name 'support' is used twice"),
        (lambda c: c["store"].update(cache_mb=0), r"store\.cache_mb: must be between 1 and 65536"),
        (lambda c: c["store"].update(cache_mb="lots"), r"store\.cache_mb: expected an integer"),
    ],
)
def test_invalid_config_names_the_key(mutate, message):
    import copy

    cfg = copy.deepcopy(FULL)
    mutate(cfg)
    with pytest.raises(ConfigError, match=message):
        parse_config(cfg, env={})


def test_yaml_syntax_error_reports_file_and_line(tmp_path):
    path = tmp_path / "gw.yaml"
    path.write_text("store:\n  path: a.db\nsources: [\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"gw\.yaml line \d+: not valid YAML"):
        load_config(path, env={})


def test_relative_paths_resolve_against_the_config_folder(tmp_path):
    path = tmp_path / "gw.yaml"
    path.write_text("store: {path: data/gw.db}\n", encoding="utf-8")
    cfg = load_config(path, env={})
    assert cfg.resolve(cfg.store.path) == str(tmp_path / "data" / "gw.db")


def test_no_config_gives_embedded_defaults():
    cfg = load_config(None, env={})
    assert cfg.store.path == "gateway.db" and cfg.console.listen == "127.0.0.1:8080"
    assert cfg.sources == ()


def test_the_store_cache_budget_reaches_the_daemons_message_store(tmp_path):
    """``store.cache_mb`` bounds the row cache of the store the daemon's pipeline reads (64 MiB
    when not given)."""
    from gateway.daemon import Daemon
    from gateway.store.db import Database

    assert parse_config({"store": {"path": "g.db"}}, env={}).store.cache_mb == 64
    cfg = parse_config({"store": {"path": str(tmp_path / "g.db"), "cache_mb": 8}}, env={})
    db = Database.open(tmp_path / "g.db")
    try:
        pipeline = Daemon(cfg, once=True)._pipeline(db)
        assert pipeline.tracker.store._cache.max_span_bytes == 8 << 20
    finally:
        db.close()
