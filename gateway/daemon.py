"""``harassment-gateway run``: the asyncio daemon in front of the support mailboxes.

It wires the parts together and owns their lifetime:

- one reader per IMAP mailbox (``gateway.mail.imap``) and per Maildir (``gateway.mail.maildir``),
  each handing raw mail to the ``MessageHandler`` (ingest, pipeline, ledger, quarantine);
- the outbox (``gateway.mail.smtp``) for approved drafts, when SMTP is configured;
- the scheduled jobs (``gateway.jobs``) and, unless ``--once``, the web app on the console's port
  with ``/healthz`` and ``/metrics`` mounted beside the console. With no console users configured
  (the embedded defaults) that console admits a lead ``admin`` by a one-time token, which goes to
  the operator through ``announce`` (the CLI's stdout), never to the log; off loopback it refuses.

SIGTERM or SIGINT stops it gracefully: each reader finishes the message in hand, sets its
keywords, commits its checkpoint and closes its connection; then the store is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import shutil
import signal
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from gateway.checkpoints import Checkpoints
from gateway.config import Config, SourceConfig
from gateway.errors import ConfigError
from gateway.mail.handler import IngestFn, MessageHandler, ProcessFn
from gateway.metrics import Metrics
from gateway.quarantine import Quarantine
from gateway.resources import samples_dir
from gateway.store.db import Database

log = logging.getLogger(__name__)

#: Where the embedded defaults put their copy of the sample Maildir (the package stays untouched).
DEFAULT_MAILDIR = "hg-mail"


class Source(Protocol):
    name: str

    async def run(self, stop: asyncio.Event, *, once: bool = False) -> None: ...


def default_config(env: dict[str, str] | None = None, *, workdir: Path | None = None) -> Config:
    """The embedded defaults: a local Maildir of sample mail, ./gateway.db, console on
    127.0.0.1:8080. The samples are copied into ./hg-mail on first run."""
    import os

    base = workdir or Path.cwd()
    return Config(
        sources=(SourceConfig(name="samples", type="maildir", path=DEFAULT_MAILDIR),),
        base_dir=str(base),
        env=dict(os.environ if env is None else env),
    )


def prepare_sample_maildir(target: Path) -> bool:
    """Copy the shipped sample Maildir to ``target`` unless it exists; True when copied."""
    if target.exists():
        return False
    source = samples_dir() / "maildir"
    if source.is_dir():
        shutil.copytree(source, target)
    for sub in ("cur", "new", "tmp"):
        (target / sub).mkdir(parents=True, exist_ok=True)
    return True


class Daemon:
    """The running gateway. ``process`` is the pipeline seam: any ``process(message) -> Result``
    (default: ``gateway.pipeline.Pipeline`` on the daemon's store)."""

    def __init__(
        self,
        config: Config,
        *,
        once: bool = False,
        serve_web: bool | None = None,
        process: ProcessFn | None = None,
        ingest: IngestFn | None = None,
        db: Database | None = None,
        backoff: tuple[float, float] = (1.0, 300.0),
        batch_size: int = 100,
        max_message_bytes: int = 50 * 1024 * 1024,
        smtp_attempts: int = 5,
        smtp_backoff: float = 2.0,
        announce: Callable[[str], None] | None = None,
        settle_heap: bool = False,
    ) -> None:
        self.config = config
        # ``gateway.runtime.settle_heap`` once the rules are loaded: process-wide, so only for a
        # process that is the daemon (the CLI's ``run``), never for one that embeds it (tests).
        self.settle_heap = settle_heap
        self.announce = announce  # lines for the operator's terminal (the CLI prints them on stdout)
        self.login_token: str | None = None
        self.once = once
        self.serve_web = (not once) if serve_web is None else serve_web
        self._process = process
        self._ingest = ingest
        self._db = db
        self._owns_db = db is None
        self.backoff = backoff
        self.batch_size = batch_size
        self.max_message_bytes = max_message_bytes
        self.smtp_attempts = smtp_attempts
        self.smtp_backoff = smtp_backoff
        self.metrics = Metrics()
        self.stop_event: asyncio.Event | None = None
        self.started = threading.Event()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.web_server: Any = None
        self.jobs: Any = None
        self.outbox: Any = None
        self.connectors: list[Any] = []

    # -- building the parts ---------------------------------------------------------------------

    def open_store(self) -> Database:
        if self._db is None:
            self._db = Database.open(self.config.resolve(self.config.store.path))
        return self._db

    def _pipeline(self, db: Database) -> Any:
        """The pipeline object (``.process(message)``); the ``process`` seam wrapped as one."""
        if self._process is not None:
            return _ProcessOnly(self._process)
        from gateway.pipeline import Pipeline

        return Pipeline.create(
            db,
            rules_dir=Path(self.config.resolve(self.config.rules)) if self.config.rules else None,
            policy_path=Path(self.config.resolve(self.config.policy)) if self.config.policy else None,
            cache_bytes=self.config.store.cache_mb << 20,
        )

    def build_helpdesks(self, db: Database, pipeline: Any) -> list[Any]:
        """One connector per ``helpdesks`` entry, its polling cycle registered with the jobs.
        The connectors share the daemon's pipeline through ``pipeline`` (calls are serialised)."""
        if not self.config.helpdesks:
            return []
        from connectors import create_connector
        from connectors.cycle import run_cycle

        connectors = []
        for entry in self.config.helpdesks:
            connector = create_connector(entry, db, self.config)
            interval = float(getattr(getattr(connector, "config", None), "poll_interval", 60) or 60)
            self.jobs.register_poller(entry.name, functools.partial(run_cycle, connector, pipeline), interval)
            connectors.append(connector)
        return connectors

    def build_sources(self, db: Database, handler: MessageHandler) -> list[Source]:
        from gateway.mail.imap import Backoff, ImapSource
        from gateway.mail.maildir import MaildirMarks, MaildirSource

        checkpoints = Checkpoints(db)
        sources: list[Source] = []
        for cfg in self.config.sources:
            if cfg.type == "imap":
                password = self.config.secret(cfg.password_env, key=f"sources[{cfg.name}].password_env")
                for mailbox in cfg.all_mailboxes:
                    sources.append(ImapSource(
                        cfg=cfg, mailbox=mailbox, password=password, handler=handler, checkpoints=checkpoints,
                        stats=self.metrics.source(cfg.name, mailbox), batch_size=self.batch_size,
                        max_bytes=self.max_message_bytes, backoff=Backoff(*self.backoff),
                    ))
            elif cfg.type == "maildir":
                root = Path(self.config.resolve(cfg.path))
                if cfg.path == DEFAULT_MAILDIR and prepare_sample_maildir(root):
                    log.info("sample mail copied for the embedded defaults", extra={"path": str(root)})
                if not root.is_dir():
                    raise ConfigError(f"sources[{cfg.name}].path: {root} is not a directory")
                sources.append(MaildirSource(cfg=cfg, root=root, handler=handler, marks=MaildirMarks(db),
                                             stats=self.metrics.source(cfg.name, str(cfg.path))))
            else:  # parse_config already refuses other types
                raise ConfigError(f"sources[{cfg.name}].type: unknown source type {cfg.type!r}")
        return sources

    def _build_notifier(self, db: Database) -> Any:
        """Who is told of escalations and waiting holds: a ``LeadNotifier`` on the replies' outbox
        (its SMTP client and table), or None without SMTP (then the console and the log are all there is)."""
        if self.outbox is None:
            return None
        from gateway.mail.notify import LeadNotifier

        console = self.config.console
        return LeadNotifier(db, self.config.smtp, self.outbox,
                            console_url=console.url or f"http://{console.listen}")

    def _policy_known(self, pipeline: Any) -> None:
        """With the policy loaded: the hold reminders' period, and a warning for each role the
        policy escalates to that nobody can be mailed as."""
        policy = getattr(pipeline, "policy", None)
        settings = getattr(policy, "settings", None)
        if settings is None:
            return
        self.jobs.reminder_after = settings.holds.remind_after
        roles = [t for rule in settings.rules for a in rule.then if a.type == "escalate" for t in a.params.get("to", ())]
        notifier = self.jobs.notifier
        if notifier is not None:
            notifier.remind_after = settings.holds.remind_after  # (the digest's period)
        unmailed = notifier.unmailed_roles(roles) if notifier is not None else list(dict.fromkeys(roles))
        if unmailed:
            log.warning("escalations are not mailed to anybody for some roles: they are listed in the console "
                        "(/escalations) only; name the addresses under smtp.notify",
                        extra={"reason": "no address for " + ", ".join(unmailed)})

    def _build_outbox(self, db: Database) -> Any:
        if self.config.smtp is None:
            return None
        from gateway.mail.smtp import Outbox, SmtpClient

        cfg = self.config.smtp
        password = self.config.secret(cfg.password_env, key="smtp.password_env") if cfg.password_env else None
        client = SmtpClient(cfg, password, attempts=self.smtp_attempts, backoff=self.smtp_backoff)
        mail_sources = {s.name for s in self.config.sources}
        return Outbox(db, cfg, client, self.metrics, sources=mail_sources)

    def _pending_holds(self, db: Database) -> int:
        try:
            row = db.query_one("SELECT count(*) AS n FROM holds WHERE state = 'proposed'")
        except Exception:
            return 0
        return int(row["n"]) if row else 0

    def _escalations(self, db: Database) -> dict[str, int]:
        try:
            rows = db.query("SELECT state, count(*) AS n FROM escalations WHERE state IN ('open', 'notified') "
                            "GROUP BY state")
        except Exception:
            return {}
        return {r["state"]: int(r["n"]) for r in rows}

    def _disputed_tags(self, db: Database) -> int:
        try:
            row = db.query_one("SELECT count(*) AS n FROM disputes")
        except Exception:  # no dispute yet: the table comes with the first (console or CLI)
            return 0
        return int(row["n"]) if row else 0

    # -- running ----------------------------------------------------------------------------------

    async def run(self) -> int:
        """Run until stopped (or, with ``once``, until every source is caught up). Returns the
        exit status: 0, or 1 when a source could not be read in ``--once`` mode."""
        self.loop = asyncio.get_running_loop()
        self.stop_event = asyncio.Event()
        db = self.open_store()
        try:
            return await self._run(db)
        finally:
            if self._owns_db:
                db.close()
            log.info("gateway stopped")

    async def _run(self, db: Database) -> int:
        from gateway.jobs import Jobs

        assert self.stop_event is not None
        if self.serve_web:  # before any mail is read: a console nobody may open on the network stops here
            from gateway.web.auth import first_run_token

            self.login_token = first_run_token(self.config)
        handler = MessageHandler(Checkpoints(db), Quarantine(db), _not_ready, self._ingest)
        self.metrics.pending_holds = lambda: self._pending_holds(db)
        self.metrics.disputed_tags = lambda: self._disputed_tags(db)
        self.metrics.escalations = lambda: self._escalations(db)
        # sources and SMTP first: a missing secret or folder is reported before the rules load
        sources = self.build_sources(db, handler)
        self.outbox = self._build_outbox(db)
        self.jobs = Jobs(db, retention_days=self.config.store.retention_days,
                         send_drafts=self.outbox.send_pending if self.outbox else None,
                         notifier=self._build_notifier(db))
        pipeline = _Serialised(None, handler.lock)
        self.connectors = self.build_helpdesks(db, pipeline)
        loaded = self._pipeline(db)
        pipeline.load(loaded)  # the rules load last, once the config is known good
        self._policy_known(loaded)
        renderer = getattr(getattr(loaded, "effects", None), "renderer", None)
        for problem in renderer.check() if renderer is not None else ():  # compiled now, not at the first draft
            log.warning("reply template unusable", extra={"error": problem})
        if self.settle_heap:  # what start-up built lives as long as the process: out of the collector's walks
            from gateway.runtime import settle_heap

            settle_heap()
        handler.process = pipeline.process_joined  # in the handler's savepoint per message
        handler.prepare = pipeline.prepare  # once per IMAP fetch, before its messages
        self.metrics.memory = functools.partial(_memory_sizes, pipeline)
        from gateway.mail.acknowledge import wire_acknowledgments  # the policy's automatic acknowledgments

        handler.process = wire_acknowledgments(db, pipeline, self.outbox, handler.process, self.config)
        try:
            return await self._serve(db, sources)
        finally:
            for connector in self.connectors:
                with contextlib.suppress(Exception):
                    await connector.aclose()

    async def _serve(self, db: Database, sources: list[Source]) -> int:
        assert self.stop_event is not None
        self._install_signals()
        log.info("gateway started", extra={"count": len(sources), "state": "once" if self.once else "daemon"})
        self.started.set()
        if self.once:
            results = await asyncio.gather(*(s.run(self.stop_event, once=True) for s in sources),
                                           return_exceptions=True)
            await self.jobs.run_once()
            failed = [r for r in results if isinstance(r, BaseException)]
            for exc in failed:
                log.error("source failed", extra={"error": f"{type(exc).__name__}: {exc}"[:300]})
            stats = self.metrics.sources()
            log.info("pass complete", extra={"processed": sum(s.processed for s in stats),
                                             "failed": sum(s.failed for s in stats),
                                             "duplicates": sum(s.duplicates for s in stats)})
            return 1 if failed else 0

        self.jobs.start()
        web_task = asyncio.create_task(self._serve_web(db)) if self.serve_web else None
        tasks = [asyncio.create_task(s.run(self.stop_event), name=f"source:{s.name}") for s in sources]
        for task in tasks:
            task.add_done_callback(_report_source_end)
        await self.stop_event.wait()
        log.info("stopping: finishing the messages in hand")
        await asyncio.gather(*tasks, return_exceptions=True)
        self.jobs.shutdown()
        if self.outbox is not None:  # let a reply being sent finish and be recorded
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.outbox.idle(), timeout=30)
        if self.web_server is not None:
            self.web_server.should_exit = True
        if web_task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(web_task, timeout=10)
        return 0

    def request_stop(self) -> None:
        """Ask the daemon to stop; safe from any thread."""
        if self.loop is not None and self.stop_event is not None:
            self.loop.call_soon_threadsafe(self.stop_event.set)

    def _install_signals(self) -> None:
        assert self.loop is not None and self.stop_event is not None
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                self.loop.add_signal_handler(sig, self.stop_event.set)

    async def _serve_web(self, db: Database) -> None:
        import uvicorn

        app = self.web_app(db)
        console = self.config.console
        server = _QuietServer(uvicorn.Config(app, host=console.host, port=console.port, log_config=None,
                                             access_log=False, lifespan="on"))
        self.web_server = server
        log.info("console listening", extra={"listen": console.listen})
        watcher = asyncio.create_task(self._announce_console(server))
        try:
            await server.serve()
        except (OSError, SystemExit) as exc:
            log.error("console could not start", extra={"listen": console.listen, "error": str(exc)})
        finally:
            watcher.cancel()

    async def _announce_console(self, server: "_QuietServer") -> None:
        """Once the console accepts connections, tell the operator where it is and, with no
        configured users, the one-time token: on the terminal only, never in the log."""
        if self.announce is None:
            return
        while not server.started:
            await asyncio.sleep(0.05)
        url = f"http://{self.config.console.listen}/login"
        self.announce(f"Console: {url} — token: {self.login_token}" if self.login_token else f"Console: {url}")

    def web_app(self, db: Database) -> Any:
        """The console app with /healthz and /metrics mounted; just those routes when the console
        part is not installed."""
        from gateway.web.health import health_routes

        routes = health_routes(self.metrics)
        for connector in getattr(self, "connectors", []):
            routes += connector.webhook_routes()
        try:
            from gateway.web.app import create_app
        except ImportError:
            from starlette.applications import Starlette

            return Starlette(routes=routes)
        return create_app(self.config, db, extra_routes=routes, login_token=self.login_token)


