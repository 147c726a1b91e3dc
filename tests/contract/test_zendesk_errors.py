"""Zendesk's several error envelopes become HelpdeskError with the vendor's own words kept."""

from __future__ import annotations

import httpx
import pytest

from connectors.zendesk.errors import error_from_response
from gateway.errors import HelpdeskError, RateLimited

pytestmark = pytest.mark.contract

REQUEST = httpx.Request("PUT", "https://acme.zendesk.com/api/v2/tickets/7?secret=1")


def answer(status, **kwargs):
    return httpx.Response(status, request=REQUEST, **kwargs)


@pytest.mark.parametrize(
    ("response", "vendor"),
    [
        (answer(422, json={"error": "RecordInvalid", "description": "Record validation errors",
                           "details": {"base": [{"description": "Status: closed prevents ticket update",
                                                 "error": "InvalidValue"}]}}),
         "RecordInvalid: Record validation errors (base: Status: closed prevents ticket update)"),
        (answer(404, json={"error": "RecordNotFound", "description": "Not found"}), "RecordNotFound: Not found"),
        (answer(429, json={"errors": [{"code": "TooManyRequests", "title": "Too Many Requests",
                                       "detail": "Rate limit exceeded"}]}),
         "TooManyRequests - Too Many Requests - Rate limit exceeded"),
        (answer(403, json={"error": {"title": "Forbidden", "message": "You do not have access to this page"}}),
         "Forbidden: You do not have access to this page"),
        (answer(429, text="Number of allowed API requests per minute exceeded",
                headers={"content-type": "text/plain"}),
         "Number of allowed API requests per minute exceeded"),
        (answer(400, json={"error": "invalid", "description": "Invalid search: Requested response size was greater "
                                                            "than Search Response Limits"}),
         "invalid: Invalid search: Requested response size was greater than Search Response Limits"),
        (answer(502, content=b""), "Bad Gateway"),
    ],
)
def test_vendor_message_is_kept(response, vendor):
    err = error_from_response(response)
    assert isinstance(err, HelpdeskError)
    assert err.vendor_message == vendor
    assert err.status == response.status_code
    assert vendor in str(err)
    assert err.url == "https://acme.zendesk.com/api/v2/tickets/7"  # query never kept


def test_429_is_rate_limited_and_401_says_what_to_check():
    assert isinstance(error_from_response(answer(429, text="slow down")), RateLimited)
    err = error_from_response(answer(401, json={"error": "Couldn't authenticate you"}))
    assert not isinstance(err, RateLimited)
    assert "API token" in str(err) and "Couldn't authenticate you" in str(err)
