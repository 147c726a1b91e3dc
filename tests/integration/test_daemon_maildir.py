"""The daemon over a Maildir (the embedded default's source): sidecar keywords, held folder, no deletions."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.config import Config, SourceConfig, StoreConfig
from gateway.daemon import Daemon
from gateway.mail.maildir import MaildirMarks
from gateway.quarantine import Quarantine
from gateway.resources import samples_dir
from gateway.store.db import Database
from tests.integration.mailkit import ScriptedProcess, customer_mail, ingest_function

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def make_maildir(root: Path, raws: list[bytes], *, sub: str = "new", start: int = 0) -> list[Path]:
    for d in ("cur", "new", "tmp"):
        (root / d).mkdir(parents=True, exist_ok=True)
    paths = []
    for i, raw in enumerate(raws, start):
        name = f"17000000{i:02d}.M{i}P1.test" + (":2,S" if sub == "cur" else "")
        path = root / sub / name
        path.write_bytes(raw)
        os.utime(path, (1_700_000_000 + i, 1_700_000_000 + i))
        paths.append(path)
    return paths


def maildir_config(root: Path, db: Path) -> Config:
    return Config(store=StoreConfig(path=str(db)), sources=(SourceConfig(name="local", type="maildir", path=str(root)),))


def run_once(config: Config, process: ScriptedProcess) -> int:
    return asyncio.run(Daemon(config, once=True, process=process, ingest=ingest_function()).run())


def all_files(root: Path) -> list[str]:
    return sorted(p.name for p in root.rglob("*") if p.is_file())


def test_maildir_messages_get_sidecar_keywords_and_held_mail_moves(tmp_path: Path) -> None:
    box = tmp_path / "mail"
    make_maildir(box, [customer_mail(1, sender="a@example.org", body="you idiot"),
                       customer_mail(2, sender="held@example.org"),
                       customer_mail(3, sender="b@example.org")])
    make_maildir(box, [customer_mail(4, sender="b@example.org")], sub="cur", start=3)
    before = all_files(box)
    process = ScriptedProcess(held={"held@example.org"})
    assert run_once(maildir_config(box, tmp_path / "g.db"), process) == 0

    assert all_files(box) == before  # nothing deleted or rewritten, only moved
    assert [p.name for p in (box / ".Held" / "new").iterdir()] == ["1700000001.M1P1.test"]
    marks = MaildirMarks(Database.open(tmp_path / "g.db")).all("local")
    assert marks["1700000000.M0P1.test"].keywords == {"$HGChecked", "$Harassment", "$HG_verbal_abuse"}
    assert marks["1700000001.M1P1.test"].keywords == {"$HGChecked", "$HGHeld"}
    assert marks["1700000003.M3P1.test"].keywords == {"$HGChecked"}
    assert all(m.applied for m in marks.values())

    # a second run finds nothing new
    assert run_once(maildir_config(box, tmp_path / "g.db"), process) == 0
    assert set(process.calls.values()) == {1} and len(process.calls) == 4


def test_mark_left_unapplied_by_a_crash_is_finished_on_the_next_run(tmp_path: Path) -> None:
    box = tmp_path / "mail"
    make_maildir(box, [customer_mail(1, sender="held@example.org")])
    db = Database.open(tmp_path / "g.db")
    marks = MaildirMarks(db)
    # The verdict was committed, then the process died before the rename.
    marks.put("local", "1700000000.M0P1.test", "<m1@example.org>", frozenset({"$HGChecked", "$HGHeld"}), True)
    db.close()
    process = ScriptedProcess()
    run_once(maildir_config(box, tmp_path / "g.db"), process)
    assert not process.calls  # not analysed again
    assert (box / ".Held" / "new" / "1700000000.M0P1.test").exists()


def test_a_flag_rename_by_a_mail_client_does_not_make_a_message_new(tmp_path: Path) -> None:
    box = tmp_path / "mail"
    [path] = make_maildir(box, [customer_mail(1)])
    process = ScriptedProcess()
    run_once(maildir_config(box, tmp_path / "g.db"), process)
    path.rename(box / "cur" / (path.name + ":2,S"))  # the agent read it
    run_once(maildir_config(box, tmp_path / "g.db"), process)
    assert process.calls["<m1@example.org>"] == 1


def test_run_without_config_uses_the_embedded_defaults(tmp_path: Path) -> None:
    """`harassment-gateway run --once` in an empty folder: samples copied to ./hg-mail, ./gateway.db
    written, the package's own sample folder untouched."""
    samples = samples_dir() / "maildir"
    assert samples.is_dir(), "the shipped sample Maildir is missing"
    before = {p: p.stat().st_mtime_ns for p in samples.rglob("*")}
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "gateway", "run", "--once"], cwd=tmp_path, env=env,
                          capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert (tmp_path / "gateway.db").is_file()
    def mail_files(folder: Path) -> list[Path]:
        return [p for sub in ("cur", "new") for p in (folder / sub).glob("*") if not p.name.startswith(".")]

    copied = mail_files(tmp_path / "hg-mail")
    held = mail_files(tmp_path / "hg-mail" / ".Held")
    assert copied and len(copied) + len(held) == len(mail_files(samples))
    assert {p: p.stat().st_mtime_ns for p in samples.rglob("*")} == before
    db = Database.open(tmp_path / "gateway.db")
    assert db.query_one("SELECT count(*) AS n FROM verdicts")["n"] >= 1
    # the console is not started with --once
    assert b"console listening" not in done.stderr


