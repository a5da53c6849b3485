"""Ports: what the OCPI platform needs from storage (partners, commands) and the tokens module.

``gateway.storage.partners`` implements it on SQL (``SqlPartners``) and in memory
(``MemoryPartners``). Every method that changes more than one fact does it atomically:
a crash leaves either the state before the call or the state after it, never a
half-registered partner (R-OCPI-CRED-1).

Tokens cross this port in clear; the store decides how to keep them: tokens we issue
as a lookup prefix plus a keyed digest, compared in constant time; tokens partners gave
us sealed under a key kept outside the database.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from gateway.domain.partners import (
    InvitationRecord,
    PartnerLink,
    PartnerRecord,
    PartyRole,
    TokenMatch,
)
from gateway.domain.remote import (
    RemoteCommand,
    RemoteState,
    Reservation,
    ReservationState,
    SessionLink,
)
from gateway.domain.tokens import LocalListState, StoredToken
from gateway.domain.transactions import AuthToken, Transaction
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


class CommandLog(Protocol):
    """Partners' commands, from receipt until their result is delivered (R-OCPI-CMD-1).

    A command is recorded before anything goes to a charger; its first result is kept
    (a later one changes nothing), so exactly one result is ever delivered.
    """

    def record(self, command: RemoteCommand) -> RemoteCommand:
        """Store a new command; returns it with the id the store assigned."""
        ...

    def settle(
        self,
        command_id: int,
        result: Mapping[str, Any],
        *,
        outcome: str,
        now: datetime,
        tx_id: str | None = None,
    ) -> bool:
        """Record the result of a PENDING command (ANSWERED); False if it already had one."""
        ...

    def finish(self, command_id: int, *, state: RemoteState, attempts: int, now: datetime) -> None:
        """The delivery ended: DELIVERED, or UNDELIVERABLE after ``attempts`` tries."""
        ...

    def command(self, command_id: int) -> RemoteCommand | None: ...

    def unfinished(self) -> list[RemoteCommand]:
        """Commands PENDING or ANSWERED (oldest first): what a restart must still deliver."""
        ...

    def received_since(self, since: datetime) -> list[RemoteCommand]:
        """Commands received at or after ``since``, oldest first."""
        ...

    def for_session(self, session_id: str) -> list[RemoteCommand]:
        """Commands about a session (stop, charging profiles), oldest first."""
        ...

    def with_token(self, partner: str, presented: str) -> list[RemoteCommand]:
        """A partner's commands whose token a charger may report as ``presented``.

        Compared on the first 20 characters, case-insensitively (all a 1.6 charger
        reports); newest first, at most 50.
        """
        ...


class ReservationBook(Protocol):
    """Partners' reservations and the ids chargers know them by (the store's sequence)."""

    def reserve(self, reservation: Reservation) -> Reservation:
        """Store a reservation, or replace the one it repeats, keeping that one's id.

        A reservation repeats another with the same partner role, ``reservation_id`` and
        Location (CiStrings); keeping the id makes the charger replace it too.
        """
        ...

    def find_reservation(
        self, country_code: str, party_id: str, reservation_id: str
    ) -> Reservation | None:
        """The newest reservation of that partner role and id that still holds an EVSE."""
        ...

    def set_reservation_state(
        self, reservation: int, state: ReservationState, *, now: datetime
    ) -> None: ...

    def held_reservations(self) -> list[Reservation]:
        """Reservations REQUESTED or ACTIVE, oldest first."""
        ...


class SessionLinks(Protocol):
    """Which command or reservation a transaction came from (read by Sessions and CDRs)."""

    def link(self, link: SessionLink) -> bool:
        """Record a link; a transaction keeps its first one (False: it had one already)."""
        ...

    def link_for(self, charger_id: str, tx_id: str) -> SessionLink | None: ...

    def link_of_command(self, command_id: int) -> SessionLink | None: ...


class RemoteStore(CommandLog, ReservationBook, SessionLinks, Protocol):
    """Everything the remote-control lifecycle keeps (``gateway.storage.commands``)."""


class RunningTransactions(Protocol):
    """The transactions commands and charging profiles are about (the gateway's store)."""

    def running_transactions(self) -> list[Transaction]:
        """Transactions still running (without samples)."""
        ...

    def find_transaction(
        self, charger_id: str, *, tx_id: str | None = None, start_key: str | None = None
    ) -> Transaction | None: ...
