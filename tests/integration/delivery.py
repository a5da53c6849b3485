"""Helpers for the delivery tests: charging scripts for both OCPP versions, and both views.

The *gateway's view* is what it serves on GET (Locations, Sessions, CDRs, Tariffs) to a
partner; the *eMSP's view* is what the test eMSP holds after applying every push. A
partner that received every push holds exactly what a GET returns.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from tests.builders import SHIPPED_CONFIG
from tests.sim.charger import SimCharger

ANY_TIME = "2000-01-01T00:00:00Z"


def write_config(tmp_path: Path, ocpp_port: int, http_port: int) -> Path:
    """The shipped configuration on loopback ports, quick to retry."""
    text = (
        SHIPPED_CONFIG.read_text()
        .replace('host = "0.0.0.0"\nport = 9000', f'host = "127.0.0.1"\nport = {ocpp_port}')
        .replace('host = "0.0.0.0"\nport = 8000', f'host = "127.0.0.1"\nport = {http_port}')
        .replace('"http://localhost:8000"', f'"http://127.0.0.1:{http_port}"')
        .replace('data_dir = "data"', f'data_dir = "{tmp_path / "data"}"')
        .replace("private_partner_addresses = false", "private_partner_addresses = true")
        .replace("partner_timeout_s = 10", "partner_timeout_s = 2")
        .replace("push_retry_initial_s = 1\n", "push_retry_initial_s = 0.1\n")
        .replace("push_retry_max_s = 300\n", "push_retry_max_s = 0.5\n")
        .replace("push_sweep_s = 30 ", "push_sweep_s = 0.5 ")
    )
    config = tmp_path / "config.toml"
    config.write_text(text)
    return config


#: The eMSP's cards (DE/EMS, whitelist ALWAYS): charging with them is the eMSP's business.
CARDS = ("04A1B2C3", "DCTOKEN1")


def a_card(uid: str) -> dict[str, Any]:
    return {
        "country_code": "DE",
        "party_id": "EMS",
        "uid": uid,
        "type": "RFID",
        "contract_id": f"DE-EMS-{uid}",
        "issuer": "Test eMSP",
        "valid": True,
        "whitelist": "ALWAYS",
        "last_updated": "2026-11-22T09:00:00Z",
    }


async def give_cards(http_url: str, token: str, uids: tuple[str, ...] = CARDS) -> None:
    """The eMSP pushes its cards to the gateway's Tokens receiver (mod_tokens PUT)."""
    async with httpx.AsyncClient(base_url=http_url, headers=b64(token), timeout=10) as client:
        for uid in uids:
            reply = await client.put(f"/ocpi/2.2.1/tokens/DE/EMS/{uid}", json=a_card(uid))
            assert reply.json()["status_code"] == 1000, reply.text


def b64(token: str) -> dict[str, str]:
    return {"Authorization": "Token " + base64.b64encode(token.encode()).decode()}


def stamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Timeline:
    """Charger time: each message is stamped ``minutes`` after ``start``; a clock follows."""

    def __init__(self, start: datetime, clock: Any = None) -> None:
        self.start = start
        self.clock = clock

    def at(self, minutes: float) -> str:
        when = self.start + timedelta(minutes=minutes)
        if self.clock is not None:
            self.clock.now = when + timedelta(seconds=1)
        return stamp(when)


def sampled(register: str, *, unit: str | None = "Wh", power_w: int | None = 11000) -> list[Any]:
    values: list[dict[str, Any]] = [
        {"value": register, "measurand": "Energy.Active.Import.Register"}
    ]
    if unit is not None:
        values[0]["unit"] = unit
    if power_w is not None:
        values.append({"value": str(power_w), "measurand": "Power.Active.Import", "unit": "W"})
    return values


async def ok(cp: SimCharger, action: str, payload: dict[str, Any]) -> dict[str, Any]:
    reply = await cp.call(action, payload)
    assert reply[0] == 3, reply
    result = reply[2]
    assert isinstance(result, dict)
    return result


async def boot_16(cp: SimCharger) -> None:
    await ok(cp, "BootNotification", {"chargePointVendor": "Example", "chargePointModel": "AC22"})


async def status_16(cp: SimCharger, connector: int, status: str, when: str) -> None:
    await ok(
        cp,
        "StatusNotification",
        {"connectorId": connector, "errorCode": "NoError", "status": status, "timestamp": when},
    )


async def charge_16(
    cp: SimCharger,
    time: Timeline,
    *,
    id_tag: str = "04A1B2C3",
    connector: int = 1,
    meter_start: int = 1_000,
    registers: list[tuple[float, list[Any]]] | None = None,
    meter_stop: int | None = 6_000,
    stop_at: float = 30,
) -> int:
    """A whole 1.6 charge: status flips, RFID start, meter values, stop; the transactionId."""
    await status_16(cp, connector, "Preparing", time.at(0))
    started = await ok(
        cp,
        "StartTransaction",
        {
            "connectorId": connector,
            "idTag": id_tag,
            "meterStart": meter_start,
            "timestamp": time.at(0),
        },
    )
    tx_id = int(started["transactionId"])
    await status_16(cp, connector, "Charging", time.at(0.5))
    if registers is None:
        registers = [(10, sampled("2800")), (20, sampled("4600"))]
    for minute, values in registers:
        await ok(
            cp,
            "MeterValues",
            {
                "connectorId": connector,
                "transactionId": tx_id,
                "meterValue": [{"timestamp": time.at(minute), "sampledValue": values}],
            },
        )
    if meter_stop is not None:
        await ok(
            cp,
            "StopTransaction",
            {
                "transactionId": tx_id,
                "meterStop": meter_stop,
                "timestamp": time.at(stop_at),
                "reason": "EVDisconnected",
            },
        )
        await status_16(cp, connector, "Finishing", time.at(stop_at + 0.5))
        await status_16(cp, connector, "Available", time.at(stop_at + 1))
    return tx_id


