"""Data: OCPI 2.2.1 Commands module objects (mod_commands): eMSP requests in, responses/results out.

An eMSP POSTs a command body (``StartSession`` ...) to us; we answer at once with a
``CommandResponse`` and later POST one ``CommandResult`` to the command's
``response_url``.
"""

from enum import StrEnum
from typing import Annotated, Self

from pydantic import model_validator

from ocpi_bridge.models.common import CiString, DateTime, DisplayText, Int, OcpiModel, Url
from ocpi_bridge.models.tokens import Token


class CommandType(StrEnum):
    """The command requested; also the last URL segment (mod_commands, CommandType)."""

    CANCEL_RESERVATION = "CANCEL_RESERVATION"
    RESERVE_NOW = "RESERVE_NOW"
    START_SESSION = "START_SESSION"
    STOP_SESSION = "STOP_SESSION"
    UNLOCK_CONNECTOR = "UNLOCK_CONNECTOR"


class CommandResponseType(StrEnum):
    """The CPO's immediate answer to a command (mod_commands, CommandResponseType)."""

    NOT_SUPPORTED = "NOT_SUPPORTED"
    REJECTED = "REJECTED"
    ACCEPTED = "ACCEPTED"
    UNKNOWN_SESSION = "UNKNOWN_SESSION"


class CommandResultType(StrEnum):
    """What the Charge Point made of a command (mod_commands, CommandResultType)."""

    ACCEPTED = "ACCEPTED"
    CANCELED_RESERVATION = "CANCELED_RESERVATION"
    EVSE_OCCUPIED = "EVSE_OCCUPIED"
    EVSE_INOPERATIVE = "EVSE_INOPERATIVE"
    FAILED = "FAILED"
    NOT_SUPPORTED = "NOT_SUPPORTED"
    REJECTED = "REJECTED"
    TIMEOUT = "TIMEOUT"
    UNKNOWN_RESERVATION = "UNKNOWN_RESERVATION"


class CommandResponse(OcpiModel):
    """Synchronous answer to a command, with the seconds to wait for its result."""

    result: CommandResponseType
    timeout: Int
    message: list[DisplayText] | None = None


class CommandResult(OcpiModel):
    """Asynchronous result POSTed to the command's ``response_url``."""

    result: CommandResultType
    message: list[DisplayText] | None = None


class CancelReservation(OcpiModel):
    """Request to cancel a reservation made with ReserveNow (mod_commands)."""

    response_url: Url
    reservation_id: Annotated[str, CiString(36)]


class ReserveNow(OcpiModel):
    """Request to reserve a Location (or one EVSE) for a token until ``expiry_date``."""

    response_url: Url
    token: Token
    expiry_date: DateTime
    reservation_id: Annotated[str, CiString(36)]
    location_id: Annotated[str, CiString(36)]
    evse_uid: Annotated[str, CiString(36)] | None = None
    authorization_reference: Annotated[str, CiString(36)] | None = None


class StartSession(OcpiModel):
    """Request to start a session at a Location, EVSE or Connector (mod_commands).

    ``evse_uid`` is "required when ``connector_id`` is set".
    """

    response_url: Url
    token: Token
    location_id: Annotated[str, CiString(36)]
    evse_uid: Annotated[str, CiString(36)] | None = None
    connector_id: Annotated[str, CiString(36)] | None = None
    authorization_reference: Annotated[str, CiString(36)] | None = None

    @model_validator(mode="after")
    def _connector_needs_evse(self) -> Self:
        if self.connector_id is not None and self.evse_uid is None:
            raise ValueError("evse_uid is required when connector_id is set")
        return self


class StopSession(OcpiModel):
    """Request to stop a session (mod_commands, StopSession object)."""

    response_url: Url
    session_id: Annotated[str, CiString(36)]


class UnlockConnector(OcpiModel):
    """Request to unlock one connector (mod_commands, UnlockConnector object)."""

    response_url: Url
    location_id: Annotated[str, CiString(36)]
    evse_uid: Annotated[str, CiString(36)]
    connector_id: Annotated[str, CiString(36)]
