"""End to end with a 2.1.1 eMSP: it registers, a 1.6 charger charges, it holds what we serve.

The eMSP (``tests/emsp``, a real process) offers only 2.1.1 and sends raw tokens. The
driver's card is one the eMSP issued, put in the gateway's token store directly (as a
pull or a push would; ``test_remote_control_v211`` pushes one over 2.1.1).
The eMSP must end up holding, in 2.1.1 shape, exactly what the gateway serves on its
2.1.1 GET endpoints: the EVSE status PATCHes, the Session and one CDR.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest

from ocpi_bridge.models.tokens import Token
from ocpi_bridge.models.v211 import V211Cdr, V211Location, V211Session, V211Tariff
from tests.builders import T0
from tests.integration import test_ocpi_platform as platform
from tests.integration.delivery import ANY_TIME, Timeline, a_card, boot_16, charge_16, status_16
from tests.integration.test_ocpi_delivery import Start, start
from tests.sim.charger import sim_charger

pytestmark = pytest.mark.integration

emsp_process = platform.emsp_process
emsp = platform.emsp
Emsp = platform.Emsp
__all__ = ["emsp", "emsp_process", "start"]  # fixtures used below


def raw(token: str) -> dict[str, str]:
    return {"Authorization": f"Token {token}"}


async def gateway_view(http_url: str, token: str) -> dict[str, dict[str, Any]]:
    """What the gateway serves a 2.1.1 partner, keyed by object id."""
    async with httpx.AsyncClient(base_url=http_url, headers=raw(token), timeout=10) as client:

        async def everything(module: str, **params: str) -> list[dict[str, Any]]:
            reply = await client.get(f"/ocpi/2.1.1/{module}", params={"limit": "100", **params})
            body = reply.json()
            assert body["status_code"] == 1000, body
            assert not [h for h in reply.headers if h.lower().startswith("ocpi-")]
            data = body["data"]
            assert isinstance(data, list)
            return data

        locations = {}
        for loc in await everything("locations"):
            loc["evses"] = sorted(loc.get("evses", []), key=lambda e: e["uid"])
            locations[loc["id"]] = loc
        return {
            "locations": locations,
            "sessions": {o["id"]: o for o in await everything("sessions", date_from=ANY_TIME)},
            "cdrs": {o["id"]: o for o in await everything("cdrs")},
            "tariffs": {o["id"]: o for o in await everything("tariffs")},
        }


async def held(emsp_url: str) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=5) as client:
        result = (await client.get(f"{emsp_url}/_inspect/held211")).json()
    assert isinstance(result, dict)
    return result


def emsp_view(holding: dict[str, Any]) -> dict[str, dict[str, Any]]:
    locations = {}
    for loc in holding["locations"].values():
        locations[loc["id"]] = {
            **loc,
            "evses": sorted(loc.get("evses", []), key=lambda e: e["uid"]),
        }
    return {
        "locations": locations,
        "sessions": {s["id"]: s for s in holding["sessions"].values()},
        "cdrs": dict(holding["cdrs"]),
        "tariffs": {t["id"]: t for t in holding["tariffs"].values()},
    }


async def converge(
    emsp_url: str, http_url: str, token: str, *, until: Callable[[dict[str, Any]], bool]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Wait until the 2.1.1 eMSP holds what the gateway serves on 2.1.1 (and ``until``)."""
    deadline = asyncio.get_running_loop().time() + 15
    while True:
        holding = await held(emsp_url)
        theirs, ours = emsp_view(holding), await gateway_view(http_url, token)
        if theirs == ours and until(holding):
            return holding, ours
        if asyncio.get_running_loop().time() > deadline:
            assert theirs == ours
            assert until(holding), holding
        await asyncio.sleep(0.05)


async def test_a_2_1_1_emsp_gets_the_evse_patch_the_session_and_one_cdr_in_2_1_1_shape(
    start: Start, emsp: Emsp
):
    """A 2.1.1 partner: raw tokens, no routing headers, 2.1.1 objects equal to 2.1.1 GETs."""
    cpo = await start()
    await emsp.control(raw_tokens=True, versions_offered=["2.1.1"])
    registered = await emsp.register(cpo.versions_url, cpo.invite(), version="2.1.1")
    assert registered["body"]["status_code"] == 1000, registered
    token = registered["body"]["data"]["token"]
    await cpo.platform.tokens.put(Token.model_validate(a_card("04A1B2C3")))
    await converge(emsp.url, cpo.http_url, token, until=lambda h: len(h["tariffs"]) == 2)

    time = Timeline(T0, cpo.clock)
    async with sim_charger(cpo.ws_url("AC-0001")) as ac:
        await boot_16(ac)
        await status_16(ac, 1, "Available", time.at(-1))
        tx_id = await charge_16(ac, time)
    holding, ours = await converge(
        emsp.url, cpo.http_url, token, until=lambda h: len(h["cdrs"]) == 1
    )

    session_id = f"AC-0001-{tx_id}"
    session = V211Session.model_validate(ours["sessions"][session_id])
    assert (session.status.value, session.kwh, session.total_cost) == (
        "COMPLETED",
        Decimal(5),
        Decimal("1.5"),
    )
    assert session.auth_id == "DE-EMS-04A1B2C3"
    assert [e.uid for e in session.location.evses or []] == ["AC-0001-1"]
    cdr = V211Cdr.model_validate(ours["cdrs"][session_id])
    assert (cdr.total_cost, cdr.total_energy, cdr.auth_id) == (
        Decimal("1.5"),
        Decimal(5),
        "DE-EMS-04A1B2C3",
    )
    assert cdr.location == session.location
    assert holding["cdr_posts"] == [session_id]
    for loc in ours["locations"].values():
        V211Location.model_validate(loc)
    for tariff in ours["tariffs"].values():
        V211Tariff.model_validate(tariff)

    received = [r for r in (await emsp.inspect())["received"] if r["version"] == "2.1.1"]
    assert {r["module"] for r in received} == {"locations", "tariffs", "sessions", "cdrs"}
    patches = [
        r["body"]
        for r in received
        if (r["method"], r["path"]) == ("PATCH", "/NL/CEG/LOC-001/AC-0001-1")
    ]
    assert patches, "no EVSE status PATCH"
    assert patches[-1]["status"] == "AVAILABLE"
    token_b = await emsp.token_for_cpo()
    assert {r["headers"]["authorization"] for r in received} == {f"Token {token_b}"}
    assert not [h for r in received for h in r["headers"] if h.startswith("ocpi-")]
    assert next(r["method"] for r in received if r["module"] == "sessions") == "PUT"