class _ProcessOnly:
    """A bare ``process`` callable presented as a pipeline object."""

    def __init__(self, process: ProcessFn) -> None:
        self.process = process


class _Serialised:
    """The pipeline shared by the mailboxes (worker threads) and the helpdesk cycles (event
    loop): one message at a time, since the pipeline keeps in-memory state beside the store."""

    def __init__(self, pipeline: Any, lock: Any) -> None:
        self._pipeline = pipeline
        self._lock = lock

    def load(self, pipeline: Any) -> None:
        self._pipeline = pipeline

    def process(self, message: Any) -> Any:
        with self._lock:
            return self._pipeline.process(message)

    def process_joined(self, message: Any) -> Any:
        """``process`` as part of the caller's open transaction (the handler's savepoint for
        the message), without a savepoint of its own; a bare ``process`` seam as it is."""
        with self._lock:
            if isinstance(self._pipeline, _ProcessOnly):
                return self._pipeline.process(message)
            return self._pipeline.process(message, joined=True)

    def prepare(self, messages: list[Any]) -> None:
        """The pipeline's work for a whole batch before its messages are processed, if it has any."""
        prepare = getattr(self._pipeline, "prepare", None)
        if prepare is not None:
            with self._lock:
                prepare(messages)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pipeline, name)


