"""The plain data every stage passes on.

``Message`` is what ingest makes of raw input; ``Finding`` is what a rule found, with ``Evidence``
spans into ``Message.text``; ``Decision`` is what the policy made of the findings. None of these
do I/O.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any


class Severity(enum.IntEnum):
    """How serious a finding is. Ordered, so ``sev >= Severity.MEDIUM`` reads naturally."""

    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, value: "str | int | Severity") -> "Severity":
        if isinstance(value, Severity):
            return value
        if isinstance(value, int):
            return cls(value)
        try:
            return cls[str(value).strip().upper()]
        except KeyError:
            raise ValueError(
                f"unknown severity {value!r}; use one of low, medium, high, critical"
            ) from None

    def __str__(self) -> str:
        return self.label


#: The stable category names (DESIGN.md). Detection may not invent others.
CATEGORIES: tuple[str, ...] = (
    "threat",
    "verbal_abuse",
    "sexual_harassment",
    "discrimination",
    "online_exposure",
    "privacy_intrusion",
    "staff_punishment_demand",
    "excessive_apology_demand",
    "unreasonable_compensation_demand",
    "escalation_pressure",
    "restrictive_conduct",
    "persistent_contact",
    "duplicate_contact",
)


@dataclass(frozen=True)
class Evidence:
    """A span of the analyzed text: ``text[start:end] == self.text`` always holds."""

    start: int
    end: int
    text: str

    def to_json(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "text": self.text}


@dataclass
class Finding:
    """One rule's verdict on one message, with what it saw and why it matters."""

    category: str
    severity: Severity
    score: float
    evidence: list[Evidence]
    rule: str
    reason: str
    related: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "category": self.category,
            "severity": self.severity.label,
            "score": round(self.score, 4),
            "evidence": [e.to_json() for e in self.evidence],
            "rule": self.rule,
            "reason": self.reason,
        }
        if self.related:
            out["related"] = list(self.related)
        if self.details:
            out["details"] = self.details
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Finding":
        return cls(
            category=data["category"],
            severity=Severity.parse(data["severity"]),
            score=float(data["score"]),
            evidence=[Evidence(int(e["start"]), int(e["end"]), e["text"]) for e in data.get("evidence", [])],
            rule=data.get("rule", ""),
            reason=data.get("reason", ""),
            related=list(data.get("related", [])),
            details=dict(data.get("details", {})),
        )


@dataclass(frozen=True)
class Attachment:
    """An attachment is listed, never parsed."""

    name: str
    content_type: str
    size: int


@dataclass
class Message:
    """A customer message, whatever channel it came from.

    ``text`` is the clean text detection reads: decoded, HTML turned to text, quoted history and
    signatures removed (those stay in ``quoted``). ``id`` is stable across re-deliveries: the
    Message-ID where there is one, else a content hash, else the connector's own id.
    """

    id: str
    text: str
    source: str = "cli"
    subject: str = ""
    sender: str = ""  # the customer key (lowercased address, plus-addressing stripped, or a linked key)
    sender_address: str = ""
    display_name: str = ""
    reply_to: str = ""
    thread: str = ""
    received_at: datetime | None = None
    lang: str = "en"
    decoder: str = ""
    warnings: list[str] = field(default_factory=list)
    quoted: list[str] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)  # lowercased name -> decoded value
    message_id: str = ""
    in_reply_to: str = ""
    references: list[str] = field(default_factory=list)
    content_hash: str = ""
    raw_size: int = 0
    external: dict[str, Any] = field(default_factory=dict)  # connector references (ticket id, uid...)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["received_at"] = self.received_at.isoformat() if self.received_at else None
        return out


@dataclass(frozen=True)
class Action:
    """One thing the policy wants done: ``hold``, ``draft``, ``escalate`` (``tag`` lives in Decision.tags)."""

    type: str
    params: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, **self.params}


@dataclass
class Decision:
    """What the policy made of a message's findings, and which policy rules hit and missed."""

    message_id: str
    tags: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)  # tagged categories
    actions: list[Action] = field(default_factory=list)
    hits: list[str] = field(default_factory=list)  # policy rules that fired
    misses: list[str] = field(default_factory=list)  # policy rules checked that did not fire
    shadow: bool = False  # recorded, not applied
    held: bool = False  # the sender is under an active hold: route to the held folder/status

    def to_json(self) -> dict[str, Any]:
        return {
            "message_id": self.message_id,
            "tags": list(self.tags),
            "categories": list(self.categories),
            "actions": [a.to_json() for a in self.actions],
            "hits": list(self.hits),
            "misses": list(self.misses),
            "shadow": self.shadow,
            "held": self.held,
        }
