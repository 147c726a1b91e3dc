"""``harassment-gateway console hash-password`` and ``console serve``."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
import yaml

from gateway.cli import main
from gateway.config import parse_config
from gateway.web.auth import Authenticator, Principal, verify_password


def test_hash_password_prints_a_hash_the_config_accepts(monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.StringIO("a long enough password\n"))
    assert main(["console", "hash-password", "--stdin"]) == 0
    encoded = capsys.readouterr().out.strip()
    assert verify_password("a long enough password", encoded)
    cfg = parse_config({"console": {"users": [{"name": "kim", "role": "lead", "password_hash": encoded}]}}, env={})
    assert Authenticator.from_config(cfg).check_password("kim", "a long enough password") == Principal("kim", "lead")


def test_hash_password_refuses_a_short_password(monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.StringIO("short\n"))
    assert main(["console", "hash-password", "--stdin"]) == 2
    assert "at least 10 characters" in capsys.readouterr().err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.integration
def test_console_serve_listens_on_the_configured_loopback_address(tmp_path):
    port = _free_port()
    config = tmp_path / "gateway.yaml"
    config.write_text(yaml.safe_dump({"store": {"path": "gw.db"}, "console": {"listen": f"127.0.0.1:{port}"}}))
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway", "console", "serve", "--config", str(config)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=2) as r:
                    body = r.read().decode()
                break
            except (urllib.error.URLError, ConnectionError):
                if proc.poll() is not None or time.monotonic() > deadline:
                    out = proc.stdout.read().decode() if proc.stdout else ""
                    pytest.fail(f"console serve did not come up: {out}")
                time.sleep(0.1)
        assert "Log in" in body
        assert (tmp_path / "gw.db").exists()  # the store path is resolved against the config's folder
    finally:
        proc.terminate()
        proc.communicate(timeout=10)  # reads and closes its output pipe


def test_console_without_action_prints_help(capsys):
    assert main(["console"]) == 2
    assert "hash-password" in capsys.readouterr().out


def test_hash_password_takes_a_higher_cost(monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.StringIO("a long enough password\n"))
    assert main(["console", "hash-password", "--stdin", "--n", "65536"]) == 0
    assert capsys.readouterr().out.startswith("scrypt$65536$8$1$")
    monkeypatch.setattr(sys, "stdin", io.StringIO("a long enough password\n"))
    assert main(["console", "hash-password", "--stdin", "--n", "1000"]) == 2
