"""Adapter: the operator login: credentials, signed session cookies, and failed-login delays.

The password is checked against ``operator_ui.password_hash`` (salted scrypt, as for
charger passwords). A session is a cookie ``<payload>.<HMAC-SHA256>`` under a key kept in
the data directory, so sessions survive a restart and nothing about them is stored.
The payload names a random session id, the expiry, and a fingerprint of the password
hash: changing the password in ``config.toml`` ends every session. Logging out revokes
its session id until it would have expired anyway.

A wrong login never says which part was wrong, and the same scrypt work is done for an
unknown username as for a known one. After ``FREE_ATTEMPTS`` failures from one address,
every further attempt from it waits, doubling up to ``MAX_DELAY_S``, until one succeeds.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import functools
import hashlib
import hmac
import json
import os
import secrets
from collections import OrderedDict
from datetime import datetime, timedelta
from pathlib import Path

from gateway.config import OperatorUiSettings
from gateway.passwords import hash_password, verify_password

COOKIE = "gw_session"
KEY_BYTES = 32
FREE_ATTEMPTS = 3
MAX_DELAY_S = 30.0
_REMEMBERED_PEERS = 1024


@functools.cache
def _dummy_hash() -> str:
    """Checked when the username is wrong, so that a wrong name costs the same time."""
    return hash_password("not the operator's password", salt=b"\0" * 16)


class KeyFileError(Exception):
    """The session key file cannot be used; the message names the file."""


def load_or_create_key(path: Path) -> bytes:
    """The session signing key, created (mode 0600) with 32 random bytes on first use."""
    try:
        return _read_key(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(mode=0o750, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(secrets.token_bytes(KEY_BYTES).hex() + "\n")
            f.flush()
            os.fsync(f.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)  # atomic; never replaces a key another process made
    finally:
        tmp.unlink(missing_ok=True)
    return _read_key(path)


def _read_key(path: Path) -> bytes:
    text = path.read_text(encoding="ascii").strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise KeyFileError(f"{path}: not a hex key; delete it to make a new one") from None
    if len(key) != KEY_BYTES:
        raise KeyFileError(f"{path}: the key must be {KEY_BYTES} bytes; delete it to renew")
    return key


def credentials_match(settings: OperatorUiSettings, username: str, password: str) -> bool:
    """Whether the login is right; as slow for a wrong username as for a wrong password."""
    if settings.password_hash is None:
        return False
    name_ok = hmac.compare_digest(username.encode(), settings.username.encode())
    encoded = settings.password_hash if name_ok else _dummy_hash()
    password_ok = verify_password(password, encoded)
    return name_ok and password_ok


class Sessions:
    """Issues and checks signed session cookies."""

    def __init__(self, key: bytes, settings: OperatorUiSettings) -> None:
        self._key = hashlib.sha256(b"operator ui session\0" + key).digest()
        self._settings = settings
        self._lifetime = timedelta(hours=settings.session_hours)
        pw = (settings.password_hash or "").encode()
        self._fingerprint = hashlib.sha256(pw).hexdigest()[:16]
        self._revoked: dict[str, datetime] = {}

    @property
    def max_age_s(self) -> int:
        return int(self._lifetime.total_seconds())

    def issue(self, now: datetime) -> str:
        payload = {
            "sid": secrets.token_urlsafe(16),
            "u": self._settings.username,
            "exp": int((now + self._lifetime).timestamp()),
            "pw": self._fingerprint,
        }
        body = _b64(json.dumps(payload, separators=(",", ":")).encode())
        return f"{body}.{self._sign(body)}"

    def check(self, cookie: str | None, now: datetime) -> str | None:
        """The username of a valid, unexpired, unrevoked session; else ``None``."""
        payload = self._payload(cookie)
        if payload is None:
            return None
        if payload.get("pw") != self._fingerprint or payload.get("u") != self._settings.username:
            return None
        exp = payload.get("exp")
        if not isinstance(exp, int) or exp <= now.timestamp():
            return None
        if payload.get("sid") in self._revoked:
            return None
        return self._settings.username

    def revoke(self, cookie: str | None, now: datetime) -> None:
        payload = self._payload(cookie)
        sid = None if payload is None else payload.get("sid")
        if not isinstance(sid, str):
            return
        self._revoked = {s: until for s, until in self._revoked.items() if until > now}
        self._revoked[sid] = now + self._lifetime

    def _payload(self, cookie: str | None) -> dict[str, object] | None:
        if not cookie or cookie.count(".") != 1:
            return None
        body, signature = cookie.split(".")
        if not hmac.compare_digest(signature, self._sign(body)):
            return None
        try:
            payload = json.loads(_unb64(body))
        except (ValueError, binascii.Error):
            return None
        return payload if isinstance(payload, dict) else None

    def _sign(self, body: str) -> str:
        return _b64(hmac.new(self._key, body.encode(), hashlib.sha256).digest())


class LoginThrottle:
    """Counts failed logins per address; past the free attempts each one must wait."""

    def __init__(self, *, base_delay_s: float, free_attempts: int = FREE_ATTEMPTS) -> None:
        self._base = base_delay_s
        self._free = free_attempts
        self._failures: OrderedDict[str, int] = OrderedDict()

    def delay_s(self, peer: str) -> float:
        """How long an attempt from ``peer`` waits before it is checked."""
        over = self._failures.get(peer, 0) - self._free
        if over < 0 or self._base == 0:
            return 0.0
        return float(min(MAX_DELAY_S, self._base * 2 ** min(over, 16)))

    def failed(self, peer: str) -> None:
        self._failures[peer] = self._failures.pop(peer, 0) + 1
        while len(self._failures) > _REMEMBERED_PEERS:
            self._failures.popitem(last=False)

    def succeeded(self, peer: str) -> None:
        self._failures.pop(peer, None)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
