"""Pure: OCPI commands -> where and what to send a charger; the charger's answer -> CommandResult.

Everything the Commands receiver decides without I/O lives here: finding the EVSE a
command names (and refusing what cannot be done there), the ``response_url`` guard
(R-OCPI-CMD-2), the ids a charger gets (OCPP wants positive 32-bit integers, unique
across partners), the CommandResult a charger's answer becomes, which transaction a
START_SESSION or a reservation led to, and the "no real-time authorisation for 15
minutes" rule (mod_commands, StartSession and ReserveNow objects).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from gateway.config import EvseSettings, LocationSettings
from gateway.domain.authorization import AuthDecision, AuthStatus
from gateway.domain.commands import CommandOutcome, OutcomeStatus
from gateway.domain.ids import ChargerId, EvseUid
from gateway.domain.remote import (
    PartnerToken,
    RemoteCommand,
    RemoteKind,
    Reservation,
    SessionLink,
)
from gateway.domain.status import EvseStatus
from gateway.domain.topology import ConnectorRef, Topology
from gateway.domain.transactions import AuthToken, TokenKind, Transaction
from ocpi_bridge.models.cdrs import AuthMethod
from ocpi_bridge.models.commands import CommandResponseType, CommandResult, CommandResultType
from ocpi_bridge.models.common import DisplayText, ci_equal
from ocpi_bridge.models.tokens import Token, TokenType
from ocpi_bridge.status import OcpiStatus
from ocpi_bridge.translate.sessions import TokenIdentity

#: OCPP integer ids (reservationId, remoteStartId, chargingProfileId) are positive int32.
MAX_CHARGER_ID = 2**31 - 1
#: mod_commands: no real-time authorisation of the token at that EVSE for 15 minutes.
NO_REAUTH_WINDOW = timedelta(minutes=15)
#: OCPP 1.6 idTags are CiString20: longer OCPI token uids reach the charger cut short.
ID_TAG_16 = 20

#: OCPI TokenType -> how the token is presented to the charger.
TOKEN_KIND: Mapping[TokenType, TokenKind] = {
    TokenType.RFID: TokenKind.RFID,
    TokenType.APP_USER: TokenKind.CENTRAL,
    TokenType.AD_HOC_USER: TokenKind.CENTRAL,
    TokenType.OTHER: TokenKind.OTHER,
}

#: What the EVSE must advertise (mod_locations, Capability) for each command.
CAPABILITY: Mapping[RemoteKind, str] = {
    RemoteKind.START_SESSION: "REMOTE_START_STOP_CAPABLE",
    RemoteKind.STOP_SESSION: "REMOTE_START_STOP_CAPABLE",
    RemoteKind.RESERVE_NOW: "RESERVABLE",
    RemoteKind.UNLOCK_CONNECTOR: "UNLOCK_CAPABLE",
    RemoteKind.SET_PROFILE: "CHARGING_PROFILE_CAPABLE",
    RemoteKind.GET_PROFILE: "CHARGING_PROFILE_CAPABLE",
    RemoteKind.CLEAR_PROFILE: "CHARGING_PROFILE_CAPABLE",
}

#: The gateway's outcome -> CommandResultType, before the per-command refinements.
RESULT: Mapping[OutcomeStatus, CommandResultType] = {
    OutcomeStatus.ACCEPTED: CommandResultType.ACCEPTED,
    OutcomeStatus.REJECTED: CommandResultType.REJECTED,
    OutcomeStatus.FAILED: CommandResultType.FAILED,
    OutcomeStatus.NOT_SUPPORTED: CommandResultType.NOT_SUPPORTED,
    OutcomeStatus.OCCUPIED: CommandResultType.EVSE_OCCUPIED,
    OutcomeStatus.FAULTED: CommandResultType.EVSE_INOPERATIVE,
    OutcomeStatus.UNAVAILABLE: CommandResultType.EVSE_INOPERATIVE,
    OutcomeStatus.UNKNOWN: CommandResultType.REJECTED,
    OutcomeStatus.SCHEDULED: CommandResultType.ACCEPTED,
    OutcomeStatus.REBOOT_REQUIRED: CommandResultType.REJECTED,
    OutcomeStatus.VERSION_MISMATCH: CommandResultType.REJECTED,
    OutcomeStatus.TIMEOUT: CommandResultType.TIMEOUT,
    # Accepted by us, then the charger left before the CALL went out: it never ran.
    OutcomeStatus.OFFLINE: CommandResultType.FAILED,
    OutcomeStatus.ERROR: CommandResultType.FAILED,
}
_NOT_IMPLEMENTED = frozenset({"NotImplemented", "NotSupported"})


def charger_int_id(sequence: int) -> int:
    """The positive 32-bit id a charger gets for the store's ``sequence`` number (>= 1).

    Store sequences are unique across partners and chargers; they wrap only after two
    billion commands, far beyond the life of any reservation or remote start.
    """
    if sequence < 1:
        raise ValueError("store sequence numbers start at 1")
    return (sequence - 1) % MAX_CHARGER_ID + 1


# --- tokens ---------------------------------------------------------------------------------


def partner_token(token: Token) -> PartnerToken:
    return PartnerToken(
        uid=token.uid,
        type=token.type.value,
        contract_id=token.contract_id,
        country_code=token.country_code,
        party_id=token.party_id,
        group_id=token.group_id,
    )


def auth_token(token: PartnerToken) -> AuthToken:
    """The token as the charger is given it: an RFID uid, or a central (app) identifier."""
    return AuthToken(value=token.uid, kind=TOKEN_KIND[TokenType(token.type)])


def token_matches(presented: str, uid: str) -> bool:
    """Whether a charger presenting ``presented`` means the token ``uid`` (CiStrings).

    A 1.6 charger only ever saw the first 20 characters of a longer uid.
    """
    p, u = presented.upper(), uid.upper()
    return p == u or (len(p) == ID_TAG_16 and len(u) > ID_TAG_16 and u.startswith(p))


def to_token_identity(token: PartnerToken, authorization_reference: str | None) -> TokenIdentity:
    """The Session/CDR token of a transaction a partner's command started (auth COMMAND)."""
    return TokenIdentity(
        country_code=token.country_code,
        party_id=token.party_id,
        uid=token.uid,
        type=TokenType(token.type),
        contract_id=token.contract_id,
        auth_method=AuthMethod.COMMAND,
        authorization_reference=authorization_reference,
    )


