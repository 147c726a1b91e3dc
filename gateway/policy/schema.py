"""Reading and validating policy.yaml into typed settings, refusing anything unclear.

Every error names the file, the line and the key (``rules/policy.yaml line 14: rules[2].when.category:
unknown category 'thret'``). Unknown keys are errors too: a misspelt ``min_severty`` silently ignored
would change who gets held. The ``contact:`` section belongs to the contact stage and is skipped here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from gateway.errors import PolicyError
from gateway.model import CATEGORIES, Severity
from gateway.policy.rules import (
    ACTION_TYPES,
    POLICY_HOLD_SCOPES,
    ActionSpec,
    Condition,
    CountRange,
    PolicyRule,
)
from gateway.policy.yamlsource import DuplicateKey, LineDict, LineList, line_of, load_yaml


class PolicyFileError(PolicyError):
    """policy.yaml is invalid: ``path``, ``line`` and ``key`` say where, ``reason`` what."""

    def __init__(self, path: str, line: int | None, key: str, reason: str) -> None:
        self.path = str(path)
        self.line = line
        self.key = key
        self.reason = reason
        where = f"{self.path} line {line}" if line else self.path
        super().__init__(f"{where}: {key + ': ' if key else ''}{reason}")


@dataclass(frozen=True)
class Organization:
    """Names the replies use: who writes, and the policy they cite."""

    name: str = "Customer Support"
    policy_name: str = "Customer Harassment Policy"
    policy_url: str = ""


@dataclass(frozen=True)
class HoldSettings:
    expiry_days: int | None = 90  # for holds whose rule gives none; None: until lifted
    remind_after: timedelta = timedelta(hours=24)  # pending holds older than this are reminded


@dataclass(frozen=True)
class NoticeCap:
    """At most ``max_per_customer`` drafts of ``templates`` per customer within ``window``."""

    window: timedelta = timedelta(days=7)
    max_per_customer: int = 1
    templates: tuple[str, ...] = ("warning", "boundary", "answered")


@dataclass(frozen=True)
class AckSettings:
    """Automatic acknowledgments: the only mail the gateway sends without a person's approval.

    Off unless ``enabled``. ``trigger`` says which mail gets one (``held``: a customer's mail that
    arrives while their contact hold is active and goes to the held folder); at most one per
    customer within ``period`` (RFC 3834 section 2: not the same response to the same sender more
    than once within several days); none for mail received more than ``max_age`` ago (a backfill
    or rescan of old mail must not answer it); ``template`` names rules/templates/<lang>/<name>.j2.
    """

    enabled: bool = False
    trigger: str = "held"
    period: timedelta = timedelta(days=7)
    max_age: timedelta = timedelta(days=2)
    template: str = "held_received"


ACK_TRIGGERS: tuple[str, ...] = ("held",)


@dataclass(frozen=True)
class PolicySettings:
    version: int = 1
    shadow: bool = False
    tag_prefix: str = "hg_"
    hold_tag: str = "hold"
    organization: Organization = field(default_factory=Organization)
    holds: HoldSettings = field(default_factory=HoldSettings)
    notices: NoticeCap = field(default_factory=NoticeCap)
    rules: tuple[PolicyRule, ...] = ()
    acknowledgments: AckSettings = field(default_factory=AckSettings)
    #: the whole parsed file, for the stages that own other sections (``contact:``)
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


_TOP_KEYS = {"version", "shadow", "tags", "organization", "holds", "notices", "rules", "contact",
             "acknowledgments"}
_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_TAG_RE = re.compile(r"^[A-Za-z0-9_\-:.]*$")


def parse_duration(value: Any) -> timedelta:
    """``"90s"``, ``"30m"``, ``"24h"``, ``"7d"``, ``"2w"`` (or an integer number of seconds)."""
    if isinstance(value, bool):
        raise ValueError(f"expected a duration like 24h or 7d, got {value!r}")
    if isinstance(value, int):
        if value <= 0:
            raise ValueError(f"a duration must be positive, got {value}")
        return timedelta(seconds=value)
    m = _DURATION.match(str(value))
    if not m or int(m.group(1)) <= 0:
        raise ValueError(f"expected a duration like 90s, 30m, 24h, 7d or 2w, got {value!r}")
    return timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})


class _Reader:
    """Validation helpers that know the file name and turn problems into PolicyFileError."""

    def __init__(self, path: str) -> None:
        self.path = path

    def fail(self, container: Any, key: Any, keypath: str, reason: str) -> PolicyFileError:
        return PolicyFileError(self.path, line_of(container, key), keypath, reason)

    def mapping(self, value: Any, keypath: str, parent: Any, key: Any, allowed: set[str]) -> LineDict:
        if value is None:
            value = LineDict()
            value.line = line_of(parent, key) or 0
        if not isinstance(value, dict):
            raise self.fail(parent, key, keypath, f"expected a mapping, got {_kind(value)}")
        for k in value:
            if k not in allowed:
                raise self.fail(value, k, f"{keypath}.{k}" if keypath else str(k),
                                f"unknown key (expected one of {', '.join(sorted(allowed))})")
        return value  # type: ignore[return-value]

    def boolean(self, m: dict, key: str, keypath: str, default: bool) -> bool:  # type: ignore[type-arg]
        v = m.get(key, default)
        if not isinstance(v, bool):
            raise self.fail(m, key, keypath, f"expected true or false, got {v!r}")
        return v

    def string(self, m: dict, key: str, keypath: str, default: str | None = None, *,  # type: ignore[type-arg]
               nonempty: bool = False) -> str:
        if key not in m or m[key] is None:
            if default is None:
                raise self.fail(m, key, keypath, "is required")
            return default
        v = m[key]
        if not isinstance(v, str):
            raise self.fail(m, key, keypath, f"expected text, got {_kind(v)}")
        if nonempty and not v.strip():
            raise self.fail(m, key, keypath, "cannot be empty")
        return v

    def integer(self, m: dict, key: str, keypath: str, default: int | None, *,  # type: ignore[type-arg]
                minimum: int = 0, nullable: bool = False) -> int | None:
        if key not in m:
            return default
        v = m[key]
        if v is None and nullable:
            return None
        if isinstance(v, bool) or not isinstance(v, int):
            raise self.fail(m, key, keypath, f"expected a whole number, got {v!r}")
        if v < minimum:
            raise self.fail(m, key, keypath, f"must be at least {minimum}, got {v}")
        return v

    def duration(self, m: dict, key: str, keypath: str, default: timedelta) -> timedelta:  # type: ignore[type-arg]
        if key not in m:
            return default
        try:
            return parse_duration(m[key])
        except ValueError as exc:
            raise self.fail(m, key, keypath, str(exc)) from None

    def category(self, value: Any, container: Any, key: Any, keypath: str) -> str:
        if not isinstance(value, str) or value not in CATEGORIES:
            hint = _closest(str(value), CATEGORIES)
            raise self.fail(container, key, keypath,
                            f"unknown category {value!r}" + (f" (did you mean {hint!r}?)" if hint else ""))
        return value

    def severity(self, m: dict, key: str, keypath: str, default: Severity) -> Severity:  # type: ignore[type-arg]
        if key not in m:
            return default
        try:
            return Severity.parse(m[key])
        except ValueError as exc:
            raise self.fail(m, key, keypath, str(exc)) from None


def load_policy_file(path: Path, *, templates_dir: Path | None = None) -> PolicySettings:
    """Read ``path`` and validate it; templates named by ``draft`` actions must exist in
    ``templates_dir/en`` (when a templates directory is given)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyFileError(str(path), None, "", f"cannot read the policy: {exc.strerror or exc}") from exc
    return parse_policy(text, origin=str(path), templates_dir=templates_dir)


