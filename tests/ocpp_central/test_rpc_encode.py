"""Frames go out exactly as the standard JSON encoder writes them, however often it is reused."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import given, strategies as st

from ocpp_central.translate import rpc
from ocpp_central.translate.common import ocpp_datetime
from ocpp_central.translate.rpc import ErrorCode, OcppVersion

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=10,
)


def standard(frame: list[Any]) -> str:
    return json.dumps(frame, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


@given(message_id=st.text(max_size=36), payload=st.dictionaries(st.text(max_size=5), JSON))
def test_a_callresult_is_written_as_the_standard_encoder_writes_it(
    message_id: str, payload: dict[str, Any]
) -> None:
    """Same text for any payload (ASCII ids and others, empty payloads included)."""
    expected = standard([3, message_id, payload])
    try:
        expected.encode("utf-8")
    except UnicodeEncodeError:  # an unpaired surrogate goes out escaped
        expected = json.dumps([3, message_id, payload], separators=(",", ":"))
    assert rpc.encode_result(message_id, payload) == expected


def test_none_is_the_empty_callresult() -> None:
    """A plain handler's None answer is the empty payload."""
    assert rpc.encode_result("m1", None) == '[3,"m1",{}]'
    assert rpc.encode_result('a"b', {}) == '[3,"a\\"b",{}]'


def test_a_frame_that_cannot_be_encoded_still_fails_loudly_and_errors_do_not() -> None:
    """NaN and cycles: a CALLRESULT raises, a CALLERROR drops its details instead."""
    cyclic: dict[str, Any] = {}
    cyclic["self"] = cyclic
    for bad in ({"x": float("nan")}, cyclic):
        text = rpc.encode_error(OcppVersion.V16, "m1", ErrorCode.GENERIC_ERROR, "no", bad)
        assert json.loads(text) == [4, "m1", "GenericError", "no", {}]
    try:
        rpc.encode_result("m1", {"x": float("nan")})
    except ValueError:
        pass
    else:  # pragma: no cover - the assertion's message
        raise AssertionError("NaN was encoded")


@given(
    at=st.datetimes(
        min_value=datetime(2000, 1, 2),
        max_value=datetime(2099, 12, 30),
        timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30))]),
    )
)
def test_ocpp_datetimes_are_utc_milliseconds_with_z(at: datetime) -> None:
    """A UTC time and the same instant in another zone are written alike."""
    expected = at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    assert ocpp_datetime(at) == expected
    assert ocpp_datetime(at.astimezone(timezone(timedelta(hours=-3)))) == expected
