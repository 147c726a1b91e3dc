"""`harassment-gateway quarantine list|show|export`: what the daemon could not analyse, from a shell,
read-only, with the raw message given back byte for byte."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from gateway.cli import main
from gateway.quarantine import Quarantine
from gateway.store.db import Database
from tests.integration.mailkit import ScriptedProcess, customer_mail
from tests.integration.test_daemon_maildir import maildir_config, make_maildir, run_once

pytestmark = pytest.mark.integration

# Headers a reader can use, a body that breaks nothing but is recorded as failed by the test.
MALFORMED = (b"From: =?utf-8?b?5bGx55Sw?= <yamada@example.jp>\r\nSubject: =?utf-8?b?6L+U6YeR44GX44KN?=\r\n"
             b"Message-ID: <broken-1@example.jp>\r\nContent-Type: multipart/mixed; boundary=\"x\"\r\n\r\n--x\r\n")


def cli(db: Path, *args: str) -> int:
    return main([*args[:2], "--db", str(db), *args[2:]])


def test_the_daemons_quarantine_is_listed_shown_and_exported_byte_for_byte(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    box, db = tmp_path / "mail", tmp_path / "g.db"
    unreadable = b"   \r\n"
    make_maildir(box, [customer_mail(1), unreadable, customer_mail(3)])
    assert run_once(maildir_config(box, db), ScriptedProcess()) == 0
    capsys.readouterr()

    assert cli(db, "quarantine", "list") == 0
    out = capsys.readouterr().out
    assert "unreadable message" in out and "1700000001.M1P1.test" in out and out.count("\n") == 2

    assert cli(db, "quarantine", "list", "--json") == 0
    [item] = json.loads(capsys.readouterr().out)
    assert item["source"] == "local" and item["reason"].startswith("unreadable message:")
    assert cli(db, "quarantine", "list", "--source", "elsewhere") == 0
    assert "nothing quarantined from elsewhere" in capsys.readouterr().out

    assert cli(db, "quarantine", "show", str(item["id"])) == 0
    out = capsys.readouterr().out
    assert item["reason"] in out and "raw         kept" in out

    target = tmp_path / "item.eml"
    assert cli(db, "quarantine", "export", str(item["id"]), "-o", str(target)) == 0
    assert target.read_bytes() == unreadable == (box / "new" / "1700000001.M1P1.test").read_bytes()
    # never overwrites, and the mailbox file is still where it was
    assert cli(db, "quarantine", "export", str(item["id"]), "-o", str(target)) == 2
    assert "exists already" in capsys.readouterr().err
    assert (box / "new" / "1700000001.M1P1.test").exists()


def test_show_decodes_the_headers_and_export_refuses_once_retention_purged_the_raw(
        tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    path = tmp_path / "g.db"
    db = Database.open(path)
    Quarantine(db).record("support", "INBOX uidvalidity 7 uid 42", MALFORMED, "analysis failed: ValueError: x")
    db.close()

    assert cli(path, "quarantine", "show", "1", "--json") == 0
    shown = json.loads(capsysbinary.readouterr().out)
    assert shown["headers"] == {"From": "山田 <yamada@example.jp>", "Subject": "返金しろ",
                                "Message-ID": "<broken-1@example.jp>"}
    assert shown["raw_kept"] is True and shown["location"] == "INBOX uidvalidity 7 uid 42"

    assert main(["quarantine", "export", "1", "--db", str(path)]) == 0  # to standard output
    assert capsysbinary.readouterr().out == MALFORMED

    db = Database.open(path)
    assert Quarantine(db).purge_raw(datetime.now(timezone.utc) + timedelta(seconds=1)) == 1
    db.close()
    assert cli(path, "quarantine", "export", "1") == 2
    assert "not kept" in capsysbinary.readouterr().err.decode()
    assert cli(path, "quarantine", "show", "1") == 0
    out = capsysbinary.readouterr().out.decode()
    assert "not kept" in out and "analysis failed: ValueError: x" in out  # the record and reason stay

    assert cli(path, "quarantine", "show", "9") == 2
    assert "no quarantined item 9" in capsysbinary.readouterr().err.decode()
