"""The runtime's fast ``Change`` constructor builds exactly what the dataclass builds."""

from __future__ import annotations

from dataclasses import fields

from gateway.core.effects import EvseChanged
from gateway.domain.ids import ChargerId, EvseUid, LocationId
from gateway.domain.state import ChargerState
from gateway.domain.status import EvseStatus
from gateway.ports import Change
from gateway.runtime import _change
from tests.builders import T0

CP = ChargerId("AC-0001")


def test_the_fast_change_sets_every_field_the_dataclass_has():
    """The fields the runtime fills in; a new one must be given a value there too."""
    assert [f.name for f in fields(Change)] == [
        "charger_id",
        "state",
        "effects",
        "at",
        "state_changed",
        "issued_tx_id",
    ]


def test_the_fast_change_equals_the_dataclass_built_one():
    """Same values, same object as far as anyone can tell (equality, repr, hashing rules)."""
    state = ChargerState(charger_id=CP)
    effects = (
        EvseChanged(
            uid=EvseUid("AC-0001-1"),
            location_id=LocationId("LOC-001"),
            status=EvseStatus.AVAILABLE,
            last_updated=T0,
        ),
    )
    fast = _change(
        charger_id=CP, state=state, effects=effects, at=T0, state_changed=False, issued_tx_id=7
    )
    slow = Change(
        charger_id=CP, state=state, effects=effects, at=T0, state_changed=False, issued_tx_id=7
    )

    assert fast == slow
    assert repr(fast) == repr(slow)
    assert type(fast) is Change
