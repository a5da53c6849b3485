"""A change the database refuses: the charger is told to retry, and nothing unstored is acked."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from gateway.domain.ids import EvseUid
from gateway.domain.status import EvseStatus
from gateway.ports import Change
from tests.integration.conftest import Running
from tests.sim.charger import sim_charger

pytestmark = pytest.mark.integration


async def test_a_refused_commit_is_answered_internal_error_and_the_retry_is_kept(
    running: Running, caplog: pytest.LogCaptureFixture
) -> None:
    """The charger hears InternalError for the refused commit; its retry is stored and acked."""
    store = running.gateway.store
    original = store.commit
    refusals: list[int] = []

    def refuse_once(batch: Sequence[Change]) -> None:
        if not refusals:
            refusals.append(len(batch))
            raise OSError("disk full")
        original(batch)

    status = {"connectorId": 1, "errorCode": "GroundFailure", "status": "Faulted"}
    async with sim_charger(running.ws_url("AC-0001")) as cp:
        await cp.call("BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"})
        store.commit = refuse_once  # type: ignore[method-assign]
        refused = await cp.call("StatusNotification", status)
        assert store.evse_statuses()[EvseUid("AC-0001-1")].status is not EvseStatus.OUT_OF_ORDER
        kept = await cp.call("StatusNotification", status)

    assert refused[0] == 4
    assert refused[2] == "InternalError"
    assert kept[0] == 3
    assert store.evse_statuses()[EvseUid("AC-0001-1")].status is EvseStatus.OUT_OF_ORDER
    assert "commit failed for charger AC-0001" in caplog.text
    caplog.clear()
