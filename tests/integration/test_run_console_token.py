"""``harassment-gateway run`` with no console users, as a real process: it prints the console's
address and a one-time token on stdout (never in the JSON logs), and that token logs in."""

from __future__ import annotations

import http.cookiejar
import os
import re
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import yaml

from tests.integration.dovecot import free_port

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
LINE = re.compile(r"^Console: (http://127\.0\.0\.1:\d+)/login — token: (\S+)$")


def _opener() -> urllib.request.OpenerDirector:
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            return None

    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), NoRedirect())


def _login(base: str, token: str) -> tuple[int, urllib.request.OpenerDirector]:
    opener = _opener()
    page = opener.open(f"{base}/login", timeout=10).read().decode()
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    data = urllib.parse.urlencode({"csrf_token": csrf, "token": token}).encode()
    try:
        status = opener.open(f"{base}/login", data=data, timeout=10).status
    except urllib.error.HTTPError as exc:
        status = exc.code
    return status, opener


def test_run_prints_a_one_time_token_that_logs_in_and_never_logs_it(tmp_path):
    port = free_port()
    config = tmp_path / "gateway.yaml"
    config.write_text(yaml.safe_dump({
        "store": {"path": "gateway.db"},
        "sources": [{"name": "samples", "type": "maildir", "path": "hg-mail"}],
        "console": {"listen": f"127.0.0.1:{port}"},
    }))
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("HG_")}, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "gateway", "run", "--config", str(config)], cwd=tmp_path,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stderr: list[str] = []
    reader = threading.Thread(target=lambda: stderr.extend(proc.stderr), daemon=True)  # type: ignore[arg-type]
    reader.start()
    try:
        line = proc.stdout.readline().rstrip("\n")  # type: ignore[union-attr]
        match = LINE.match(line)
        assert match, f"expected the console line first on stdout, got {line!r}"
        base, token = match.groups()
        assert base == f"http://127.0.0.1:{port}" and len(token) >= 32

        status, opener = _login(base, token)
        assert status == 303
        holds = opener.open(f"{base}/holds", timeout=10).read().decode()
        assert "admin · lead" in holds

        assert _login(base, token[::-1])[0] == 401
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        reader.join(timeout=10)
    assert proc.returncode == 0
    assert stderr and token not in "".join(stderr)


def test_a_second_start_gets_a_new_token_and_the_old_one_no_longer_works(tmp_path):
    port = free_port()
    config = tmp_path / "gateway.yaml"
    config.write_text(yaml.safe_dump({"store": {"path": "gateway.db"}, "console": {"listen": f"127.0.0.1:{port}"}}))
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("HG_")}, "PYTHONPATH": str(ROOT)}
    tokens = []
    for attempt in range(2):
        proc = subprocess.Popen([sys.executable, "-m", "gateway", "run", "--config", str(config)], cwd=tmp_path,
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            match = LINE.match(proc.stdout.readline().rstrip("\n"))  # type: ignore[union-attr]
            assert match
            base, token = match.groups()
            tokens.append(token)
            if attempt == 1:
                assert tokens[0] != tokens[1]
                assert _login(base, tokens[0])[0] == 401
                assert _login(base, tokens[1])[0] == 303
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
