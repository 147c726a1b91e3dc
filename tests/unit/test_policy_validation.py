"""policy.yaml is refused with the file, the line and the key when it is wrong; options work."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from gateway.contact.history import CustomerHistory
from gateway.model import Evidence, Finding, Message, Severity
from gateway.policy import Policy, PolicyFileError, parse_duration
from gateway.resources import rules_dir

BASE = """\
version: 1
rules:
  - name: abuse
    when: {category: verbal_abuse}
    then: [tag]
"""


def load(text: str) -> Policy:
    return Policy.from_text(textwrap.dedent(text), origin="test-policy.yaml")


def error(text: str) -> PolicyFileError:
    with pytest.raises(PolicyFileError) as info:
        load(text)
    return info.value


def f(category: str, severity: str = "medium") -> Finding:
    return Finding(category, Severity.parse(severity), 0.9, [Evidence(0, 1, "x")], "t", "t")


def m() -> Message:
    return Message(id="m1", text="x", sender="c@example.com", thread="t")


H = CustomerHistory(customer="c@example.com")


def test_the_shipped_policy_loads() -> None:
    policy = Policy.load()
    assert policy.rules and policy.path == rules_dir() / "policy.yaml"


def test_unknown_category_names_line_key_and_suggests() -> None:
    e = error("""\
        version: 1
        rules:
          - name: abuse
            when: {category: verbal_abuse}
            then: [tag]
          - name: threats
            when:
              category: thret
            then: [tag]
        """)
    assert e.line == 8
    assert "rules[1] (threats).when.category" in str(e)
    assert "unknown category 'thret'" in str(e) and "did you mean 'threat'" in str(e)
    assert str(e).startswith("test-policy.yaml line 8:")


def test_unknown_key_is_refused_not_ignored() -> None:
    e = error("""\
        version: 1
        rules:
          - name: abuse
            when: {category: verbal_abuse, min_severty: high}
            then: [tag]
        """)
    assert e.line == 4 and "min_severty" in str(e) and "unknown key" in str(e)


def test_unknown_action_is_refused() -> None:
    e = error("""\
        version: 1
        rules:
          - name: abuse
            when: {category: verbal_abuse}
            then:
              - tag
              - suspend_account: {}
        """)
    assert e.line == 7 and "unknown action 'suspend_account'" in str(e)


def test_bad_hold_scope_is_refused() -> None:
    e = error("""\
        version: 1
        rules:
          - name: abuse
            when: {category: verbal_abuse}
            then:
              - propose_hold:
                  scope: everything
        """)
    assert e.line == 7 and "scope" in e.key and "unknown scope 'everything'" in str(e)


def test_missing_template_is_refused_at_load() -> None:
    e = error("""\
        version: 1
        rules:
          - name: abuse
            when: {category: verbal_abuse}
            then:
              - draft: {template: no_such_template}
        """)
    assert e.line == 6 and "no template 'no_such_template'" in str(e)


def test_duplicate_yaml_key_is_refused() -> None:
    e = error("""\
        version: 1
        shadow: false
        shadow: true
        rules: []
        """)
    assert e.line == 3 and "twice" in str(e)


def test_duplicate_rule_name_is_refused() -> None:
    e = error(BASE + """\
  - name: abuse
    when: {category: threat}
    then: [tag]
""")
    assert e.line == 6 and "duplicate rule name 'abuse' (first at line 3)" in str(e)


def test_bad_severity_and_inverted_range_are_refused() -> None:
    assert "unknown severity" in str(error(BASE.replace("{category: verbal_abuse}",
                                                        "{category: verbal_abuse, min_severity: huge}")))
    e = error(BASE.replace("{category: verbal_abuse}",
                           "{category: verbal_abuse, min_severity: high, max_severity: low}"))
    assert "could never fire" in str(e)


def test_bad_duration_and_history_are_refused() -> None:
    e = error("version: 1\nnotices: {window: soon}\nrules: []\n")
    assert e.line == 2 and e.key == "notices.window"
    e = error(BASE.replace("{category: verbal_abuse}", "{category: verbal_abuse, history: {verbal_abuse: {min: 3, max: 1}}}"))
    assert "greater than max" in str(e)


def test_invalid_yaml_names_the_line() -> None:
    e = error("version: 1\nrules:\n  - name: [unclosed\n")
    assert e.line is not None and "not valid YAML" in str(e)


def test_missing_rules_and_empty_file_are_refused() -> None:
    assert "rules" in str(error("version: 1\n"))
    assert "empty" in str(error(""))


def test_contact_section_is_left_to_the_contact_stage() -> None:
    policy = load(BASE + "contact:\n  anything_the_contact_stage_wants: 1\n")
    assert policy.raw["contact"] == {"anything_the_contact_stage_wants": 1}


def test_policy_file_errors_name_the_path(tmp_path: Path) -> None:
    bad = tmp_path / "policy.yaml"
    bad.write_text("version: 2\nrules: []\n", encoding="utf-8")
    with pytest.raises(PolicyFileError) as info:
        Policy.load(bad)
    assert str(info.value).startswith(f"{bad} line 1: version:")
    with pytest.raises(PolicyFileError, match="cannot read"):
        Policy.load(tmp_path / "missing.yaml")


def test_tag_prefix_is_configurable() -> None:
    policy = load("version: 1\ntags: {prefix: 'cs-', hold: paused}\n" + BASE.split("\n", 1)[1])
    d = policy.decide(m(), [f("verbal_abuse")], H, active_hold=True)
    assert d.tags == ["cs-verbal_abuse", "cs-paused"]


def test_shadow_mode_records_actions_but_marks_the_decision_shadow() -> None:
    policy = load("""\
        version: 1
        shadow: true
        rules:
          - name: violence
            when: {category: threat, min_severity: critical}
            then: [tag, {apply_hold: {scope: customer}}]
        """)
    d = policy.decide(m(), [f("threat", "critical")], H)
    assert d.shadow and d.hits == ["violence"]
    assert d.actions[0].params["mode"] == "apply"
    assert not d.held  # nothing is applied in shadow mode, so the customer is not held by it


def test_window_breach_condition_reads_history() -> None:
    policy = load("""\
        version: 1
        rules:
          - name: busy
            when: {category: duplicate_contact, min_severity: low, window_breach: true}
            then: [tag]
        """)
    breached = CustomerHistory(customer="c", window_breaches=["customer:24h"])
    assert policy.decide(m(), [f("duplicate_contact", "low")], breached).hits == ["busy"]
    assert policy.decide(m(), [f("duplicate_contact", "low")], H).misses == ["busy"]


def test_min_score_condition() -> None:
    policy = load(BASE.replace("{category: verbal_abuse}", "{category: verbal_abuse, min_score: 0.95}"))
    assert policy.decide(m(), [f("verbal_abuse")], H).actions == []
    assert policy.decide(m(), [f("verbal_abuse")], H).tags == []


@pytest.mark.parametrize("text,seconds", [("90s", 90), ("30m", 1800), ("24h", 86400), ("7d", 604800),
                                          ("2w", 1209600), (60, 60)])
def test_durations(text: object, seconds: int) -> None:
    assert parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize("bad", ["0d", "-1h", "7 days", True, ""])
def test_bad_durations(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(bad)
