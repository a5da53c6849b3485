"""What an idle charger's connection keeps in memory: no handshake headers, a small journal."""

from __future__ import annotations

import gc

import pytest

from gateway.app import GC_YOUNG_OBJECTS, Gateway
from gateway.domain.ids import ChargerId
from tests.integration.conftest import Running, site_settings
from tests.sim.charger import sim_charger, wait_until

pytestmark = pytest.mark.integration


async def test_a_connection_drops_its_handshake_headers_and_keeps_working(
    running: Running,
) -> None:
    """Once connected, the upgrade's headers are gone; the charger is still served."""
    charger = ChargerId("AC-0001")
    async with sim_charger(running.ws_url(charger)) as cp:
        await wait_until(lambda: charger in running.gateway.ocpp.connections)
        ws = running.gateway.ocpp.connections[charger].ws
        assert ws.request is not None
        assert ws.response is not None
        assert list(ws.request.headers.raw_items()) == []
        assert list(ws.response.headers.raw_items()) == []
        reply = await cp.call("Heartbeat", {})

    assert reply[0] == 3
    assert [r.action for r in running.gateway.ocpp.recent_messages(charger)][-1] == "Heartbeat"


async def test_start_up_objects_are_kept_out_of_the_collector_until_stop(tmp_path, clock) -> None:
    """A running gateway's start-up objects are frozen and its young generation is large;
    stopping it lets them go and gives the collector its settings back."""
    gc.unfreeze()
    before = gc.get_threshold()
    gateway = Gateway(site_settings(tmp_path), clock=clock)
    await gateway.start()
    try:
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (GC_YOUNG_OBJECTS, *before[1:])
    finally:
        await gateway.stop()
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == before
