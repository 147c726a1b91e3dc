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
