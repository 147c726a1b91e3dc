"""Counters and states the daemon exposes on /metrics and /healthz: numbers and names only.

Each mail source (an IMAP mailbox or a Maildir) has a state (``starting``, ``connected``, ``idle``,
``polling``, ``reconnecting``, ``stopped``), a lag (messages known on the server and not yet
done), processed / failed / quarantined counts, and how many messages the policy tagged per
category. Nothing here ever holds message content.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class SourceStats:
    source: str
    mailbox: str
    state: str = "starting"
    lag: int = 0
    processed: int = 0
    failed: int = 0
    quarantined: int = 0
    duplicates: int = 0
    reconnects: int = 0
    held: int = 0  # messages from customers under an active hold
    tagged: dict[str, int] = field(default_factory=dict)  # category -> messages the policy tagged with it
    last_success: float = 0.0  # time.time() of the last completed check of the mailbox
    last_error: str = ""


@dataclass
class Metrics:
    """The daemon's live figures; thread-safe (sources update them from worker threads)."""

    started: float = field(default_factory=time.time)
    sent: int = 0
    send_failed: int = 0
    _sources: dict[tuple[str, str], SourceStats] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    #: returns the number of holds waiting for a lead; set by the daemon when the hold store exists
    pending_holds: Callable[[], int] = lambda: 0
    #: returns how many tags agents and leads have disputed so far (gateway/disputes.py)
    disputed_tags: Callable[[], int] = lambda: 0
    #: returns the escalations no lead has acknowledged: {"open": not mailed yet, "notified": mailed}
    escalations: Callable[[], dict[str, int]] = lambda: {}
    #: the daemon's bounded in-memory structures: name -> (entries, bytes), for watching memory
    #: fill up to its bounds (set by the daemon once the pipeline is loaded)
    memory: Callable[[], dict[str, tuple[int, int]]] = lambda: {}

    def source(self, source: str, mailbox: str) -> SourceStats:
        with self._lock:
            key = (source, mailbox)
            if key not in self._sources:
                self._sources[key] = SourceStats(source, mailbox)
            return self._sources[key]

    def sources(self) -> list[SourceStats]:
        with self._lock:
            return list(self._sources.values())

    def healthy(self, *, grace: float = 300.0, now: float | None = None) -> bool:
        """Healthy while no source has failed, and none has been unable to read its mailbox for
        longer than ``grace`` seconds (a short reconnect is normal)."""
        now = time.time() if now is None else now
        for s in self.sources():
            if s.state == "failed":
                return False
            if s.state == "reconnecting" and now - max(s.last_success, self.started) > grace:
                return False
        return True

    def render(self) -> str:
        """Prometheus text exposition format (version 0.0.4)."""
        lines: list[str] = []

        def family(name: str, kind: str, help_text: str, samples: list[tuple[dict[str, str], float]]) -> None:
            lines.append(f"# HELP {name} {help_text}")
            lines.append(f"# TYPE {name} {kind}")
            for labels, value in samples:
                label_text = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
                lines.append(f"{name}{{{label_text}}} {_number(value)}" if label_text else f"{name} {_number(value)}")

        stats = self.sources()
        lab = [({"source": s.source, "mailbox": s.mailbox}, s) for s in stats]
        family("hg_source_up", "gauge", "1 when the source is connected and being read.",
               [(l, 1.0 if s.state in {"connected", "idle", "polling"} else 0.0) for l, s in lab])
        family("hg_source_state", "gauge", "The source's current state (1 for the state it is in).",
               [({**l, "state": s.state}, 1.0) for l, s in lab])
        family("hg_source_lag_messages", "gauge", "Messages waiting on the source, not yet processed.",
               [(l, s.lag) for l, s in lab])
        family("hg_source_last_success_timestamp_seconds", "gauge", "When the source was last read completely.",
               [(l, s.last_success) for l, s in lab])
        family("hg_messages_processed_total", "counter", "Messages analysed and their effects applied.",
               [(l, s.processed) for l, s in lab])
        family("hg_messages_failed_total", "counter", "Messages that could not be processed (quarantined).",
               [(l, s.failed) for l, s in lab])
        family("hg_messages_duplicate_total", "counter", "Messages seen again and answered from the ledger.",
               [(l, s.duplicates) for l, s in lab])
        family("hg_source_reconnects_total", "counter", "Reconnections after network errors.",
               [(l, s.reconnects) for l, s in lab])
        family("hg_messages_tagged_total", "counter",
               "Messages the policy tagged, per category (a sudden rise after a rules change is worth a look).",
               [({**l, "category": c}, n) for l, s in lab for c, n in sorted(s.tagged.items())])
        family("hg_messages_held_total", "counter", "Messages from customers under an active hold.",
               [(l, s.held) for l, s in lab])
        family("hg_smtp_sent_total", "counter", "Replies sent by SMTP.", [({}, self.sent)])
        family("hg_smtp_failed_total", "counter", "Replies SMTP refused permanently.", [({}, self.send_failed)])
        try:
            pending = self.pending_holds()
        except Exception:  # the store may be busy; a scrape must not fail for it
            pending = -1
        family("hg_holds_pending", "gauge", "Contact holds waiting for a team lead's decision.", [({}, pending)])
        try:
            disputed = self.disputed_tags()
        except Exception:  # as above
            disputed = -1
        family("hg_disputed_tags", "gauge", "Tags agents and leads disputed as wrong, in all.", [({}, disputed)])
        try:
            waiting = self.escalations()
        except Exception:  # as above
            waiting = {}
        family("hg_escalations_waiting", "gauge",
               "Escalations no lead has acknowledged, by state (open: not mailed to anybody yet; notified: mailed).",
               [({"state": k}, waiting.get(k, 0)) for k in ("open", "notified")])
        family("hg_uptime_seconds", "gauge", "Seconds since the daemon started.", [({}, time.time() - self.started)])
        family("process_resident_memory_bytes", "gauge", "Resident memory of the daemon process.",
               [({}, _rss_bytes())])
        try:
            sizes = sorted(self.memory().items())
        except Exception:  # read while a worker thread changes them; a scrape must not fail for it
            sizes = []
        family("hg_memory_structure_entries", "gauge", "Entries held by a bounded in-memory structure.",
               [({"structure": name}, entries) for name, (entries, _) in sizes])
        family("hg_memory_structure_bytes", "gauge", "Bytes held by a bounded in-memory structure (its own estimate).",
               [({"structure": name}, size) for name, (_, size) in sizes])
        return "\n".join(lines) + "\n"


def _rss_bytes() -> int:
    """The process's resident memory (Linux /proc; 0 elsewhere)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.3f}"
