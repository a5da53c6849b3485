"""Every outbound command reaches a simulated charger in its version's shape; outcomes return."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from gateway.domain import commands as c
from gateway.domain.ids import ChargerId
from gateway.domain.topology import ConnectorRef
from gateway.domain.transactions import AuthToken, TokenKind
from tests.builders import T0
from tests.integration.conftest import Running
from tests.sim.charger import sim_charger, wait_until

pytestmark = pytest.mark.integration

AC, DC = ChargerId("AC-0001"), ChargerId("DC-0001")
TOKEN = AuthToken(value="04A1B2C3", kind=TokenKind.RFID)
PROFILE = c.ChargingProfile(
    id=7,
    rate_unit=c.RateUnit.A,
    periods=(
        c.SchedulePeriod(start_s=0, limit=Decimal(16)),
        c.SchedulePeriod(start_s=600, limit=Decimal("8.5")),
    ),
    tx_id="3",
)
ONE = ConnectorRef(evse=None, connector=1)
EVSE1 = ConnectorRef(evse=1, connector=1)

V16_CASES = [
    (
        c.StartCharging(token=TOKEN, connector=ONE, remote_start_id=1),
        "RemoteStartTransaction",
        {"idTag": "04A1B2C3", "connectorId": 1},
    ),
    (c.StopCharging(tx_id="3"), "RemoteStopTransaction", {"transactionId": 3}),
    (c.UnlockConnector(connector=ONE), "UnlockConnector", {"connectorId": 1}),
    (
        c.ReserveNow(
            reservation_id=11, connector=ONE, token=TOKEN, expires_at=T0 + timedelta(minutes=15)
        ),
        "ReserveNow",
        {
            "connectorId": 1,
            "expiryDate": "2026-11-22T10:15:00.000Z",
            "idTag": "04A1B2C3",
            "reservationId": 11,
        },
    ),
    (c.CancelReservation(reservation_id=11), "CancelReservation", {"reservationId": 11}),
    (
        c.SetChargingProfile(connector=ONE, profile=PROFILE),
        "SetChargingProfile",
        {
            "connectorId": 1,
            "csChargingProfiles": {
                "chargingProfileId": 7,
                "stackLevel": 0,
                "chargingProfilePurpose": "TxProfile",
                "chargingProfileKind": "Relative",
                "transactionId": 3,
                "chargingSchedule": {
                    "chargingRateUnit": "A",
                    "chargingSchedulePeriod": [
                        {"startPeriod": 0, "limit": 16},
                        {"startPeriod": 600, "limit": 8.5},
                    ],
                },
            },
        },
    ),
    (c.ClearChargingProfile(profile_id=7), "ClearChargingProfile", {"id": 7}),
    (
        c.GetCompositeSchedule(connector=ONE, duration_s=3600, rate_unit=c.RateUnit.W),
        "GetCompositeSchedule",
        {"connectorId": 1, "duration": 3600, "chargingRateUnit": "W"},
    ),
    (
        c.ChangeAvailability(connector=None, operative=False),
        "ChangeAvailability",
        {"connectorId": 0, "type": "Inoperative"},
    ),
    (c.Reset(hard=True), "Reset", {"type": "Hard"}),
    (
        c.TriggerMessage(message="StatusNotification", connector=ONE),
        "TriggerMessage",
        {"requestedMessage": "StatusNotification", "connectorId": 1},
    ),
    (
        c.ReadSettings(keys=("HeartbeatInterval",)),
        "GetConfiguration",
        {"key": ["HeartbeatInterval"]},
    ),
    (
        c.WriteSetting(key="HeartbeatInterval", value="60"),
        "ChangeConfiguration",
        {"key": "HeartbeatInterval", "value": "60"},
    ),
    (
        c.SendLocalList(version=3, full=True, entries=(c.LocalListEntry(token=TOKEN),)),
        "SendLocalList",
        {
            "listVersion": 3,
            "updateType": "Full",
            "localAuthorizationList": [{"idTag": "04A1B2C3", "idTagInfo": {"status": "Accepted"}}],
        },
    ),
    (c.GetLocalListVersion(), "GetLocalListVersion", {}),
]

V201_CASES = [
    (
        c.StartCharging(token=TOKEN, connector=EVSE1, remote_start_id=5),
        "RequestStartTransaction",
        {"idToken": {"idToken": "04A1B2C3", "type": "ISO14443"}, "remoteStartId": 5, "evseId": 1},
    ),
    (c.StopCharging(tx_id="dc-tx-1"), "RequestStopTransaction", {"transactionId": "dc-tx-1"}),
    (c.UnlockConnector(connector=EVSE1), "UnlockConnector", {"evseId": 1, "connectorId": 1}),
    (
        c.ReserveNow(reservation_id=12, connector=EVSE1, token=TOKEN, expires_at=T0),
        "ReserveNow",
        {
            "id": 12,
            "expiryDateTime": "2026-11-22T10:00:00.000Z",
            "idToken": {"idToken": "04A1B2C3", "type": "ISO14443"},
            "evseId": 1,
        },
    ),
    (c.CancelReservation(reservation_id=12), "CancelReservation", {"reservationId": 12}),
    (
        c.ClearChargingProfile(connector=EVSE1, purpose=c.ProfilePurpose.TX),
        "ClearChargingProfile",
        {"chargingProfileCriteria": {"evseId": 1, "chargingProfilePurpose": "TxProfile"}},
    ),
    (
        c.GetCompositeSchedule(connector=EVSE1, duration_s=600),
        "GetCompositeSchedule",
        {"duration": 600, "evseId": 1},
    ),
    (
        c.ChangeAvailability(connector=EVSE1, operative=True),
        "ChangeAvailability",
        {"operationalStatus": "Operative", "evse": {"id": 1, "connectorId": 1}},
    ),
    (c.Reset(), "Reset", {"type": "OnIdle"}),
    (
        c.TriggerMessage(message="StatusNotification", connector=EVSE1),
        "TriggerMessage",
        {"requestedMessage": "StatusNotification", "evse": {"id": 1}},
    ),
    (
        c.ReadSettings(keys=("OCPPCommCtrlr.HeartbeatInterval",)),
        "GetVariables",
        {
            "getVariableData": [
                {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}
            ]
        },
    ),
    (
        c.WriteSetting(key="OCPPCommCtrlr.HeartbeatInterval", value="60"),
        "SetVariables",
        {
            "setVariableData": [
                {
                    "component": {"name": "OCPPCommCtrlr"},
                    "variable": {"name": "HeartbeatInterval"},
                    "attributeValue": "60",
                }
            ]
        },
    ),
    (c.GetLocalListVersion(), "GetLocalListVersion", {}),
]

ANSWERS: dict[str, Any] = {
    "UnlockConnector": {"status": "Unlocked"},
    "GetConfiguration": {
        "configurationKey": [{"key": "HeartbeatInterval", "readonly": False, "value": "300"}]
    },
    "GetLocalListVersion": {"listVersion": 3},
    "GetVariables": {
        "getVariableResult": [
            {
                "attributeStatus": "Accepted",
                "component": {"name": "OCPPCommCtrlr"},
                "variable": {"name": "HeartbeatInterval"},
                "attributeValue": "300",
            }
        ]
    },
    "SetVariables": {
        "setVariableResult": [
            {
                "attributeStatus": "Accepted",
                "component": {"name": "OCPPCommCtrlr"},
                "variable": {"name": "HeartbeatInterval"},
            }
        ]
    },
}


@pytest.mark.parametrize(
    ("command", "action", "payload"), V16_CASES, ids=[a for _, a, _ in V16_CASES]
)
async def test_1_6_commands(running: Running, command, action, payload):
    """Each command is the right 1.6 CALL and an accepted answer is an ACCEPTED outcome."""
    async with sim_charger(running.ws_url("AC-0001")) as cp:
        cp.answers.update(ANSWERS)
        await wait_until(lambda: running.gateway.link.connected(AC))
        outcome = await running.gateway.link.send(AC, command)

    assert cp.received == [(action, payload)]
    assert outcome.status is c.OutcomeStatus.ACCEPTED, outcome


@pytest.mark.parametrize(
    ("command", "action", "payload"), V201_CASES, ids=[a for _, a, _ in V201_CASES]
)
async def test_2_0_1_commands(running: Running, command, action, payload):
    """Each command is the right 2.0.1 CALL and an accepted answer is an ACCEPTED outcome."""
    async with sim_charger(running.ws_url("DC-0001"), "ocpp2.0.1") as cp:
        cp.answers.update(ANSWERS)
        cp.answers["GetLocalListVersion"] = {"versionNumber": 3}
        await wait_until(lambda: running.gateway.link.connected(DC))
        outcome = await running.gateway.link.send(DC, command)

    assert cp.received == [(action, payload)]
    assert outcome.status is c.OutcomeStatus.ACCEPTED, outcome


async def test_2_0_1_charging_profiles_use_the_2_0_1_shape(running: Running):
    """A 2.0.1 SetChargingProfile nests the schedule in a list and keeps the tx id a string."""
    profile = c.ChargingProfile(
        id=8,
        rate_unit=c.RateUnit.W,
        periods=(c.SchedulePeriod(start_s=0, limit=Decimal(11000), phases=3),),
        tx_id="dc-tx-1",
        start=T0,
        duration_s=3600,
        min_rate=Decimal(1400),
    )
    async with sim_charger(running.ws_url("DC-0001"), "ocpp2.0.1") as cp:
        await wait_until(lambda: running.gateway.link.connected(DC))
        outcome = await running.gateway.link.send(
            DC, c.SetChargingProfile(connector=EVSE1, profile=profile)
        )

    assert outcome.accepted
    ((action, payload),) = cp.received
    assert action == "SetChargingProfile"
    assert payload == {
        "evseId": 1,
        "chargingProfile": {
            "id": 8,
            "stackLevel": 0,
            "chargingProfilePurpose": "TxProfile",
            "chargingProfileKind": "Absolute",
            "transactionId": "dc-tx-1",
            "chargingSchedule": [
                {
                    "id": 8,
                    "chargingRateUnit": "W",
                    "chargingSchedulePeriod": [
                        {"startPeriod": 0, "limit": 11000, "numberPhases": 3}
                    ],
                    "startSchedule": "2026-11-22T10:00:00.000Z",
                    "duration": 3600,
                    "minChargingRate": 1400,
                }
            ],
        },
    }


@pytest.mark.parametrize(
    ("answer", "status"),
    [
        ({"status": "UnlockFailed"}, c.OutcomeStatus.FAILED),
        ({"status": "NotSupported"}, c.OutcomeStatus.NOT_SUPPORTED),
        ({"status": "Sideways"}, c.OutcomeStatus.ERROR),  # not in the schema: not success
        ("error:NotImplemented", c.OutcomeStatus.ERROR),
    ],
)
async def test_refusals_and_callerrors_are_outcomes_not_exceptions(
    running: Running, answer, status
):
    """A rejection keeps the charger's word; a CALLERROR is an ERROR outcome carrying its code."""
    async with sim_charger(running.ws_url("AC-0001")) as cp:
        cp.answers["UnlockConnector"] = answer
        await wait_until(lambda: running.gateway.link.connected(AC))
        outcome = await running.gateway.link.send(AC, c.UnlockConnector(connector=ONE))

    assert outcome.status is status
    if answer == "error:NotImplemented":
        assert outcome.error_code == "NotImplemented"