def test_an_unreadable_file_is_quarantined_with_its_reason_and_the_rest_go_on(tmp_path: Path) -> None:
    box = tmp_path / "mail"
    make_maildir(box, [customer_mail(1), b"   \r\n", customer_mail(3)])
    process = ScriptedProcess()
    assert run_once(maildir_config(box, tmp_path / "g.db"), process) == 0
    db = Database.open(tmp_path / "g.db")
    marks = MaildirMarks(db).all("local")
    assert marks["1700000001.M1P1.test"].keywords == {"$HGQuarantined"}
    assert marks["1700000002.M2P1.test"].keywords == {"$HGChecked"}
    [item] = Quarantine(db).list()
    assert item.reason.startswith("unreadable message:") and "1700000001.M1P1.test" in item.location
    assert (box / "new" / "1700000001.M1P1.test").exists()  # kept where it was


def test_a_reply_template_that_cannot_be_used_is_logged_at_start_and_the_daemon_goes_on(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The daemon compiles the reply templates at start: a broken one is named in a warning
    before any mail is read, and the mail is still analysed (the draft that needs it then fails
    as a draft error, as before)."""
    import logging
    import shutil
    from dataclasses import replace

    from gateway.resources import rules_dir

    rules = tmp_path / "rules"
    shutil.copytree(rules_dir(), rules)
    (rules / "templates" / "en" / "boundary.j2").write_text("{% block subject %}x{% endblock %}\n{% block body %}{% if %}")
    box = tmp_path / "mail"
    make_maildir(box, [customer_mail(1, sender="a@example.org", body="My parcel has not arrived yet.")])
    config = replace(maildir_config(box, tmp_path / "g.db"), rules=str(rules))
    with caplog.at_level(logging.WARNING, logger="gateway.daemon"):
        assert asyncio.run(Daemon(config, once=True).run()) == 0
    warnings = [r for r in caplog.records if r.getMessage() == "reply template unusable"]
    assert [r.error.split(":")[0] for r in warnings] == ["template en/boundary.j2 line 2"]  # type: ignore[attr-defined]
    assert MaildirMarks(Database.open(tmp_path / "g.db")).all("local")["1700000000.M0P1.test"].keywords == {"$HGChecked"}
