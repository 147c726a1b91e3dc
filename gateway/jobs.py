"""The daemon's scheduled jobs (APScheduler 3, on the daemon's event loop).

- ``expire_holds``: active holds past their expiry become ``expired`` (audited, never silent);
- ``purge_retention``: message text, and quarantined raw mail, older than the retention period
  are deleted (fingerprints and findings stay for the contact history);
- ``remind_pending_holds``: holds a lead has not decided for ``reminder_after`` (the policy's
  ``holds.remind_after``) are listed in the log (and counted in /metrics) and, when SMTP and the
  ``leads`` addresses are configured, mailed to the leads as one digest, at most once per period;
- ``send_drafts``: approved drafts go out by SMTP when SMTP is configured;
- ``notify_leads``: new escalations are mailed to the roles the policy names (``smtp.notify``),
  one notice per customer (``gateway.mail.notify``);
- pollers: a helpdesk connector registers ``poll()`` (a coroutine function) with
  ``register_poller`` and it runs every ``interval`` seconds, never two at once.

Each job logs its failure and runs again at its next time: one bad run never stops the scheduler.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from gateway.quarantine import Quarantine
from gateway.store.db import Database

log = logging.getLogger(__name__)

Poll = Callable[[], Awaitable[Any]]


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Jobs:
    """Owns the scheduler; the daemon calls ``start()`` and ``shutdown()``."""

    def __init__(self, db: Database, *, retention_days: int = 90, reminder_after: timedelta = timedelta(hours=24),
                 send_drafts: Callable[[], Awaitable[int]] | None = None,
                 clock: Callable[[], datetime] = _utcnow, notifier: Any = None) -> None:
        self.db = db
        self.retention_days = retention_days
        #: the policy's ``holds.remind_after`` (the daemon sets it once the policy is loaded)
        self.reminder_after = reminder_after
        self.clock = clock
        self._send_drafts = send_drafts
        #: a ``gateway.mail.notify.LeadNotifier`` when SMTP is configured: escalations and
        #: reminders are mailed to the roles' addresses; None: they are only logged and shown
        self.notifier = notifier
        self.scheduler = AsyncIOScheduler(timezone=timezone.utc, job_defaults={"coalesce": True, "max_instances": 1,
                                                                                "misfire_grace_time": 60})
        self._pollers: dict[str, tuple[Poll, float]] = {}

    # -- the jobs -------------------------------------------------------------------------------

    async def expire_holds(self) -> int:
        from gateway.holds import HoldStore

        expired = HoldStore(self.db).expire_due(self.clock())
        for hold in expired:
            log.info("hold expired", extra={"hold_id": hold.id, "job": "expire_holds"})
        return len(expired)

    async def purge_retention(self) -> int:
        from gateway.store.messages import SqliteMessageStore

        cutoff = self.clock() - timedelta(days=self.retention_days)
        purged = SqliteMessageStore(self.db).purge_text(cutoff)
        purged += Quarantine(self.db).purge_raw(cutoff)
        if purged:
            log.info("retention purge", extra={"count": purged, "job": "purge_retention"})
        return purged

    async def remind_pending_holds(self) -> list[int]:
        from gateway.holds import HoldStore

        waiting = HoldStore(self.db).pending_longer_than(self.reminder_after, self.clock())
        if waiting:
            log.warning("holds waiting for a team lead's decision",
                        extra={"count": len(waiting), "job": "remind_pending_holds",
                               "hold_id": [h.id for h in waiting][:50]})
            if self.notifier is not None:
                await self.notifier.remind_holds(waiting)
        return [h.id for h in waiting]

    async def notify_leads(self) -> int:
        """Mail new escalations to the roles they name (one notice per customer)."""
        return await self.notifier.notify_escalations() if self.notifier is not None else 0

    async def send_drafts(self) -> int:
        return await self._send_drafts() if self._send_drafts else 0

    # -- connectors' polling hook ------------------------------------------------------------------

    def register_poller(self, name: str, poll: Poll, interval: float = 60.0) -> None:
        """Run ``await poll()`` every ``interval`` seconds while the daemon runs."""
        if name in self._pollers:
            raise ValueError(f"a poller named {name!r} is already registered")
        self._pollers[name] = (poll, interval)
        if self.scheduler.running:
            self._add(f"poll:{name}", poll, interval)

    def pollers(self) -> list[str]:
        return sorted(self._pollers)

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> None:
        """Schedule every job on the running event loop."""
        self._add("expire_holds", self.expire_holds, 60)
        self._add("purge_retention", self.purge_retention, 6 * 3600)
        self._add("remind_pending_holds", self.remind_pending_holds, 3600)
        if self._send_drafts:
            self._add("send_drafts", self.send_drafts, 15)
        if self.notifier is not None:
            self._add("notify_leads", self.notify_leads, 30)
        for name, (poll, interval) in self._pollers.items():
            self._add(f"poll:{name}", poll, interval)
        self.scheduler.start()

    async def run_once(self) -> None:
        """What ``run --once`` does instead of scheduling: each job a single time."""
        for name, job in (("expire_holds", self.expire_holds), ("send_drafts", self.send_drafts),
                          *((f"poll:{n}", p) for n, (p, _) in self._pollers.items()),
                          ("notify_leads", self.notify_leads), ("remind_pending_holds", self.remind_pending_holds)):
            await _guarded(name, job)()

    def shutdown(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)

    def _add(self, name: str, job: Poll, seconds: float) -> None:
        self.scheduler.add_job(_guarded(name, job), "interval", seconds=seconds, id=name, name=name,
                               next_run_time=datetime.now(timezone.utc) + timedelta(seconds=1), replace_existing=True)


def _guarded(name: str, job: Poll) -> Poll:
    async def run() -> Any:
        try:
            return await job()
        except Exception as exc:
            log.exception("scheduled job failed", extra={"job": name, "error": f"{type(exc).__name__}: {exc}"[:300]})
            return None

    run.__name__ = f"job_{name}"
    return run
