"""Operator login: session cookies, credentials, the failed-login delay, the key file."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest

from gateway.config import OperatorUiSettings
from gateway.passwords import hash_password
from gateway.ui.auth import (
    MAX_DELAY_S,
    KeyFileError,
    LoginThrottle,
    Sessions,
    credentials_match,
    load_or_create_key,
)
from tests.builders import T0

HASH = hash_password("the right password")
KEY = bytes(range(32))


def settings(**overrides) -> OperatorUiSettings:
    return OperatorUiSettings(
        **{"username": "ops", "password_hash": HASH, "session_hours": 1, **overrides}
    )


def test_a_session_lasts_its_configured_hours():
    """Valid until the expiry, not a second later."""
    sessions = Sessions(KEY, settings())
    cookie = sessions.issue(T0)
    assert sessions.check(cookie, T0 + timedelta(minutes=59)) == "ops"
    assert sessions.check(cookie, T0 + timedelta(hours=1)) is None


def test_changing_the_password_or_the_key_ends_every_session():
    """A cookie names the password hash it was issued under and the key that signed it."""
    cookie = Sessions(KEY, settings()).issue(T0)
    assert (
        Sessions(KEY, settings(password_hash=hash_password("another one"))).check(cookie, T0)
        is None
    )
    assert Sessions(bytes(32), settings()).check(cookie, T0) is None
    assert Sessions(KEY, settings(username="other")).check(cookie, T0) is None


@pytest.mark.parametrize("cookie", [None, "", "abc", "a.b.c", "!!!.xyz"])
def test_garbage_cookies_are_no_session(cookie):
    """Malformed cookies are simply not sessions."""
    assert Sessions(KEY, settings()).check(cookie, T0) is None


def test_a_revoked_session_stays_revoked():
    """Logging out revokes that cookie; other sessions go on."""
    sessions = Sessions(KEY, settings())
    mine, other = sessions.issue(T0), sessions.issue(T0)
    sessions.revoke(mine, T0)
    sessions.revoke("garbage", T0)
    assert sessions.check(mine, T0) is None
    assert sessions.check(other, T0) == "ops"


def test_credentials_need_both_parts_right():
    """Username and password must both match; no password hash means no login at all."""
    assert credentials_match(settings(), "ops", "the right password")
    assert not credentials_match(settings(), "ops", "the wrong password")
    assert not credentials_match(settings(), "admin", "the right password")
    assert not credentials_match(settings(password_hash=None), "ops", "")


def test_failed_logins_wait_longer_and_longer_up_to_a_limit():
    """Three free failures, then the delay doubles per failure, capped; success resets."""
    throttle = LoginThrottle(base_delay_s=1.0)
    delays = []
    for _ in range(12):
        delays.append(throttle.delay_s("10.0.0.9"))
        throttle.failed("10.0.0.9")
    assert delays[:5] == [0, 0, 0, 1, 2]
    assert delays[-1] == MAX_DELAY_S
    assert throttle.delay_s("10.0.0.10") == 0
    throttle.succeeded("10.0.0.9")
    assert throttle.delay_s("10.0.0.9") == 0
    assert LoginThrottle(base_delay_s=0).delay_s("x") == 0


def test_the_throttle_remembers_a_bounded_number_of_addresses():
    """A flood of addresses cannot grow memory without bound."""
    throttle = LoginThrottle(base_delay_s=1.0, free_attempts=1)
    for i in range(2000):
        throttle.failed(f"10.0.{i // 256}.{i % 256}")
    assert throttle.delay_s("10.0.0.0") == 0  # forgotten
    assert throttle.delay_s("10.0.7.207") == 1.0


def test_the_key_file_is_created_private_and_read_back(tmp_path):
    """Created 0600 on first use; the same key afterwards."""
    path = tmp_path / "data" / "ui.key"
    key = load_or_create_key(path)
    assert len(key) == 32
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert load_or_create_key(path) == key


@pytest.mark.parametrize("content", ["not hex", "abcd"])
def test_a_damaged_key_file_is_refused_with_its_name(tmp_path, content):
    """A key file that is not 32 hex bytes stops start-up and names the file."""
    path = tmp_path / "ui.key"
    path.write_text(content)
    with pytest.raises(KeyFileError, match=r"ui\.key"):
        load_or_create_key(path)


def test_the_config_refuses_a_password_hash_from_elsewhere():
    """Only hashes from `gateway ui hash-password` are accepted."""
    with pytest.raises(ValueError, match="gateway ui hash-password"):
        OperatorUiSettings(password_hash="$2b$12$bcrypt")
