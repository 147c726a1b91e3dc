"""Zendesk's error answers turned into :class:`gateway.errors.HelpdeskError`, vendor text kept.

Zendesk has no single error envelope; seen in the field and in its OpenAPI description:

- ``{"error": "RecordInvalid", "description": "Record validation errors", "details": {...}}``
- ``{"error": "RecordNotFound", "description": "Not found"}``, search's ``{"error": "invalid", ...}``
- ``{"errors": [{"code": "TooManyRequests", "title": ..., "detail": ...}]}`` (newer APIs)
- ``{"error": {"title": ..., "message": ...}}``
- plain text, e.g. a 429 saying "Number of allowed API requests per minute exceeded"
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from gateway.errors import HelpdeskError, RateLimited

_MAX_TEXT = 300


def vendor_message(response: httpx.Response) -> tuple[str, Any]:
    """The vendor's own words for an error response, and any structured details."""
    text = response.text if response.content else ""
    try:
        body = json.loads(text) if text else None
    except ValueError:
        body = None
    if isinstance(body, dict):
        err = body.get("error")
        desc = body.get("description")
        details = body.get("details")
        if isinstance(err, dict):
            parts = [str(err.get(x)) for x in ("title", "message") if err.get(x)]
            return ": ".join(parts) or json.dumps(err)[:_MAX_TEXT], err
        if isinstance(body.get("errors"), list) and body["errors"]:
            msgs = []
            for e in body["errors"]:
                if isinstance(e, dict):
                    msgs.append(" - ".join(str(e[x]) for x in ("code", "title", "detail") if e.get(x)))
                else:
                    msgs.append(str(e))
            return "; ".join(m for m in msgs if m), body["errors"]
        if err or desc:
            msg = ": ".join(str(x) for x in (err, desc) if x)
            extra = _detail_text(details)
            return (f"{msg} ({extra})" if extra else msg), details
    plain = " ".join(text.split())[:_MAX_TEXT]
    return plain or response.reason_phrase or f"HTTP {response.status_code}", None


def _detail_text(details: Any) -> str:
    """RecordInvalid's ``details`` is ``{field: [{"description": ...}, ...]}``."""
    if not isinstance(details, dict):
        return ""
    out = []
    for field, items in details.items():
        for item in items if isinstance(items, list) else [items]:
            desc = item.get("description") if isinstance(item, dict) else item
            if desc:
                out.append(f"{field}: {desc}")
    return "; ".join(out)[:_MAX_TEXT]


def error_from_response(response: httpx.Response) -> HelpdeskError:
    """The project's exception for a Zendesk error response (``RateLimited`` for 429)."""
    message, details = vendor_message(response)
    request = response.request
    where = f"{request.method} {request.url.path}"
    cls = RateLimited if response.status_code == 429 else HelpdeskError
    hint = {
        401: " (check the email/API token or OAuth token, and that token access is enabled)",
        403: " (the API user lacks permission for this)",
        404: " (the ticket or user no longer exists)",
        409: " (the ticket changed since it was read)",
    }.get(response.status_code, "")
    return cls(
        f"Zendesk {where} answered {response.status_code}: {message}{hint}",
        status=response.status_code,
        vendor_message=message,
        details=details,
        method=request.method,
        url=str(request.url.copy_with(query=None)),
    )