def parse_policy(text: str, *, origin: str = "policy.yaml", templates_dir: Path | None = None) -> PolicySettings:
    """Validate policy YAML text (``origin`` names it in errors)."""
    r = _Reader(origin)
    try:
        raw = load_yaml(text)
    except DuplicateKey as exc:
        raise PolicyFileError(origin, exc.line, str(exc.key), "this key appears twice") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise PolicyFileError(origin, mark.line + 1 if mark else None, "",
                              f"not valid YAML: {getattr(exc, 'problem', None) or exc}") from None
    if raw is None:
        raise PolicyFileError(origin, None, "", "the policy file is empty")
    if not isinstance(raw, dict):
        raise PolicyFileError(origin, 1, "", f"the top level must be a mapping, got {_kind(raw)}")
    top = r.mapping(raw, "", None, None, _TOP_KEYS)
    version = r.integer(top, "version", "version", 1, minimum=1)
    if version != 1:
        raise r.fail(top, "version", "version", f"this gateway reads policy version 1, not {version}")

    tags = r.mapping(top.get("tags"), "tags", top, "tags", {"prefix", "hold"})
    prefix = r.string(tags, "prefix", "tags.prefix", "hg_")
    hold_tag = r.string(tags, "hold", "tags.hold", "hold", nonempty=True)
    for key, value in (("prefix", prefix), ("hold", hold_tag)):
        if not _TAG_RE.match(value):
            raise r.fail(tags, key, f"tags.{key}", f"{value!r}: tags may hold letters, digits and _ - : . only")

    org_raw = r.mapping(top.get("organization"), "organization", top, "organization",
                        {"name", "policy_name", "policy_url"})
    org = Organization(
        name=r.string(org_raw, "name", "organization.name", Organization.name, nonempty=True),
        policy_name=r.string(org_raw, "policy_name", "organization.policy_name", Organization.policy_name,
                             nonempty=True),
        policy_url=r.string(org_raw, "policy_url", "organization.policy_url", ""),
    )

    holds_raw = r.mapping(top.get("holds"), "holds", top, "holds", {"expiry_days", "remind_after"})
    holds = HoldSettings(
        expiry_days=r.integer(holds_raw, "expiry_days", "holds.expiry_days", HoldSettings.expiry_days,
                              minimum=1, nullable=True),
        remind_after=r.duration(holds_raw, "remind_after", "holds.remind_after", HoldSettings().remind_after),
    )

    notices_raw = r.mapping(top.get("notices"), "notices", top, "notices",
                            {"window", "max_per_customer", "templates"})
    templates = notices_raw.get("templates", list(NoticeCap.templates))
    if not isinstance(templates, list) or not all(isinstance(t, str) and t for t in templates):
        raise r.fail(notices_raw, "templates", "notices.templates", "expected a list of template names")
    notices = NoticeCap(
        window=r.duration(notices_raw, "window", "notices.window", NoticeCap().window),
        max_per_customer=r.integer(notices_raw, "max_per_customer", "notices.max_per_customer",
                                   NoticeCap.max_per_customer, minimum=0) or 0,
        templates=tuple(templates),
    )

    rules_raw = top.get("rules")
    if rules_raw is None:
        raise r.fail(top, "rules", "rules", "is required (a list of rules; an empty list means never act)")
    if not isinstance(rules_raw, list):
        raise r.fail(top, "rules", "rules", f"expected a list of rules, got {_kind(rules_raw)}")
    rules: list[PolicyRule] = []
    seen: dict[str, int | None] = {}
    for i, item in enumerate(rules_raw):
        rule = _rule(r, rules_raw, i, item, templates_dir)
        if rule.name in seen:
            raise r.fail(rules_raw, i, f"rules[{i}].name",
                         f"duplicate rule name {rule.name!r} (first at line {seen[rule.name]})")
        seen[rule.name] = rule.line
        rules.append(rule)

    return PolicySettings(
        version=1,
        shadow=r.boolean(top, "shadow", "shadow", False),
        tag_prefix=prefix,
        hold_tag=hold_tag,
        organization=org,
        holds=holds,
        notices=notices,
        rules=tuple(rules),
        acknowledgments=_acknowledgments(r, top, templates_dir),
        raw=_plain(top),
    )


