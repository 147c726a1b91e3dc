"""``harassment-gateway run --check``: everything the daemon checks at start, without starting it.

Ops change the config, the policy or a lexicon and want to know before the restart whether the
daemon will come up, as ``nginx -t`` does. This runs the daemon's own checks: the config file
(already parsed by ``load_config``), every secret's environment variable, each source's folder,
the console's users and address, each helpdesk connector's settings, the store's folder, and the
policy, templates and rules loaded as the pipeline loads them. Nothing connects to a server,
reads mail or writes the store. Every problem found is reported, not only the first; secret
values are never printed.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field
from pathlib import Path

from gateway.config import Config
from gateway.errors import GatewayError


@dataclass
class CheckReport:
    """What was checked (``lines``, for a person) and what is wrong (``problems``)."""

    lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def check_config(config: Config) -> CheckReport:
    report = CheckReport()
    _store(config, report)
    _sources(config, report)
    _smtp(config, report)
    _console(config, report)
    _helpdesks(config, report)
    _rules(config, report)
    return report


def _secret(config: Config, env_name: str, key: str, report: CheckReport) -> str:
    try:
        config.secret(env_name, key=key)
    except GatewayError as exc:
        report.problems.append(str(exc))
        return f"{env_name}: NOT SET"
    return f"{env_name}: set"


def _store(config: Config, report: CheckReport) -> None:
    path = Path(config.resolve(config.store.path))
    report.lines.append(f"store     {path} (text kept {config.store.retention_days} days)")
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent  # the daemon creates missing folders: the nearest existing one must be writable
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        report.problems.append(f"store.path: {path} is not readable and writable by this user")
    elif not os.access(folder, os.W_OK | os.X_OK):
        report.problems.append(f"store.path: cannot write in {folder}")


def _sources(config: Config, report: CheckReport) -> None:
    from gateway.daemon import DEFAULT_MAILDIR

    if not config.sources and not config.helpdesks:
        report.lines.append("sources   none: the daemon would read nothing")
    for cfg in config.sources:
        key = f"sources[{cfg.name}]"
        if cfg.type == "imap":
            secret = _secret(config, cfg.password_env, f"{key}.password_env", report)
            report.lines.append(
                f"source    {cfg.name}: imap {cfg.host}:{cfg.port} ({cfg.security}), user {cfg.username}, "
                f"mailboxes {', '.join(cfg.all_mailboxes)}, held folder {cfg.held_folder}, "
                f"{'IDLE' if cfg.idle else f'polling every {cfg.poll_interval} s'}; password from {secret}")
        elif cfg.type == "maildir":
            root = Path(config.resolve(cfg.path))
            report.lines.append(f"source    {cfg.name}: maildir {root}")
            if not root.is_dir() and cfg.path != DEFAULT_MAILDIR:  # (the sample Maildir is copied at start)
                report.problems.append(f"{key}.path: {root} is not a directory")


def _smtp(config: Config, report: CheckReport) -> None:
    cfg = config.smtp
    if cfg is None:
        report.lines.append("smtp      none: approved drafts are not sent by mail")
        return
    secret = _secret(config, cfg.password_env, "smtp.password_env", report) if cfg.password_env else "no password"
    report.lines.append(f"smtp      {cfg.host}:{cfg.port} ({cfg.security}), from {cfg.sender or '-'}; {secret}")


def _console(config: Config, report: CheckReport) -> None:
    from gateway.web.auth import Authenticator, first_run_token

    users = config.console.users
    try:
        token = first_run_token(config)
        Authenticator.from_config(config, first_run_token=token)
    except (GatewayError, ValueError) as exc:
        report.problems.append(str(exc))
    who = (f"{len(users)} user(s): " + ", ".join(f"{u.name} ({u.role})" for u in users) if users
           else "no users: a one-time token is printed at start")
    report.lines.append(f"console   {config.console.listen}, {who}")


def _helpdesks(config: Config, report: CheckReport) -> None:
    if not config.helpdesks:
        return
    from connectors import create_connector
    from gateway.store.db import Database

    db = Database.open(":memory:")
    try:
        for entry in config.helpdesks:
            try:
                connector = create_connector(entry, db, config)
            except GatewayError as exc:
                report.problems.append(str(exc))
                report.lines.append(f"helpdesk  {entry.name}: {entry.type}: NOT USABLE")
                continue
            base = getattr(getattr(connector, "config", None), "base_url", "")
            report.lines.append(f"helpdesk  {entry.name}: {entry.type} {base}".rstrip())
            close = getattr(connector, "aclose", None)
            if close is not None:
                asyncio.run(close())
    finally:
        db.close()


def _rules(config: Config, report: CheckReport) -> None:
    from gateway.pipeline import Pipeline

    rules = Path(config.resolve(config.rules)) if config.rules else None
    policy = Path(config.resolve(config.policy)) if config.policy else None
    try:
        pipeline = Pipeline.create(None, rules_dir=rules, policy_path=policy)
    except GatewayError as exc:
        report.problems.append(str(exc))
        return
    detector = pipeline.detector
    n_rules = len(getattr(detector, "rules", ()))
    n_patterns = sum(len(r.patterns) for r in getattr(detector, "rules", ()))
    report.lines.append(f"rules     {rules or 'shipped'}: {n_rules} rules, {n_patterns} patterns")
    report.lines.append(f"policy    {policy or 'shipped'}")
    from gateway.drafts import DraftRenderer

    templates = pipeline.policy.templates
    unusable = DraftRenderer(templates).check()
    # As at start: the daemon comes up with an unusable template (the drafts that need it fail),
    # so it is a warning here, not a problem.
    report.lines.append(f"templates {templates}: " + (f"{len(unusable)} unusable" if unusable else "all usable"))
    report.lines.extend(f"warning   {problem}" for problem in unusable)


__all__ = ["CheckReport", "check_config"]
