"""A connection answers each CALL: handled, refused by its schema, blocked, or failed."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any, cast

import pytest

from gateway.metrics import Metrics
from gateway.ports import CommitFailedError
from ocpp_central.connection import ChargerConnection
from ocpp_central.handlers import ChargerSession
from ocpp_central.translate.rpc import OcppVersion
from ocpp_central.validation import Validators
from tests.builders import T0

STATUS = {"connectorId": 1, "errorCode": "NoError", "status": "Available"}
METER = {
    "connectorId": 1,
    "meterValue": [{"timestamp": "2026-11-22T10:00:00Z", "sampledValue": [{"value": "12"}]}],
}


class Socket:
    """The frames a charger sends, and the answers it gets."""

    def __init__(self, frames: list[list[Any]]) -> None:
        self._frames = [json.dumps(f) for f in frames]
        self.sent: list[Any] = []

    def __aiter__(self) -> AsyncIterator[str]:
        return self._read()

    async def _read(self) -> AsyncIterator[str]:
        for frame in self._frames:
            yield frame

    async def send(self, text: str) -> None:
        self.sent.append(json.loads(text))


class Sink:
    def __init__(self, fail: bool = False) -> None:
        self.events: list[Any] = []
        self._fail = fail

    async def submit(self, event: Any) -> None:
        await asyncio.sleep(0)  # a commit suspends the handler
        if self._fail:
            raise CommitFailedError("disk full")
        self.events.append(event)


def answers(
    frames: list[list[Any]], *, sink: Sink | None = None, boot_status: str | None = None
) -> tuple[list[Any], Sink, Metrics]:
    socket, sink, metrics = Socket(frames), sink or Sink(), Metrics()
    session = ChargerSession(
        charger_id=cast(Any, "CP-1"),
        version=OcppVersion.V16,
        settings=None,
        sink=cast(Any, sink),
        authorizer=cast(Any, None),
        clock=lambda: T0,
        heartbeat_interval_s=300,
        boot_status=boot_status,
    )
    connection = ChargerConnection(
        cast(Any, socket), session, Validators(OcppVersion.V16), metrics=metrics
    )
    asyncio.run(connection.run())
    return socket.sent, sink, metrics


def test_status_and_meter_values_are_stored_then_answered_empty() -> None:
    """The plain handlers' commit is awaited before the empty CALLRESULT goes out."""
    sent, sink, _ = answers(
        [[2, "a", "StatusNotification", STATUS], [2, "b", "MeterValues", METER]]
    )
    assert sent == [[3, "a", {}], [3, "b", {}]]
    assert [type(e).__name__ for e in sink.events] == [
        "ConnectorStatusReported",
        "MeterValuesReported",
    ]


@pytest.mark.parametrize(
    ("action", "payload", "code"),
    [
        ("MeterValues", {**METER, "connectorId": "1"}, "TypeConstraintViolation"),
        ("MeterValues", {"connectorId": 1}, "OccurenceConstraintViolation"),
        ("StatusNotification", {**STATUS, "status": "Sleeping"}, "PropertyConstraintViolation"),
        ("Heartbeat", [], "FormationViolation"),
    ],
)
def test_a_payload_its_schema_refuses_gets_the_validators_callerror(
    action: str, payload: Any, code: str
) -> None:
    """The compiled check only decides that; check_call's violation is what is answered."""
    sent, sink, _ = answers([[2, "x", action, payload], [2, "hb", "Heartbeat", {}]])
    assert sent[0][:3] == [4, "x", code]
    if isinstance(payload, dict):
        violation = Validators(OcppVersion.V16).check_call(action, payload)
        assert violation is not None
        assert sent[0][3] == violation.description
    assert sent[1][0] == 3
    assert sink.events == []


def test_a_pending_boot_blocks_a_valid_call_and_a_bad_one_hears_its_fault_first() -> None:
    """SecurityError for the valid CALL; the schema's verdict outranks the boot state."""
    sent, sink, _ = answers(
        [
            [2, "a", "StatusNotification", STATUS],
            [2, "b", "StatusNotification", {**STATUS, "status": "Sleeping"}],
        ],
        boot_status="Pending",
    )
    assert [s[2] for s in sent] == ["SecurityError", "PropertyConstraintViolation"]
    assert sink.events == []


def test_a_failed_commit_in_a_plain_handler_asks_for_a_retry() -> None:
    """InternalError, counted under the action; a retransmission of that id hears it again."""
    sent, _, metrics = answers(
        [[2, "a", "MeterValues", METER], [2, "a", "MeterValues", METER]], sink=Sink(fail=True)
    )
    assert sent[0][:4] == [4, "a", "InternalError", "not stored; retry later"]
    assert sent[1] == sent[0]
    assert metrics.ocpp_messages.value("in", "MeterValues", "InternalError") == 1
    assert metrics.ocpp_messages.value("in", "MeterValues", "repeat") == 1


def test_invented_actions_are_counted_as_unknown_and_not_remembered() -> None:
    """Each name a charger invents costs a refusal, never a metric series of its own."""
    sent, _, metrics = answers([[2, f"x{i}", f"Fly{i}", {}] for i in range(3)])
    assert [s[2] for s in sent] == ["NotImplemented"] * 3
    assert metrics.ocpp_messages.value("in", "unknown", "NotImplemented") == 3