def _acknowledgments(r: _Reader, top: LineDict, templates_dir: Path | None) -> AckSettings:
    """The ``acknowledgments:`` section; absent means off."""
    m = r.mapping(top.get("acknowledgments"), "acknowledgments", top, "acknowledgments",
                  {"enabled", "trigger", "period", "max_age", "template"})
    trigger = r.string(m, "trigger", "acknowledgments.trigger", AckSettings.trigger)
    if trigger not in ACK_TRIGGERS:
        raise r.fail(m, "trigger", "acknowledgments.trigger",
                     f"unknown trigger {trigger!r}; use one of {', '.join(ACK_TRIGGERS)}")
    template = r.string(m, "template", "acknowledgments.template", AckSettings.template, nonempty=True)
    if not _TEMPLATE_NAME.match(template):
        raise r.fail(m, "template", "acknowledgments.template", f"{template!r}: use lowercase letters, digits and _")
    if templates_dir is not None and not (Path(templates_dir) / "en" / f"{template}.j2").is_file():
        raise r.fail(m, "template", "acknowledgments.template",
                     f"no template {template!r} (looked for {Path(templates_dir) / 'en' / (template + '.j2')})")
    return AckSettings(
        enabled=r.boolean(m, "enabled", "acknowledgments.enabled", False),
        trigger=trigger,
        period=r.duration(m, "period", "acknowledgments.period", AckSettings().period),
        max_age=r.duration(m, "max_age", "acknowledgments.max_age", AckSettings().max_age),
        template=template,
    )


