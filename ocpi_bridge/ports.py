"""Ports: what the OCPI platform needs from storage (partners) and from the tokens module.

``gateway.storage.partners`` implements it on SQL (``SqlPartners``) and in memory
(``MemoryPartners``). Every method that changes more than one fact does it atomically:
a crash leaves either the state before the call or the state after it, never a
half-registered partner (R-OCPI-CRED-1).

Tokens cross this port in clear; the store decides how to keep them: tokens we issue
as a lookup prefix plus a keyed digest, compared in constant time; tokens partners gave
us sealed under a key kept outside the database.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from gateway.domain.partners import (
    InvitationRecord,
    PartnerLink,
    PartnerRecord,
    PartyRole,
    TokenMatch,
)
from gateway.domain.tokens import LocalListState, StoredToken
from gateway.domain.transactions import AuthToken
from ocpi_bridge.translate.sessions import TokenIdentity


class PartnerStore(Protocol):
    """Partners, the tokens they call us with, and the Token A invitations we handed out."""

    def match_token(
        self, token: str, *, now: datetime, stale_before: datetime
    ) -> TokenMatch | None:
        """What ``token`` opens: a partner, or an invitation that is unused and unexpired.

        Pending partners created before ``stale_before`` are abandoned and open nothing.
        Presenting an unconfirmed token confirms it: the partner's other tokens stop
        working (the partner evidently has the new one).
        """
        ...

    def partner(self, name: str) -> PartnerRecord | None: ...

    def partners(self) -> list[PartnerRecord]: ...

    def invitations(self, *, now: datetime) -> list[InvitationRecord]:
        """Invitations still usable at ``now``."""
        ...

    def invite(
        self, name: str, token: str, *, now: datetime, expires_at: datetime
    ) -> InvitationRecord:
        """Store a Token A for ``name``; earlier unused invitations for that name are revoked.

        Raises:
            PartnerConflictError: a partner already has this name.
        """
        ...

    def claim_invitation(
        self, invitation_id: int, *, now: datetime, stale_before: datetime
    ) -> bool:
        """Mark a registration as running on the invitation (the persisted pending state).

        False when the invitation is used, expired, revoked, or claimed at or after
        ``stale_before`` by a registration that may still be running.
        """
        ...

    def release_invitation(self, invitation_id: int) -> None:
        """A registration on the invitation failed: it may be used again."""
        ...

    def register(
        self,
        invitation_id: int,
        link: PartnerLink,
        *,
        our_roles: tuple[PartyRole, ...],
        token: str,
        now: datetime,
    ) -> PartnerRecord:
        """Record a registration: partner, confirmed token and used invitation, atomically.

        The partner is named after the invitation.

        Raises:
            PartnerConflictError: the name or one of the roles is taken; nothing is written.
        """
        ...

    def begin_connection(
        self, name: str, token: str, *, now: datetime, stale_before: datetime
    ) -> PartnerRecord:
        """A pending partner whose (unconfirmed) ``token`` opens versions and credentials.

        An abandoned pending partner of the same name is replaced.

        Raises:
            PartnerConflictError: the name is taken, or an open invitation carries it.
        """
        ...

    def complete_connection(
        self, partner_id: int, link: PartnerLink, *, our_roles: tuple[PartyRole, ...], now: datetime
    ) -> PartnerRecord:
        """In one transaction: the pending partner becomes registered and its token confirmed.

        Raises:
            PartnerConflictError: one of the roles is taken; the partner stays pending.
        """
        ...

    def update_link(
        self,
        partner_id: int,
        link: PartnerLink,
        *,
        now: datetime,
        issue: str | None = None,
        confirm: int | None = None,
    ) -> int | None:
        """In one transaction: replace what we know of the partner, and its tokens.

        ``confirm``: that token is confirmed first (the others are dropped). ``issue``:
        unconfirmed tokens are dropped and ``issue`` is added unconfirmed; its id is
        returned. The tokens the partner holds keep working until the new one is confirmed.

        Raises:
            PartnerConflictError: one of the roles is taken; nothing is written.
        """
        ...

    def add_token(self, partner_id: int, token: str, *, now: datetime) -> int:
        """Add ``token`` unconfirmed (earlier unconfirmed tokens are dropped); return its id."""
        ...

    def confirm_token(self, token_id: int) -> None:
        """The partner is known to have this token: its other tokens stop working.

        Nothing happens when the token no longer exists.
        """
        ...

    def remove(self, name: str) -> bool:
        """Forget the partner called ``name`` (any state) and its unused invitations."""
        ...


class TokenBook(Protocol):
    """Who issued a token, so its Session and CDR go to that partner and no other.

    ``None`` means no partner issued it (a site token, free vend, an unknown card): such
    sessions are kept but never pushed or shown to a partner.
    """

    def identity(
        self, token: AuthToken, *, auth_source: str | None, auth_reference: str | None
    ) -> TokenIdentity | None: ...


class TokenStore(Protocol):
    """Partners' tokens (keyed country_code, party_id, uid, type), pulls and local lists.

    Uids are CiStrings: every look-up and key is case-insensitive.
    """

    def token(
        self, country_code: str, party_id: str, uid: str, type_: str
    ) -> StoredToken | None: ...

    def put_token(
        self, token: StoredToken, *, now: datetime, if_newer: bool = False
    ) -> bool | None:
        """Store ``token``; True when it is new, False when it replaced one.

        With ``if_newer``, a stored token with a later ``last_updated`` is kept and
        ``None`` is returned.
        """
        ...

    def put_tokens(
        self, tokens: Sequence[StoredToken], *, now: datetime, if_newer: bool = False
    ) -> int:
        """Store a batch in one transaction; return how many were written."""
        ...

    def tokens_for(self, presented: str) -> list[StoredToken]:
        """Tokens whose uid is ``presented`` (and longer ones beginning with it).

        Longer uids match only a 20-character value: the OCPP 1.6 idTag width.
        """
        ...

    def listable_tokens(self) -> list[StoredToken]:
        """Tokens that may be whitelisted (``whitelist`` other than NEVER), newest first."""
        ...

    def last_pull(self, partner: str) -> datetime | None: ...

    def record_pull(self, partner: str, started_at: datetime) -> None: ...

    def local_list(self, charger_id: str) -> LocalListState | None: ...

    def save_local_list(self, state: LocalListState, *, now: datetime) -> None: ...
