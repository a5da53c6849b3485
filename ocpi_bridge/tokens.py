"""Adapter: partners' tokens, kept through one door so every change is heard.

The Tokens receiver (``api/tokens.py``), the pull job (``token_pull.py``) and real-time
answers (``authorization.py``) all store tokens here; the local authorisation lists
(``local_lists.py``) listen for changes. Store calls run in worker threads.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

from gateway.domain.tokens import StoredToken
from gateway.domain.transactions import AuthToken
from gateway.ports import Clock
from ocpi_bridge.models.tokens import Token
from ocpi_bridge.ports import TokenStore
from ocpi_bridge.translate.authorization import choose_token
from ocpi_bridge.translate.tokens import from_stored, to_stored

log = logging.getLogger(__name__)

Listener = Callable[[], None]


def readable(stored: Sequence[StoredToken]) -> list[Token]:
    """The stored tokens that still parse as Tokens (a damaged row is skipped, and said)."""
    tokens = []
    for s in stored:
        try:
            tokens.append(from_stored(s))
        except ValueError:
            log.warning(
                "stored token %s/%s of type %s is unreadable; skipped",
                s.country_code,
                s.party_id,
                s.type,
            )
    return tokens


class TokenCache:
    """Partners' tokens: read, written and announced."""

    def __init__(self, store: TokenStore, *, clock: Clock) -> None:
        self.store = store
        self._clock = clock
        self._listeners: list[Listener] = []

    def on_change(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def _changed(self) -> None:
        for listener in self._listeners:
            try:
                listener()
            except Exception:
                log.exception("token change listener failed")

    async def get(self, country_code: str, party_id: str, uid: str, type_: str) -> Token | None:
        stored = await asyncio.to_thread(self.store.token, country_code, party_id, uid, type_)
        found = readable([] if stored is None else [stored])
        return found[0] if found else None

    async def put(self, token: Token, *, if_newer: bool = False) -> bool | None:
        """Store ``token``: True if new, False if replaced, None if a newer one is kept."""
        result = await asyncio.to_thread(
            self.store.put_token, to_stored(token), now=self._clock(), if_newer=if_newer
        )
        if result is not None:
            self._changed()
        return result

    async def put_many(self, tokens: Sequence[Token]) -> int:
        """Store a pulled page, keeping any stored token that is newer; return how many."""
        written = await asyncio.to_thread(
            self.store.put_tokens, [to_stored(t) for t in tokens], now=self._clock(), if_newer=True
        )
        if written:
            self._changed()
        return written

    async def find(self, presented: AuthToken) -> Token | None:
        """The partner token a charger's idTag / idToken stands for (see ``choose_token``)."""
        stored = await asyncio.to_thread(self.store.tokens_for, presented.value)
        return choose_token(readable(stored), presented)
