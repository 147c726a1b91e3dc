"""Signed session cookies: forged, altered or expired cookies are ignored."""

import base64
import json

from gateway.web.sessions import SessionCodec

SECRET = b"0123456789abcdef0123456789abcdef"


def test_session_round_trips():
    codec = SessionCodec(SECRET)
    assert codec.decode(codec.encode({"user": "kim", "csrf": "x" * 40})) == {"user": "kim", "csrf": "x" * 40}


def test_altered_payload_is_rejected():
    codec = SessionCodec(SECRET)
    value = codec.encode({"user": "ash"})
    payload, sig = value.split(".")
    body = json.loads(base64.urlsafe_b64decode(payload))
    body["user"] = "kim"
    forged = base64.urlsafe_b64encode(json.dumps(body).encode()).decode() + "." + sig
    assert codec.decode(forged) is None


def test_cookie_signed_with_another_key_is_rejected():
    other = SessionCodec(b"another secret key, 32 bytes ok!")
    assert SessionCodec(SECRET).decode(other.encode({"user": "kim"})) is None


def test_expired_session_is_rejected():
    now = [1_000_000.0]
    codec = SessionCodec(SECRET, max_age=60, clock=lambda: now[0])
    value = codec.encode({"user": "kim"})
    now[0] += 59
    assert codec.decode(value) == {"user": "kim"}
    now[0] += 2
    assert codec.decode(value) is None


def test_garbage_is_rejected_without_error():
    codec = SessionCodec(SECRET)
    for junk in ["", ".", "abc", "a.b", "ü.ü", "e30=.AAAA"]:
        assert codec.decode(junk) is None