async def test_quirk_14_a_silent_charger_gives_a_timeout_and_the_link_stays_usable(
    running: Running,
):
    """No answer within the timeout: TIMEOUT; the next command is unaffected."""
    async with sim_charger(running.ws_url("AC-0001")) as cp:
        cp.answers["Reset"] = "silent"
        await wait_until(lambda: running.gateway.link.connected(AC))
        outcome = await running.gateway.link.send(AC, c.Reset(), timeout_s=0.3)
        assert outcome.status is c.OutcomeStatus.TIMEOUT
        cp.answers["Reset"] = {"status": "Accepted"}
        assert (await running.gateway.link.send(AC, c.Reset(), timeout_s=2)).accepted


async def test_an_offline_charger_gives_offline(running: Running):
    """Nothing is sent to a charger that is not connected."""
    outcome = await running.gateway.link.send(AC, c.Reset())
    assert outcome.status is c.OutcomeStatus.OFFLINE


async def test_one_outstanding_call_per_connection(running: Running):
    """Two commands at once: the second CALL leaves only after the first is answered."""
    order: list[str] = []

    async with sim_charger(running.ws_url("AC-0001")) as cp:

        def slow_answer(payload):
            order.append(f"answered {payload['type']}")
            return {"status": "Accepted"}

        cp.answers["Reset"] = slow_answer
        await wait_until(lambda: running.gateway.link.connected(AC))
        first = running.gateway.link.send(AC, c.Reset(hard=True))
        second = running.gateway.link.send(AC, c.Reset(hard=False))
        outcomes = await asyncio.gather(first, second)

    assert all(o.accepted for o in outcomes)
    assert [p["type"] for _, p in cp.received] == ["Hard", "Soft"]


async def test_commands_never_block_inbound_messages(running: Running):
    """While a command waits for the charger, the charger's own CALLs are still answered."""
    async with sim_charger(running.ws_url("AC-0001")) as cp:
        cp.answers["Reset"] = "silent"
        await wait_until(lambda: running.gateway.link.connected(AC))
        pending = asyncio.create_task(running.gateway.link.send(AC, c.Reset(), timeout_s=2))
        await wait_until(lambda: bool(cp.received))
        assert (await cp.call("Heartbeat", {}))[0] == 3
        assert (await pending).status is c.OutcomeStatus.TIMEOUT
