"""Console credentials: scrypt password hashes, tokens from the environment, roles."""

import base64

import pytest

from gateway.config import parse_config
from gateway.errors import ConfigError
from gateway.web.auth import Authenticator, PasswordHash, Principal, hash_password, verify_password

TOKEN = "t0ken-for-the-lead-console-abcdefgh"


def _config(users, env=None):
    return parse_config({"console": {"users": users}}, env=env or {})


def test_hash_has_config_format_and_verifies_only_the_right_password():
    encoded = hash_password("correct horse battery")
    scheme, n, r, p, salt, digest = encoded.split("$")
    assert (scheme, n, r, p) == ("scrypt", "32768", "8", "1")
    assert len(base64.b64decode(salt)) == 16 and len(base64.b64decode(digest)) == 32
    assert verify_password("correct horse battery", encoded)
    assert not verify_password("correct horse batterY", encoded)
    assert not verify_password("", encoded)


def test_each_hash_gets_its_own_salt():
    assert hash_password("same password") != hash_password("same password")


@pytest.mark.parametrize(
    "bad",
    ["", "pbkdf2$1$2$3$a$b", "scrypt$1000$8$1$AAAA$BBBB", "scrypt$x$8$1$AAAA$BBBB", "scrypt$32768$8$1$!!$??"],
)
def test_malformed_hash_never_verifies(bad):
    assert not verify_password("anything", bad)


def test_malformed_hash_in_config_is_refused_with_its_key():
    cfg = _config([{"name": "kim", "role": "lead", "password_hash": "plaintext-oops"}])
    with pytest.raises(ConfigError, match=r"console.users\[0\].password_hash: .*hash-password"):
        Authenticator.from_config(cfg)


def test_user_without_any_credential_is_refused():
    with pytest.raises(ConfigError, match=r"console.users\[0\]: give the user"):
        Authenticator.from_config(_config([{"name": "kim", "role": "lead"}]))


def test_token_comes_from_the_named_environment_variable():
    cfg = _config([{"name": "ops", "role": "agent", "token_env": "HG_OPS_TOKEN"}], env={"HG_OPS_TOKEN": TOKEN})
    auth = Authenticator.from_config(cfg)
    assert auth.check_token(TOKEN) == Principal("ops", "agent")
    assert auth.check_token(TOKEN[:-1]) is None
    assert auth.check_token("") is None


def test_missing_or_short_token_variable_is_refused():
    users = [{"name": "ops", "role": "agent", "token_env": "HG_OPS_TOKEN"}]
    with pytest.raises(ConfigError, match="HG_OPS_TOKEN is not set"):
        Authenticator.from_config(_config(users))
    with pytest.raises(ConfigError, match="shorter than"):
        Authenticator.from_config(_config(users, env={"HG_OPS_TOKEN": "short"}))


def test_password_login_checks_the_user_and_unknown_users_fail_the_same_way():
    cfg = _config(
        [
            {"name": "kim", "role": "lead", "password_hash": hash_password("lead password 1")},
            {"name": "ash", "role": "agent", "password_hash": hash_password("agent password 1")},
        ]
    )
    auth = Authenticator.from_config(cfg)
    assert auth.check_password("kim", "lead password 1") == Principal("kim", "lead")
    assert auth.check_password("ash", "lead password 1") is None  # another user's password
    assert auth.check_password("nobody", "lead password 1") is None
    assert auth.lookup("ash") == Principal("ash", "agent")


def test_roles_grant_drafts_to_agents_and_holds_only_to_leads():
    agent, lead = Principal("ash", "agent"), Principal("kim", "lead")
    assert agent.can("drafts") and not agent.can("holds") and not agent.can("audit")
    assert lead.can("drafts") and lead.can("holds") and lead.can("audit")


def test_parsed_hash_round_trips():
    encoded = hash_password("round trip pw")
    assert str(PasswordHash.parse(encoded)) == encoded


def test_login_throttle_blocks_after_repeated_failures_and_forgives_with_time():
    from gateway.web.auth import LoginThrottle

    now = [0.0]
    throttle = LoginThrottle(limit=3, window=60, clock=lambda: now[0])
    for _ in range(3):
        assert not throttle.blocked("kim")
        throttle.failed("kim")
    assert throttle.blocked("kim")
    assert not throttle.blocked("ash")  # other users are not affected
    now[0] += 61
    assert not throttle.blocked("kim")
    throttle.failed("kim")
    throttle.succeeded("kim")
    assert not throttle._failures
