"""The policy's ``acknowledgments:`` setting: off by default, and refused with the file, line and
key when it is wrong (an automatic reply to customers is not a setting to half-understand)."""

from __future__ import annotations

import textwrap
from datetime import timedelta

import pytest

from gateway.drafts import DraftRenderer
from gateway.policy import Policy, PolicyFileError
from gateway.policy.schema import AckSettings
from gateway.resources import rules_dir

BASE = """\
version: 1
rules:
  - name: abuse
    when: {category: verbal_abuse}
    then: [tag]
"""


def load(extra: str) -> Policy:
    return Policy.from_text(BASE + textwrap.dedent(extra), origin="test-policy.yaml")


def error(extra: str) -> PolicyFileError:
    with pytest.raises(PolicyFileError) as info:
        load(extra)
    return info.value


def test_acknowledgments_are_off_when_the_section_is_absent() -> None:
    assert load("").settings.acknowledgments == AckSettings()
    assert AckSettings().enabled is False


def test_the_shipped_policy_ships_them_off() -> None:
    settings = Policy.load().settings.acknowledgments
    assert settings.enabled is False
    assert settings.template == "held_received" and settings.trigger == "held"


def test_an_enabled_section_is_read_with_its_period() -> None:
    settings = load("""\
        acknowledgments:
          enabled: true
          period: 14d
          max_age: 12h
        """).settings.acknowledgments
    assert settings.enabled and settings.period == timedelta(days=14) and settings.max_age == timedelta(hours=12)
    assert settings.trigger == "held" and settings.template == "held_received"


def test_enabled_must_be_true_or_false_and_the_error_names_the_key_and_line() -> None:
    e = error("""\
        acknowledgments:
          enabled: "sometimes"
        """)
    assert e.key == "acknowledgments.enabled" and e.line == 7
    assert "expected true or false" in str(e) and str(e).startswith("test-policy.yaml line 7:")


def test_an_unknown_trigger_is_refused_with_the_choices() -> None:
    e = error("""\
        acknowledgments:
          enabled: true
          trigger: every_message
        """)
    assert e.key == "acknowledgments.trigger" and "unknown trigger 'every_message'" in e.reason
    assert "held" in e.reason


def test_a_bad_period_is_refused() -> None:
    e = error("""\
        acknowledgments:
          period: weekly
        """)
    assert e.key == "acknowledgments.period" and "duration" in e.reason


def test_a_missing_template_is_refused_with_where_it_was_looked_for() -> None:
    e = error("""\
        acknowledgments:
          enabled: true
          template: no_such_template
        """)
    assert e.key == "acknowledgments.template" and "no template 'no_such_template'" in e.reason


def test_a_misspelt_key_is_refused_not_ignored() -> None:
    e = error("""\
        acknowledgments:
          enabeld: true
        """)
    assert e.key == "acknowledgments.enabeld" and "unknown key" in e.reason


def test_the_section_must_be_a_mapping() -> None:
    e = error("acknowledgments: true\n")
    assert e.key == "acknowledgments" and "expected a mapping" in e.reason


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_the_acknowledgment_template_exists_in_both_languages(lang: str) -> None:
    renderer = DraftRenderer(rules_dir() / "templates")
    assert renderer.pick_lang("held_received", lang) == lang
    rendered = renderer.render("held_received", lang, {
        "org_name": "Acme", "policy_name": "Policy", "policy_url": "", "original_subject": "Order 7",
        "reference": "HG-1"})
    assert rendered.subject == "Re: Order 7" and "Acme" in rendered.body and "HG-1" in rendered.body
