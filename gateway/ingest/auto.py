"""Mail no person wrote: bounces, auto-replies, bulk and list mail (RFC 3834).

The gateway never answers such mail, and an out-of-office note is not a customer's words.
"""

from __future__ import annotations

from gateway.model import Message

__all__ = ["automated_reason"]

_DAEMONS = ("mailer-daemon@", "postmaster@")


def automated_reason(message: Message) -> str | None:
    """Why ``message`` is automated (e.g. ``"Auto-Submitted: auto-replied"``), or None for a person's mail."""
    h = message.headers
    auto = h.get("auto-submitted", "").strip().lower()
    if auto and auto.split(";", 1)[0].strip() != "no":
        return f"Auto-Submitted: {auto}"
    content_type = h.get("content-type", "").lower()
    if content_type.startswith("multipart/report"):
        return "multipart/report (a delivery or read report)"
    precedence = h.get("precedence", "").strip().lower()
    if precedence in ("bulk", "junk", "list", "auto_reply"):
        return f"Precedence: {precedence}"
    if "list-id" in h:
        return "List-Id: mailing list mail"
    for name in ("x-autoreply", "x-autorespond", "x-auto-reply"):
        if name in h:
            return f"{name}: {h[name]}"
    if h.get("return-path", "").strip() == "<>":
        return "Return-Path: <> (a bounce)"
    if message.sender.startswith(_DAEMONS):
        return f"From: {message.sender}"
    return None
