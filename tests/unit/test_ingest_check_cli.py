"""``harassment-gateway check``: a summary or JSON per file, errors per file, exit 1 on any failure."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

from gateway.cli import main
from gateway.cli.check import check_files
from gateway.resources import samples_dir

MAIL = Path(__file__).resolve().parent.parent / "data" / "mail"
ABUSE = next(p for p in (samples_dir() / "maildir" / "cur").iterdir() if ".M6P" in p.name)


def run_check(names: list[str], *, as_json: bool, stdin: bytes = b"") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = check_files(names, as_json=as_json, out=out, err=err, stdin=io.BytesIO(stdin))
    return code, out.getvalue(), err.getvalue()


def test_json_has_the_stable_fields_for_each_file():
    code, out, err = run_check([str(MAIL / "carrier_iso2022jp.eml"), str(MAIL / "gmail_reply.eml")], as_json=True)
    assert code == 0 and err == ""
    first, second = (json.loads(line) for line in out.splitlines())
    for record in (first, second):
        assert {"file", "sender", "thread", "lang", "decoder", "text", "warnings", "categories", "tags"} <= set(record)
    assert first["file"].endswith("carrier_iso2022jp.eml")
    assert first["decoder"] == "cp50220"
    assert first["lang"] == "ja"
    assert first["text"].startswith("お世話になります。\n注文番号①と②")
    assert second["sender"] == "dana.whitfield@example.net"
    assert second["thread"] == "<CAJ8x1=first@mail.example.net>"
    assert second["categories"] == [] and second["tags"] == []


def test_a_failing_file_gets_a_one_line_error_and_the_others_still_run(tmp_path):
    missing = tmp_path / "missing.eml"
    code, out, err = run_check([str(missing), "-", str(MAIL / "latin1.eml")], as_json=True, stdin=b"not mail at all")
    assert code == 1
    lines = [json.loads(line) for line in out.splitlines()]
    assert lines[0] == {"file": str(missing), "error": "cannot read: No such file or directory"}
    assert lines[1] == {"file": "-", "error": "no header fields: not an RFC 5322 message"}
    assert lines[2]["text"].startswith("Bonjour")
    assert err.splitlines() == [
        f"{missing}: error: cannot read: No such file or directory",
        "-: error: no header fields: not an RFC 5322 message",
    ]


def test_stdin_message_is_checked():
    code, out, _ = run_check(["-"], as_json=True, stdin=(MAIL / "eucjp.eml").read_bytes())
    assert code == 0
    assert json.loads(out)["decoder"] == "euc-jp"


def test_human_summary_names_decoder_thread_and_warnings():
    code, out, _ = run_check([str(MAIL / "sjis_mislabeled_iso2022jp.eml")], as_json=False)
    assert code == 0
    assert "  sender    takada@example.co.jp" in out
    assert "  thread    <sjis-mislabel-1@example.co.jp>" in out  # a first message: its own Message-ID
    assert "  decoder   cp932" in out
    assert "  lang      ja" in out
    assert "  warnings  body: charset 'ISO-2022-JP' does not match the bytes; decoded as cp932" in out


def test_findings_come_from_the_pipeline_with_evidence_marked():
    code, out, _ = run_check([str(ABUSE)], as_json=True)
    record = json.loads(out)
    names = [c["name"] for c in record["categories"]]
    assert "verbal_abuse" in names
    abuse = record["categories"][names.index("verbal_abuse")]
    for ev in abuse["evidence"]:
        assert record["text"][ev["start"]:ev["end"]] == ev["text"]
    assert "hg_verbal_abuse" in record["tags"]
    code, out, _ = run_check([str(ABUSE)], as_json=False)
    assert "  findings  verbal_abuse (medium" in out
    assert "»" in out and "«" in out


def test_console_script_entry_point_and_exit_code(tmp_path):
    assert main(["check", "--json", str(MAIL / "auto_reply.eml")]) == 0
    proc = subprocess.run(
        [sys.executable, "-m", "gateway", "check", str(MAIL / "html_only.eml"), str(tmp_path / "nope.eml")],
        capture_output=True, text=True, encoding="utf-8", timeout=120,
    )
    assert proc.returncode == 1
    assert proc.stdout.startswith(str(MAIL / "html_only.eml"))
    assert "  decoder   utf-8" in proc.stdout
    assert "nope.eml: error: cannot read" in proc.stderr


def test_without_the_pipeline_check_still_reports_ingest(monkeypatch):
    monkeypatch.setitem(sys.modules, "gateway.pipeline", None)  # as before the policy part existed
    code, out, _ = run_check([str(ABUSE)], as_json=True)
    record = json.loads(out)
    assert code == 0
    assert record["categories"] == [] and record["tags"] == [] and record["actions"] == []
    assert record["text"].startswith("You are a useless idiot.")
