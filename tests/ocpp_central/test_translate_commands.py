"""Gateway commands -> OCPP CALLs, every optional field, both versions (pure)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from gateway.domain import commands as c
from gateway.domain.topology import ConnectorRef
from gateway.domain.transactions import AuthToken, TokenKind
from ocpp_central.translate.commands import from_error, from_result, to_call
from ocpp_central.translate.rpc import OcppVersion
from tests.builders import T0

V16, V201 = OcppVersion.V16, OcppVersion.V201
TOKEN = AuthToken(value="04A1B2C3")
ONE = ConnectorRef(evse=None, connector=1)
EVSE2 = ConnectorRef(evse=2, connector=1)
EVSE_ONLY = ConnectorRef(evse=2, connector=0)
PROFILE = c.ChargingProfile(
    id=1,
    purpose=c.ProfilePurpose.MAX,
    rate_unit=c.RateUnit.W,
    periods=(c.SchedulePeriod(start_s=0, limit=Decimal("7400.04")),),
)


@pytest.mark.parametrize(
    ("command", "version", "expected"),
    [
        (
            c.StartCharging(token=TOKEN, connector=None, remote_start_id=1),
            V16,
            ("RemoteStartTransaction", {"idTag": "04A1B2C3"}),
        ),
        (
            c.StartCharging(token=TOKEN, connector=ONE, remote_start_id=1, profile=PROFILE),
            V16,
            (
                "RemoteStartTransaction",
                {
                    "idTag": "04A1B2C3",
                    "connectorId": 1,
                    "chargingProfile": {
                        "chargingProfileId": 1,
                        "stackLevel": 0,
                        "chargingProfilePurpose": "ChargePointMaxProfile",
                        "chargingProfileKind": "Relative",
                        "chargingSchedule": {
                            "chargingRateUnit": "W",
                            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 7400}],
                        },
                    },
                },
            ),
        ),
        (
            c.ReserveNow(
                reservation_id=1, connector=None, token=TOKEN, expires_at=T0, group_id="G" * 30
            ),
            V16,
            (
                "ReserveNow",
                {
                    "connectorId": 0,
                    "expiryDate": "2026-11-22T10:00:00.000Z",
                    "idTag": "04A1B2C3",
                    "reservationId": 1,
                    "parentIdTag": "G" * 20,
                },
            ),
        ),
        (c.ClearChargingProfile(), V16, ("ClearChargingProfile", {})),
        (
            c.ClearChargingProfile(
                profile_id=3, connector=ONE, purpose=c.ProfilePurpose.TX_DEFAULT, stack_level=2
            ),
            V16,
            (
                "ClearChargingProfile",
                {
                    "id": 3,
                    "connectorId": 1,
                    "chargingProfilePurpose": "TxDefaultProfile",
                    "stackLevel": 2,
                },
            ),
        ),
        (
            c.GetCompositeSchedule(connector=None, duration_s=60),
            V16,
            ("GetCompositeSchedule", {"connectorId": 0, "duration": 60}),
        ),
        (
            c.ChangeAvailability(connector=ONE, operative=True),
            V16,
            ("ChangeAvailability", {"connectorId": 1, "type": "Operative"}),
        ),
        (c.Reset(), V16, ("Reset", {"type": "Soft"})),
        (
            c.TriggerMessage(message="Heartbeat"),
            V16,
            ("TriggerMessage", {"requestedMessage": "Heartbeat"}),
        ),
        (c.ReadSettings(), V16, ("GetConfiguration", {})),
        (
            c.SendLocalList(
                version=2,
                full=False,
                entries=(
                    c.LocalListEntry(token=TOKEN, status="blocked", expires_at=T0, group_id="G1"),
                    c.LocalListEntry(token=AuthToken(value="GONE"), status=None),
                    c.LocalListEntry(token=AuthToken(value="ODD"), status="weird"),
                ),
            ),
            V16,
            (
                "SendLocalList",
                {
                    "listVersion": 2,
                    "updateType": "Differential",
                    "localAuthorizationList": [
                        {
                            "idTag": "04A1B2C3",
                            "idTagInfo": {
                                "status": "Blocked",
                                "expiryDate": "2026-11-22T10:00:00.000Z",
                                "parentIdTag": "G1",
                            },
                        },
                        {"idTag": "GONE"},
                        {"idTag": "ODD", "idTagInfo": {"status": "Invalid"}},
                    ],
                },
            ),
        ),
        (
            c.StartCharging(
                token=AuthToken(value="APP-1", kind=TokenKind.CENTRAL),
                connector=None,
                remote_start_id=4,
                profile=PROFILE,
            ),
            V201,
            (
                "RequestStartTransaction",
                {
                    "idToken": {"idToken": "APP-1", "type": "Central"},
                    "remoteStartId": 4,
                    "chargingProfile": {
                        "id": 1,
                        "stackLevel": 0,
                        "chargingProfilePurpose": "ChargingStationMaxProfile",
                        "chargingProfileKind": "Relative",
                        "chargingSchedule": [
                            {
                                "id": 1,
                                "chargingRateUnit": "W",
                                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 7400}],
                            }
                        ],
                    },
                },
            ),
        ),
        (
            c.ReserveNow(
                reservation_id=5,
                connector=None,
                token=TOKEN,
                expires_at=T0 + timedelta(hours=1),
                group_id="G1",
            ),
            V201,
            (
                "ReserveNow",
                {
                    "id": 5,
                    "expiryDateTime": "2026-11-22T11:00:00.000Z",
                    "idToken": {"idToken": "04A1B2C3", "type": "ISO14443"},
                    "groupIdToken": {"idToken": "G1", "type": "Central"},
                },
            ),
        ),
        (
            c.SetChargingProfile(connector=None, profile=PROFILE),
            V201,
            (
                "SetChargingProfile",
                {
                    "evseId": 0,
                    "chargingProfile": {
                        "id": 1,
                        "stackLevel": 0,
                        "chargingProfilePurpose": "ChargingStationMaxProfile",
                        "chargingProfileKind": "Relative",
                        "chargingSchedule": [
                            {
                                "id": 1,
                                "chargingRateUnit": "W",
                                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 7400}],
                            }
                        ],
                    },
                },
            ),
        ),
        (
            c.ClearChargingProfile(profile_id=3, stack_level=1),
            V201,
            (
                "ClearChargingProfile",
                {"chargingProfileId": 3, "chargingProfileCriteria": {"stackLevel": 1}},
            ),
        ),
        (c.ClearChargingProfile(), V201, ("ClearChargingProfile", {})),
        (
            c.GetCompositeSchedule(connector=EVSE2, duration_s=60, rate_unit=c.RateUnit.A),
            V201,
            ("GetCompositeSchedule", {"duration": 60, "evseId": 2, "chargingRateUnit": "A"}),
        ),
        (
            c.ChangeAvailability(connector=None, operative=False),
            V201,
            ("ChangeAvailability", {"operationalStatus": "Inoperative"}),
        ),
        (
            c.ChangeAvailability(connector=EVSE_ONLY, operative=False),
            V201,
            ("ChangeAvailability", {"operationalStatus": "Inoperative", "evse": {"id": 2}}),
        ),
        (c.Reset(hard=True), V201, ("Reset", {"type": "Immediate"})),
        (
            c.TriggerMessage(message="Heartbeat"),
            V201,
            ("TriggerMessage", {"requestedMessage": "Heartbeat"}),
        ),
        (
            c.ReadSettings(keys=("EVSE/2.Power", "Bare")),
            V201,
            (
                "GetVariables",
                {
                    "getVariableData": [
                        {
                            "component": {"name": "EVSE", "instance": "2"},
                            "variable": {"name": "Power"},
                        },
                        {"component": {"name": "ChargingStation"}, "variable": {"name": "Bare"}},
                    ]
                },
            ),
        ),
        (
            c.SendLocalList(
                version=1,
                full=True,
                entries=(
                    c.LocalListEntry(token=TOKEN),
                    c.LocalListEntry(token=AuthToken(value="X"), status=None),
                ),
            ),
            V201,
            (
                "SendLocalList",
                {
                    "versionNumber": 1,
                    "updateType": "Full",
                    "localAuthorizationList": [
                        {
                            "idToken": {"idToken": "04A1B2C3", "type": "ISO14443"},
                            "idTokenInfo": {"status": "Accepted"},
                        },
                        {"idToken": {"idToken": "X", "type": "ISO14443"}},
                    ],
                },
            ),
        ),
        (
            c.UnlockConnector(connector=ONE),
            V201,
            ("UnlockConnector", {"evseId": 0, "connectorId": 1}),
        ),
    ],
)
def test_commands_become_the_versions_call(command, version, expected):
    """Optional fields appear only when set; 2.0.1 addresses EVSEs, 1.6 connectors."""
    assert to_call(command, version) == expected


def test_2_1_speaks_the_2_0_1_shapes():
    """OCPP 2.1 reuses the 2.0.1 messages the gateway sends."""
    assert to_call(c.Reset(), OcppVersion.V21) == to_call(c.Reset(), V201)


def test_limits_have_at_most_one_decimal():
    """OCPP limits accept one fraction digit: 16.25 A is sent as 16.2 (half-even)."""
    profile = c.ChargingProfile(
        id=1, rate_unit=c.RateUnit.A, periods=(c.SchedulePeriod(start_s=0, limit=Decimal("16.25")),)
    )
    _, payload = to_call(c.SetChargingProfile(connector=ONE, profile=profile), V16)
    assert (
        payload["csChargingProfiles"]["chargingSchedule"]["chargingSchedulePeriod"][0]["limit"]
        == 16.2
    )


@pytest.mark.parametrize(
    ("payload", "status"),
    [
        ({"status": "Accepted"}, c.OutcomeStatus.ACCEPTED),
        ({"status": "Occupied"}, c.OutcomeStatus.OCCUPIED),
        ({"status": "Scheduled"}, c.OutcomeStatus.SCHEDULED),
        ({"status": "Something"}, c.OutcomeStatus.REJECTED),
        ({"listVersion": 4}, c.OutcomeStatus.ACCEPTED),
    ],
)
def test_answers_become_outcomes(payload, status):
    """An unknown status word is never taken for success; reads without status are accepted."""
    outcome = from_result(payload)
    assert outcome.status is status
    assert outcome.detail == payload


def test_status_info_and_errors_are_kept():
    """2.0.1 statusInfo.reasonCode and a CALLERROR's code travel with the outcome."""
    assert (
        from_result({"status": "Rejected", "statusInfo": {"reasonCode": "NoCable"}}).message
        == "NoCable"
    )
    error = from_error("NotSupported", "no")
    assert (error.status, error.error_code, error.message, error.accepted) == (
        c.OutcomeStatus.ERROR,
        "NotSupported",
        "no",
        False,
    )
