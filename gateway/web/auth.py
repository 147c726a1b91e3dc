"""Who may use the console: passwords under scrypt, tokens from the environment, and two roles.

A password is stored in the config as ``scrypt$n$r$p$salt_b64$hash_b64`` (make one with
``harassment-gateway console hash-password``); a token is never in the file, only the name of the
environment variable that holds it. An *agent* handles reply drafts; a *lead* also decides holds.

Checks run in constant time where it matters: an unknown user name still costs one scrypt, and
tokens are compared with :func:`hmac.compare_digest`, so neither timing nor errors tell an
attacker which names exist.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from gateway.config import Config, ConsoleUser
from gateway.errors import ConfigError

__all__ = [
    "ROLES",
    "Authenticator",
    "LoginThrottle",
    "PasswordHash",
    "Principal",
    "FIRST_RUN_USER",
    "first_run_token",
    "hash_password",
    "is_loopback",
    "verify_password",
]

#: The roles a console user can have, and what each may do.
ROLES: dict[str, frozenset[str]] = {
    "agent": frozenset({"drafts", "disputes"}),
    "lead": frozenset({"drafts", "disputes", "holds", "audit"}),
}

# OWASP lists N=2^17, r=8, p=1 (128 MiB) as its scrypt baseline; 2^15 (32 MiB, about 0.3 s per
# login on a 2-core server) keeps a small console host responsive while still costing an attacker
# that much per guess. hash_password(n=...) takes a larger N where the host allows it.
DEFAULT_N = 2**15
DEFAULT_R = 8
DEFAULT_P = 1
_DKLEN = 32
_SALT_BYTES = 16
MIN_TOKEN_LENGTH = 24
#: The lead user a one-time console token logs in as when the config lists no console users.
FIRST_RUN_USER = "admin"


@dataclass(frozen=True)
class Principal:
    """A logged-in console user: the actor recorded in the audit trail."""

    name: str
    role: str

    def can(self, permission: str) -> bool:
        """True when the user's role grants ``permission`` (``drafts``, ``disputes``, ``holds``, ``audit``)."""
        return permission in ROLES.get(self.role, frozenset())

    @property
    def is_lead(self) -> bool:
        return self.role == "lead"


@dataclass(frozen=True)
class PasswordHash:
    """A parsed ``scrypt$n$r$p$salt$hash`` string."""

    n: int
    r: int
    p: int
    salt: bytes
    digest: bytes

    @classmethod
    def parse(cls, encoded: str) -> "PasswordHash":
        """Read the stored form; a malformed one raises ``ValueError`` saying what is wrong."""
        parts = encoded.split("$")
        if len(parts) != 6 or parts[0] != "scrypt":
            raise ValueError("expected scrypt$n$r$p$salt_b64$hash_b64")
        try:
            n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
            salt = base64.b64decode(parts[4], validate=True)
            digest = base64.b64decode(parts[5], validate=True)
        except (ValueError, binascii.Error):
            raise ValueError("n, r, p must be integers and salt, hash base64") from None
        if n < 2**14 or n & (n - 1):
            raise ValueError(f"n={n} must be a power of two of at least 16384")
        if not (1 <= r <= 64 and 1 <= p <= 16):
            raise ValueError(f"r={r}, p={p} out of range")
        if len(salt) < 16 or len(digest) < 16:
            raise ValueError("salt and hash must be at least 16 bytes")
        return cls(n, r, p, salt, digest)

    def matches(self, password: str) -> bool:
        candidate = _scrypt(password, self.salt, self.n, self.r, self.p, len(self.digest))
        return hmac.compare_digest(candidate, self.digest)

    def __str__(self) -> str:
        return "$".join(
            [
                "scrypt",
                str(self.n),
                str(self.r),
                str(self.p),
                base64.b64encode(self.salt).decode("ascii"),
                base64.b64encode(self.digest).decode("ascii"),
            ]
        )


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, dklen: int) -> bytes:
    # maxmem must cover 128 * n * r * p bytes plus slack, or OpenSSL refuses larger n.
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=dklen, maxmem=256 * n * r * p + 2**20
    )


def hash_password(password: str, *, n: int = DEFAULT_N, r: int = DEFAULT_R, p: int = DEFAULT_P) -> str:
    """Hash ``password`` with a fresh random salt, in the config's ``password_hash`` format."""
    if not password:
        raise ValueError("an empty password cannot be used")
    salt = secrets.token_bytes(_SALT_BYTES)
    hashed = PasswordHash(n, r, p, salt, _scrypt(password, salt, n, r, p, _DKLEN))
    return str(hashed)


def verify_password(password: str, encoded: str) -> bool:
    """True when ``password`` matches the stored ``encoded`` hash; a malformed hash never matches."""
    try:
        return PasswordHash.parse(encoded).matches(password)
    except ValueError:
        return False


# A hash no password matches, so an unknown user name costs as much as a known one.
_DUMMY = PasswordHash(DEFAULT_N, DEFAULT_R, DEFAULT_P, b"\0" * _SALT_BYTES, b"\0" * _DKLEN)


@dataclass(frozen=True)
class _Account:
    principal: Principal
    password: PasswordHash | None
    token: str | None


