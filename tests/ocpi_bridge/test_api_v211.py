"""The 2.1.1 Sender endpoints in process: 2.1.1 objects, same auth, pages, no routing."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import replace
from typing import Any

import pytest

from gateway.config import Settings
from gateway.domain.connectors import ConnectorStandard
from ocpi_bridge.models.v211 import V211Connector, V211Evse, V211Location, V211Tariff
from tests.builders import T0, a_settings
from tests.ocpi_bridge.test_api import (
    BASE,
    STATIC_TOKEN,
    Harness,
    b64,
    many_locations_settings,
)


def site_harness(settings: Settings | None = None) -> Harness:
    """The shipped site (EVSEs and tariffs), every object configured at T0."""
    settings = settings or a_settings(
        http={"public_url": BASE},
        ocpi={
            "static_partners": [
                {"name": "static", "country_code": "DE", "party_id": "STA", "token": STATIC_TOKEN}
            ]
        },
    )
    h = Harness(settings)
    ctx = h.app.state.ocpi
    configured = {f"tariff:{t.id}": T0 for t in settings.tariffs}
    configured |= {f"location:{loc.id}": T0 for loc in settings.locations}
    h.app.state.ocpi = replace(ctx, configured_at=configured)
    return h


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    h = Harness(many_locations_settings(5, max_page_limit=2))
    yield h
    await h.client.aclose()


@pytest.fixture
async def site() -> AsyncIterator[Harness]:
    h = site_harness()
    yield h
    await h.client.aclose()


async def get(h: Harness, path: str, headers: Mapping[str, str] | None = None, **kw: Any):
    async with h.http() as client:
        return await client.get(
            path, headers=dict(headers if headers is not None else b64(STATIC_TOKEN)), **kw
        )


async def test_2_1_1_locations_are_paged_2_1_1_objects_without_routing_headers(harness: Harness):
    """The list is paginated as in 2.2.1; objects parse as 2.1.1; 2.1.1 has no routing."""
    reply = await get(harness, "/ocpi/2.1.1/locations", params={"limit": "2"})

    assert reply.status_code == 200
    body = reply.json()
    assert body["status_code"] == 1000
    locations = [V211Location.model_validate(d) for d in body["data"]]
    assert [loc.id for loc in locations] == ["LOC-000", "LOC-001"]
    assert locations[0].type.value == "PARKING_LOT"
    assert "country_code" not in body["data"][0]
    assert reply.headers["X-Total-Count"] == "5"
    assert reply.headers["Link"] == (f'<{BASE}/ocpi/2.1.1/locations?offset=2&limit=2>; rel="next"')
    assert not [h for h in reply.headers if h.lower().startswith("ocpi-")]


async def test_2_1_1_location_evse_and_connector_objects(site: Harness):
    """GET object: a Location, an EVSE or a Connector, each in its 2.1.1 shape."""
    loc = (await get(site, "/ocpi/2.1.1/locations/LOC-001")).json()["data"]
    uid = loc["evses"][0]["uid"]
    evse = (await get(site, f"/ocpi/2.1.1/locations/loc-001/{uid}")).json()["data"]
    conn = (await get(site, f"/ocpi/2.1.1/locations/LOC-001/{uid}/1")).json()["data"]

    evses = V211Location.model_validate(loc).evses or []
    assert evses[0] == V211Evse.model_validate(evse)
    assert V211Connector.model_validate(conn).voltage == 230
    assert conn["tariff_id"] == "AC-STANDARD"


@pytest.mark.parametrize(
    "path",
    [
        "/ocpi/2.1.1/locations/NOPE",
        "/ocpi/2.1.1/locations/LOC-001/NOPE",
        "/ocpi/2.1.1/locations/LOC-001/AC-0001-1/9",
    ],
)
async def test_unknown_2_1_1_objects_are_2003(site: Harness, path: str):
    """An unknown Location, EVSE or Connector: HTTP 404, OCPI 2003."""
    reply = await get(site, path)

    assert reply.status_code == 404
    assert reply.json()["status_code"] == 2003


async def test_objects_2_1_1_cannot_describe_are_2003_there():
    """An EVSE whose only plug 2.1.1 lacks is left out of its Location and not found alone."""
    shipped = site_harness().app.state.ocpi.settings
    loc = shipped.locations[0]
    evse = loc.evses[0]
    plug = evse.connectors[0].model_copy(update={"standard": ConnectorStandard.CHAOJI})
    odd = evse.model_copy(update={"connectors": (plug,)})
    h = site_harness(
        shipped.model_copy(
            update={"locations": (loc.model_copy(update={"evses": (odd, *loc.evses[1:])}),)}
        )
    )
    try:
        listed = (await get(h, f"/ocpi/2.1.1/locations/{loc.id}")).json()["data"]
        alone = await get(h, f"/ocpi/2.1.1/locations/{loc.id}/{evse.uid}")
        plug_alone = await get(h, f"/ocpi/2.1.1/locations/{loc.id}/{evse.uid}/{plug.id}")
    finally:
        await h.client.aclose()

    assert evse.uid not in [e["uid"] for e in listed.get("evses", [])]
    assert alone.status_code == plug_alone.status_code == 404


async def test_2_1_1_tariffs_lose_what_2_1_1_lacks(site: Harness):
    """Tariffs as 2.1.1 objects: no owner party and no VAT."""
    body = (await get(site, "/ocpi/2.1.1/tariffs")).json()

    tariffs = [V211Tariff.model_validate(t) for t in body["data"]]
    assert [t.id for t in tariffs] == ["AC-STANDARD", "DC-FAST"]
    assert "party_id" not in body["data"][0]


async def test_2_1_1_sessions_need_date_from_and_cdrs_do_not(harness: Harness):
    """mod_sessions 2.1.1: date_from is required; CDRs list without it."""
    missing = await get(harness, "/ocpi/2.1.1/sessions")
    sessions = await get(
        harness, "/ocpi/2.1.1/sessions", params={"date_from": "2020-01-01T00:00:00Z"}
    )
    cdrs = await get(harness, "/ocpi/2.1.1/cdrs")

    assert missing.json()["status_code"] == 2001
    assert (sessions.json()["data"], sessions.headers["X-Total-Count"]) == ([], "0")
    assert (cdrs.json()["data"], cdrs.headers["X-Total-Count"]) == ([], "0")


@pytest.mark.parametrize("module", ["locations", "tariffs", "sessions", "cdrs"])
async def test_token_a_does_not_open_2_1_1_modules(harness: Harness, module: str):
    """Only registered partners read the 2.1.1 functional modules, as in 2.2.1."""
    token_a = harness.registrar.invite("new").token

    reply = await get(harness, f"/ocpi/2.1.1/{module}", b64(token_a))

    assert reply.status_code == 401
    assert reply.json()["status_code"] == 2000