# --- where a command goes -------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Refusal:
    """An immediate answer: nothing is recorded and nothing goes to a charger.

    With ``response`` set it is a CommandResponse (or ChargingProfileResponse) of that
    type; without, an OCPI error ``status`` (e.g. 2003 unknown Location, 2001 invalid
    parameters) carried by the envelope alone.
    """

    message: str
    response: CommandResponseType | None = None
    status: OcpiStatus = OcpiStatus.SUCCESS


@dataclass(frozen=True, slots=True, kw_only=True)
class Place:
    """Where a command goes: a charger and, when the partner named one, an EVSE/connector."""

    location: LocationSettings
    charger_id: ChargerId
    evse: EvseSettings | None = None
    connector: ConnectorRef | None = None

    @property
    def evse_uid(self) -> EvseUid | None:
        return None if self.evse is None else EvseUid(self.evse.uid)


def _rejected(message: str) -> Refusal:
    return Refusal(message=message, response=CommandResponseType.REJECTED)


def _unsupported(message: str) -> Refusal:
    return Refusal(message=message, response=CommandResponseType.NOT_SUPPORTED)


def find_place(
    locations: Sequence[LocationSettings],
    topology: Topology,
    *,
    kind: RemoteKind,
    location_id: str,
    evse_uid: str | None,
    connector_id: str | None = None,
) -> Place | Refusal:
    """Resolve a command's Location/EVSE/Connector (CiStrings) to a charger connector.

    An unknown (or unpublished) Location is OCPI 2003 (status_codes: "Command:
    START_SESSION with unknown location"); an unknown, removed or planned EVSE or an
    unknown connector is REJECTED; an EVSE without the capability the command needs is
    NOT_SUPPORTED. Without an EVSE, the Location must be served by a single charger.
    """
    location = next(
        (loc for loc in locations if loc.publish and ci_equal(loc.id, location_id)), None
    )
    if location is None:
        return Refusal(
            message=f"unknown location {location_id!r}", status=OcpiStatus.UNKNOWN_LOCATION
        )
    capability = CAPABILITY.get(kind)
    if evse_uid is None:
        usable = [
            e
            for e in location.evses
            if e.lifecycle == "active" and (capability is None or capability in e.capabilities)
        ]
        chargers = {e.charger for e in usable}
        if not chargers:
            return _unsupported(f"no EVSE of location {location.id!r} supports {kind.value}")
        if len(chargers) > 1:
            return _unsupported(f"location {location.id!r} has several chargers: name an EVSE")
        return Place(location=location, charger_id=ChargerId(chargers.pop()))
    evse = next((e for e in location.evses if ci_equal(e.uid, evse_uid)), None)
    if evse is None:
        return _rejected(f"unknown EVSE {evse_uid!r} at location {location.id!r}")
    if evse.lifecycle != "active":
        return _rejected(f"EVSE {evse.uid!r} is {evse.lifecycle}")
    if capability is not None and capability not in evse.capabilities:
        return _unsupported(f"EVSE {evse.uid!r} is not {capability}")
    binding = topology.evse(EvseUid(evse.uid))
    assert binding is not None  # noqa: S101 - the topology is built from these locations
    index = 0
    if connector_id is not None:
        found = [i for i, c in enumerate(evse.connectors) if ci_equal(c.id, connector_id)]
        if not found:
            return _rejected(f"unknown connector {connector_id!r} of EVSE {evse.uid!r}")
        index = found[0]
    elif kind is RemoteKind.START_SESSION and "START_SESSION_CONNECTOR_REQUIRED" in (
        evse.capabilities
    ):
        return Refusal(
            message=f"connector_id is required for EVSE {evse.uid!r}",
            status=OcpiStatus.INVALID_PARAMETERS,
        )
    return Place(
        location=location,
        charger_id=binding.charger_id,
        evse=evse,
        connector=binding.connectors[index],
    )


