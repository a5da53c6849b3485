"""Adapter: the key behind stored OCPI tokens: keyed hashes of ours, sealed copies of theirs.

Tokens we issue (Token A, and the tokens partners call us with) are only ever checked,
so the store keeps a short lookup prefix and an HMAC-SHA256 of the whole token under a
key that is not in the database (R-OCPI-AUTH-2); a copy of the database alone lets nobody
call us. Tokens partners gave us must be usable to call them, so they are sealed:
encrypt-then-MAC with an HMAC-SHA256 keystream (a PRF in counter mode under a random
128-bit nonce) and an HMAC-SHA256 tag, each under its own subkey. Only the standard
library is used, so the default install needs nothing more; the ``v1:`` prefix leaves
room for an AEAD from a vetted library later, re-sealing on each partner's next update.

The key is 32 random bytes in a file (default ``<data_dir>/ocpi.key``) created on first
use with mode 0600; a key file readable by group or others is refused. Lose the file and
every partner must register again: back it up, apart from the database backups.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import os
import secrets
from pathlib import Path

KEY_BYTES = 32
PREFIX_CHARS = 8
_NONCE_BYTES = 16
_TAG_BYTES = 32
_VERSION = "v1"


class KeyFileError(Exception):
    """The key file cannot be used; the message names the file and the fix."""


class SealError(Exception):
    """A sealed value was altered, truncated, or sealed under another key."""


class TokenKeys:
    """Hashes our tokens and seals theirs under subkeys derived from one master key."""

    def __init__(self, master: bytes) -> None:
        if len(master) != KEY_BYTES:
            raise ValueError(f"the key must be {KEY_BYTES} bytes")
        self._hash_key = _derive(master, b"ocpi token digest")
        self._enc_key = _derive(master, b"ocpi token keystream")
        self._mac_key = _derive(master, b"ocpi token seal tag")

    @classmethod
    def load_or_create(cls, path: Path) -> TokenKeys:
        """Read the key file, creating it (mode 0600) when it does not exist yet."""
        try:
            return cls(_read_key(path))
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
            # Atomic, and never replaces a key another process made meanwhile.
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        return cls(_read_key(path))

    # --- tokens we issue -------------------------------------------------------------

    @staticmethod
    def prefix(token: str) -> str:
        """The non-secret part of a token the store indexes on."""
        return token[:PREFIX_CHARS]

    def digest(self, token: str) -> str:
        return hmac.new(self._hash_key, token.encode(), hashlib.sha256).hexdigest()

    def matches(self, token: str, digest: str) -> bool:
        """Constant-time check of a presented token against a stored digest."""
        return hmac.compare_digest(self.digest(token), digest)

    # --- tokens we were given -----------------------------------------------------------

    def seal(self, plaintext: str) -> str:
        nonce = secrets.token_bytes(_NONCE_BYTES)
        data = plaintext.encode()
        body = bytes(a ^ b for a, b in zip(data, self._keystream(nonce, len(data)), strict=True))
        tag = self._tag(nonce + body)
        return f"{_VERSION}:" + base64.urlsafe_b64encode(nonce + body + tag).decode()

    def open(self, sealed: str) -> str:
        version, _, payload = sealed.partition(":")
        if version != _VERSION:
            raise SealError(f"unknown sealed format {version!r}")
        try:
            raw = base64.urlsafe_b64decode(payload.encode())
        except (binascii.Error, ValueError):
            raise SealError("sealed value is not Base64") from None
        if len(raw) < _NONCE_BYTES + _TAG_BYTES:
            raise SealError("sealed value is truncated")
        signed, tag = raw[:-_TAG_BYTES], raw[-_TAG_BYTES:]
        if not hmac.compare_digest(self._tag(signed), tag):
            raise SealError("sealed value fails its check (altered, or another key)")
        nonce, body = signed[:_NONCE_BYTES], signed[_NONCE_BYTES:]
        plain = bytes(a ^ b for a, b in zip(body, self._keystream(nonce, len(body)), strict=True))
        return plain.decode()

    def _keystream(self, nonce: bytes, length: int) -> bytes:
        blocks = (length + 31) // 32
        stream = b"".join(
            hmac.new(self._enc_key, nonce + i.to_bytes(8, "big"), hashlib.sha256).digest()
            for i in range(blocks)
        )
        return stream[:length]

    def _tag(self, signed: bytes) -> bytes:
        return hmac.new(self._mac_key, _VERSION.encode() + signed, hashlib.sha256).digest()


def _derive(master: bytes, label: bytes) -> bytes:
    return hmac.new(master, label, hashlib.sha256).digest()


def _read_key(path: Path) -> bytes:
    st = path.stat()
    if st.st_mode & 0o077:
        raise KeyFileError(
            f"{path} is readable by other users (mode {st.st_mode & 0o777:o}); "
            f"run `chmod 600 {path}`"
        )
    text = path.read_text(encoding="ascii").strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise KeyFileError(f"{path} does not hold a hex key; restore it from a backup") from None
    if len(key) != KEY_BYTES:
        raise KeyFileError(f"{path} holds {len(key)} bytes, expected {KEY_BYTES}")
    return key
