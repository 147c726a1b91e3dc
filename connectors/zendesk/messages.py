"""A Zendesk comment as a gateway :class:`~gateway.model.Message`.

Only end-user comments are messages: agents' replies and the gateway's own private notes are not
customer contact. The HTML body goes through the project's HTML-to-text (``gateway.ingest``), so
quoted history and markup are handled as for mail. The sender is the customer key of the
requester's email when Zendesk knows it, so mail and Zendesk history join; otherwise a key
``zendesk:<helpdesk>:user:<id>`` stands in.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from connectors.base import external_ref
from gateway.model import Message

KIND = "zendesk"


def message_id(helpdesk: str, comment_id: int | str) -> str:
    """Stable across re-deliveries: export and webhook give the same id for the same comment."""
    return f"zendesk:{helpdesk}:comment:{comment_id}"


def user_key(helpdesk: str, user_id: int | str) -> str:
    return f"zendesk:{helpdesk}:user:{user_id}"


def actor_label(helpdesk: str, user_id: str, user: dict[str, Any] | None) -> str:
    """How the audit trail names a Zendesk user: ``zendesk:<helpdesk>:user/<id> Name <email>``."""
    if not user:
        return f"zendesk:{helpdesk}:user/{user_id}"
    name, email = user.get("name") or "", user.get("email") or ""
    label = f"{name} <{email}>" if email else name
    return f"zendesk:{helpdesk}:user/{user_id} {label}".strip()


def is_end_user_comment(comment: dict[str, Any], ticket: dict[str, Any], users: dict[str, dict]) -> bool:
    """True for comments written by an end user (not an agent, not the gateway, not a system note)."""
    author = users.get(str(comment.get("author_id")))
    if author is not None and author.get("role"):
        return author["role"] == "end-user"
    # No side-loaded author: fall back to "written by the requester, publicly".
    return bool(comment.get("public", True)) and str(comment.get("author_id")) == str(ticket.get("requester_id"))


def customer_for(helpdesk: str, requester_id: Any, email: str) -> str:
    if email:
        try:
            from gateway.ingest import customer_key
        except ImportError:  # ingest not importable: same normalisation's essentials
            local, _, domain = email.strip().lower().partition("@")
            return f"{local.split('+', 1)[0]}@{domain}" if domain else email.strip().lower()
        return customer_key(email)
    return user_key(helpdesk, requester_id)


def comment_to_message(
    helpdesk: str,
    ticket: dict[str, Any],
    comment: dict[str, Any],
    requester: dict[str, Any] | None,
) -> Message:
    """The Message for one end-user comment; ``external`` carries the ids to act on the ticket."""
    email = str((requester or {}).get("email") or "")
    sender = customer_for(helpdesk, ticket.get("requester_id"), email)
    received = _parse_time(comment.get("created_at"))
    html = comment.get("html_body")
    body = html if html else str(comment.get("plain_body") or comment.get("body") or "")
    external = external_ref(
        helpdesk=helpdesk,
        kind=KIND,
        ticket_id=ticket["id"],
        comment_id=comment["id"],
        requester_id=ticket.get("requester_id", ""),
        requester_email=email,
        ticket_updated_at=str(ticket.get("updated_at") or ""),
        requester_key=user_key(helpdesk, ticket.get("requester_id", "")),
    )
    mid = message_id(helpdesk, comment["id"])
    subject = str(ticket.get("subject") or ticket.get("raw_subject") or "")
    thread = f"zendesk:{helpdesk}:ticket:{ticket['id']}"
    name = str((requester or {}).get("name") or "")
    try:
        from gateway.ingest import message_from_text
    except ImportError:
        message_from_text = None  # type: ignore[assignment]
    if message_from_text is not None:
        msg = message_from_text(
            mid, body, subject=subject, sender=email or sender, thread=thread, received_at=received,
            source=helpdesk, html=bool(html), external=external,
        )
        if not email:
            msg.sender = sender
    else:
        msg = Message(id=mid, text=_plain(body, bool(html)), source=helpdesk, subject=subject, sender=sender,
                      thread=thread, received_at=received, external=external)
    msg.sender_address = email
    msg.display_name = name
    return msg


def _plain(body: str, html: bool) -> str:
    if not html:
        return body.strip()
    from bs4 import BeautifulSoup

    return BeautifulSoup(body, "html.parser").get_text("\n").strip()


def _parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)
