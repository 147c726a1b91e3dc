"""`holds` sub-commands: the hold state machine from a shell, with --actor and --reason recorded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway.holds import HoldStore
from gateway.store.db import Database
from tests.cli_seed import cli, seed_store


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return seed_store(tmp_path / "gateway.db")


def test_holds_list_and_show(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(path, "holds", "list") == 0
    out = capsys.readouterr().out
    assert "c@example.com" in out and "d@example.com" in out and "proposed" in out
    assert cli(path, "holds", "show", "1") == 0
    out = capsys.readouterr().out
    assert "'idiot'" in out and "repeated abuse" in out and "propose" in out
    assert cli(path, "holds", "list", "--json", "--customer", "d@example.com") == 0
    assert [h["scope"] for h in json.loads(capsys.readouterr().out)] == ["thread"]


def test_holds_approve_and_lift_record_the_actor_and_reason(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(path, "holds", "approve", "1", "--actor", "lead.ana", "--reason", "pattern confirmed") == 0
    assert "hold 1: active (by lead.ana)" in capsys.readouterr().out
    assert cli(path, "holds", "lift", "1", "--actor", "lead.bo", "--reason", "apology received") == 0
    hold = HoldStore(Database.open(path)).get(1)
    assert hold.state == "lifted" and hold.decided_by == "lead.ana" and hold.closed_by == "lead.bo"
    assert hold.close_reason == "apology received"


def test_holds_illegal_transition_exits_2_with_the_reason(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(path, "holds", "lift", "2", "--actor", "lead", "--reason", "x") == 2
    assert "hold 2 is proposed: cannot lift it" in capsys.readouterr().err
    assert HoldStore(Database.open(path)).get(2).state == "proposed"


def test_holds_reject_requires_a_reason(path: Path) -> None:
    with pytest.raises(SystemExit):
        cli(path, "holds", "reject", "2", "--actor", "lead")
    assert cli(path, "holds", "reject", "2", "--actor", "lead", "--reason", "normal follow-up") == 0
    assert HoldStore(Database.open(path)).get(2).state == "rejected"
