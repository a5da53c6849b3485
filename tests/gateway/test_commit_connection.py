"""The charger commits' kept connection: a commit that failed on it does not doom the next."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from gateway.core.effects import EvseChanged
from gateway.domain.ids import ChargerId, EvseUid, LocationId
from gateway.domain.state import ChargerState
from gateway.domain.status import EvseStatus
from gateway.ports import Change
from gateway.storage.sql import SqlStore
from tests.builders import T0

CP = ChargerId("AC-0001")
EVSE = EvseUid("AC-0001-1")


def a_status_change(status: EvseStatus, minutes: int) -> Change:
    at = T0 + timedelta(minutes=minutes)
    effect = EvseChanged(
        uid=EVSE, location_id=LocationId("LOC-001"), status=status, last_updated=at
    )
    return Change(charger_id=CP, state=ChargerState(charger_id=CP), effects=(effect,), at=at)


@pytest.mark.parametrize("plain_sql", [True, False])
def test_a_commit_after_one_whose_connection_broke_is_stored(tmp_path: Path, plain_sql: bool):
    """A commit that failed on the kept connection leaves the next one a working one."""
    store = SqlStore(f"sqlite:///{tmp_path / 'gateway.db'}", plain_sql=plain_sql)
    store.open()
    try:
        store.commit([a_status_change(EvseStatus.AVAILABLE, 1)])
        kept = store.delivery._committer  # the connection the next commit would use
        assert kept is not None
        kept.connection.driver_connection.close()  # type: ignore[union-attr]

        with pytest.raises(Exception, match="closed"):
            store.commit([a_status_change(EvseStatus.CHARGING, 2)])
        store.commit([a_status_change(EvseStatus.RESERVED, 3)])

        assert store.evse_statuses()[EVSE].status is EvseStatus.RESERVED
    finally:
        store.close()
