"""RPC framing over real websockets: every malformed frame gets its answer, the link survives."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed

from tests.integration.conftest import Running
from tests.sim.charger import sim_charger, wait_until

pytestmark = pytest.mark.integration

HEARTBEAT = json.dumps([2, "hb", "Heartbeat", {}])


async def still_usable(cp) -> None:
    reply = await cp.send_raw(HEARTBEAT, "hb")
    assert reply[0] == 3


@pytest.mark.parametrize(
    ("version", "charger", "text", "expected"),
    [
        # Quirk #9: `"transactionId":,` (AEFA) -- the id can be recovered, the JSON not.
        (
            "ocpp1.6",
            "AC-0001",
            '[2,"x1","StopTransaction",{"transactionId":,"meterStop":1}]',
            ["x1", "FormationViolation"],
        ),
        ("ocpp2.0.1", "DC-0001", '[2,"x1","Heartbeat",{"a":,}]', ["x1", "FormatViolation"]),
        ("ocpp2.0.1", "DC-0001", '[2, 17, "Heartbeat", {}]', ["-1", "RpcFrameworkError"]),
        ("ocpp1.6", "AC-0001", '[2,"x2","Heartbeat",null]', ["x2", "FormationViolation"]),
        ("ocpp2.0.1", "DC-0001", '[2,"x2","Heartbeat",null]', ["x2", "FormatViolation"]),
        ("ocpp1.6", "AC-0001", '[2,"x3","FlyToTheMoon",{}]', ["x3", "NotImplemented"]),
        ("ocpp2.0.1", "DC-0001", '[2,"x3","FlyToTheMoon",{}]', ["x3", "NotImplemented"]),
        (
            "ocpp1.6",
            "AC-0001",
            '[2,"x4","StatusNotification",{"connectorId":1,"errorCode":"NoError"}]',
            ["x4", "OccurenceConstraintViolation"],
        ),
        (
            "ocpp2.0.1",
            "DC-0001",
            '[2,"x4","StatusNotification",{"timestamp":"2026-11-22T10:00:00Z","evseId":1,"connectorId":1}]',
            ["x4", "OccurrenceConstraintViolation"],
        ),
        (
            "ocpp1.6",
            "AC-0001",
            '[2,"x5","StatusNotification",{"connectorId":"one","errorCode":"NoError","status":"Available"}]',
            ["x5", "TypeConstraintViolation"],
        ),
        (
            "ocpp1.6",
            "AC-0001",
            '[2,"x6","StatusNotification",{"connectorId":1,"errorCode":"NoError","status":"Sleeping"}]',
            ["x6", "PropertyConstraintViolation"],
        ),
        ("ocpp2.0.1", "DC-0001", '[7,"x7","Heartbeat",{}]', ["x7", "MessageTypeNotSupported"]),
        ("ocpp1.6", "AC-0001", '[2,"x8","Heartbeat",{"n":NaN}]', ["x8", "FormationViolation"]),
    ],
)
async def test_malformed_frames_get_the_version_correct_callerror(
    running: Running, version, charger, text, expected
):
    """RELIABILITY.md §2.2: the code is spelled as the negotiated version spells it."""
    async with sim_charger(running.ws_url(charger), version) as cp:
        reply = await cp.send_raw(text, expected[0])
        assert reply[0] == 4
        assert reply[1:3] == expected
        assert len(reply[3]) <= 255
        await still_usable(cp)


async def test_1_6_frames_without_a_readable_id_are_ignored(running: Running):
    """1.6-J errata: an unknown message type or unreadable frame SHALL be ignored."""
    async with sim_charger(running.ws_url("AC-0001")) as cp:
        await cp.expect_silence('{"not": "an array"}')
        await cp.expect_silence('[9,"z","Heartbeat",{}]')
        await still_usable(cp)


async def test_a_repeated_message_id_is_answered_again_not_processed_again(running: Running):
    """A retransmitted CALL gets the same answer; the transaction is started once."""
    start = json.dumps(
        [
            2,
            "dup-1",
            "StartTransaction",
            {"connectorId": 1, "idTag": "A", "meterStart": 5, "timestamp": "2026-11-22T10:00:00Z"},
        ]
    )
    async with sim_charger(running.ws_url("AC-0001")) as cp:
        first = await cp.send_raw(start, "dup-1")
        second = await cp.send_raw(start, "dup-1")
    assert first == second
    assert len(running.gateway.store.transactions()) == 1


async def test_while_boot_is_pending_other_calls_get_security_error(tmp_path, clock):
    """OCTT TC_B_30: only BootNotification passes until the charger is accepted."""
    from gateway.app import Gateway
    from tests.builders import shipped_config
    from tests.integration.conftest import site_settings

    chargers = shipped_config()["chargers"]
    chargers[0]["boot"] = "pending"
    gateway = Gateway(site_settings(tmp_path, chargers=chargers), clock=clock)
    await gateway.start()
    try:
        async with sim_charger(f"ws://127.0.0.1:{gateway.ocpp.port}/ocpp/AC-0001") as cp:
            boot = await cp.call(
                "BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}
            )
            assert boot[2]["status"] == "Pending"
            refused = await cp.call(
                "StatusNotification",
                {"connectorId": 1, "errorCode": "NoError", "status": "Available"},
            )
            assert refused[0] == 4
            assert refused[2] == "SecurityError"
    finally:
        await gateway.stop()


async def test_an_oversize_frame_closes_only_that_connection(running: Running):
    """Frames above ocpp.max_frame_bytes close with 1009; other chargers carry on."""
    async with (
        sim_charger(running.ws_url("DC-0001"), "ocpp2.0.1") as other,
        sim_charger(running.ws_url("AC-0001")) as cp,
    ):
        big = json.dumps([2, "big", "DataTransfer", {"vendorId": "x", "data": "a" * 300_000}])
        with pytest.raises((ConnectionClosed, asyncio.TimeoutError, TimeoutError)):
            await cp.send_raw(big, "big", timeout_s=2)
        await wait_until(lambda: cp.ws.close_code is not None)
        assert cp.ws.close_code == 1009
        assert (await other.call("Heartbeat", {}))[0] == 3


async def test_quirk_14_a_new_connection_replaces_the_old_one(running: Running):
    """RELIABILITY.md R-OCPP-CONN-1: the newest connection for an id wins, the old is closed."""
    async with sim_charger(running.ws_url("AC-0001")) as old:
        await old.call("Heartbeat", {})
        async with sim_charger(running.ws_url("AC-0001")) as new:
            await wait_until(lambda: old.ws.close_code is not None)
            assert old.ws.close_code == 4000
            assert (await new.call("Heartbeat", {}))[0] == 3
            assert running.gateway.runtime.state("AC-0001").connected  # type: ignore[arg-type]


async def test_data_transfer_and_reports_are_kept_for_the_operator(running: Running):
    """Vendor data and status reports are stored and answered, never a crash."""
    async with sim_charger(running.ws_url("AC-0001")) as cp:
        reply = await cp.call(
            "DataTransfer", {"vendorId": "com.example", "messageId": "x", "data": "{}"}
        )
        assert reply[2] == {"status": "UnknownVendorId"}
        assert (await cp.call("FirmwareStatusNotification", {"status": "Installed"}))[2] == {}
        assert (await cp.call("DiagnosticsStatusNotification", {"status": "Uploaded"}))[2] == {}
    async with sim_charger(running.ws_url("DC-0001"), "ocpp2.0.1") as cp:
        event = {"timestamp": "2026-11-22T10:00:00Z", "type": "TamperDetectionActivated"}
        assert (await cp.call("SecurityEventNotification", event))[2] == {}
        report = {
            "requestId": 1,
            "generatedAt": "2026-11-22T10:00:00Z",
            "seqNo": 0,
            "reportData": [
                {
                    "component": {"name": "EVSE"},
                    "variable": {"name": "Power"},
                    "variableAttribute": [{"value": "50000"}],
                }
            ],
        }
        assert (await cp.call("NotifyReport", report))[2] == {}
        notify = {
            "generatedAt": "2026-11-22T10:00:00Z",
            "seqNo": 0,
            "eventData": [
                {
                    "eventId": 1,
                    "timestamp": "2026-11-22T10:00:00Z",
                    "trigger": "Alerting",
                    "actualValue": "high",
                    "eventNotificationType": "HardWiredNotification",
                    "component": {"name": "Controller"},
                    "variable": {"name": "Temperature"},
                }
            ],
        }
        assert (await cp.call("NotifyEvent", notify))[2] == {}
        update = {"reservationId": 7, "reservationUpdateStatus": "Expired"}
        assert (await cp.call("ReservationStatusUpdate", update))[2] == {}

    kinds = [k for k, _ in running.gateway.store.notes("AC-0001")]
    assert kinds == ["data_transfer", "firmware_status", "diagnostics_status"]
    assert running.gateway.store.notes("DC-0001") == [
        ("security_event", "TamperDetectionActivated"),
        ("notify_report", "report 1 part 0"),
        ("notify_event", "1 events"),
        ("reservation_status", "reservation 7: Expired"),
    ]


async def test_many_chargers_reconnecting_at_once(tmp_path, clock):
    """After a restart every charger reconnects at the same moment; all are served."""
    from gateway.app import Gateway
    from tests.integration.conftest import site_settings

    settings = site_settings(tmp_path, ocpp={"accept_unknown_chargers": True})
    gateway = Gateway(settings, clock=clock)
    await gateway.start()
    try:
        base = f"ws://127.0.0.1:{gateway.ocpp.port}/ocpp/"

        async def one(i: int) -> list[Any]:
            async with sim_charger(base + f"SITE-{i:03d}") as cp:
                return await cp.call(
                    "BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}
                )

        replies = await asyncio.gather(*(one(i) for i in range(150)))
        assert all(r[0] == 3 and r[2]["status"] == "Accepted" for r in replies)
    finally:
        await gateway.stop()


async def test_quirk_09_invalid_json_from_a_charger_gets_a_callerror_and_the_link_survives(
    running: Running,
):
    """AEFA's ``"transactionId":,`` and a broken escape in an idTag: answered, not fatal."""
    async with sim_charger(running.ws_url("AC-0001")) as cp:
        aefa = (
            '[2,"q9a","StopTransaction",'
            '{"transactionId":,"meterStop":10,"timestamp":"2026-11-22T10:00:00Z"}]'
        )
        assert (await cp.send_raw(aefa, "q9a"))[:3] == [4, "q9a", "FormationViolation"]
        broken_escape = r'[2,"q9b","Authorize",{"idTag":"04\x41"}]'  # \x is not JSON
        reply = await cp.send_raw(broken_escape, "q9b")
        assert reply[:3] == [4, "q9b", "FormationViolation"]
        await still_usable(cp)