class Authenticator:
    """Checks credentials against the configured console users.

    Built once at start from the config (:meth:`from_config`), which is where a malformed hash,
    a missing token variable or a too-short token is refused with the key that names it.
    """

    def __init__(self, accounts: Iterable[_Account]) -> None:
        self._accounts: dict[str, _Account] = {}
        for account in accounts:
            self._accounts[account.principal.name] = account

    @classmethod
    def from_config(cls, config: Config, *, first_run_token: str | None = None) -> "Authenticator":
        """The configured users; with none configured and ``first_run_token`` given, one lead
        user (``admin``) whose only credential is that token, for this process only."""
        if not config.console.users and first_run_token:
            if len(first_run_token) < MIN_TOKEN_LENGTH:
                raise ValueError(f"a console token needs at least {MIN_TOKEN_LENGTH} characters")
            return cls([_Account(Principal(FIRST_RUN_USER, "lead"), None, first_run_token)])
        accounts = []
        seen: set[str] = set()
        for i, user in enumerate(config.console.users):
            key = f"console.users[{i}]"
            accounts.append(_account(config, user, key))
            if user.name in seen:
                raise ConfigError(f"{key}.name: user {user.name!r} is listed twice")
            seen.add(user.name)
        return cls(accounts)

    @property
    def users(self) -> list[Principal]:
        return [a.principal for a in self._accounts.values()]

    def lookup(self, name: str) -> Principal | None:
        """The current principal for a session's user name (None when the user was removed)."""
        account = self._accounts.get(name)
        return account.principal if account else None

    def check_password(self, name: str, password: str) -> Principal | None:
        account = self._accounts.get(name)
        stored = account.password if account and account.password else None
        ok = (stored or _DUMMY).matches(password)
        return account.principal if ok and account and stored else None

    def check_token(self, token: str) -> Principal | None:
        found: Principal | None = None
        supplied = token.encode("utf-8")
        for account in self._accounts.values():  # compare against every token: no early exit
            if account.token is not None and hmac.compare_digest(account.token.encode("utf-8"), supplied):
                found = account.principal
        return found


def is_loopback(host: str) -> bool:
    """True when ``host`` (``127.0.0.1``, ``[::1]``, ``localhost``) is reachable only from this machine."""
    host = host.strip().strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def first_run_token(config: Config, host: str | None = None) -> str | None:
    """The one-time console token for a config with no ``console.users`` (the embedded defaults),
    as Jupyter does: a fresh random token, valid for this process only, for a lead named ``admin``.

    None when users are configured (they log in as configured). With no users and a console
    reachable beyond this machine (``host``, default ``console.listen``'s), refuses with
    :class:`ConfigError`: a token printed on one terminal must not open a console on the network.
    """
    if config.console.users:
        return None
    host = config.console.host if host is None else host
    if not is_loopback(host):
        raise ConfigError(
            f"console.listen: {host} is reachable beyond this machine but console.users "
            "is empty; add users (see `harassment-gateway console hash-password`) or listen on 127.0.0.1"
        )
    return secrets.token_urlsafe(32)


def _account(config: Config, user: ConsoleUser, key: str) -> _Account:
    if user.role not in ROLES:
        raise ConfigError(f"{key}.role: expected one of {', '.join(ROLES)}, got {user.role!r}")
    password = None
    if user.password_hash:
        try:
            password = PasswordHash.parse(user.password_hash)
        except ValueError as exc:
            raise ConfigError(
                f"{key}.password_hash: {exc} (make one with `harassment-gateway console hash-password`)"
            ) from None
    token = None
    if user.token_env:
        token = config.secret(user.token_env, key=f"{key}.token_env")
        if len(token) < MIN_TOKEN_LENGTH:
            raise ConfigError(
                f"{key}.token_env: the token in {user.token_env} is shorter than {MIN_TOKEN_LENGTH} "
                "characters; use e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`"
            )
    if password is None and token is None:
        raise ConfigError(f"{key}: give the user a password_hash or a token_env, or it can never log in")
    return _Account(Principal(user.name, user.role), password, token)


class LoginThrottle:
    """Slows password guessing: after ``limit`` failures for one key (a user name, or the client
    address for token attempts) within ``window`` seconds, that key is refused until the oldest
    failure ages out. A success clears the key. Kept in memory: a restart forgives, which is fine
    for a console that binds to localhost by default."""

    MAX_KEYS = 10_000

    def __init__(self, limit: int = 5, window: float = 900.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._failures: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str) -> list[float]:
        cutoff = self._clock() - self.window
        recent = [t for t in self._failures.get(key, []) if t > cutoff]
        if recent:
            self._failures[key] = recent
        else:
            self._failures.pop(key, None)
        return recent

    def blocked(self, key: str) -> bool:
        with self._lock:
            return len(self._recent(key)) >= self.limit

    def failed(self, key: str) -> None:
        with self._lock:
            if len(self._failures) >= self.MAX_KEYS:  # many guessed names: forget what has aged out
                for stale in list(self._failures):
                    self._recent(stale)
            self._failures[key] = [*self._recent(key), self._clock()]

    def succeeded(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)