def _report_source_end(task: asyncio.Task[Any]) -> None:
    """A source's loop only ends when the daemon stops; anything else is a bug worth a log line."""
    if task.cancelled():
        return
    exc = task.exception()
    if exc is not None:
        log.error("source stopped unexpectedly", exc_info=exc,
                  extra={"source": task.get_name(), "error": f"{type(exc).__name__}: {exc}"[:300]})


def _memory_sizes(pipeline: Any) -> dict[str, tuple[int, int]]:
    """Entries and bytes of the pipeline's bounded caches (for /metrics): what the contact stage
    reports (``ContactTracker.memory_sizes``), nothing for a tracker without them."""
    sizes = getattr(getattr(pipeline, "tracker", None), "memory_sizes", None)
    return sizes() if sizes is not None else {}


def _not_ready(message: Any) -> Any:
    raise RuntimeError("the pipeline is not loaded yet")


class _QuietServer:
    """uvicorn's server without its own signal handling: the daemon owns SIGTERM."""

    def __init__(self, config: Any) -> None:
        import uvicorn

        class Server(uvicorn.Server):
            @contextlib.contextmanager
            def capture_signals(self):  # type: ignore[override]
                yield

            def install_signal_handlers(self) -> None:  # uvicorn < 0.29
                return None

        self._server = Server(config)

    @property
    def started(self) -> bool:
        return bool(self._server.started)

    @property
    def should_exit(self) -> bool:
        return bool(self._server.should_exit)

    @should_exit.setter
    def should_exit(self, value: bool) -> None:
        self._server.should_exit = value

    async def serve(self) -> None:
        await self._server.serve()


def run_daemon(config: Config, *, once: bool = False, **kwargs: Any) -> int:
    """Run the daemon to completion on a fresh event loop (what the CLI calls)."""
    return asyncio.run(Daemon(config, once=once, **kwargs).run())


__all__: Sequence[str] = ("Daemon", "default_config", "prepare_sample_maildir", "run_daemon")
