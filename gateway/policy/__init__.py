"""The policy stage: rules/policy.yaml maps findings and the customer's history to a Decision.

``Policy.load(path=None)`` reads and validates the file (errors name the file, line and key);
``Policy.decide(message, findings, history, active_hold=False)`` is pure and returns a
``gateway.model.Decision``. See ``engine`` for how firing rules are merged.
"""

from gateway.policy.engine import Policy
from gateway.policy.rules import ActionSpec, Condition, CountRange, PolicyRule
from gateway.policy.schema import (
    HoldSettings,
    NoticeCap,
    Organization,
    PolicyFileError,
    PolicySettings,
    parse_duration,
)

__all__ = [
    "ActionSpec",
    "Condition",
    "CountRange",
    "HoldSettings",
    "NoticeCap",
    "Organization",
    "Policy",
    "PolicyFileError",
    "PolicyRule",
    "PolicySettings",
    "parse_duration",
]
