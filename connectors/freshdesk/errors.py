"""Freshdesk's error answers turned into :class:`gateway.errors.HelpdeskError`.

Freshdesk v2 answers errors with ``{"description": "Validation failed", "errors": [{"field",
"message", "code"}]}`` (``field`` only on 400; codes such as ``invalid_field`` for an unknown key,
``invalid_value``, ``access_denied``, ``require_feature``) — FD docs "Errors" (HELPDESK_APIS.md
section B). Some answers carry no JSON (a 429 body is undocumented, proxies answer HTML), so the
message falls back to the status line. The vendor's words are kept on the exception:
``vendor_message`` (the description) and ``details`` (the parsed ``errors`` list).
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from gateway.errors import HelpdeskError

_STATUS_HINTS = {
    400: "Freshdesk refused the request as invalid",
    401: "Freshdesk refused the API key (check api_key_env)",
    403: "the API key's agent may not do this (role, plan feature, or a locked agent)",
    404: "no such ticket or resource (or a wrong base_url)",
    405: "not allowed on this object (a spam/deleted ticket, or a blocked/deleted contact)",
    409: "Freshdesk reports a conflicting state",
    415: "Freshdesk wants application/json",
    429: "Freshdesk's API rate limit was reached",
}


def parse_envelope(body: bytes) -> tuple[str | None, list[dict[str, Any]]]:
    """The ``description`` and ``errors`` of a Freshdesk error body; (None, []) when not one."""
    try:
        data = json.loads(body.decode("utf-8")) if body else None
    except (UnicodeDecodeError, ValueError):
        return None, []
    if not isinstance(data, dict):
        return None, []
    description = data.get("description") if isinstance(data.get("description"), str) else None
    raw = data.get("errors")
    errors = [e for e in raw if isinstance(e, dict)] if isinstance(raw, list) else []
    if description is None and not errors and isinstance(data.get("message"), str):
        description = data["message"]  # some gateway/edge answers use {"message": ...}
    return description, errors


def error_from_response(response: httpx.Response) -> HelpdeskError:
    """A :class:`HelpdeskError` for a final error answer, naming the call and what Freshdesk said."""
    request = response.request
    description, errors = parse_envelope(response.content)
    parts = []
    for e in errors:
        field = e.get("field")
        text = f"{field}: {e.get('message', '')}" if field else str(e.get("message", ""))
        if e.get("code"):
            text += f" ({e['code']})"
        parts.append(text.strip())
    hint = _STATUS_HINTS.get(response.status_code) or (
        "Freshdesk had a server error" if response.status_code >= 500 else "Freshdesk refused the request"
    )
    said = description or ""
    if parts:
        said = f"{said}: {'; '.join(parts)}" if said else "; ".join(parts)
    message = f"{request.method} {request.url.path}: HTTP {response.status_code}: {hint}"
    if said:
        message += f" — Freshdesk says: {said}"
    return HelpdeskError(
        message,
        status=response.status_code,
        vendor_message=description,
        details={"errors": errors, "codes": [e.get("code") for e in errors if e.get("code")]},
        method=request.method,
        url=str(request.url.copy_with(query=None)),
    )