_RULE_KEYS = {"name", "description", "when", "then"}
_WHEN_KEYS = {"category", "min_severity", "max_severity", "min_score", "history", "window_breach", "requires_other"}


def _rule(r: _Reader, parent: LineList | list, i: int, item: Any, templates_dir: Path | None) -> PolicyRule:  # type: ignore[type-arg]
    kp = f"rules[{i}]"
    if not isinstance(item, dict):
        raise r.fail(parent, i, kp, f"expected a mapping with name, when and then, got {_kind(item)}")
    m = r.mapping(item, kp, parent, i, _RULE_KEYS)
    name = r.string(m, "name", f"{kp}.name", nonempty=True)
    kp = f"rules[{i}] ({name})"
    if "when" not in m:
        raise r.fail(m, "name", f"{kp}.when", "is required")
    if "then" not in m:
        raise r.fail(m, "name", f"{kp}.then", "is required")
    when = r.mapping(m["when"], f"{kp}.when", m, "when", _WHEN_KEYS)

    cats_raw = when.get("category")
    if cats_raw is None:
        raise r.fail(when, "category", f"{kp}.when.category", "is required")
    if isinstance(cats_raw, list):
        if not cats_raw:
            raise r.fail(when, "category", f"{kp}.when.category", "cannot be an empty list")
        cats = tuple(r.category(c, cats_raw, j, f"{kp}.when.category[{j}]") for j, c in enumerate(cats_raw))
    else:
        cats = (r.category(cats_raw, when, "category", f"{kp}.when.category"),)

    min_score_raw = when.get("min_score", 0.0)
    if isinstance(min_score_raw, bool) or not isinstance(min_score_raw, (int, float)) or not 0 <= min_score_raw <= 1:
        raise r.fail(when, "min_score", f"{kp}.when.min_score", f"expected a number from 0 to 1, got {min_score_raw!r}")

    history: list[tuple[str, CountRange]] = []
    hist_raw = when.get("history")
    if hist_raw is not None:
        if not isinstance(hist_raw, dict) or not hist_raw:
            raise r.fail(when, "history", f"{kp}.when.history",
                         "expected a mapping of category to {min, max}, e.g. {verbal_abuse: {min: 2}}")
        for cat, rng in hist_raw.items():
            hkp = f"{kp}.when.history.{cat}"
            r.category(cat, hist_raw, cat, hkp)
            rm = r.mapping(rng, hkp, hist_raw, cat, {"min", "max"})
            lo = r.integer(rm, "min", f"{hkp}.min", None)
            hi = r.integer(rm, "max", f"{hkp}.max", None)
            if lo is None and hi is None:
                raise r.fail(hist_raw, cat, hkp, "give min, max or both")
            if lo is not None and hi is not None and lo > hi:
                raise r.fail(rm, "min", hkp, f"min ({lo}) is greater than max ({hi})")
            history.append((cat, CountRange(lo, hi)))

    window_breach = when.get("window_breach")
    if window_breach is not None and not isinstance(window_breach, bool):
        raise r.fail(when, "window_breach", f"{kp}.when.window_breach", f"expected true or false, got {window_breach!r}")

    lo_sev = r.severity(when, "min_severity", f"{kp}.when.min_severity", Severity.MEDIUM)
    hi_sev = r.severity(when, "max_severity", f"{kp}.when.max_severity", Severity.CRITICAL)
    if lo_sev > hi_sev:
        raise r.fail(when, "max_severity", f"{kp}.when.max_severity",
                     f"max_severity ({hi_sev}) is below min_severity ({lo_sev}): the rule could never fire")
    condition = Condition(
        categories=cats,
        min_severity=r.severity(when, "min_severity", f"{kp}.when.min_severity", Severity.MEDIUM),
        max_severity=r.severity(when, "max_severity", f"{kp}.when.max_severity", Severity.CRITICAL),
        min_score=float(min_score_raw),
        history=tuple(history),
        window_breach=window_breach,
        requires_other=r.boolean(when, "requires_other", f"{kp}.when.requires_other", False),
    )

    then_raw = m["then"]
    if not isinstance(then_raw, list) or not then_raw:
        raise r.fail(m, "then", f"{kp}.then", "expected a non-empty list of actions (tag, propose_hold, ...)")
    actions = tuple(_action(r, then_raw, j, a, f"{kp}.then[{j}]", templates_dir) for j, a in enumerate(then_raw))
    types = [a.type for a in actions]
    if "propose_hold" in types and "apply_hold" in types:
        raise r.fail(m, "then", f"{kp}.then", "use propose_hold or apply_hold, not both")
    dupes = {t for t in types if types.count(t) > 1}
    if dupes:
        raise r.fail(m, "then", f"{kp}.then", f"action {sorted(dupes)[0]!r} is listed twice")
    return PolicyRule(
        name=name,
        description=r.string(m, "description", f"{kp}.description", ""),
        when=condition,
        then=actions,
        line=m.line or None,
    )


