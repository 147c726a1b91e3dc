"""JSON logs for the daemon, one object per line, never carrying message bodies.

A record carries only what its caller passed in ``extra`` under an allowed name (source, mailbox,
uid, message_id, customer, reason...): the formatter drops every other attribute, so a stray
``extra={"text": ...}`` cannot put a customer's words in the log.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from datetime import datetime, timezone
from typing import Any, TextIO

#: The ``extra`` keys a log line may carry. Bodies, subjects and evidence are deliberately absent.
ALLOWED_FIELDS = frozenset(
    {
        "source", "mailbox", "uid", "uids", "uidvalidity", "message_id", "customer", "reason",
        "count", "processed", "failed", "delay", "attempt", "draft_id", "hold_id", "code",
        "error", "state", "folder", "job", "listen", "path", "elapsed", "lag", "duplicates",
    }
)


class JsonFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "msg", ...allowed extras}``; exceptions as their type and text."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key in ALLOWED_FIELDS:
            if key in record.__dict__:
                out[key] = _plain(record.__dict__[key])
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            out["exc"] = f"{type(exc).__name__}: {exc}"[:500]
            # code locations only (file, line, function), so a bug can be found without content
            out["trace"] = [f"{f.filename}:{f.lineno} {f.name}" for f in traceback.extract_tb(record.exc_info[2])][-8:]
        return json.dumps(out, ensure_ascii=False, default=str)


def _plain(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(v) for v in value][:50]
    return str(value)


def setup_logging(level: str | int = "INFO", stream: TextIO | None = None) -> None:
    """Send every ``gateway.*`` (and ``connectors.*``) log line to ``stream`` as JSON."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    for existing in list(root.handlers):
        if getattr(existing, "_hg_json", False):
            root.removeHandler(existing)
    handler._hg_json = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    # Third-party chatter that can echo protocol lines (and so message content) stays quiet.
    for noisy in ("imapclient", "imapclient.imaplib", "aiosmtplib", "apscheduler", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
