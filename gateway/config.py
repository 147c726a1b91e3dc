"""The gateway's config file (YAML), validated once into typed objects and passed down.

Secrets never live in the file: a source names the environment variable that holds its password
(``password_env``), and ``Config.secret(name)`` reads it. Nothing deeper in the code reads the
environment. Errors name the key: ``sources[0].port: expected an integer, got 'abc'``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from email.utils import parseaddr
from typing import Any, Mapping

import yaml

from gateway.errors import ConfigError


@dataclass(frozen=True)
class StoreConfig:
    path: str = "gateway.db"
    retention_days: int = 90
    #: the message store's cache of recent rows, in MiB (what the contact stage reads for every
    #: message); it fills to its working set (the duplicate lookback's mail) or to this, then stays
    cache_mb: int = 64


@dataclass(frozen=True)
class SourceConfig:
    name: str
    type: str  # imap | maildir
    # imap
    host: str = ""
    port: int = 0
    security: str = "ssl"  # ssl | starttls | none
    username: str = ""
    password_env: str = ""
    mailbox: str = "INBOX"
    mailboxes: tuple[str, ...] = ()
    held_folder: str = "Held"
    quarantine_folder: str = ""
    idle: bool = True
    idle_timeout: int = 1500  # seconds: renew IDLE before the server's 30-minute limit
    poll_interval: int = 60
    # maildir
    path: str = ""

    @property
    def all_mailboxes(self) -> tuple[str, ...]:
        return self.mailboxes or (self.mailbox,)


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int = 587
    security: str = "starttls"
    username: str = ""
    password_env: str = ""
    sender: str = ""  # the "from" key
    own_addresses: tuple[str, ...] = ()
    #: who the policy's ``escalate: {to: [...]}`` names, by role (``leads``, ``legal``): the
    #: addresses each role's notices are mailed to (``gateway.mail.notify``)
    notify: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class ConsoleUser:
    name: str
    role: str  # agent | lead
    password_hash: str = ""  # scrypt$n$r$p$salt_b64$hash_b64
    token_env: str = ""


@dataclass(frozen=True)
class ConsoleConfig:
    listen: str = "127.0.0.1:8080"
    users: tuple[ConsoleUser, ...] = ()
    secret_env: str = ""  # session-signing key; a random one per start when unset
    #: the address people open the console at (behind a proxy, say), for links in notices to
    #: leads; empty: ``http://`` + ``listen``
    url: str = ""

    @property
    def host(self) -> str:
        return self.listen.rsplit(":", 1)[0] or "127.0.0.1"

    @property
    def port(self) -> int:
        return int(self.listen.rsplit(":", 1)[1])


@dataclass(frozen=True)
class HelpdeskConfig:
    """A helpdesk entry. ``options`` keeps the connector-specific keys; each connector validates
    them into its own typed config (``connectors.<type>.config``)."""

    name: str
    type: str  # zendesk | freshdesk
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Config:
    store: StoreConfig = field(default_factory=StoreConfig)
    sources: tuple[SourceConfig, ...] = ()
    smtp: SmtpConfig | None = None
    console: ConsoleConfig = field(default_factory=ConsoleConfig)
    helpdesks: tuple[HelpdeskConfig, ...] = ()
    policy: str = ""  # path to a policy.yaml; empty: the shipped default
    rules: str = ""  # path to a rules/ directory; empty: the shipped one
    base_dir: str = "."  # relative paths in the file are resolved against the file's folder
    env: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    def secret(self, env_name: str, *, key: str) -> str:
        """The value of the environment variable ``env_name``, which the config key ``key`` names."""
        if not env_name:
            raise ConfigError(f"{key}: no environment variable named for this secret")
        value = self.env.get(env_name)
        if value is None:
            raise ConfigError(f"{key}: environment variable {env_name} is not set")
        return value

    def resolve(self, path: str) -> str:
        p = Path(path).expanduser()
        return str(p if p.is_absolute() else Path(self.base_dir) / p)


_TOP_KEYS = {"store", "sources", "smtp", "console", "helpdesks", "policy", "rules"}


def load_config(path: str | Path | None, env: Mapping[str, str] | None = None) -> Config:
    """Read and validate a config file; ``None`` gives the embedded defaults."""
    env = dict(os.environ if env is None else env)
    if path is None:
        return Config(env=env)
    p = Path(path)
    try:
        raw = yaml.safe_load(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read config: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{p}{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from exc
    return parse_config(raw or {}, env=env, base_dir=str(p.resolve().parent), origin=str(p))


def parse_config(
    raw: Any, *, env: Mapping[str, str] | None = None, base_dir: str = ".", origin: str = "config"
) -> Config:
    env = dict(os.environ if env is None else env)
    if not isinstance(raw, dict):
        raise ConfigError(f"{origin}: the top level must be a mapping")
    unknown = set(raw) - _TOP_KEYS
    if unknown:
        raise ConfigError(f"{sorted(unknown)[0]}: unknown key (expected one of {', '.join(sorted(_TOP_KEYS))})")
    store = _store(raw.get("store") or {})
    sources = tuple(_source(s, f"sources[{i}]") for i, s in enumerate(_list(raw.get("sources"), "sources")))
    names = [s.name for s in sources]
    for name in names:
        if names.count(name) > 1:
            raise ConfigError(f"sources: name {name!r} is used twice")
    smtp = _smtp(raw["smtp"]) if raw.get("smtp") else None
    console = _console(raw.get("console") or {})
    helpdesks = tuple(_helpdesk(h, f"helpdesks[{i}]") for i, h in enumerate(_list(raw.get("helpdesks"), "helpdesks")))
    return Config(
        store=store,
        sources=sources,
        smtp=smtp,
        console=console,
        helpdesks=helpdesks,
        policy=_str(raw, "policy", "policy", ""),
        rules=_str(raw, "rules", "rules", ""),
        base_dir=base_dir,
        env=env,
    )


# -- helpers ---------------------------------------------------------------------------------------

def _list(value: Any, key: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ConfigError(f"{key}: expected a list")
    return value


def _map(value: Any, key: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{key}: expected a mapping")
    return value


def _str(d: dict[str, Any], name: str, key: str, default: str | None = None) -> str:
    if name not in d or d[name] is None:
        if default is None:
            raise ConfigError(f"{key}: required")
        return default
    value = d[name]
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise ConfigError(f"{key}: expected a string, got {value!r}")
    return str(value)


def _int(d: dict[str, Any], name: str, key: str, default: int | None = None) -> int:
    if name not in d or d[name] is None:
        if default is None:
            raise ConfigError(f"{key}: required")
        return default
    value = d[name]
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            return int(str(value))
        except ValueError:
            raise ConfigError(f"{key}: expected an integer, got {value!r}") from None
    return value


def _bool(d: dict[str, Any], name: str, key: str, default: bool) -> bool:
    value = d.get(name, default)
    if not isinstance(value, bool):
        raise ConfigError(f"{key}: expected true or false, got {value!r}")
    return value


def _check_keys(d: dict[str, Any], allowed: set[str], key: str) -> None:
    for k in d:
        if k not in allowed:
            raise ConfigError(f"{key}.{k}: unknown key (expected one of {', '.join(sorted(allowed))})")


def _reject_inline_secrets(d: dict[str, Any], key: str) -> None:
    for secret in ("password", "token", "api_key", "secret"):
        if secret in d:
            raise ConfigError(
                f"{key}.{secret}: secrets are not read from the file; name an environment variable "
                f"with {secret}_env instead"
            )


def _store(d: Any) -> StoreConfig:
    d = _map(d, "store")
    _check_keys(d, {"path", "retention_days", "cache_mb"}, "store")
    days = _int(d, "retention_days", "store.retention_days", 90)
    if days < 1:
        raise ConfigError("store.retention_days: must be at least 1")
    cache_mb = _int(d, "cache_mb", "store.cache_mb", 64)
    if not 1 <= cache_mb <= 65536:
        raise ConfigError("store.cache_mb: must be between 1 and 65536 (MiB)")
    return StoreConfig(path=_str(d, "path", "store.path", "gateway.db"), retention_days=days, cache_mb=cache_mb)


_SECURITY = {"ssl", "starttls", "none"}
_ADDRESS = re.compile(r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+")


def _source(d: Any, key: str) -> SourceConfig:
    d = _map(d, key)
    _reject_inline_secrets(d, key)
    name = _str(d, "name", f"{key}.name")
    kind = _str(d, "type", f"{key}.type")
    if kind == "maildir":
        _check_keys(d, {"name", "type", "path", "held_folder", "quarantine_folder"}, key)
        return SourceConfig(
            name=name,
            type=kind,
            path=_str(d, "path", f"{key}.path"),
            held_folder=_str(d, "held_folder", f"{key}.held_folder", "Held"),
            quarantine_folder=_str(d, "quarantine_folder", f"{key}.quarantine_folder", ""),
        )
    if kind != "imap":
        raise ConfigError(f"{key}.type: expected imap or maildir, got {kind!r}")
    _check_keys(
        d,
        {"name", "type", "host", "port", "security", "username", "password_env", "mailbox", "mailboxes",
         "held_folder", "quarantine_folder", "idle", "idle_timeout", "poll_interval"},
        key,
    )
    security = _str(d, "security", f"{key}.security", "ssl")
    if security not in _SECURITY:
        raise ConfigError(f"{key}.security: expected ssl, starttls or none, got {security!r}")
    mailboxes = tuple(str(m) for m in _list(d.get("mailboxes"), f"{key}.mailboxes"))
    return SourceConfig(
        name=name,
        type=kind,
        host=_str(d, "host", f"{key}.host"),
        port=_int(d, "port", f"{key}.port", 993 if security == "ssl" else 143),
        security=security,
        username=_str(d, "username", f"{key}.username"),
        password_env=_str(d, "password_env", f"{key}.password_env"),
        mailbox=_str(d, "mailbox", f"{key}.mailbox", "INBOX"),
        mailboxes=mailboxes,
        held_folder=_str(d, "held_folder", f"{key}.held_folder", "Held"),
        quarantine_folder=_str(d, "quarantine_folder", f"{key}.quarantine_folder", ""),
        idle=_bool(d, "idle", f"{key}.idle", True),
        idle_timeout=_int(d, "idle_timeout", f"{key}.idle_timeout", 1500),
        poll_interval=_int(d, "poll_interval", f"{key}.poll_interval", 60),
    )


def _smtp(d: Any) -> SmtpConfig:
    d = _map(d, "smtp")
    _reject_inline_secrets(d, "smtp")
    _check_keys(d, {"host", "port", "security", "username", "password_env", "from", "own_addresses", "notify"},
                "smtp")
    security = _str(d, "security", "smtp.security", "starttls")
    if security not in _SECURITY:
        raise ConfigError(f"smtp.security: expected ssl, starttls or none, got {security!r}")
    sender = _str(d, "from", "smtp.from")
    own = tuple(str(a).lower() for a in _list(d.get("own_addresses"), "smtp.own_addresses"))
    return SmtpConfig(
        host=_str(d, "host", "smtp.host"),
        port=_int(d, "port", "smtp.port", 465 if security == "ssl" else 587),
        security=security,
        username=_str(d, "username", "smtp.username", ""),
        password_env=_str(d, "password_env", "smtp.password_env", ""),
        sender=sender,
        own_addresses=own or (sender.lower(),),
        notify=_notify(d.get("notify")),
    )


def _notify(value: Any) -> dict[str, tuple[str, ...]]:
    """``smtp.notify``: role -> addresses (a list, or one address as a string)."""
    if value is None:
        return {}
    out: dict[str, tuple[str, ...]] = {}
    for role, addresses in _map(value, "smtp.notify").items():
        key = f"smtp.notify.{role}"
        if not isinstance(role, str) or not role.strip():
            raise ConfigError(f"smtp.notify: a role name must be a non-empty string, got {role!r}")
        items = [addresses] if isinstance(addresses, str) else _list(addresses, key)
        checked = []
        for i, a in enumerate(items):
            if not isinstance(a, str) or not _ADDRESS.fullmatch(parseaddr(a)[1] or "") or "\n" in a:
                raise ConfigError(f"{key}[{i}]: expected an email address, got {a!r}")
            checked.append(a.strip())
        out[role.strip()] = tuple(checked)
    return out


def _console(d: Any) -> ConsoleConfig:
    d = _map(d, "console")
    _check_keys(d, {"listen", "users", "secret_env", "url"}, "console")
    listen = _str(d, "listen", "console.listen", "127.0.0.1:8080")
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit():
        raise ConfigError(f"console.listen: expected HOST:PORT, got {listen!r}")
    users = []
    for i, u in enumerate(_list(d.get("users"), "console.users")):
        k = f"console.users[{i}]"
        u = _map(u, k)
        _reject_inline_secrets(u, k)
        _check_keys(u, {"name", "role", "password_hash", "token_env"}, k)
        role = _str(u, "role", f"{k}.role")
        if role not in {"agent", "lead"}:
            raise ConfigError(f"{k}.role: expected agent or lead, got {role!r}")
        users.append(
            ConsoleUser(
                name=_str(u, "name", f"{k}.name"),
                role=role,
                password_hash=_str(u, "password_hash", f"{k}.password_hash", ""),
                token_env=_str(u, "token_env", f"{k}.token_env", ""),
            )
        )
    url = _str(d, "url", "console.url", "").rstrip("/")
    if url and not re.match(r"https?://[^\s/]+", url):
        raise ConfigError(f"console.url: expected an http:// or https:// address, got {url!r}")
    return ConsoleConfig(listen=listen, users=tuple(users), secret_env=_str(d, "secret_env", "console.secret_env", ""),
                         url=url)


def _helpdesk(d: Any, key: str) -> HelpdeskConfig:
    d = _map(d, key)
    _reject_inline_secrets(d, key)
    name = _str(d, "name", f"{key}.name")
    kind = _str(d, "type", f"{key}.type")
    if kind not in {"zendesk", "freshdesk"}:
        raise ConfigError(f"{key}.type: expected zendesk or freshdesk, got {kind!r}")
    options = {k: v for k, v in d.items() if k not in {"name", "type"}}
    return HelpdeskConfig(name=name, type=kind, options=options)
