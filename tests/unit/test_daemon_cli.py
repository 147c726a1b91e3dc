"""``harassment-gateway run``: config errors are clear and name the key; nothing starts then."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from gateway.cli import main


@pytest.fixture(autouse=True)
def _restore_logging():
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "gateway.yaml"
    path.write_text(text)
    return str(path)


def test_missing_password_variable_is_named(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.delenv("HG_NOPE_PASSWORD", raising=False)
    config = write(tmp_path, f"""
store: {{path: {tmp_path / 'g.db'}}}
sources:
  - {{name: support, type: imap, host: 127.0.0.1, port: 1, security: none, username: u,
     password_env: HG_NOPE_PASSWORD}}
""")
    assert main(["run", "--config", config, "--once"]) == 2
    err = capsys.readouterr().err
    assert "HG_NOPE_PASSWORD" in err and "password_env" in err


def test_inline_password_is_refused(tmp_path: Path, capsys) -> None:
    config = write(tmp_path, """
sources:
  - {name: support, type: imap, host: h, username: u, password: hunter2}
""")
    assert main(["run", "--config", config, "--once"]) == 2
    err = capsys.readouterr().err
    assert "sources[0].password" in err and "hunter2" not in err


def test_missing_maildir_is_a_clear_error(tmp_path: Path, capsys) -> None:
    config = write(tmp_path, f"""
store: {{path: {tmp_path / 'g.db'}}}
sources:
  - {{name: local, type: maildir, path: {tmp_path / 'nowhere'}}}
""")
    assert main(["run", "--config", config, "--once"]) == 2
    assert "nowhere is not a directory" in capsys.readouterr().err


def test_check_reports_every_problem_at_once_and_starts_nothing(tmp_path: Path, capsys, monkeypatch) -> None:
    for name in ("HG_IMAP_PW", "HG_SMTP_PW", "HG_ZD_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    policy = tmp_path / "policy.yaml"
    policy.write_text("holds:\n  expiry_days: [not, a, number\n")
    config = write(tmp_path, f"""
store: {{path: {tmp_path / 'g.db'}}}
sources:
  - {{name: support, type: imap, host: 127.0.0.1, port: 1, security: none, username: u, password_env: HG_IMAP_PW}}
  - {{name: local, type: maildir, path: {tmp_path / 'no-such-maildir'}}}
smtp: {{host: 127.0.0.1, port: 1, security: none, password_env: HG_SMTP_PW, from: support@example.com}}
console: {{listen: 0.0.0.0:8080}}
helpdesks:
  - {{name: zd, type: zendesk, base_url: https://acme.zendesk.com, email: bot@acme.com, token_env: HG_ZD_TOKEN}}
policy: {policy}
""")
    assert main(["run", "--config", config, "--check"]) == 2
    captured = capsys.readouterr()
    problems = [line for line in captured.err.splitlines() if line.startswith("harassment-gateway: error:")]
    assert len(problems) == 6, captured.err
    for expected in ("HG_IMAP_PW", "no-such-maildir", "HG_SMTP_PW", "console.listen", "HG_ZD_TOKEN", "policy.yaml"):
        assert sum(expected in p for p in problems) == 1, (expected, problems)
    assert "6 problem(s); the daemon would not start" in captured.out
    assert "password from HG_IMAP_PW: NOT SET" in captured.out
    assert not (tmp_path / "g.db").exists()  # nothing was opened or written


def test_check_passes_a_good_config_without_printing_secrets(tmp_path: Path, capsys, monkeypatch) -> None:
    box = tmp_path / "mail"
    for d in ("cur", "new", "tmp"):
        (box / d).mkdir(parents=True)
    monkeypatch.setenv("HG_IMAP_PW", "s3cret-imap-password")
    monkeypatch.setenv("HG_ZD_TOKEN", "s3cret-zendesk-token")
    config = write(tmp_path, f"""
store: {{path: {tmp_path / 'data' / 'g.db'}}}
sources:
  - {{name: support, type: imap, host: imap.example.com, port: 993, security: ssl, username: u,
     password_env: HG_IMAP_PW, mailboxes: [INBOX, Complaints]}}
  - {{name: local, type: maildir, path: {box}}}
helpdesks:
  - {{name: zd, type: zendesk, base_url: https://acme.zendesk.com, email: bot@acme.com, token_env: HG_ZD_TOKEN}}
""")
    assert main(["run", "--config", config, "--check"]) == 0
    captured = capsys.readouterr()
    assert "ready to start" in captured.out and "mailboxes INBOX, Complaints" in captured.out
    assert "helpdesk  zd: zendesk https://acme.zendesk.com" in captured.out and "rules     shipped" in captured.out
    assert "templates " in captured.out and ": all usable" in captured.out
    assert "s3cret" not in captured.out + captured.err
    assert not (tmp_path / "data").exists()


def test_check_names_an_unusable_reply_template_as_a_warning(tmp_path: Path, capsys) -> None:
    """As at start, a template that cannot be used does not stop the daemon: ``--check`` names
    it in a warning line and still says the daemon is ready to start."""
    import shutil

    from gateway.resources import rules_dir

    rules = tmp_path / "rules"
    shutil.copytree(rules_dir(), rules)
    (rules / "templates" / "ja" / "warning.j2").write_text("{% block subject %}x{% endblock %}")
    box = tmp_path / "mail"
    for d in ("cur", "new", "tmp"):
        (box / d).mkdir(parents=True)
    config = write(tmp_path, f"""
store: {{path: {tmp_path / 'g.db'}}}
sources:
  - {{name: local, type: maildir, path: {box}}}
rules: {rules}
""")
    assert main(["run", "--config", config, "--check"]) == 0
    out = capsys.readouterr().out
    assert f"templates {rules / 'templates'}: 1 unusable" in out
    assert "warning   template ja/warning.j2 must define blocks 'subject' and 'body'" in out
    assert "ready to start" in out
