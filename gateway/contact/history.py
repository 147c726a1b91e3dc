"""What the policy engine knows about a customer's past: counts of findings, how many messages,
and which rate windows their latest message breached."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass
class CustomerHistory:
    """A customer's record, across every linked key.

    ``finding_counts`` maps a category to the number of messages that had a finding of it;
    ``window_breaches`` names the windows (``customer:24h``, ``thread:1h``) that the customer's
    most recent message breached, counting it."""

    customer: str
    finding_counts: dict[str, int] = field(default_factory=dict)
    messages_total: int = 0
    window_breaches: list[str] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    last_seen: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "customer": self.customer,
            "finding_counts": dict(self.finding_counts),
            "messages_total": self.messages_total,
            "window_breaches": list(self.window_breaches),
            "keys": list(self.keys),
            "last_seen": self.last_seen.isoformat() if self.last_seen else None,
        }
