"""OCPI status codes and the error hierarchy; each error carries its HTTP and OCPI code.

Every ``OcpiError`` leaves the platform as an OCPI response envelope rendered by
``ocpi_bridge.api.envelope`` (one place), so no framework error body ever reaches a
partner.

    OcpiError (400, 2000)
    ├── InvalidParameters (200, 2001)   valid JSON, wrong content (names the field)
    ├── NotEnoughInformation (200, 2002)
    ├── UnknownLocation (404, 2003)
    ├── UnknownToken (404, 2004)
    ├── NotFound (404, 2000)
    ├── Unauthorized (401, 2000)        pinned: R-OCPI-SC-1 leaves the code open; we use 2000
    ├── MethodNotAllowed (405, 2000)
    ├── InvalidJson (400, 2001)
    ├── ServerError (500, 3000)
    ├── ClientApiUnusable (200, 3001)
    ├── UnsupportedVersion (200, 3002)
    └── NoMatchingEndpoints (200, 3003)

Calls we make to partners fail with a ``PartnerError`` (raised by
``ocpi_bridge.push.client``); these never leave as our own answers unless translated:

    PartnerError
    ├── PartnerAddressRefusedError     not a host the partner registered, or a private address
    ├── PartnerUnreachableError        connection refused, DNS failure, timeout, redirect
    └── PartnerResponseError           the partner answered, but not with what we asked for
        ├── PartnerUnauthorizedError   HTTP 401: our token was refused
        └── PartnerRejectedError       a well-formed envelope with a status_code outside 1xxx
"""

from __future__ import annotations

from enum import IntEnum
from typing import ClassVar


class OcpiStatus(IntEnum):
    """OCPI 2.2.1 status_codes.asciidoc."""

    SUCCESS = 1000
    CLIENT_ERROR = 2000
    INVALID_PARAMETERS = 2001
    NOT_ENOUGH_INFORMATION = 2002
    UNKNOWN_LOCATION = 2003
    UNKNOWN_TOKEN = 2004
    SERVER_ERROR = 3000
    CLIENT_API_UNUSABLE = 3001
    UNSUPPORTED_VERSION = 3002
    NO_MATCHING_ENDPOINTS = 3003
    HUB_UNKNOWN_RECEIVER = 4001
    HUB_TIMEOUT = 4002
    HUB_CONNECTION_PROBLEM = 4003


class OcpiError(Exception):
    """Base of every error that leaves ocpi_bridge as an OCPI envelope."""

    http_status: ClassVar[int] = 400
    ocpi_status: ClassVar[OcpiStatus] = OcpiStatus.CLIENT_ERROR

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidParametersError(OcpiError):
    """Valid JSON whose content is wrong or incomplete; the message names the field."""

    http_status, ocpi_status = 200, OcpiStatus.INVALID_PARAMETERS


class NotEnoughInformationError(OcpiError):
    """The request lacks information the receiver needs (e.g. a token's details)."""

    http_status, ocpi_status = 200, OcpiStatus.NOT_ENOUGH_INFORMATION


class UnknownLocationError(OcpiError):
    """The Location, EVSE or Connector in the URL does not exist."""

    http_status, ocpi_status = 404, OcpiStatus.UNKNOWN_LOCATION


class UnknownTokenError(OcpiError):
    """The Token in the URL does not exist."""

    http_status, ocpi_status = 404, OcpiStatus.UNKNOWN_TOKEN


class NotFoundError(OcpiError):
    """No such object or route."""

    http_status, ocpi_status = 404, OcpiStatus.CLIENT_ERROR


class UnauthorizedError(OcpiError):
    """Missing, malformed, unknown or revoked credentials token."""

    http_status, ocpi_status = 401, OcpiStatus.CLIENT_ERROR


class MethodNotAllowedError(OcpiError):
    """The method does not apply in this state (e.g. registering twice)."""

    http_status, ocpi_status = 405, OcpiStatus.CLIENT_ERROR


class InvalidJsonError(OcpiError):
    """The body is not JSON at all."""

    http_status, ocpi_status = 400, OcpiStatus.INVALID_PARAMETERS


class ServerError(OcpiError):
    """Something failed on our side; the message never carries internals."""

    http_status, ocpi_status = 500, OcpiStatus.SERVER_ERROR


class ClientApiUnusableError(OcpiError):
    """The partner's API could not be used during a handshake."""

    http_status, ocpi_status = 200, OcpiStatus.CLIENT_API_UNUSABLE


class UnsupportedVersionError(OcpiError):
    """No OCPI version in common with the partner."""

    http_status, ocpi_status = 200, OcpiStatus.UNSUPPORTED_VERSION


class NoMatchingEndpointsError(OcpiError):
    """The partner lacks the endpoints we need."""

    http_status, ocpi_status = 200, OcpiStatus.NO_MATCHING_ENDPOINTS


class PartnerError(Exception):
    """A call to a partner failed; the message says which call and why, never a token."""


class PartnerAddressRefusedError(PartnerError):
    """The URL is not on a host the partner registered, or resolves to a private address."""


class PartnerUnreachableError(PartnerError):
    """No usable HTTP answer: connection, DNS, timeout, or a redirect (never followed)."""


class PartnerResponseError(PartnerError):
    """The partner answered, but with an HTTP error, invalid JSON or no OCPI envelope."""

    def __init__(self, message: str, *, http_status: int) -> None:
        super().__init__(message)
        self.http_status = http_status


class PartnerUnauthorizedError(PartnerResponseError):
    """HTTP 401: the partner does not (or no longer) accept our token."""


class PartnerRejectedError(PartnerResponseError):
    """An envelope whose ``status_code`` is not a success (1xxx)."""

    def __init__(self, message: str, *, http_status: int, status_code: int) -> None:
        super().__init__(message, http_status=http_status)
        self.status_code = status_code
