"""``harassment-gateway run --once`` with no config, as a new user runs it: the shipped sample
Maildir, ./gateway.db, and a summary of the pass on stdout while the JSON logs stay on stderr."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.drafts import DraftStore
from gateway.effects import DecisionLog
from gateway.holds import HoldStore
from gateway.store.db import Database

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
THREAT_SENDER = "oshima.t@example.co.jp"  # sample 7: 「殴ってやる」, a threat of violence
ABUSE_SENDER = "kmarsh77@example.com"  # sample 6: insults aimed at the reader and an employee
POLITE_SENDER = "m.ellison@example.co.uk"  # sample 5: asks for a supervisor, politely


def run_once(workdir: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HG_")}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run([sys.executable, "-m", "gateway", "run", "--once", *extra], cwd=workdir, env=env,
                          capture_output=True, text=True, timeout=120)


def block(stdout: str, sender: str) -> str:
    """The summary's lines for the message from ``sender`` (its heading up to the next heading)."""
    match = re.search(rf"^ *\d+\. {re.escape(sender)} — .*?(?=^ *\d+\. |\n\n)", stdout, re.M | re.S)
    assert match, f"no summary entry for {sender} in:\n{stdout}"
    return match.group(0)


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    workdir = tmp_path_factory.mktemp("firstrun")
    done = run_once(workdir)
    assert done.returncode == 0, done.stderr
    return workdir, done


def test_summary_names_the_threat_samples_applied_hold(first_run):
    workdir, done = first_run
    db = Database.open(workdir / "gateway.db")
    try:
        holds = HoldStore(db).for_customer(THREAT_SENDER)
    finally:
        db.close()
    assert [h.state for h in holds] == ["active"]  # the policy applies a violence hold at once
    entry = block(done.stdout, THREAT_SENDER)
    assert "found: threat" in entry
    assert f"hold #{holds[0].id} applied at once (customer" in entry
    assert "escalated to" in entry


def test_summary_names_the_abuse_samples_draft_waiting_for_approval(first_run):
    workdir, done = first_run
    db = Database.open(workdir / "gateway.db")
    try:
        drafts = [d for d in DraftStore(db).pending() if d.customer == ABUSE_SENDER]
    finally:
        db.close()
    assert len(drafts) == 1
    entry = block(done.stdout, ABUSE_SENDER)
    assert "found: verbal_abuse" in entry and "tags: hg_verbal_abuse" in entry
    assert f"reply draft #{drafts[0].id} ({drafts[0].lang}/{drafts[0].template}) waiting for approval" in entry
    assert "hold" not in entry  # insults call for a warning first, not a hold


def test_a_polite_request_for_a_supervisor_is_listed_with_nothing_found(first_run):
    _, done = first_run
    entry = block(done.stdout, POLITE_SENDER)
    assert "nothing found" in entry and "→" not in entry


def test_totals_match_the_store_and_the_next_steps_are_printed(first_run):
    workdir, done = first_run
    db = Database.open(workdir / "gateway.db")
    try:
        records = DecisionLog(db).recent(1000)
        proposed = len(HoldStore(db).list(state="proposed"))
        active = len(HoldStore(db).list(state="active"))
        waiting = len(DraftStore(db).pending())
    finally:
        db.close()
    samples = len(list((ROOT / "gateway" / "samples" / "maildir" / "cur").iterdir()))
    tagged = sum(1 for r in records if r.decision.get("tags"))
    assert len(records) == samples
    assert f"This pass: {samples} processed, {tagged} tagged, 0 quarantined." in done.stdout
    assert f"{proposed} hold{'s' if proposed != 1 else ''} proposed" in done.stdout
    assert f", {active} active;" in done.stdout
    assert f"{waiting} draft{'s' if waiting != 1 else ''} waiting for approval" in done.stdout
    for command in ("harassment-gateway holds list", "harassment-gateway drafts list", "harassment-gateway run "):
        assert command in done.stdout


def test_logs_stay_json_on_stderr_without_subjects_or_bodies(first_run):
    workdir, done = first_run
    lines = done.stderr.strip().splitlines()
    assert lines and all(json.loads(line)["msg"] for line in lines)
    assert not any(line.startswith("{") for line in done.stdout.splitlines())
    db = Database.open(workdir / "gateway.db")
    try:
        records = DecisionLog(db).recent(1000)
    finally:
        db.close()
    for record in records:
        assert record.subject not in done.stderr
        for finding in record.findings:
            for ev in finding.evidence:
                assert ev.text not in done.stderr
    assert "殴ってやる" not in done.stderr and "useless idiot" not in done.stderr


def test_a_second_pass_finds_nothing_new_and_quiet_prints_nothing(first_run):
    workdir, _ = first_run
    again = run_once(workdir)
    assert again.returncode == 0, again.stderr
    assert "No new messages" in again.stdout and "This pass: 0 processed" in again.stdout
    quiet = run_once(workdir, "--quiet")
    assert quiet.returncode == 0 and quiet.stdout == ""
