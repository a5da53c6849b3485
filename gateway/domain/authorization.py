"""Pure: the answer to "may this token charge here?", in the gateway's own terms."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class AuthStatus(StrEnum):
    """Outcome of an authorisation; both OCPP versions have a word for each."""

    ACCEPTED = "accepted"
    BLOCKED = "blocked"
    EXPIRED = "expired"
    INVALID = "invalid"
    CONCURRENT_TX = "concurrent_tx"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthDecision:
    """What the gateway answers about a token, and what it learned deciding it."""

    status: AuthStatus
    group_id: str | None = None
    expires_at: datetime | None = None
    reference: str | None = None  # e.g. the partner's authorization_reference
    source: str = "site"  # "site" | "free_vend" | a partner name

    @property
    def accepted(self) -> bool:
        return self.status is AuthStatus.ACCEPTED
