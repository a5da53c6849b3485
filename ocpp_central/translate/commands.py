"""Pure: gateway commands -> OCPP CALLs (1.6 and 2.0.1/2.1), and their answers -> outcomes."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, assert_never

from gateway.domain.commands import (
    CancelReservation,
    ChangeAvailability,
    ChargerCommand,
    ChargingProfile,
    ClearChargingProfile,
    CommandOutcome,
    GetCompositeSchedule,
    GetLocalListVersion,
    OutcomeStatus,
    ProfilePurpose,
    ReadSettings,
    ReserveNow,
    Reset,
    SendLocalList,
    SetChargingProfile,
    StartCharging,
    StopCharging,
    TriggerMessage,
    UnlockConnector,
    WriteSetting,
)
from gateway.domain.topology import ConnectorRef
from gateway.domain.transactions import AuthToken, TokenKind
from ocpp_central.translate.common import ocpp_datetime
from ocpp_central.translate.rpc import OcppVersion

Call = tuple[str, dict[str, Any]]

#: Answer statuses of both versions -> the gateway's outcome.
STATUS: Mapping[str, OutcomeStatus] = {
    "Accepted": OutcomeStatus.ACCEPTED,
    "Rejected": OutcomeStatus.REJECTED,
    "Unlocked": OutcomeStatus.ACCEPTED,
    "UnlockFailed": OutcomeStatus.FAILED,
    "OngoingAuthorizedTransaction": OutcomeStatus.REJECTED,
    "UnknownConnector": OutcomeStatus.REJECTED,
    "NotSupported": OutcomeStatus.NOT_SUPPORTED,
    "NotImplemented": OutcomeStatus.NOT_SUPPORTED,
    "Occupied": OutcomeStatus.OCCUPIED,
    "Faulted": OutcomeStatus.FAULTED,
    "Unavailable": OutcomeStatus.UNAVAILABLE,
    "Unknown": OutcomeStatus.UNKNOWN,
    "Scheduled": OutcomeStatus.SCHEDULED,
    "RebootRequired": OutcomeStatus.REBOOT_REQUIRED,
    "Failed": OutcomeStatus.FAILED,
    "VersionMismatch": OutcomeStatus.VERSION_MISMATCH,
}

_PURPOSE_V16 = {
    ProfilePurpose.TX: "TxProfile",
    ProfilePurpose.TX_DEFAULT: "TxDefaultProfile",
    ProfilePurpose.MAX: "ChargePointMaxProfile",
}
_PURPOSE_V201 = {
    ProfilePurpose.TX: "TxProfile",
    ProfilePurpose.TX_DEFAULT: "TxDefaultProfile",
    ProfilePurpose.MAX: "ChargingStationMaxProfile",
}
_TOKEN_TYPE_V201 = {
    TokenKind.RFID: "ISO14443",
    TokenKind.CENTRAL: "Central",
    TokenKind.CONTRACT: "eMAID",
    TokenKind.KEY_CODE: "KeyCode",
    TokenKind.LOCAL: "Local",
    TokenKind.MAC_ADDRESS: "MacAddress",
    TokenKind.NO_AUTHORIZATION: "NoAuthorization",
    TokenKind.OTHER: "Central",
}
_LIST_STATUS = {
    "accepted": "Accepted",
    "blocked": "Blocked",
    "expired": "Expired",
    "invalid": "Invalid",
}


def _number(value: Decimal) -> int | float:
    """OCPP limits are JSON numbers with at most one decimal."""
    rounded = value.quantize(Decimal("0.1"))
    return int(rounded) if rounded == rounded.to_integral_value() else float(rounded)


def _connector_v16(ref: ConnectorRef | None) -> int:
    return 0 if ref is None else ref.connector


def _evse_v201(ref: ConnectorRef | None) -> int:
    return 0 if ref is None or ref.evse is None else ref.evse


def _id_token_v201(token: AuthToken) -> dict[str, Any]:
    return {"idToken": token.value, "type": _TOKEN_TYPE_V201[token.kind]}


def _schedule(profile: ChargingProfile) -> dict[str, Any]:
    schedule: dict[str, Any] = {
        "chargingRateUnit": profile.rate_unit.value,
        "chargingSchedulePeriod": [
            {
                "startPeriod": p.start_s,
                "limit": _number(p.limit),
                **({} if p.phases is None else {"numberPhases": p.phases}),
            }
            for p in profile.periods
        ],
    }
    if profile.start is not None:
        schedule["startSchedule"] = ocpp_datetime(profile.start)
    if profile.duration_s is not None:
        schedule["duration"] = profile.duration_s
    if profile.min_rate is not None:
        schedule["minChargingRate"] = _number(profile.min_rate)
    return schedule


def profile_v16(profile: ChargingProfile) -> dict[str, Any]:
    out: dict[str, Any] = {
        "chargingProfileId": profile.id,
        "stackLevel": profile.stack_level,
        "chargingProfilePurpose": _PURPOSE_V16[profile.purpose],
        "chargingProfileKind": "Absolute" if profile.start is not None else "Relative",
        "chargingSchedule": _schedule(profile),
    }
    if profile.tx_id is not None:
        out["transactionId"] = int(profile.tx_id)
    return out


def profile_v201(profile: ChargingProfile) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": profile.id,
        "stackLevel": profile.stack_level,
        "chargingProfilePurpose": _PURPOSE_V201[profile.purpose],
        "chargingProfileKind": "Absolute" if profile.start is not None else "Relative",
        "chargingSchedule": [{"id": profile.id, **_schedule(profile)}],
    }
    if profile.tx_id is not None:
        out["transactionId"] = profile.tx_id
    return out


def to_call(command: ChargerCommand, version: OcppVersion) -> Call:
    """The CALL (action, payload) that carries ``command`` in ``version``."""
    return _to_v16(command) if version is OcppVersion.V16 else _to_v201(command)


def _to_v16(command: ChargerCommand) -> Call:
    match command:
        case StartCharging():
            payload: dict[str, Any] = {"idTag": command.token.value[:20]}
            if command.connector is not None:
                payload["connectorId"] = command.connector.connector
            if command.profile is not None:
                payload["chargingProfile"] = profile_v16(command.profile)
            return "RemoteStartTransaction", payload
        case StopCharging():
            return "RemoteStopTransaction", {"transactionId": int(command.tx_id)}
        case UnlockConnector():
            return "UnlockConnector", {"connectorId": command.connector.connector}
        case ReserveNow():
            payload = {
                "connectorId": _connector_v16(command.connector),
                "expiryDate": ocpp_datetime(command.expires_at),
                "idTag": command.token.value[:20],
                "reservationId": command.reservation_id,
            }
            if command.group_id is not None:
                payload["parentIdTag"] = command.group_id[:20]
            return "ReserveNow", payload
        case CancelReservation():
            return "CancelReservation", {"reservationId": command.reservation_id}
        case SetChargingProfile():
            return "SetChargingProfile", {
                "connectorId": _connector_v16(command.connector),
                "csChargingProfiles": profile_v16(command.profile),
            }
        case ClearChargingProfile():
            payload = {}
            if command.profile_id is not None:
                payload["id"] = command.profile_id
            if command.connector is not None:
                payload["connectorId"] = command.connector.connector
            if command.purpose is not None:
                payload["chargingProfilePurpose"] = _PURPOSE_V16[command.purpose]
            if command.stack_level is not None:
                payload["stackLevel"] = command.stack_level
            return "ClearChargingProfile", payload
        case GetCompositeSchedule():
            payload = {
                "connectorId": _connector_v16(command.connector),
                "duration": command.duration_s,
            }
            if command.rate_unit is not None:
                payload["chargingRateUnit"] = command.rate_unit.value
            return "GetCompositeSchedule", payload
        case ChangeAvailability():
            return "ChangeAvailability", {
                "connectorId": _connector_v16(command.connector),
                "type": "Operative" if command.operative else "Inoperative",
            }
        case Reset():
            return "Reset", {"type": "Hard" if command.hard else "Soft"}
        case TriggerMessage():
            payload = {"requestedMessage": command.message}
            if command.connector is not None:
                payload["connectorId"] = command.connector.connector
            return "TriggerMessage", payload
        case ReadSettings():
            return "GetConfiguration", {"key": list(command.keys)} if command.keys else {}
        case WriteSetting():
            return "ChangeConfiguration", {"key": command.key, "value": command.value}
        case SendLocalList():
            return "SendLocalList", {
                "listVersion": command.version,
                "updateType": "Full" if command.full else "Differential",
                "localAuthorizationList": [
                    {
                        "idTag": e.token.value[:20],
                        **(
                            {}
                            if e.status is None
                            else {"idTagInfo": _list_info_v16(e.status, e.expires_at, e.group_id)}
                        ),
                    }
                    for e in command.entries
                ],
            }
        case GetLocalListVersion():
            return "GetLocalListVersion", {}
        case _:
            assert_never(command)


def _list_info_v16(status: str, expires_at: Any, group_id: str | None) -> dict[str, Any]:
    info: dict[str, Any] = {"status": _LIST_STATUS.get(status, "Invalid")}
    if expires_at is not None:
        info["expiryDate"] = ocpp_datetime(expires_at)
    if group_id is not None:
        info["parentIdTag"] = group_id[:20]
    return info


def _split_key(key: str) -> dict[str, Any]:
    """``Component.Variable`` (or ``Component/Instance.Variable``) -> 2.0.1 structures."""
    component, _, variable = key.rpartition(".")
    name, _, instance = component.partition("/")
    out: dict[str, Any] = {
        "component": {"name": name or "ChargingStation"},
        "variable": {"name": variable},
    }
    if instance:
        out["component"]["instance"] = instance
    return out


def _to_v201(command: ChargerCommand) -> Call:
    match command:
        case StartCharging():
            payload: dict[str, Any] = {
                "idToken": _id_token_v201(command.token),
                "remoteStartId": command.remote_start_id,
            }
            if command.connector is not None and command.connector.evse is not None:
                payload["evseId"] = command.connector.evse
            if command.profile is not None:
                payload["chargingProfile"] = profile_v201(command.profile)
            return "RequestStartTransaction", payload
        case StopCharging():
            return "RequestStopTransaction", {"transactionId": command.tx_id}
        case UnlockConnector():
            return "UnlockConnector", {
                "evseId": _evse_v201(command.connector),
                "connectorId": command.connector.connector,
            }
        case ReserveNow():
            payload = {
                "id": command.reservation_id,
                "expiryDateTime": ocpp_datetime(command.expires_at),
                "idToken": _id_token_v201(command.token),
            }
            if command.connector is not None and command.connector.evse is not None:
                payload["evseId"] = command.connector.evse
            if command.group_id is not None:
                payload["groupIdToken"] = {"idToken": command.group_id[:36], "type": "Central"}
            return "ReserveNow", payload
        case CancelReservation():
            return "CancelReservation", {"reservationId": command.reservation_id}
        case SetChargingProfile():
            return "SetChargingProfile", {
                "evseId": _evse_v201(command.connector),
                "chargingProfile": profile_v201(command.profile),
            }
        case ClearChargingProfile():
            payload = {}
            if command.profile_id is not None:
                payload["chargingProfileId"] = command.profile_id
            criteria: dict[str, Any] = {}
            if command.connector is not None:
                criteria["evseId"] = _evse_v201(command.connector)
            if command.purpose is not None:
                criteria["chargingProfilePurpose"] = _PURPOSE_V201[command.purpose]
            if command.stack_level is not None:
                criteria["stackLevel"] = command.stack_level
            if criteria:
                payload["chargingProfileCriteria"] = criteria
            return "ClearChargingProfile", payload
        case GetCompositeSchedule():
            payload = {"duration": command.duration_s, "evseId": _evse_v201(command.connector)}
            if command.rate_unit is not None:
                payload["chargingRateUnit"] = command.rate_unit.value
            return "GetCompositeSchedule", payload
        case ChangeAvailability():
            payload = {"operationalStatus": "Operative" if command.operative else "Inoperative"}
            if command.connector is not None and command.connector.evse is not None:
                evse: dict[str, Any] = {"id": command.connector.evse}
                if command.connector.connector:
                    evse["connectorId"] = command.connector.connector
                payload["evse"] = evse
            return "ChangeAvailability", payload
        case Reset():
            return "Reset", {"type": "Immediate" if command.hard else "OnIdle"}
        case TriggerMessage():
            payload = {"requestedMessage": command.message}
            if command.connector is not None and command.connector.evse is not None:
                payload["evse"] = {"id": command.connector.evse}
            return "TriggerMessage", payload
        case ReadSettings():
            return "GetVariables", {"getVariableData": [_split_key(k) for k in command.keys]}
        case WriteSetting():
            return "SetVariables", {
                "setVariableData": [{**_split_key(command.key), "attributeValue": command.value}]
            }
        case SendLocalList():
            return "SendLocalList", {
                "versionNumber": command.version,
                "updateType": "Full" if command.full else "Differential",
                "localAuthorizationList": [
                    {
                        "idToken": _id_token_v201(e.token),
                        **(
                            {}
                            if e.status is None
                            else {"idTokenInfo": {"status": _LIST_STATUS.get(e.status, "Invalid")}}
                        ),
                    }
                    for e in command.entries
                ],
            }
        case GetLocalListVersion():
            return "GetLocalListVersion", {}
        case _:
            assert_never(command)


def from_result(payload: Mapping[str, Any]) -> CommandOutcome:
    """The outcome a CALLRESULT reports; answers without a status (reads) are accepted."""
    status = payload.get("status")
    if status is None:
        return CommandOutcome(status=OutcomeStatus.ACCEPTED, detail=dict(payload))
    info = payload.get("statusInfo") or {}
    return CommandOutcome(
        status=STATUS.get(str(status), OutcomeStatus.REJECTED),
        detail=dict(payload),
        message=info.get("reasonCode"),
    )


def from_error(code: str, description: str) -> CommandOutcome:
    return CommandOutcome(status=OutcomeStatus.ERROR, error_code=code, message=description)
