"""A malformed rules file is refused with its file, line and reason."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gateway.detect import Detector
from gateway.errors import RulesError
from gateway.resources import rules_dir


def make_rules(tmp_path: Path, body: str, name: str = "threat.yaml") -> Path:
    root = tmp_path / "rules"
    (root / "lexicons" / "en").mkdir(parents=True)
    (root / "lexicons" / "en" / name).write_text(body, encoding="utf-8")
    return root


def load_error(root: Path) -> RulesError:
    with pytest.raises(RulesError) as info:
        Detector.load(root)
    return info.value


def test_shipped_rules_load() -> None:
    detector = Detector.load()
    assert len(detector.rules) > 50
    langs = {r.lang for r in detector.rules}
    assert langs == {"en", "ja"}


def test_unknown_category_names_file_and_line(tmp_path: Path) -> None:
    root = make_rules(tmp_path, "language: en\nrules:\n  - name: x\n    category: thret\n"
                                "    severity: high\n    note: n\n    patterns: ['kill you']\n")
    err = load_error(root)
    assert err.path.endswith("threat.yaml") and err.line == 4
    assert "unknown category 'thret'" in str(err)


def test_invalid_yaml_reports_the_parser_line(tmp_path: Path) -> None:
    root = make_rules(tmp_path, "language: en\nrules:\n  - name: x\n    patterns: [unclosed\n    note: y\n")
    err = load_error(root)
    assert err.line is not None and err.line >= 4
    assert "not valid YAML" in err.reason


def test_bad_regex_points_at_the_pattern(tmp_path: Path) -> None:
    root = make_rules(tmp_path, "language: en\ncategory: threat\nrules:\n  - name: x\n    severity: high\n"
                                "    note: n\n    patterns:\n      - 'fine'\n      - 'broken (group'\n")
    err = load_error(root)
    assert err.line == 9
    assert "regular expression" in err.reason


def test_unknown_slot_is_refused(tmp_path: Path) -> None:
    root = make_rules(tmp_path, "language: en\ncategory: threat\nrules:\n  - name: x\n    severity: high\n"
                                "    note: n\n    patterns: ['{nosuchslot} you']\n")
    err = load_error(root)
    assert "unknown slot {nosuchslot}" in err.reason
    assert err.line == 7


def test_missing_note_and_bad_severity_are_refused(tmp_path: Path) -> None:
    root = make_rules(tmp_path, "language: en\ncategory: threat\nrules:\n  - name: x\n    severity: high\n"
                                "    patterns: ['kill you']\n")
    assert "missing 'note'" in load_error(root).reason
    root2 = make_rules(tmp_path / "b", "language: en\ncategory: threat\nrules:\n  - name: x\n    severity: huge\n"
                                       "    note: n\n    patterns: ['kill you']\n")
    err = load_error(root2)
    assert err.line == 5 and "unknown severity" in err.reason


def test_duplicate_rule_names_are_refused(tmp_path: Path) -> None:
    entry = "  - name: x\n    severity: high\n    note: n\n    patterns: ['kill you']\n"
    root = make_rules(tmp_path, "language: en\ncategory: threat\nrules:\n" + entry + entry)
    assert "duplicate rule name" in load_error(root).reason


def test_thresholds_file_is_validated(tmp_path: Path) -> None:
    root = make_rules(tmp_path, "language: en\ncategory: threat\nrules:\n  - name: x\n    severity: high\n"
                                "    note: n\n    patterns: ['kill you']\n")
    (root / "detect.yaml").write_text("thresholds:\n  default: 0.5\n  threat: 2\n", encoding="utf-8")
    err = load_error(root)
    assert err.path.endswith("detect.yaml") and err.line == 3


def test_adding_a_phrase_is_a_data_change(tmp_path: Path) -> None:
    root = tmp_path / "rules"
    shutil.copytree(rules_dir() / "lexicons", root / "lexicons")
    shutil.copy(rules_dir() / "detect.yaml", root / "detect.yaml")
    from gateway.model import Message

    text = "I will feed you to the sharks"
    assert not Detector.load(root).detect(Message(id="1", text=text))
    (root / "lexicons" / "en" / "extra.yaml").write_text(
        "language: en\ncategory: threat\nrules:\n  - name: sharks\n    severity: critical\n"
        "    note: threatens to feed someone to sharks\n    patterns: ['feed {target} to the sharks']\n",
        encoding="utf-8")
    findings = Detector.load(root).detect(Message(id="1", text=text))
    assert [f.rule for f in findings] == ["en.threat.sharks"]
    assert findings[0].evidence[0].text == "feed you to the sharks"
