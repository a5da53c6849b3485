"""Transactions end to end over real websockets into a real SQLite file, both versions."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.domain.ids import ChargerId
from gateway.domain.transactions import TransactionStatus
from tests.integration.conftest import Running
from tests.sim.charger import sim_charger

pytestmark = pytest.mark.integration

AC = ChargerId("AC-0001")
DC = ChargerId("DC-0001")


def mv(register_wh: int, when: str, *, power_w: int = 11000) -> dict[str, Any]:
    return {
        "timestamp": when,
        "sampledValue": [
            {"value": str(register_wh), "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
            {"value": str(power_w), "measurand": "Power.Active.Import", "unit": "W"},
            {"value": "16.0", "measurand": "Current.Import", "unit": "A", "phase": "L1"},
            {"value": "230.1", "measurand": "Voltage", "unit": "V", "phase": "L1-N"},
        ],
    }


START = {
    "connectorId": 1,
    "idTag": "04A1B2C3",
    "meterStart": 1_000,
    "timestamp": "2026-11-22T10:00:00Z",
}


async def test_a_full_1_6_transaction_is_stored_with_its_energy(running: Running):
    """RFID start, meter values, stop: one completed transaction billed stop - start."""
    async with sim_charger(running.ws_url("AC-0001")) as cp:
        started = await cp.call("StartTransaction", START)
        assert started[0] == 3
        tx_id = started[2]["transactionId"]
        assert started[2]["idTagInfo"] == {"status": "Invalid"}  # unknown token, site not free vend
        for minute, wh in ((10, 2_800), (20, 4_600)):
            reply = await cp.call(
                "MeterValues",
                {
                    "connectorId": 1,
                    "transactionId": tx_id,
                    "meterValue": [mv(wh, f"2026-11-22T10:{minute}:00Z")],
                },
            )
            assert reply[2] == {}
        stop = await cp.call(
            "StopTransaction",
            {
                "transactionId": tx_id,
                "meterStop": 6_000,
                "timestamp": "2026-11-22T10:30:00Z",
                "reason": "EVDisconnected",
            },
        )
        assert stop[2] == {}

    (tx,) = running.gateway.store.transactions(charger_id=AC)
    assert tx.status is TransactionStatus.COMPLETED
    assert tx.energy_wh == 5_000
    assert tx.evse_uid == "AC-0001-1"
    assert tx.auth_source == "site"  # who decided about the token is sealed with it
    stored = running.gateway.store.find_transaction(AC, tx_id=str(tx_id))
    assert stored is not None
    assert len(stored.samples) == 2


async def test_quirk_11_a_repeated_start_gets_the_same_transaction_id(running: Running):
    """Quirk #11: the same StartTransaction resent (new message id) is one transaction."""
    async with sim_charger(running.ws_url("AC-0001")) as cp:
        first = await cp.call("StartTransaction", START)
        again = await cp.call("StartTransaction", START)
        other = await cp.call("StartTransaction", {**START, "connectorId": 2, "meterStart": 7})

    assert first[2]["transactionId"] == again[2]["transactionId"]
    assert other[2]["transactionId"] != first[2]["transactionId"]
    assert len(running.gateway.store.transactions(charger_id=AC)) == 2


async def test_quirk_15_transaction_ids_survive_a_restart(tmp_path, clock):
    """The 1.6 transactionId comes from a database sequence, never restarting at 1."""
    from gateway.app import Gateway
    from tests.integration.conftest import site_settings

    ids = []
    for run in range(2):
        gateway = Gateway(site_settings(tmp_path), clock=clock)
        await gateway.start()
        try:
            url = f"ws://127.0.0.1:{gateway.ocpp.port}/ocpp/AC-0001"
            async with sim_charger(url) as cp:
                reply = await cp.call("StartTransaction", {**START, "meterStart": run})
                ids.append(reply[2]["transactionId"])
        finally:
            await gateway.stop()
    assert ids[1] > ids[0]


async def test_quirk_15_an_ended_transaction_never_changes_and_a_repeat_stop_is_acknowledged(
    running: Running,
):
    """A second StopTransaction is acknowledged (never a CALLERROR) and changes nothing."""
    async with sim_charger(running.ws_url("AC-0001")) as cp:
        tx_id = (await cp.call("StartTransaction", START))[2]["transactionId"]
        stop = {"transactionId": tx_id, "meterStop": 3_000, "timestamp": "2026-11-22T10:30:00Z"}
        assert (await cp.call("StopTransaction", stop))[0] == 3
        assert (await cp.call("StopTransaction", {**stop, "meterStop": 9_999}))[0] == 3

    (tx,) = running.gateway.store.transactions(charger_id=AC)
    assert tx.meter_stop_wh == 3_000
    assert (
        "AC-0001",
        str(tx_id),
        "TransactionStopped",
        "late_event",
    ) in running.gateway.store.parked_events()


