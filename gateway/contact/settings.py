"""The contact stage's settings: rate windows, near-duplicate and campaign thresholds.

They come from the ``contact:`` section of ``rules/policy.yaml`` (the rest of that file belongs to
the policy engine) and are validated into typed objects once, at start. A bad value is refused
with the key that holds it, so an operator knows what to fix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from gateway.errors import PolicyError
from gateway.model import Severity

SCOPES = ("customer", "thread")
#: The shipped ``contact.burst_max``: a burst of messages (each within ``burst`` of the previous)
#: counts as one contact for at most this many messages. A complaint split over a few messages
#: stays one contact; a flood of mail seconds apart does not become a single one.
BURST_MAX = 10

_DURATION = re.compile(r"^\s*(\d+)\s*(s|m|h|d|w)\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(value: Any, key: str) -> timedelta:
    """``"90m"``, ``"1h"``, ``"24h"``, ``"7d"``, ``"2w"`` or a number of seconds."""
    if isinstance(value, bool):
        raise PolicyError(f"policy.yaml {key}: expected a duration like 1h, 24h or 7d, got {value!r}")
    if isinstance(value, int) and value > 0:
        return timedelta(seconds=value)
    match = _DURATION.match(str(value))
    if not match or int(match.group(1)) <= 0:
        raise PolicyError(f"policy.yaml {key}: expected a duration like 1h, 24h or 7d, got {value!r}")
    return timedelta(seconds=int(match.group(1)) * _UNIT_SECONDS[match.group(2)])


def format_duration(span: timedelta) -> str:
    """The short label a window is known by in findings and history: ``1h``, ``24h``, ``7d``."""
    seconds = int(span.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0 and (unit != "d" or seconds >= 2 * 86400):
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


@dataclass(frozen=True)
class RateWindow:
    """More than ``limit`` contacts within ``within`` (sliding, counting the new one) is a breach."""

    within: timedelta
    limit: int
    scope: str  # "customer" or "thread"

    @property
    def label(self) -> str:
        return format_duration(self.within)

    @property
    def name(self) -> str:
        """``customer:1h`` — the name used in ``CustomerHistory.window_breaches`` and details."""
        return f"{self.scope}:{self.label}"


@dataclass(frozen=True)
class DuplicateSettings:
    """Near-duplicates among one customer's own recent messages."""

    lookback: timedelta = timedelta(days=30)
    similarity: float = 85.0  # rapidfuzz score 0..100 on the normalized new text
    similarity_ja: float = 80.0  # Japanese, compared by character: a reworded polite form moves more
    min_chars: int = 15  # shorter texts ("thanks!", "ok") are never duplicates
    max_compare: int = 200  # most recent messages compared
    severity: Severity = Severity.LOW
    repeated_demand: int = 3  # seen this many times (counting the new one): also persistent_contact


@dataclass(frozen=True)
class CampaignSettings:
    """The same text from many customers, found through the LSH index."""

    enabled: bool = True
    similarity: float = 90.0
    min_chars: int = 60
    min_chars_ja: int = 30  # a Japanese character carries about what two English ones do
    min_customers: int = 3  # distinct customers, counting the sender
    lookback: timedelta = timedelta(days=7)
    max_candidates: int = 32
    severity: Severity = Severity.LOW

    def eligible(self, comparable_text: str, cjk: bool | None = None) -> bool:
        """Long enough to be indexed and compared across customers (short texts such as
        "where is my order?" are the same from everyone). ``cjk``: whether the text is Japanese,
        when the caller already knows."""
        if cjk is None:
            from gateway.contact.fingerprint import is_cjk

            cjk = is_cjk(comparable_text)
        need = self.min_chars_ja if cjk else self.min_chars
        return self.enabled and len(comparable_text) >= need


DEFAULT_IGNORE_LINES: tuple[str, ...] = (
    r"^(hi|hello|hey|dear|good (morning|afternoon|evening))\b.{0,40}$",
    r"^(thanks|thank you|regards|best|kind regards|best regards|sincerely|cheers)\b.{0,40}$",
    r"^(お世話になっております|お世話になります|いつもお世話になっております|こんにちは|こんばんは|お疲れ様です).{0,20}$",
    r"^(よろしくお願いします|よろしくお願いいたします|宜しくお願い致します|以上).{0,20}$",
)