async def charge_201(
    cp: SimCharger,
    time: Timeline,
    *,
    id_token: str = "DCTOKEN1",  # noqa: S107 - an RFID uid, not a secret
    tx_id: str = "dc-tx-1",
    evse: int = 1,
    connector: int = 1,
    registers: tuple[int, ...] = (0, 8_000, 16_000),
    signed: str | None = None,
) -> None:
    """A whole 2.0.1 charge: Occupied, TransactionEvent Started/Updated/Ended, Available."""
    await ok(
        cp,
        "BootNotification",
        {"reason": "PowerUp", "chargingStation": {"model": "DC50", "vendorName": "Example"}},
    )

    async def status(state: str, minute: float) -> None:
        await ok(
            cp,
            "StatusNotification",
            {
                "timestamp": time.at(minute),
                "connectorStatus": state,
                "evseId": evse,
                "connectorId": connector,
            },
        )

    await status("Occupied", 0)
    last = len(registers) - 1
    for seq, wh in enumerate(registers):
        kind = "Started" if seq == 0 else "Ended" if seq == last else "Updated"
        minute = 10 * seq
        value: dict[str, Any] = {
            "value": wh,
            "measurand": "Energy.Active.Import.Register",
            "context": {"Started": "Transaction.Begin", "Ended": "Transaction.End"}.get(
                kind, "Sample.Periodic"
            ),
        }
        if signed is not None and kind != "Updated":
            value["signedMeterValue"] = {
                "signedMeterData": f"{signed}-{kind}",
                "signingMethod": "ECDSA-secp256r1-SHA256",
                "encodingMethod": "OCMF",
                "publicKey": "PUBKEY",
            }
        await ok(
            cp,
            "TransactionEvent",
            {
                "eventType": kind,
                "timestamp": time.at(minute),
                "triggerReason": "MeterValuePeriodic" if kind == "Updated" else "Authorized",
                "seqNo": seq,
                "transactionInfo": {
                    "transactionId": tx_id,
                    **({"stoppedReason": "EVDisconnected"} if kind == "Ended" else {}),
                },
                "idToken": {"idToken": id_token, "type": "ISO14443"},
                "evse": {"id": evse, "connectorId": connector},
                "meterValue": [{"timestamp": time.at(minute), "sampledValue": [value]}],
            },
        )
    await status("Available", 10 * last + 1)


# --- the two views ---------------------------------------------------------------------


async def gateway_view(http_url: str, token: str) -> dict[str, dict[str, Any]]:
    """What the gateway serves a partner, keyed by object id."""
    async with httpx.AsyncClient(base_url=http_url, headers=b64(token), timeout=10) as client:

        async def everything(path: str, **params: str) -> list[dict[str, Any]]:
            reply = await client.get(path, params={"limit": "100", **params})
            body = reply.json()
            assert body["status_code"] == 1000, body
            assert "Link" not in reply.headers  # one page holds the test's objects
            data = body["data"]
            assert isinstance(data, list)
            return data

        return {
            "locations": {o["id"]: o for o in await everything("/ocpi/2.2.1/locations")},
            "sessions": {
                o["id"]: o for o in await everything("/ocpi/2.2.1/sessions", date_from=ANY_TIME)
            },
            "cdrs": {o["id"]: o for o in await everything("/ocpi/2.2.1/cdrs")},
            "tariffs": {o["id"]: o for o in await everything("/ocpi/2.2.1/tariffs")},
        }


async def held(emsp_url: str) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=5) as client:
        reply = await client.get(f"{emsp_url}/_inspect/held")
    result = reply.json()
    assert isinstance(result, dict)
    return result


async def control_held(emsp_url: str, **changes: Any) -> None:
    async with httpx.AsyncClient(timeout=5) as client:
        (await client.post(f"{emsp_url}/_control/held", json=changes)).raise_for_status()


def emsp_view(holding: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """What the eMSP holds, keyed like ``gateway_view`` (EVSEs in the gateway's order)."""
    locations = {}
    for loc in holding["locations"].values():
        loc = dict(loc)
        loc["evses"] = sorted(loc.get("evses", []), key=lambda e: e["uid"])
        locations[loc["id"]] = loc
    return {
        "locations": locations,
        "sessions": {s["id"]: s for s in holding["sessions"].values()},
        "cdrs": dict(holding["cdrs"]),
        "tariffs": {t["id"]: t for t in holding["tariffs"].values()},
    }


def comparable(view: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out = dict(view)
    out["locations"] = {
        k: {**v, "evses": sorted(v.get("evses", []), key=lambda e: e["uid"])}
        for k, v in view["locations"].items()
    }
    return out


async def converge(
    emsp_url: str,
    http_url: str,
    token: str,
    *,
    until: Callable[[dict[str, Any]], bool] = lambda _: True,
    timeout_s: float = 15,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Wait until the eMSP holds what the gateway serves (and ``until`` holds of it)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        holding = await held(emsp_url)
        theirs = emsp_view(holding)
        ours = comparable(await gateway_view(http_url, token))
        if theirs == ours and until(holding):
            return holding, ours
        if asyncio.get_running_loop().time() > deadline:
            assert theirs == ours
            assert until(holding), holding
        await asyncio.sleep(0.05)


async def eventually(check: Callable[[], Awaitable[bool]], timeout_s: float = 10) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)
