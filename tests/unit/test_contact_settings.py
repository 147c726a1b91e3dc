"""The contact section of policy.yaml is read into typed settings, and bad values are refused by key."""

from __future__ import annotations

from datetime import timedelta

import pytest

from gateway.contact.settings import ContactSettings, format_duration, parse_duration
from gateway.errors import PolicyError
from gateway.model import Severity


def test_shipped_policy_has_the_documented_default_windows() -> None:
    settings = ContactSettings.load()
    limits = {w.name: w.limit for w in settings.windows}
    assert limits == {
        "customer:1h": 5, "thread:1h": 5, "customer:24h": 15, "thread:24h": 15, "customer:7d": 30, "thread:7d": 30,
    }
    assert settings == ContactSettings.defaults()


def test_missing_section_takes_defaults() -> None:
    assert ContactSettings.from_policy({"version": 1}) == ContactSettings.defaults()


def test_custom_windows_and_thresholds_are_read() -> None:
    settings = ContactSettings.from_policy(
        {"contact": {"windows": [{"within": "30m", "limit": 3, "scopes": ["customer"]}],
                     "duplicates": {"similarity": 92, "severity": "medium"}}}
    )
    assert [(w.name, w.within, w.limit) for w in settings.windows] == [("customer:30m", timedelta(minutes=30), 3)]
    assert settings.duplicates.similarity == 92.0
    assert settings.duplicates.severity is Severity.MEDIUM
    assert settings.duplicates.lookback == timedelta(days=30)  # untouched keys keep defaults


@pytest.mark.parametrize(
    ("section", "names"),
    [
        ({"windows": [{"within": "1x", "limit": 5}]}, "contact.windows[0].within"),
        ({"windows": [{"within": "1h", "limit": 0}]}, "contact.windows[0].limit"),
        ({"windows": [{"within": "1h", "limit": 5, "scopes": ["team"]}]}, "contact.windows[0].scopes"),
        ({"windows": [{"within": "1h", "limit": 5}, {"within": "60m", "limit": 9}]}, "customer:1h is listed twice"),
        ({"duplicates": {"similarity": 150}}, "contact.duplicates.similarity"),
        ({"duplicates": {"simlarity": 90}}, "unknown key 'simlarity'"),
        ({"campaigns": {"severity": "urgent"}}, "contact.campaigns.severity"),
        ({"ignore_lines": ["(unclosed"]}, "contact.ignore_lines[0]"),
    ],
)
def test_bad_values_are_refused_naming_the_key(section: dict, names: str) -> None:
    with pytest.raises(PolicyError, match=names.replace("[", r"\[").replace("]", r"\]")):
        ContactSettings.from_policy({"contact": section})


def test_durations_round_trip_to_their_labels() -> None:
    assert [format_duration(parse_duration(v, "k")) for v in ("1h", "24h", "7d", "90m", "2w")] == [
        "1h", "24h", "7d", "90m", "14d",
    ]
    assert parse_duration(3600, "k") == timedelta(hours=1)
