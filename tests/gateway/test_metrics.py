"""Metrics exposition: Prometheus text that scrapers and alert rules can rely on."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from gateway.metrics import Counter, Gauge, Histogram, Metrics


def test_a_counter_without_labels_starts_at_zero():
    """Alerts on rate() need the series before the first event."""
    text = "".join(line + "\n" for line in Counter("x_total", "X.").lines())
    assert text == "# HELP x_total X.\n# TYPE x_total counter\nx_total 0\n"


def test_counters_only_grow_and_check_their_labels():
    """A negative increment or a wrong label count is a programming error."""
    c = Counter("x_total", "X.", ("a",))
    c.inc("1", by=2)
    assert c.value("1") == 2
    with pytest.raises(ValueError, match="only grow"):
        c.inc("1", by=-1)
    with pytest.raises(ValueError, match="takes labels"):
        c.inc()


def test_label_values_are_escaped():
    """Quotes, backslashes and newlines in a label value cannot break the format."""
    g = Gauge("g", "help with \\ and\nnewline", ("name",))
    g.set(1.5, 'a"b\\c\nd')
    lines = list(g.lines())
    assert lines[0] == "# HELP g help with \\\\ and\\nnewline"
    assert lines[2] == 'g{name="a\\"b\\\\c\\nd"} 1.5'


def test_histogram_buckets_are_cumulative_with_sum_and_count():
    """Each observation lands in its bucket; buckets add up; +Inf equals the count."""
    h = Histogram("h_seconds", "H.", buckets=(0.1, 1.0))
    for value in (0.05, 0.5, 0.5, 3.0):
        h.observe(value)
    assert list(h.lines())[2:] == [
        'h_seconds_bucket{le="0.1"} 1',
        'h_seconds_bucket{le="1"} 3',
        'h_seconds_bucket{le="+Inf"} 4',
        "h_seconds_sum 4.05",
        "h_seconds_count 4",
    ]
    assert h.count() == 4


@given(st.lists(st.floats(min_value=0, max_value=100, allow_nan=False), max_size=50))
def test_histogram_counts_every_observation_once(values):
    """Whatever is observed, the +Inf bucket and the count equal the number of observations."""
    h = Histogram("h", "H.", ("k",))
    for v in values:
        h.observe(v, "x")
    lines = list(h.lines())
    if values:
        assert f'h_count{{k="x"}} {len(values)}' in lines
        assert f'h_bucket{{k="x",le="+Inf"}} {len(values)}' in lines
    else:
        assert lines == ["# HELP h H.", "# TYPE h histogram"]


def test_partners_get_zero_series_before_their_first_push():
    """A known partner shows 0 failures and 0 CDRs until delivery reports something."""
    m = Metrics()
    m.partner_known("EMSP One")
    m.pushed("EMSP One", 0.2, ok=False)
    m.cdr_created("EMSP Two")
    text = m.render()
    assert 'gateway_partner_push_failures_total{partner="EMSP One"} 1' in text
    assert 'gateway_cdrs_created_total{partner="EMSP One"} 0' in text
    assert 'gateway_cdrs_created_total{partner="EMSP Two"} 1' in text
    assert 'gateway_partner_push_seconds_count{partner="EMSP One"} 1' in text


def test_collectors_add_families_at_scrape_time():
    """Families from collectors and from the caller are rendered before the recorded ones."""
    m = Metrics()
    g = Gauge("now_value", "Now.")
    g.set(float("inf"))
    m.collect(lambda: [g])
    extra = Gauge("extra_value", "Extra.")
    extra.set(float("nan"))
    text = m.render([extra])
    assert text.index("extra_value NaN") < text.index("now_value +Inf")
    assert text.index("now_value") < text.index("gateway_ocpp_messages_total")


@given(st.floats(min_value=0, max_value=100, allow_nan=False))
def test_an_observation_lands_in_the_first_bucket_whose_bound_it_does_not_exceed(value):
    """A value equal to a bound counts in that bucket; above the last, only in +Inf."""
    h = Histogram("h", "H.", ("a",), buckets=(0.5, 1.0, 2.5))
    h.observe(value, "x")
    h.observe(value, "x")  # the second observation takes the known-series path
    expected = next((i for i, bound in enumerate(h.buckets) if value <= bound), len(h.buckets))
    counts = [0] * (len(h.buckets) + 1)
    counts[expected] = 2
    assert h._counts[("x",)] == counts
    assert h.count("x") == 2


def test_a_known_series_still_counts_after_its_first_increment():
    """Repeated increments of one label set add up in the same series."""
    c = Counter("x_total", "X.", ("a", "b"))
    for _ in range(3):
        c.inc("in", "Heartbeat")
    assert c.value("in", "Heartbeat") == 3
    with pytest.raises(ValueError, match="takes labels"):
        c.inc("in")


def test_an_answered_call_counts_the_message_and_its_answer_time():
    """ocpp_call_answered records what ocpp_message("in", ...) and ocpp_answered record."""
    apart, together = Metrics(), Metrics()
    for metrics_ in (apart, together):
        metrics_.ocpp_message("out", "Reset", "ok")
    apart.ocpp_message("in", "Heartbeat", "ok")
    apart.ocpp_answered("Heartbeat", 0.003)
    together.ocpp_call_answered("Heartbeat", "ok", 0.003)

    assert together.render() == apart.render()
    assert together.ocpp_messages.value("in", "Heartbeat", "ok") == 1
    assert together.ocpp_ack_seconds.count("Heartbeat") == 1