def refuse_response_url(url: str, *, hosts: frozenset[str], allow_private: bool) -> str | None:
    """Why results may not be POSTed to ``url``, or ``None`` when they may (R-OCPI-CMD-2).

    Only http(s) URLs without user info on a host the partner registered (its versions
    URL and endpoints); an address literal must be public unless private addresses are
    allowed. (The outbound client checks what a host name resolves to when it calls.)
    """
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return "response_url is not a URL"
    if parts.scheme not in ("http", "https") or not host:
        return "response_url must be an http(s) URL with a host"
    if "@" in parts.netloc:
        return "response_url must not carry user info"
    if host not in hosts:
        return f"response_url host {host} is not one of the hosts you registered"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if not allow_private and not (address.is_global and not address.is_multicast):
        return f"response_url host {host} is not a public address"
    return None


# --- results --------------------------------------------------------------------------------


def _text(message: str | None) -> list[DisplayText] | None:
    return None if message is None else [DisplayText(language="en", text=message[:512])]


def _explain(outcome: CommandOutcome) -> str | None:
    match outcome.status:
        case OutcomeStatus.ACCEPTED:
            return None
        case OutcomeStatus.TIMEOUT:
            return "the charger did not answer in time"
        case OutcomeStatus.OFFLINE:
            return "the charger went offline before the command reached it"
        case OutcomeStatus.ERROR:
            return f"the charger could not process the command ({outcome.error_code})"
    raw = outcome.detail.get("status")
    return f"the charger answered {raw}" if isinstance(raw, str) else None


def to_command_result(
    kind: RemoteKind, outcome: CommandOutcome, *, evse_status: EvseStatus | None = None
) -> CommandResult:
    """The CommandResult a charger's answer (or silence) becomes.

    Refinements: a CancelReservation the charger rejects means it holds no such
    reservation (OCPP: "no reservation active for the given reservationId"); a 2.0.1
    unlock refused for an ongoing transaction means the EVSE is occupied; a rejected
    remote start on an EVSE known to be charging or out of service says so.
    """
    result = RESULT[outcome.status]
    if outcome.status is OutcomeStatus.ERROR and outcome.error_code in _NOT_IMPLEMENTED:
        result = CommandResultType.NOT_SUPPORTED
    elif kind is RemoteKind.CANCEL_RESERVATION and outcome.status in (
        OutcomeStatus.REJECTED,
        OutcomeStatus.UNKNOWN,
    ):
        result = CommandResultType.UNKNOWN_RESERVATION
    elif kind is RemoteKind.UNLOCK_CONNECTOR and (
        outcome.detail.get("status") == "OngoingAuthorizedTransaction"
    ):
        result = CommandResultType.EVSE_OCCUPIED
    elif kind is RemoteKind.START_SESSION and result is CommandResultType.REJECTED:
        if evse_status is EvseStatus.CHARGING:
            result = CommandResultType.EVSE_OCCUPIED
        elif evse_status in (EvseStatus.INOPERATIVE, EvseStatus.OUT_OF_ORDER):
            result = CommandResultType.EVSE_INOPERATIVE
    return CommandResult(result=result, message=_text(_explain(outcome)))


def timeout_result() -> CommandResult:
    """The result of a command whose answer was lost (the charger, or the gateway, went away)."""
    return CommandResult(
        result=CommandResultType.TIMEOUT,
        message=_text("no answer from the charger was received in time"),
    )


def unknown_reservation_result(reservation_id: str) -> CommandResult:
    return CommandResult(
        result=CommandResultType.UNKNOWN_RESERVATION,
        message=_text(f"no reservation {reservation_id!r} is held for you"),
    )


def canceled_reservation_result(reason: str) -> CommandResult:
    """The notice to a RESERVE_NOW's response_url when the CPO cancels the reservation."""
    return CommandResult(result=CommandResultType.CANCELED_RESERVATION, message=_text(reason))


# --- starts, reservations and the transactions they lead to -------------------------------