_ACTION_PARAMS: dict[str, set[str]] = {
    "tag": set(),
    "propose_hold": {"scope", "expiry_days"},
    "apply_hold": {"scope", "expiry_days"},
    "escalate": {"to", "priority"},
    "draft": {"template"},
}
_PRIORITIES = ("normal", "high", "urgent")
_TEMPLATE_NAME = re.compile(r"^[a-z0-9_]+$")


def _action(r: _Reader, parent: Any, j: int, raw: Any, kp: str, templates_dir: Path | None) -> ActionSpec:
    if isinstance(raw, str):
        kind, params_raw = raw, None
    elif isinstance(raw, dict) and len(raw) == 1:
        kind, params_raw = next(iter(raw.items()))
    else:
        raise r.fail(parent, j, kp, "an action is a name (tag) or a one-key mapping (propose_hold: {scope: customer})")
    if kind not in ACTION_TYPES:
        hint = _closest(str(kind), ACTION_TYPES)
        raise r.fail(parent, j, kp, f"unknown action {kind!r}" + (f" (did you mean {hint!r}?)" if hint else "")
                     + f"; use one of {', '.join(ACTION_TYPES)}")
    container = raw if isinstance(raw, dict) else parent
    key = kind if isinstance(raw, dict) else j
    p = r.mapping(params_raw, f"{kp}.{kind}", container, key, _ACTION_PARAMS[kind])
    params: dict[str, Any] = {}
    if kind in ("propose_hold", "apply_hold"):
        scope = r.string(p, "scope", f"{kp}.{kind}.scope", "customer")
        if scope not in POLICY_HOLD_SCOPES:
            raise r.fail(p, "scope", f"{kp}.{kind}.scope",
                         f"unknown scope {scope!r}; use one of {', '.join(POLICY_HOLD_SCOPES)}")
        params["scope"] = scope
        if "expiry_days" in p:
            params["expiry_days"] = r.integer(p, "expiry_days", f"{kp}.{kind}.expiry_days", None, minimum=1,
                                              nullable=True)
    elif kind == "escalate":
        to = p.get("to", ["leads"])
        if isinstance(to, str):
            to = [to]
        if not isinstance(to, list) or not to or not all(isinstance(t, str) and t.strip() for t in to):
            raise r.fail(p, "to", f"{kp}.escalate.to", "expected a list of recipients, e.g. [leads, legal]")
        params["to"] = list(to)
        priority = r.string(p, "priority", f"{kp}.escalate.priority", "normal")
        if priority not in _PRIORITIES:
            raise r.fail(p, "priority", f"{kp}.escalate.priority",
                         f"unknown priority {priority!r}; use one of {', '.join(_PRIORITIES)}")
        params["priority"] = priority
    elif kind == "draft":
        template = r.string(p, "template", f"{kp}.draft.template", nonempty=True)
        if not _TEMPLATE_NAME.match(template):
            raise r.fail(p, "template", f"{kp}.draft.template", f"{template!r}: use lowercase letters, digits and _")
        if templates_dir is not None and not (Path(templates_dir) / "en" / f"{template}.j2").is_file():
            raise r.fail(p, "template", f"{kp}.draft.template",
                         f"no template {template!r} (looked for {Path(templates_dir) / 'en' / (template + '.j2')})")
        params["template"] = template
    return ActionSpec(kind, params)


def _plain(value: Any) -> Any:
    """Line-aware containers back to plain dicts and lists."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing"
    return f"{type(value).__name__} {value!r}"


def _closest(word: str, options: tuple[str, ...]) -> str | None:
    import difflib

    found = difflib.get_close_matches(word, options, n=1, cutoff=0.75)
    return found[0] if found else None
