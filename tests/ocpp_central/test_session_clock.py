"""A charger session's time: the current frame's arrival, read once per frame."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

from ocpp_central.handlers import ChargerSession
from ocpp_central.translate.rpc import OcppVersion
from tests.builders import T0


def a_session(clock: Any) -> ChargerSession:
    return ChargerSession(
        charger_id=cast(Any, "CP-1"),
        version=OcppVersion.V16,
        settings=None,
        sink=cast(Any, None),
        authorizer=cast(Any, None),
        clock=clock,
        heartbeat_interval_s=300,
    )


def test_now_is_the_arrival_of_the_frame_being_handled():
    """Once a frame arrived, handlers see its arrival time, not a later clock reading."""
    readings = iter([T0 + timedelta(seconds=5)])
    session = a_session(lambda: next(readings))
    session.last_message_at = T0

    assert session.now() == T0
    assert session.now() == T0


def test_now_reads_the_clock_before_any_frame_arrived():
    """A session nothing was received on yet (tests, start-up) asks its clock."""
    session = a_session(lambda: T0)
    assert session.now() == T0
