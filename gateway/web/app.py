"""The gateway's web application: the team-lead console, plus routes other parts mount.

``create_app(config, db)`` builds one Starlette app. The console's pages come from
:mod:`gateway.web.console`; health, metrics and helpdesk webhooks are passed in by their owners
through ``extra_routes`` (they authenticate themselves and take no console session or CSRF token).

Every response carries headers that keep the pages to themselves: no framing, no scripts at all
(the console needs none), no referrer leaking customer keys in URLs to other sites.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import jinja2
from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.middleware import Middleware
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.config import Config
from gateway.store.db import Database
from gateway.web.auth import Authenticator, LoginThrottle, first_run_token
from gateway.web.sessions import MAX_AGE, SessionCodec, SignedSessionMiddleware

__all__ = ["ConsoleState", "create_app", "SECURITY_HEADERS"]

log = logging.getLogger(__name__)

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"

SECURITY_HEADERS: dict[str, str] = {
    "content-security-policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}


class ConsoleState:
    """What the console's handlers share: config, store, who may log in, templates, the clock."""

    def __init__(
        self,
        config: Config,
        db: Database,
        authenticator: Authenticator,
        templates: jinja2.Environment,
        clock: Callable[[], datetime],
        login_token: str | None = None,
    ) -> None:
        self.config = config
        self.login_token = login_token  # the one-time token when no users are configured
        self.db = db
        self.auth = authenticator
        self.templates = templates
        self.clock = clock
        self.throttle = LoginThrottle()
        self._stores: dict[str, Any] = {}
        self._lock = threading.Lock()

    def store(self, name: str, factory: Callable[[Database], Any]) -> Any:
        """One instance per store class for the app's lifetime (each migrates its tables once)."""
        with self._lock:
            if name not in self._stores:
                self._stores[name] = factory(self.db)
            return self._stores[name]


class _SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_wrapper)


def make_templates() -> jinja2.Environment:
    """The Jinja2 environment for console pages: autoescaped always, undefined names are errors."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = _format_time
    return env


def _format_time(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return str(value)


def _session_secret(config: Config) -> bytes:
    if config.console.secret_env:
        return config.secret(config.console.secret_env, key="console.secret_env").encode("utf-8")
    # No configured key: sessions last until the process restarts, which is safe, just less handy.
    return secrets.token_bytes(32)


def create_app(
    config: Config,
    db: Database,
    *,
    extra_routes: Sequence[BaseRoute] = (),
    clock: Callable[[], datetime] | None = None,
    login_token: str | None = None,
) -> Starlette:
    """Build the web app: console pages, then ``extra_routes`` (health, metrics, webhooks).

    With no ``console.users`` (the embedded defaults) the console admits one lead, ``admin``, by
    a one-time token: ``login_token`` when the caller made one to print (the daemon), else a fresh
    one, kept on ``app.state.console.login_token``. That only on a loopback ``console.listen``.

    Raises :class:`gateway.errors.ConfigError` for a bad console user entry, a missing secret, or
    no users on a non-loopback address, so a misconfigured console refuses to start rather than
    letting nobody (or anybody) in.
    """
    from gateway.web import console  # the pages import the stores; keep app import light

    if not config.console.users:
        made = first_run_token(config)  # refuses a console on the network that nobody configured
        login_token = login_token or made
        log.info("console: no users configured; a one-time token admits the lead 'admin' (not logged)")
    else:
        login_token = None
    authenticator = Authenticator.from_config(config, first_run_token=login_token)
    state = ConsoleState(
        config=config,
        db=db,
        authenticator=authenticator,
        templates=make_templates(),
        clock=clock or (lambda: datetime.now(timezone.utc)),
        login_token=login_token,
    )
    codec = SessionCodec(_session_secret(config), max_age=MAX_AGE)
    app = Starlette(
        routes=[*console.routes(), *extra_routes],
        middleware=[
            Middleware(_SecurityHeaders),
            Middleware(SignedSessionMiddleware, codec=codec),
        ],
        exception_handlers=console.exception_handlers(),
    )
    app.state.console = state
    return app