def _starts(commands: Iterable[RemoteCommand], charger_id: str) -> list[RemoteCommand]:
    """A charger's START_SESSIONs with a token, newest first."""
    return sorted(
        (
            c
            for c in commands
            if c.kind is RemoteKind.START_SESSION and c.charger_id == charger_id and c.token
        ),
        key=lambda c: (c.received_at, c.id),
        reverse=True,
    )


def match_start(
    tx: Transaction, commands: Iterable[RemoteCommand], *, window: timedelta = NO_REAUTH_WINDOW
) -> RemoteCommand | None:
    """The START_SESSION that ``tx`` answers, if any.

    In order: the charger named this transaction when it accepted the command (2.0.1
    ``transactionId``); the transaction carries the command's ``remoteStartId`` (2.0.1);
    or, when it carries none (1.6), it began on the command's EVSE (or charger) with the
    command's token within ``window`` after the command, whatever the command's result
    (a session that starts after a TIMEOUT is still the command's).
    """
    starts = _starts(commands, tx.charger_id)
    for c in starts:
        if c.tx_id is not None and c.tx_id == tx.tx_id:
            return c
    if tx.remote_start_id is not None:
        return next((c for c in starts if charger_int_id(c.id) == tx.remote_start_id), None)
    if tx.token is None:
        return None
    for c in starts:
        assert c.token is not None  # noqa: S101 - _starts keeps commands with a token
        if (
            c.received_at <= tx.received_at <= c.received_at + window
            and (c.evse_uid is None or c.evse_uid == tx.evse_uid)
            and token_matches(tx.token.value, c.token.uid)
        ):
            return c
    return None


def match_reservation(tx: Transaction, reservations: Iterable[Reservation]) -> Reservation | None:
    """The reservation ``tx`` consumes: the one it names, or the reserved token's own start."""
    held = [r for r in reservations if r.charger_id == tx.charger_id and r.state.holds]
    if tx.reservation_id is not None:
        return next((r for r in held if r.id == tx.reservation_id), None)
    if tx.token is None:
        return None
    token = tx.token.value
    return next(
        (
            r
            for r in sorted(held, key=lambda r: r.received_at, reverse=True)
            if r.received_at <= tx.received_at <= r.expires_at
            and (r.evse_uid is None or r.evse_uid == tx.evse_uid)
            and token_matches(token, r.token.uid)
        ),
        None,
    )


def to_session_link(
    tx: Transaction,
    *,
    session_id: str,
    at: datetime,
    command: RemoteCommand | None = None,
    reservation: Reservation | None = None,
) -> SessionLink | None:
    """The link of a transaction to the command (preferred) or reservation it came from."""
    if command is not None and command.token is not None:
        return SessionLink(
            charger_id=tx.charger_id,
            tx_id=tx.tx_id,
            session_id=session_id,
            partner=command.partner,
            token=command.token,
            authorization_reference=command.authorization_reference,
            command_id=command.id,
            reservation_id=None if reservation is None else reservation.id,
            linked_at=at,
        )
    if reservation is not None:
        return SessionLink(
            charger_id=tx.charger_id,
            tx_id=tx.tx_id,
            session_id=session_id,
            partner=reservation.partner,
            token=reservation.token,
            authorization_reference=reservation.authorization_reference,
            reservation_id=reservation.id,
            linked_at=at,
        )
    return None


def vouch(
    token: AuthToken,
    *,
    charger_id: ChargerId,
    evse_uid: EvseUid | None,
    now: datetime,
    commands: Iterable[RemoteCommand],
    window: timedelta = NO_REAUTH_WINDOW,
) -> AuthDecision | None:
    """Accept a token a partner sent in a START_SESSION or RESERVE_NOW for this place.

    mod_commands: the partner authorised the token; the CPO "SHALL NOT do a real-time
    authorization ... for this Token at the given EVSE/Charge Point within 15 minutes".
    The decision names the partner (``source``) and its ``authorization_reference``, so
    the transaction that follows carries both. ``None``: no such command; ask as usual.
    """
    found = sorted(
        (
            c
            for c in commands
            if c.kind in (RemoteKind.START_SESSION, RemoteKind.RESERVE_NOW)
            and c.token is not None
            and c.charger_id == charger_id
            and (evse_uid is None or c.evse_uid is None or c.evse_uid == evse_uid)
            and c.received_at <= now < c.received_at + window
            and token_matches(token.value, c.token.uid)
        ),
        key=lambda c: (c.received_at, c.id),
    )
    if not found:
        return None
    newest = found[-1]
    assert newest.token is not None  # noqa: S101 - filtered above
    return AuthDecision(
        status=AuthStatus.ACCEPTED,
        group_id=newest.token.group_id,
        reference=newest.authorization_reference,
        source=newest.partner,
    )