@dataclass(frozen=True)
class ContactSettings:
    """Everything the contact stage reads from policy.yaml, validated."""

    windows: tuple[RateWindow, ...] = ()
    persistent_severity: Severity = Severity.MEDIUM
    burst: timedelta = timedelta(0)  # messages this close to the previous one are one contact
    duplicates: DuplicateSettings = field(default_factory=DuplicateSettings)
    campaigns: CampaignSettings = field(default_factory=CampaignSettings)
    ignore_lines: tuple[re.Pattern[str], ...] = ()
    #: at most this many messages make one contact (a burst that goes on is more contacts; 0: no limit)
    burst_max: int = 0

    @classmethod
    def defaults(cls) -> "ContactSettings":
        """The shipped defaults: more than 5 contacts in 1 hour, 15 in 24 hours, 30 in 7 days, per
        customer and per thread; messages within 2 minutes of the previous one are one contact, of
        at most 10 messages."""
        windows = tuple(
            RateWindow(timedelta(seconds=s), limit, scope)
            for s, limit in ((3600, 5), (86400, 15), (7 * 86400, 30))
            for scope in SCOPES
        )
        return cls(
            windows=windows,
            burst=timedelta(minutes=2),
            burst_max=BURST_MAX,
            ignore_lines=tuple(re.compile(p, re.IGNORECASE) for p in DEFAULT_IGNORE_LINES),
        )

    @classmethod
    def load(cls, path: Path | None = None) -> "ContactSettings":
        """Read the ``contact:`` section of a policy file (the shipped rules/policy.yaml by default)."""
        if path is None:
            from gateway.resources import rules_dir

            path = rules_dir() / "policy.yaml"
        try:
            data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise PolicyError(f"{path}: cannot read policy: {exc}") from exc
        if not isinstance(data, dict):
            raise PolicyError(f"{path}: expected a mapping at the top level")
        return cls.from_policy(data)

    @classmethod
    def from_policy(cls, policy: dict[str, Any] | None) -> "ContactSettings":
        """Build settings from a parsed policy mapping. A missing section or key takes the default."""
        base = cls.defaults()
        section = (policy or {}).get("contact")
        if section is None:
            return base
        if not isinstance(section, dict):
            raise PolicyError("policy.yaml contact: expected a mapping")
        _check_keys(
            section, {"windows", "burst", "burst_max", "persistent_severity", "duplicates", "campaigns", "ignore_lines"},
            "contact",
        )

        windows = base.windows
        if "windows" in section:
            windows = _windows(section["windows"])
        severity = _severity(section.get("persistent_severity", base.persistent_severity), "contact.persistent_severity")
        duplicates = _duplicates(section.get("duplicates") or {}, base.duplicates)
        campaigns = _campaigns(section.get("campaigns") or {}, base.campaigns)
        ignore = base.ignore_lines
        if "ignore_lines" in section:
            ignore = _patterns(section["ignore_lines"], "contact.ignore_lines")
        burst = base.burst
        if "burst" in section and section["burst"] not in (0, "0", None):
            burst = parse_duration(section["burst"], "contact.burst")
        burst_max = base.burst_max
        if "burst_max" in section:
            burst_max = section["burst_max"]
            if type(burst_max) is not int or burst_max < 0:
                raise PolicyError(f"policy.yaml contact.burst_max: expected a whole number >= 0 (0: no limit), "
                                  f"got {section['burst_max']!r}")
        return cls(windows, severity, burst, duplicates, campaigns, ignore, burst_max)


def _check_keys(d: dict[str, Any], allowed: set[str], key: str) -> None:
    unknown = sorted(set(d) - allowed)
    if unknown:
        raise PolicyError(f"policy.yaml {key}: unknown key {unknown[0]!r} (allowed: {', '.join(sorted(allowed))})")


def _severity(value: Any, key: str) -> Severity:
    try:
        return Severity.parse(value)
    except ValueError as exc:
        raise PolicyError(f"policy.yaml {key}: {exc}") from None


