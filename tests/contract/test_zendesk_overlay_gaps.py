"""Each entry of the test-side overlay is needed: the vendor description alone refuses real calls."""

from __future__ import annotations

import json

import httpx
import pytest
from openapi_core.templating.responses.exceptions import ResponseNotFound
from openapi_core.validation.request.exceptions import (
    InvalidRequestBody,
    MissingRequiredParameter,
    SecurityValidationError,
)

from tests.contract.zendesk_overlay import HOST, ZendeskContract, openapi_unpatched, vendor_spec

pytestmark = pytest.mark.contract

BASIC = {"Authorization": "Basic Ym90QGFjbWUuZXhhbXBsZS90b2tlbjp0", "Content-Type": "application/json"}


def test_vendor_file_has_the_gaps_the_overlay_fills():
    spec = vendor_spec()
    assert set(spec["components"]["securitySchemes"]) == {"basicAuth"}
    assert "requestBody" not in spec["paths"]["/api/v2/tickets/{ticket_id}/tags"]["put"]
    assert "409" not in spec["paths"]["/api/v2/tickets/{ticket_id}"]["put"]["responses"]


def test_cursor_only_follow_up_needs_the_overlay():
    request = httpx.Request("GET", f"{HOST}/api/v2/incremental/tickets/cursor?cursor=abc", headers=BASIC)
    with pytest.raises(MissingRequiredParameter):
        ZendeskContract(openapi_unpatched()).check_request(request)
    ZendeskContract().check_request(request)


def test_bearer_auth_needs_the_overlay():
    request = httpx.Request("GET", f"{HOST}/api/v2/tickets/1", headers={"Authorization": "Bearer abc"})
    with pytest.raises(SecurityValidationError):
        ZendeskContract(openapi_unpatched()).check_request(request)
    ZendeskContract().check_request(request)


def test_overlay_still_rejects_a_wrong_status_and_missing_auth():
    contract = ZendeskContract()
    bad = httpx.Request("PUT", f"{HOST}/api/v2/tickets/1", headers=BASIC,
                        content=json.dumps({"ticket": {"status": "on-hold"}}).encode())
    with pytest.raises(InvalidRequestBody):
        contract.check_request(bad)
    with pytest.raises(SecurityValidationError):
        contract.check_request(httpx.Request("GET", f"{HOST}/api/v2/tickets/1"))


def test_tags_body_is_checked_after_the_overlay():
    contract = ZendeskContract()
    good = httpx.Request("PUT", f"{HOST}/api/v2/tickets/1/tags", headers=BASIC,
                         content=json.dumps({"tags": ["hg_threat"], "safe_update": True,
                                             "updated_stamp": "2026-11-26T09:00:00Z"}).encode())
    contract.check_request(good)
    bad = httpx.Request("PUT", f"{HOST}/api/v2/tickets/1/tags", headers=BASIC,
                        content=json.dumps({"tags": "hg_threat"}).encode())
    with pytest.raises(InvalidRequestBody):
        contract.check_request(bad)


def test_error_answers_validate_only_with_the_overlay():
    request = httpx.Request("PUT", f"{HOST}/api/v2/tickets/1", headers=BASIC, content=b'{"ticket":{}}')
    conflict = httpx.Response(409, json={"error": "UpdateConflict", "description": "Safe Update prevented the update"})
    ZendeskContract().check_response(request, conflict)
    with pytest.raises(ResponseNotFound):
        ZendeskContract(openapi_unpatched()).check_response(request, conflict)
