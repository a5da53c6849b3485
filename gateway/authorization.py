"""The site's own authorisation: staff and fleet tokens from the configuration, free vend.

Roaming partners' tokens are decided by the OCPI side; this is what answers when no
partner is involved (DESIGN.md §2, issue "Tokens and authorisation": site tokens).
"""

from __future__ import annotations

import hmac

from gateway.config import AuthorizationSettings
from gateway.domain.authorization import AuthDecision, AuthStatus
from gateway.domain.ids import ChargerId, EvseUid
from gateway.domain.transactions import AuthToken


class SiteAuthorizer:
    """``Authorizer`` from the configuration alone."""

    def __init__(self, settings: AuthorizationSettings) -> None:
        self._free_vend = settings.free_vend
        # Token uids are CiStrings: compare case-insensitively.
        self._site = tuple(t.uid.upper() for t in settings.site_tokens)

    def knows(self, token: AuthToken) -> bool:
        presented = token.value.upper().encode()
        return any(hmac.compare_digest(presented, uid.encode()) for uid in self._site)

    async def authorize(
        self, charger_id: ChargerId, token: AuthToken, evse_uid: EvseUid | None
    ) -> AuthDecision:
        if self.knows(token):
            return AuthDecision(status=AuthStatus.ACCEPTED, source="site")
        if self._free_vend:
            return AuthDecision(status=AuthStatus.ACCEPTED, source="free_vend")
        return AuthDecision(status=AuthStatus.INVALID, source="site")
