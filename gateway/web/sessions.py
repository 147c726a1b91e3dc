"""Console sessions in a signed cookie (HMAC-SHA256), and the CSRF token each session carries.

The cookie holds only the user name, role, CSRF token and expiry — never message text. It is
``HttpOnly`` and ``SameSite=Strict`` always, ``Secure`` whenever the request came over HTTPS, and it
expires after :data:`MAX_AGE` seconds whatever the browser does. A cookie whose signature does not
verify is ignored, as if there were none.

The middleware puts a plain dict at ``scope["session"]`` (what ``request.session`` reads) and
writes the cookie back only when the dict changed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["CSRF_FIELD", "MAX_AGE", "SessionCodec", "SignedSessionMiddleware", "csrf_token", "csrf_ok"]

COOKIE = "hg_session"
MAX_AGE = 12 * 3600  # a working day; then log in again
CSRF_FIELD = "csrf_token"


class SessionCodec:
    """Turns a session dict into a signed, expiring cookie value and back."""

    def __init__(self, secret: bytes, *, max_age: int = MAX_AGE, clock: Any = time.time) -> None:
        if len(secret) < 16:
            raise ValueError("the session secret must be at least 16 bytes")
        self._key = hashlib.sha256(b"hg-console-session\0" + secret).digest()
        self.max_age = max_age
        self._clock = clock

    def _sign(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()

    def encode(self, session: dict[str, Any]) -> str:
        body = dict(session, _exp=int(self._clock()) + self.max_age)
        payload = base64.urlsafe_b64encode(json.dumps(body, separators=(",", ":")).encode("utf-8"))
        signature = base64.urlsafe_b64encode(self._sign(payload))
        return (payload + b"." + signature).decode("ascii")

    def decode(self, value: str) -> dict[str, Any] | None:
        """The session, or None when the value is forged, damaged or expired."""
        try:
            payload, _, signature = value.encode("ascii").partition(b".")
            if not hmac.compare_digest(base64.urlsafe_b64decode(signature), self._sign(payload)):
                return None
            body = json.loads(base64.urlsafe_b64decode(payload))
        except (UnicodeEncodeError, binascii.Error, ValueError):
            return None
        if not isinstance(body, dict) or not isinstance(body.get("_exp"), int):
            return None
        if body.pop("_exp") < self._clock():
            return None
        return body


class _Session(dict[str, Any]):
    modified = False

    def __setitem__(self, key: str, value: Any) -> None:
        self.modified = True
        super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        self.modified = True
        super().__delitem__(key)

    def clear(self) -> None:
        self.modified = True
        super().clear()

    def pop(self, key: str, *default: Any) -> Any:
        self.modified = self.modified or key in self
        return super().pop(key, *default)

    def update(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        self.modified = True
        super().update(*args, **kwargs)

    def setdefault(self, key: str, default: Any = None) -> Any:
        if key not in self:
            self.modified = True
        return super().setdefault(key, default)


class SignedSessionMiddleware:
    """ASGI middleware: load the session from the cookie, write it back when it changed."""

    def __init__(self, app: ASGIApp, codec: SessionCodec, *, cookie: str = COOKIE, force_secure: bool = False) -> None:
        self.app = app
        self.codec = codec
        self.cookie = cookie
        self.force_secure = force_secure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        connection = HTTPConnection(scope)
        raw = connection.cookies.get(self.cookie)
        loaded = self.codec.decode(raw) if raw else None
        session = _Session(loaded or {})
        scope["session"] = session
        secure = self.force_secure or scope.get("scheme") == "https"

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start" and (session.modified or (raw and loaded is None)):
                headers = MutableHeaders(scope=message)
                flags = "Path=/; HttpOnly; SameSite=Strict" + ("; Secure" if secure else "")
                if session:
                    value = self.codec.encode(dict(session))
                    headers.append("Set-Cookie", f"{self.cookie}={value}; Max-Age={self.codec.max_age}; {flags}")
                else:
                    headers.append("Set-Cookie", f"{self.cookie}=; Max-Age=0; {flags}")
                headers.add_vary_header("Cookie")
            await send(message)

        await self.app(scope, receive, send_wrapper)


def csrf_token(request: HTTPConnection) -> str:
    """The session's CSRF token, made on first use; every form carries it in a hidden field."""
    session = request.session
    token = session.get("csrf")
    if not isinstance(token, str) or len(token) < 32:
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


async def csrf_ok(request: Request) -> bool:
    """True when the POSTed form's token equals the session's (compared in constant time)."""
    expected = request.session.get("csrf")
    if not isinstance(expected, str) or not expected:
        return False
    form = await request.form()
    supplied = form.get(CSRF_FIELD)
    if not isinstance(supplied, str):
        return False
    return hmac.compare_digest(supplied.encode("utf-8"), expected.encode("utf-8"))
