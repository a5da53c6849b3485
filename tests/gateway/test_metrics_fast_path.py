"""Tests: the answered-CALL fast path of ``Metrics`` renders as the general recorders do."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from gateway.metrics import LATENCY_BUCKETS_S, Metrics

_ACTIONS = st.sampled_from(["MeterValues", "Heartbeat", "StatusNotification", "unknown"])
_OUTCOMES = st.sampled_from(["ok", "FormationViolation", "repeat"])
_SECONDS = st.one_of(
    st.sampled_from([0.0, *LATENCY_BUCKETS_S, 31.0]),
    st.floats(min_value=0.0, max_value=60.0, allow_nan=False),
)


def _both(calls: list[tuple[str, str, float]]) -> tuple[str, str]:
    fast, general = Metrics(), Metrics()
    for action, outcome, seconds in calls:
        fast.ocpp_call_answered(action, outcome, seconds)
        general.ocpp_message("in", action, outcome)
        general.ocpp_answered(action, seconds)
    return fast.render(), general.render()


@given(st.lists(st.tuples(_ACTIONS, _OUTCOMES, _SECONDS), max_size=30))
def test_answered_calls_render_as_the_two_general_recorders(
    calls: list[tuple[str, str, float]],
) -> None:
    """Recording answered CALLs in one call exposes exactly what the two recorders would."""
    fast, general = _both(calls)
    assert fast == general


@pytest.mark.parametrize("bound", LATENCY_BUCKETS_S)
def test_a_duration_on_a_bucket_bound_counts_in_that_bucket(bound: float) -> None:
    """A duration equal to a bound falls in that bound's bucket (``le`` is inclusive)."""
    metrics = Metrics()
    metrics.ocpp_call_answered("Heartbeat", "ok", bound)
    text = metrics.render()
    le = str(int(bound)) if float(bound).is_integer() else repr(bound)
    assert f'gateway_ocpp_ack_seconds_bucket{{action="Heartbeat",le="{le}"}} 1' in text
    assert 'gateway_ocpp_messages_total{direction="in",action="Heartbeat",outcome="ok"} 1' in text


def test_a_series_made_by_the_general_recorder_is_shared_by_the_fast_path() -> None:
    """Counts recorded before and after the fast path first sees a pair add up."""
    metrics = Metrics()
    metrics.ocpp_message("in", "Heartbeat", "ok")
    metrics.ocpp_call_answered("Heartbeat", "ok", 0.002)
    metrics.ocpp_answered("Heartbeat", 0.002)
    metrics.ocpp_call_answered("Heartbeat", "ok", 0.002)
    assert metrics.ocpp_messages.value("in", "Heartbeat", "ok") == 3
    assert metrics.ocpp_ack_seconds.count("Heartbeat") == 3