async def test_quirk_10_stops_for_unknown_transactions_are_acknowledged_and_parked(
    running: Running,
):
    """Quirk #10: unknown id or -1 gets a CALLRESULT so the charger stops retrying."""
    async with sim_charger(running.ws_url("AC-0001")) as cp:
        for tx_id in (424242, -1):
            reply = await cp.call(
                "StopTransaction",
                {"transactionId": tx_id, "meterStop": 10, "timestamp": "2026-11-22T10:30:00Z"},
            )
            assert reply[0] == 3

    reasons = [(p[1], p[3]) for p in running.gateway.store.parked_events()]
    assert reasons == [("424242", "unknown_transaction"), ("-1", "no_transaction_id")]


async def test_offline_queued_messages_with_old_timestamps_are_processed(running: Running):
    """§3.7: a transaction replayed hours later is processed like any other."""
    async with sim_charger(running.ws_url("AC-0001")) as cp:
        old = {**START, "timestamp": "2026-11-21T22:00:00Z"}
        tx_id = (await cp.call("StartTransaction", old))[2]["transactionId"]
        await cp.call(
            "StopTransaction",
            {"transactionId": tx_id, "meterStop": 2_000, "timestamp": "2026-11-21T23:00:00Z"},
        )

    (tx,) = running.gateway.store.transactions(charger_id=AC)
    assert tx.started_at.isoformat() == "2026-11-21T22:00:00+00:00"
    assert tx.energy_wh == 1_000


async def test_quirk_08_one_bad_sample_never_drops_the_good_ones_over_the_wire(running: Running):
    """Quirk #8: a sampled value with a wrong unit is dropped and noted; the rest is stored."""
    async with sim_charger(running.ws_url("AC-0001")) as cp:
        tx_id = (await cp.call("StartTransaction", START))[2]["transactionId"]
        bad = mv(2_000, "2026-11-22T10:10:00Z")
        bad["sampledValue"][1]["unit"] = "Whh"
        reply = await cp.call(
            "MeterValues", {"connectorId": 1, "transactionId": tx_id, "meterValue": [bad]}
        )
        assert reply[0] == 3

    tx = running.gateway.store.find_transaction(AC, tx_id=str(tx_id))
    assert tx is not None
    (sample,) = tx.samples
    kept = {r.measurand.value for r in sample.readings if not r.from_phases}
    assert kept == {"energy_active_import_register", "current_import", "voltage"}
    assert running.gateway.store.notes("AC-0001")


async def test_a_2_0_1_transaction_in_order_and_repeated(running: Running):
    """TransactionEvents keyed on seqNo: a repeated event is acknowledged and ignored."""

    def event(kind: str, seq: int, wh: int, minute: int) -> dict[str, Any]:
        return {
            "eventType": kind,
            "timestamp": f"2026-11-22T10:{minute:02d}:00Z",
            "triggerReason": "MeterValuePeriodic",
            "seqNo": seq,
            "transactionInfo": {
                "transactionId": "dc-tx-1",
                **({"stoppedReason": "EVDisconnected"} if kind == "Ended" else {}),
            },
            "idToken": {"idToken": "04A1B2C3", "type": "ISO14443"},
            "evse": {"id": 1, "connectorId": 1},
            "meterValue": [
                {
                    "timestamp": f"2026-11-22T10:{minute:02d}:00Z",
                    "sampledValue": [
                        {
                            "value": wh,
                            "measurand": "Energy.Active.Import.Register",
                            "context": "Sample.Periodic",
                        }
                    ],
                }
            ],
        }

    async with sim_charger(running.ws_url("DC-0001"), "ocpp2.0.1") as cp:
        for payload in (
            event("Started", 0, 0, 0),
            event("Updated", 1, 8_000, 10),
            event("Updated", 1, 8_000, 10),
            event("Ended", 2, 16_000, 20),
        ):
            reply = await cp.call("TransactionEvent", payload)
            assert reply[0] == 3
            assert reply[2]["idTokenInfo"]["status"] == "Invalid"

    (tx,) = running.gateway.store.transactions(charger_id=DC)
    assert tx.status is TransactionStatus.COMPLETED
    assert tx.energy_wh == 16_000
    assert tx.evse_uid == "DC-0001-1"
    assert tx.seen_seq == frozenset({0, 1, 2})


async def test_site_tokens_and_authorize(tmp_path, clock):
    """A site token is Accepted by Authorize in both versions; others are Invalid."""
    from gateway.app import Gateway
    from tests.integration.conftest import site_settings

    settings = site_settings(tmp_path, authorization={"site_tokens": [{"uid": "STAFF-001"}]})
    gateway = Gateway(settings, clock=clock)
    await gateway.start()
    try:
        base = f"ws://127.0.0.1:{gateway.ocpp.port}/ocpp/"
        async with sim_charger(base + "AC-0001") as cp:
            assert (await cp.call("Authorize", {"idTag": "staff-001"}))[2] == {
                "idTagInfo": {"status": "Accepted"}
            }
            assert (await cp.call("Authorize", {"idTag": "stranger"}))[2] == {
                "idTagInfo": {"status": "Invalid"}
            }
        async with sim_charger(base + "DC-0001", "ocpp2.0.1") as cp:
            reply = await cp.call(
                "Authorize", {"idToken": {"idToken": "STAFF-001", "type": "ISO14443"}}
            )
            assert reply[2] == {"idTokenInfo": {"status": "Accepted"}}
    finally:
        await gateway.stop()
