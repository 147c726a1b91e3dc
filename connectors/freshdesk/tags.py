"""Changing a ticket's tags without losing anyone else's.

Freshdesk has no "add tag" call: ``tags`` on Update Ticket replaces the whole list, and there is no
collision guard like Zendesk's ``safe_update`` (HELPDESK_APIS.md section B and E.2). So a change is
read, merge, write, then re-read to confirm: if the re-read shows that our additions or removals
did not stick (someone else wrote the list from an older read meanwhile), merge again from what
the re-read shows — keeping their tags — and write once more. A second lost race is an error.

A status change (a hold) rides in the same write, so a hold costs no extra call.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from connectors.freshdesk.client import FreshdeskClient
from gateway.errors import HelpdeskError

log = logging.getLogger(__name__)


@dataclass
class TagChange:
    """The outcome of :func:`change_tags`."""

    before: list[str]  # the tags as first read
    status_before: int | None
    after: list[str]  # the tags as confirmed by the last re-read
    status_after: int | None
    added: list[str] = field(default_factory=list)  # tags we added that were not there before
    writes: int = 0
    retried: bool = False


def merge(current: Iterable[str], add: Iterable[str], remove: Iterable[str]) -> list[str]:
    """``current`` minus ``remove`` plus ``add``, keeping the existing order and no duplicates."""
    drop = set(remove)
    out: list[str] = []
    for tag in list(current) + list(add):
        if tag not in drop and tag not in out:
            out.append(tag)
    return out


def _confirmed(tags: list[str], add: Iterable[str], remove: Iterable[str]) -> bool:
    present = set(tags)
    return set(add) <= present and not (set(remove) & present)


async def change_tags(
    client: FreshdeskClient,
    ticket_id: int | str,
    *,
    add: Iterable[str] = (),
    remove: Iterable[str] = (),
    status: int | None = None,
    ticket: dict[str, Any] | None = None,
) -> TagChange:
    """Add and remove tags (and optionally set the status) on a ticket, keeping other tags.

    ``ticket`` may pass a fresh read to save the first GET. Raises :class:`HelpdeskError` when the
    change was lost twice to concurrent writers.
    """
    add, remove = list(dict.fromkeys(add)), list(dict.fromkeys(remove))
    current = ticket if ticket is not None else await client.view_ticket(ticket_id)
    before = list(current.get("tags") or [])
    status_before = current.get("status")
    result = TagChange(before=before, status_before=status_before, after=before, status_after=status_before,
                       added=[t for t in add if t not in before])
    for attempt in (1, 2):
        tags = list(current.get("tags") or [])
        wanted = merge(tags, add, remove)
        body: dict[str, Any] = {}
        if wanted != tags:
            body["tags"] = wanted
        if status is not None and current.get("status") != status:
            body["status"] = status
        if not body:
            result.after, result.status_after = tags, current.get("status")
            return result
        await client.update_ticket(ticket_id, **body)
        result.writes += 1
        current = await client.view_ticket(ticket_id)  # the re-read: did our write stick?
        result.after, result.status_after = list(current.get("tags") or []), current.get("status")
        if _confirmed(result.after, add, remove):
            return result
        result.retried = True
        log.info("ticket %s: tags changed by someone else during our write; merging again (attempt %d)",
                 ticket_id, attempt)
    raise HelpdeskError(
        f"ticket {ticket_id}: the tag change was overwritten twice by concurrent edits "
        f"(wanted +{add} -{remove}, the ticket now has {result.after})",
        details={"ticket_id": str(ticket_id), "tags": result.after},
    )
