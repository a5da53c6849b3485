"""End to end: chargers charge, a separate eMSP process receives the pushes, views agree.

The eMSP (``tests/emsp``, a real process on a loopback port) registers with the running
gateway through the credentials handshake; a 1.6 and a 2.0.1 simulated charger charge
with RFID tokens the configuration says the eMSP issued. Whatever happens on the way
(outages, garbage, timeouts, a lost CDR answer), the eMSP ends up holding exactly what
the gateway serves on GET, and each CDR exactly once.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway import cli
from gateway.app import Gateway
from gateway.config import Settings, load_settings
from tests.builders import T0, FakeClock, a_settings, shipped_config
from tests.integration import test_ocpi_platform as platform
from tests.integration.conftest import PARTNER_TOKEN
from tests.integration.delivery import (
    Timeline,
    b64,
    boot_16,
    charge_16,
    charge_201,
    control_held,
    converge,
    eventually,
    gateway_view,
    give_cards,
    held,
    ok,
    status_16,
    write_config,
)
from tests.sim.charger import sim_charger, wait_until

pytestmark = pytest.mark.integration

emsp_process = platform.emsp_process
emsp = platform.emsp
Emsp = platform.Emsp
Cpo = platform.Cpo


def delivery_settings(
    tmp_path: Path, port: int, locations: list[Any] | None = None, **ocpi: Any
) -> Settings:
    raw = shipped_config()
    extra = {} if locations is None else {"locations": locations}
    return a_settings(
        **extra,
        http={"host": "127.0.0.1", "port": port, "public_url": f"http://127.0.0.1:{port}"},
        storage={**raw["storage"], "data_dir": str(tmp_path / "data")},
        ocpi={
            **raw["ocpi"],
            "allow_private_partner_addresses": True,
            "partner_timeout_s": 1.0,
            "push_retry_initial_s": 0.1,
            "push_retry_max_s": 0.5,
            "push_sweep_s": 0.5,
            "static_partners": [
                {
                    "name": "static",
                    "country_code": "FR",
                    "party_id": "STA",
                    "token": PARTNER_TOKEN,
                }
            ],
            **ocpi,
        },
    )


Start = Callable[..., Awaitable[Cpo]]


@pytest.fixture
async def start(tmp_path: Path) -> AsyncIterator[Start]:
    started: list[Gateway] = []

    async def _start(
        settings: Settings | None = None, clock: FakeClock | None = None, **ocpi: Any
    ) -> Cpo:
        clock = clock or FakeClock()
        settings = settings or delivery_settings(tmp_path, platform.free_port(), **ocpi)
        gateway = Gateway(settings, clock=clock)
        await gateway.start()
        started.append(gateway)
        return Cpo(gateway, clock)

    yield _start
    for gateway in started:
        await gateway.stop()


async def connected(start: Start, emsp: Emsp) -> tuple[Cpo, str]:
    """A gateway the eMSP registered with, once it pushed the eMSP every Location."""
    cpo = await start()
    token = await platform.registered(cpo, emsp)
    await give_cards(cpo.http_url, token)
    await converge(emsp.url, cpo.http_url, token, until=lambda h: bool(h["locations"]))
    return cpo, token


async def test_both_versions_charge_and_the_emsp_ends_up_with_what_the_gateway_serves(
    start: Start, emsp: Emsp
):
    """1.6 and 2.0.1 charges: Locations, Sessions, CDRs and Tariffs pushed equal GET."""
    cpo, token = await connected(start, emsp)
    first = await held(emsp.url)
    assert set(first["tariffs"]) == {"NL/CEG/AC-STANDARD", "NL/CEG/DC-FAST"}

    time = Timeline(T0, cpo.clock)
    async with sim_charger(cpo.ws_url("AC-0001")) as ac:
        await boot_16(ac)
        await status_16(ac, 1, "Available", time.at(-1))
        tx_id = await charge_16(ac, time)
    async with sim_charger(cpo.ws_url("DC-0001"), "ocpp2.0.1") as dc:
        await charge_201(dc, Timeline(T0.replace(hour=12), cpo.clock), signed="OCMF|sig")

    holding, ours = await converge(
        emsp.url, cpo.http_url, token, until=lambda h: len(h["cdrs"]) == 2
    )
    session = ours["sessions"][f"AC-0001-{tx_id}"]
    assert session["status"] == "COMPLETED"
    assert session["kwh"] == 5
    cdr = ours["cdrs"][f"AC-0001-{tx_id}"]
    assert cdr["total_energy"] == 5
    assert cdr["total_cost"] == {"excl_vat": 1.5, "incl_vat": 1.815}
    assert cdr["cdr_token"]["uid"] == "04A1B2C3"
    dc_cdr = ours["cdrs"]["DC-0001-dc-tx-1"]
    assert dc_cdr["total_energy"] == 16
    assert dc_cdr["signed_data"]["signed_values"][0]["signed_data"] == "OCMF|sig-Started"
    assert sorted(holding["cdr_posts"]) == sorted(ours["cdrs"])  # each POSTed once
    sessions = [r for r in (await emsp.inspect())["received"] if r["module"] == "sessions"]
    assert [r["method"] for r in sessions][:1] == ["PUT"]
    assert all(r["method"] == "PATCH" for r in sessions[1:] if "AC-0001" in r["path"])
    assert all("last_updated" in r["body"] for r in sessions)


async def test_sessions_need_date_from_and_each_partner_sees_only_its_own(start: Start, emsp: Emsp):
    """GET /sessions without date_from is 2001; a partner with no tokens sees nothing."""
    cpo, token = await connected(start, emsp)
    async with sim_charger(cpo.ws_url("AC-0001")) as ac:
        await boot_16(ac)
        await charge_16(ac, Timeline(T0, cpo.clock))
    await converge(emsp.url, cpo.http_url, token, until=lambda h: len(h["cdrs"]) == 1)

    async with httpx.AsyncClient(base_url=cpo.http_url, timeout=5) as client:
        missing = await client.get("/ocpi/2.2.1/sessions", headers=b64(token))
        assert missing.json()["status_code"] == 2001
        other = b64(PARTNER_TOKEN)  # the configured FR/STA partner
        for path in ("/ocpi/2.2.1/sessions?date_from=2000-01-01T00:00:00Z", "/ocpi/2.2.1/cdrs"):
            reply = await client.get(path, headers=other)
            assert reply.json()["data"] == []
            assert reply.headers["X-Total-Count"] == "0"
        mine = await client.get("/ocpi/2.2.1/cdrs", headers=b64(token))
        assert mine.headers["X-Total-Count"] == "1"


@pytest.mark.parametrize("trouble", ["down", "garbage", "slow"])
async def test_a_partner_outage_loses_nothing_and_coalesces_status_flips(
    start: Start, emsp: Emsp, trouble: str
):
    """While the eMSP fails (503, HTML, timeouts) nothing is lost; once back it gets the
    current state: many status flips of one EVSE arrive as a single PATCH."""
    cpo, token = await connected(start, emsp)
    await control_held(emsp.url, mode=trouble, slow_s=1.5)
    time = Timeline(T0, cpo.clock)
    async with sim_charger(cpo.ws_url("AC-0001")) as ac:
        await boot_16(ac)
        for minute in range(10):
            await status_16(ac, 2, "Available" if minute % 2 else "Unavailable", time.at(minute))
        tx_id = await charge_16(ac, Timeline(T0.replace(hour=11), cpo.clock))

    async def backlogged() -> bool:
        report = cpo.gateway.delivery.delivery().get("emsp")
        return report is not None and report.backlog >= 3 and report.last_error is not None

    await eventually(backlogged)
    assert cpo.gateway.delivery.delivery()["emsp"].oldest_pending_at is not None

    before = len((await emsp.inspect())["received"])

    await control_held(emsp.url, mode="ok")
    holding, ours = await converge(
        emsp.url, cpo.http_url, token, until=lambda h: len(h["cdrs"]) == 1, timeout_s=20
    )
    assert holding["cdr_posts"] == [f"AC-0001-{tx_id}"]
    after = (await emsp.inspect())["received"][before:]
    flips = [r for r in after if r["path"].endswith("/AC-0001-2")]
    assert len(flips) == 1, flips
    assert ours["sessions"][f"AC-0001-{tx_id}"]["status"] == "COMPLETED"
    assert cpo.gateway.pusher is not None
    assert cpo.gateway.pusher.backlog() == {}
    async with httpx.AsyncClient() as client:
        metrics = (await client.get(f"{cpo.http_url}/metrics")).text
    assert 'gateway_cdrs_created_total{partner="emsp"} 1' in metrics
    failures = re.search(r'gateway_partner_push_failures_total\{partner="emsp"\} (\d+)', metrics)
    assert failures is not None
    assert int(failures.group(1)) >= 1


async def test_a_cdr_whose_answer_is_lost_is_posted_again_with_the_same_id(
    start: Start, emsp: Emsp
):
    """The eMSP stores the CDR but its answer never arrives: the same CDR is POSTed again
    until acknowledged, and the eMSP holds it once."""
    cpo, token = await connected(start, emsp)
    await control_held(emsp.url, lose_cdr_responses=1, slow_s=1.5)
    async with sim_charger(cpo.ws_url("AC-0001")) as ac:
        await boot_16(ac)
        tx_id = await charge_16(ac, Timeline(T0, cpo.clock))

    holding, ours = await converge(
        emsp.url,
        cpo.http_url,
        token,
        until=lambda h: len(h["cdr_posts"]) >= 2,
        timeout_s=20,
    )
    cdr_id = f"AC-0001-{tx_id}"
    assert set(holding["cdr_posts"]) == {cdr_id}
    assert list(holding["cdrs"]) == [cdr_id] == list(ours["cdrs"])


async def test_sessions_of_other_tokens_and_unknown_evses_go_to_no_partner(
    start: Start, emsp: Emsp
):
    """A token no partner issued, a stop for an unknown transaction and a charge on a
    connector the configuration does not know: acknowledged, flagged, never pushed."""
    cpo, token = await connected(start, emsp)
    time = Timeline(T0, cpo.clock)
    async with sim_charger(cpo.ws_url("AC-0001")) as ac:
        await boot_16(ac)
        await charge_16(ac, time, id_tag="SOMEONE-ELSE")
        await charge_16(ac, time, connector=7)
        reply = await ac.call(
            "StopTransaction",
            {"transactionId": 987654, "meterStop": 10, "timestamp": time.at(40)},
        )
        assert reply[0] == 3
    ours = await gateway_view(cpo.http_url, token)
    assert ours["sessions"] == {}
    assert ours["cdrs"] == {}
    assert any(kind == "delivery:unsealed" for kind, _ in cpo.gateway.store.notes("AC-0001"))
    holding, _ = await converge(emsp.url, cpo.http_url, token)
    assert holding["sessions"] == {}
    assert holding["cdr_posts"] == []


async def test_an_evse_removed_from_the_configuration_is_pushed_and_served_as_removed(
    tmp_path: Path, start: Start, emsp: Emsp
):
    """After a restart without an EVSE in config.toml, it is REMOVED (never gone): the
    eMSP gets its Location PUT again, and GET serves it REMOVED with a newer time."""
    cpo, token = await connected(start, emsp)
    before = (await held(emsp.url))["locations"]["NL/CEG/LOC-001"]
    await cpo.gateway.stop()

    raw = shipped_config()
    raw["locations"][0]["evses"] = (
        raw["locations"][0]["evses"][:1] + raw["locations"][0]["evses"][2:]
    )
    fewer = delivery_settings(tmp_path, platform.free_port(), locations=raw["locations"])
    again = await start(fewer, clock=FakeClock(T0 + timedelta(hours=1)))

    _, ours = await converge(
        emsp.url,
        again.http_url,
        token,
        until=lambda h: any(
            e["status"] == "REMOVED" for e in h["locations"]["NL/CEG/LOC-001"]["evses"]
        ),
    )
    served = {e["uid"]: e for e in ours["locations"]["LOC-001"]["evses"]}
    assert served["AC-0001-2"]["status"] == "REMOVED"
    assert served["AC-0001-2"]["connectors"][0]["standard"] == "IEC_62196_T2"
    assert ours["locations"]["LOC-001"]["last_updated"] > before["last_updated"]


async def test_a_credit_cdr_cancels_a_cdr_without_changing_it(
    tmp_path: Path, start: Start, emsp: Emsp
):
    """``gateway cdrs credit`` stores a credit CDR (id + -C, credit=true, negative costs),
    which is POSTed to the partner; the original stays as it was; a second credit fails."""
    port = platform.free_port()
    config = write_config(tmp_path, platform.free_port(), port)
    settings = load_settings(config)
    cpo = await start(settings)
    token = await platform.registered(cpo, emsp)
    await give_cards(cpo.http_url, token)
    async with sim_charger(cpo.ws_url("AC-0001")) as ac:
        await boot_16(ac)
        tx_id = await charge_16(ac, Timeline(T0, cpo.clock))
    _, ours = await converge(emsp.url, cpo.http_url, token, until=lambda h: len(h["cdrs"]) == 1)
    cdr_id = f"AC-0001-{tx_id}"
    original = ours["cdrs"][cdr_id]

    argv = ["cdrs", "credit", cdr_id, "--remark", "meter replaced", "--config", str(config)]
    assert await asyncio.to_thread(cli.main, argv) == 0
    assert await asyncio.to_thread(cli.main, argv) == 1

    holding, ours = await converge(
        emsp.url, cpo.http_url, token, until=lambda h: len(h["cdrs"]) == 2
    )
    credit = ours["cdrs"][f"{cdr_id}-C"]
    assert credit["credit"] is True
    assert credit["credit_reference_id"] == cdr_id
    assert credit["remark"] == "meter replaced"
    assert credit["total_cost"] == {
        "excl_vat": -original["total_cost"]["excl_vat"],
        "incl_vat": -original["total_cost"]["incl_vat"],
    }
    assert credit["total_energy"] == original["total_energy"]
    assert ours["cdrs"][cdr_id] == original
    assert holding["cdr_posts"] == [cdr_id, f"{cdr_id}-C"]


async def test_evse_statuses_reach_the_emsp_as_projected_for_both_versions(
    start: Start, emsp: Emsp
):
    """DESIGN.md §3 at the eMSP: 2.0.1 Occupied is CHARGING, a 1.6 connector 0 fault puts
    every EVSE of the charger OUTOFORDER, and an offline charger turns UNKNOWN after the
    grace period; each EVSE change moves its Location's last_updated there too."""
    cpo, token = await connected(start, emsp)
    async with sim_charger(cpo.ws_url("DC-0001"), "ocpp2.0.1") as dc:
        await ok(
            dc,
            "StatusNotification",
            {
                "timestamp": "2026-11-22T10:00:00Z",
                "connectorStatus": "Occupied",
                "evseId": 1,
                "connectorId": 2,
            },
        )
        async with sim_charger(cpo.ws_url("AC-0001")) as ac:
            await boot_16(ac)
            cpo.clock.advance(60)
            await status_16(ac, 0, "Faulted", "2026-11-22T10:01:00Z")

            def statuses(h: dict[str, Any]) -> dict[str, str]:
                return {e["uid"]: e["status"] for e in h["locations"]["NL/CEG/LOC-001"]["evses"]}

            expected = {
                "AC-0001-1": "OUTOFORDER",
                "AC-0001-2": "OUTOFORDER",
                "DC-0001-1": "CHARGING",
            }
            await converge(emsp.url, cpo.http_url, token, until=lambda h: statuses(h) == expected)
    await wait_until(lambda: not cpo.gateway.ocpp.connections)
    cpo.clock.advance(600)
    await cpo.gateway.runtime.expire_offline()
    _, ours = await converge(
        emsp.url,
        cpo.http_url,
        token,
        until=lambda h: set(statuses(h).values()) == {"UNKNOWN"},
    )
    location = ours["locations"]["LOC-001"]
    assert location["last_updated"] == max(e["last_updated"] for e in location["evses"])