def _positive_int(value: Any, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise PolicyError(f"policy.yaml {key}: expected a positive integer, got {value!r}")
    return value


def _score(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 100:
        raise PolicyError(f"policy.yaml {key}: expected a similarity between 1 and 100, got {value!r}")
    return float(value)


def _windows(value: Any) -> tuple[RateWindow, ...]:
    if not isinstance(value, list):
        raise PolicyError("policy.yaml contact.windows: expected a list of {within, limit, scopes}")
    out: list[RateWindow] = []
    for i, item in enumerate(value):
        key = f"contact.windows[{i}]"
        if not isinstance(item, dict):
            raise PolicyError(f"policy.yaml {key}: expected a mapping with within and limit")
        _check_keys(item, {"within", "limit", "scopes"}, key)
        if "within" not in item or "limit" not in item:
            raise PolicyError(f"policy.yaml {key}: needs both within and limit")
        within = parse_duration(item["within"], f"{key}.within")
        limit = _positive_int(item["limit"], f"{key}.limit")
        scopes = item.get("scopes", list(SCOPES))
        if isinstance(scopes, str):
            scopes = [scopes]
        if not isinstance(scopes, list) or not scopes:
            raise PolicyError(f"policy.yaml {key}.scopes: expected a list of customer/thread")
        for scope in scopes:
            if scope not in SCOPES:
                raise PolicyError(f"policy.yaml {key}.scopes: unknown scope {scope!r} (use customer or thread)")
            out.append(RateWindow(within, limit, scope))
    names = [w.name for w in out]
    dup = next((n for n in names if names.count(n) > 1), None)
    if dup:
        raise PolicyError(f"policy.yaml contact.windows: window {dup} is listed twice")
    return tuple(out)


def _duplicates(d: Any, base: DuplicateSettings) -> DuplicateSettings:
    if not isinstance(d, dict):
        raise PolicyError("policy.yaml contact.duplicates: expected a mapping")
    key = "contact.duplicates"
    _check_keys(d, {"lookback", "similarity", "similarity_ja", "min_chars", "max_compare", "severity", "repeated_demand"}, key)
    return DuplicateSettings(
        lookback=parse_duration(d["lookback"], f"{key}.lookback") if "lookback" in d else base.lookback,
        similarity=_score(d["similarity"], f"{key}.similarity") if "similarity" in d else base.similarity,
        similarity_ja=_score(d["similarity_ja"], f"{key}.similarity_ja") if "similarity_ja" in d else base.similarity_ja,
        min_chars=_positive_int(d["min_chars"], f"{key}.min_chars") if "min_chars" in d else base.min_chars,
        max_compare=_positive_int(d["max_compare"], f"{key}.max_compare") if "max_compare" in d else base.max_compare,
        severity=_severity(d["severity"], f"{key}.severity") if "severity" in d else base.severity,
        repeated_demand=(
            _positive_int(d["repeated_demand"], f"{key}.repeated_demand") if "repeated_demand" in d else base.repeated_demand
        ),
    )


def _campaigns(d: Any, base: CampaignSettings) -> CampaignSettings:
    if not isinstance(d, dict):
        raise PolicyError("policy.yaml contact.campaigns: expected a mapping")
    key = "contact.campaigns"
    _check_keys(d, {"enabled", "similarity", "min_chars", "min_chars_ja", "min_customers", "lookback", "max_candidates", "severity"}, key)
    enabled = d.get("enabled", base.enabled)
    if not isinstance(enabled, bool):
        raise PolicyError(f"policy.yaml {key}.enabled: expected true or false, got {enabled!r}")
    return CampaignSettings(
        enabled=enabled,
        similarity=_score(d["similarity"], f"{key}.similarity") if "similarity" in d else base.similarity,
        min_chars=_positive_int(d["min_chars"], f"{key}.min_chars") if "min_chars" in d else base.min_chars,
        min_chars_ja=_positive_int(d["min_chars_ja"], f"{key}.min_chars_ja") if "min_chars_ja" in d else base.min_chars_ja,
        min_customers=(
            _positive_int(d["min_customers"], f"{key}.min_customers") if "min_customers" in d else base.min_customers
        ),
        lookback=parse_duration(d["lookback"], f"{key}.lookback") if "lookback" in d else base.lookback,
        max_candidates=(
            _positive_int(d["max_candidates"], f"{key}.max_candidates") if "max_candidates" in d else base.max_candidates
        ),
        severity=_severity(d["severity"], f"{key}.severity") if "severity" in d else base.severity,
    )


def _patterns(value: Any, key: str) -> tuple[re.Pattern[str], ...]:
    if not isinstance(value, list) or not all(isinstance(p, str) for p in value):
        raise PolicyError(f"policy.yaml {key}: expected a list of regular expressions")
    out = []
    for i, pattern in enumerate(value):
        try:
            out.append(re.compile(pattern, re.IGNORECASE))
        except re.error as exc:
            raise PolicyError(f"policy.yaml {key}[{i}]: bad regular expression {pattern!r}: {exc}") from None
    return tuple(out)
