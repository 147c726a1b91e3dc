"""`drafts` sub-commands: approve (optionally edited) or discard from a shell, with --actor recorded."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.audit import AuditLog
from gateway.drafts import DraftStore
from gateway.store.db import Database
from tests.cli_seed import cli, seed_store


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return seed_store(tmp_path / "gateway.db")


def test_drafts_list_show_edit_approve(path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(path, "drafts", "list") == 0
    assert "en/warning" in capsys.readouterr().out
    assert cli(path, "drafts", "show", "1") == 0
    out = capsys.readouterr().out
    assert "Subject: Re: Order" in out and "To: c@example.com" in out
    body = tmp_path / "body.txt"
    body.write_text("Dear customer,\nwe will look at your order today.\n", encoding="utf-8")
    assert cli(path, "drafts", "approve", "1", "--actor", "agent.kim", "--body-file", str(body)) == 0
    assert "approved (edited)" in capsys.readouterr().out
    draft = DraftStore(Database.open(path)).get(1)
    assert draft.state == "approved" and "today" in draft.body and draft.decided_by == "agent.kim"


def test_drafts_discard_then_approve_is_refused(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(path, "drafts", "discard", "1", "--actor", "agent.kim", "--reason", "not needed") == 0
    assert cli(path, "drafts", "approve", "1", "--actor", "agent.kim") == 2
    assert "draft 1 is discarded" in capsys.readouterr().err
    assert cli(path, "drafts", "list") == 0
    assert "no drafts" in capsys.readouterr().out
    entries = AuditLog(Database.open(path)).entries(subject="draft:1")
    assert [e.action for e in entries] == ["draft.create", "draft.discard"] and entries[1].actor == "agent.kim"
