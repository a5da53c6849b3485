"""Process metrics: adapters record into counters and histograms; ``render`` writes Prometheus text.

One ``Metrics`` instance per process is made by the composition root and handed to
whoever records (the OCPP connections, the group committer, the partner pusher), so
nothing here is global and tests get a fresh set each. Values that are a view of
current state (chargers connected, EVSEs by status, backlogs) are not recorded at all:
collectors registered with ``Metrics.collect`` compute them at scrape time.

Exposition follows the Prometheus text format 0.0.4: ``# HELP``/``# TYPE`` per family,
label values escaped, histogram buckets cumulative with a final ``+Inf``.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence

#: Seconds, from a sub-millisecond SQLite commit to a charger's 30 s patience.
LATENCY_BUCKETS_S = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

LabelValues = tuple[str, ...]


class _Family:
    kind = "untyped"

    def __init__(self, name: str, help_text: str, labels: Sequence[str] = ()) -> None:
        self.name = name
        self.help = help_text
        self.labels = tuple(labels)

    def _key(self, values: Sequence[str]) -> LabelValues:
        if len(values) != len(self.labels):
            raise ValueError(f"{self.name} takes labels {self.labels}, got {tuple(values)}")
        return tuple(str(v) for v in values)

    def lines(self) -> Iterable[str]:
        yield f"# HELP {self.name} {_escape_help(self.help)}"
        yield f"# TYPE {self.name} {self.kind}"
        yield from self._samples()

    def _samples(self) -> Iterable[str]:
        raise NotImplementedError

    def _series(self, suffix: str, values: LabelValues, value: float, **extra: str) -> str:
        pairs = [*zip(self.labels, values, strict=True), *extra.items()]
        labels = ",".join(f'{k}="{_escape_label(v)}"' for k, v in pairs)
        return (
            f"{self.name}{suffix}{{{labels}}} {_number(value)}"
            if labels
            else (f"{self.name}{suffix} {_number(value)}")
        )


class Counter(_Family):
    """A value that only grows; a family without labels starts at 0."""

    kind = "counter"

    def __init__(self, name: str, help_text: str, labels: Sequence[str] = ()) -> None:
        super().__init__(name, help_text, labels)
        self._values: dict[LabelValues, float] = {} if self.labels else {(): 0.0}

    def inc(self, *values: str, by: float = 1.0) -> None:
        if by < 0:
            raise ValueError("counters only grow")
        # A series seen before needs no label check: its key was checked when it was made.
        known = self._values.get(values)
        if known is not None:
            self._values[values] = known + by
            return
        key = self._key(values)
        self._values[key] = self._values.get(key, 0.0) + by

    def touch(self, *values: str) -> None:
        """Make the series exist (at 0) so that alerts see it before its first event."""
        self._values.setdefault(self._key(values), 0.0)

    def value(self, *values: str) -> float:
        return self._values.get(self._key(values), 0.0)

    def _samples(self) -> Iterable[str]:
        for key in sorted(self._values):
            yield self._series("", key, self._values[key])


class Gauge(_Family):
    """A value that is set, not accumulated; collectors build these afresh at each scrape."""

    kind = "gauge"

    def __init__(self, name: str, help_text: str, labels: Sequence[str] = ()) -> None:
        super().__init__(name, help_text, labels)
        self._values: dict[LabelValues, float] = {}

    def set(self, value: float, *values: str) -> None:
        self._values[self._key(values)] = value

    def value(self, *values: str) -> float | None:
        return self._values.get(self._key(values))

    def _samples(self) -> Iterable[str]:
        for key in sorted(self._values):
            yield self._series("", key, self._values[key])


class Histogram(_Family):
    """Observations counted into cumulative buckets, with their sum and count."""

    kind = "histogram"

    def __init__(
        self,
        name: str,
        help_text: str,
        labels: Sequence[str] = (),
        buckets: Sequence[float] = LATENCY_BUCKETS_S,
    ) -> None:
        super().__init__(name, help_text, labels)
        self.buckets = tuple(sorted(buckets))
        self._counts: dict[LabelValues, list[int]] = {}
        self._sums: dict[LabelValues, float] = {}
        if not self.labels:
            self.touch()

    def touch(self, *values: str) -> None:
        key = self._key(values)
        self._counts.setdefault(key, [0] * (len(self.buckets) + 1))
        self._sums.setdefault(key, 0.0)

    def observe(self, value: float, *values: str) -> None:
        counts = self._counts.get(values)
        key = values
        if counts is None:  # a new series: check its labels once
            key = self._key(values)
            self.touch(*key)
            counts = self._counts[key]
        # The first bucket whose bound is >= value; past the last bound, the +Inf one.
        counts[bisect_left(self.buckets, value)] += 1
        self._sums[key] += value

    def count(self, *values: str) -> int:
        return sum(self._counts.get(self._key(values), ()))

    def _samples(self) -> Iterable[str]:
        for key in sorted(self._counts):
            running = 0
            for bound, n in zip((*self.buckets, math.inf), self._counts[key], strict=True):
                running += n
                yield self._series("_bucket", key, running, le=_number(bound))
            yield self._series("_sum", key, self._sums[key])
            yield self._series("_count", key, running)


Collector = Callable[[], Iterable[_Family]]


class Metrics:
    """Everything ``/metrics`` shows. Recorders call the methods; collectors add views."""

    def __init__(self) -> None:
        self.ocpp_messages = Counter(
            "gateway_ocpp_messages_total",
            "OCPP messages by direction (in: charger's CALLs, out: ours), action and outcome.",
            ("direction", "action", "outcome"),
        )
        self.ocpp_ack_seconds = Histogram(
            "gateway_ocpp_ack_seconds",
            "Time from receiving a charger's CALL to sending its answer.",
            ("action",),
        )
        self.commit_seconds = Histogram(
            "gateway_db_commit_seconds", "Duration of one group commit to the database."
        )
        self.commit_failures = Counter(
            "gateway_db_commit_failures_total", "Group commits the database refused."
        )
        self.transactions_completed = Counter(
            "gateway_transactions_completed_total", "Charging transactions that ended."
        )
        self.cdrs_created = Counter(
            "gateway_cdrs_created_total", "Charge detail records created, by partner.", ("partner",)
        )
        self.push_seconds = Histogram(
            "gateway_partner_push_seconds", "Duration of one push to a partner.", ("partner",)
        )
        self.push_failures = Counter(
            "gateway_partner_push_failures_total",
            "Pushes to a partner that failed (to be retried).",
            ("partner",),
        )
        self._recorded: tuple[_Family, ...] = (
            self.ocpp_messages,
            self.ocpp_ack_seconds,
            self.commit_seconds,
            self.commit_failures,
            self.transactions_completed,
            self.cdrs_created,
            self.push_seconds,
            self.push_failures,
        )
        self._collectors: list[Collector] = []
        # (action, outcome) -> the counter key and the histogram series a charger's answered
        # CALL updates: made once per pair so that the per-message path (every CALL) is a
        # few dict and list operations, with no label checks or key tuples built.
        self._call_slots: dict[str, dict[str, tuple[LabelValues, list[int], LabelValues]]] = {}

    # --- recording ---------------------------------------------------------------

    def ocpp_message(self, direction: str, action: str, outcome: str) -> None:
        self.ocpp_messages.inc(direction, action, outcome)

    def ocpp_answered(self, action: str, seconds: float) -> None:
        self.ocpp_ack_seconds.observe(seconds, action)

    def ocpp_call_answered(self, action: str, outcome: str, seconds: float) -> None:
        """A charger's CALL was answered: ``ocpp_message("in", ...)`` and ``ocpp_answered``.

        One call for both, as it is made for every message a charger sends.
        """
        by_outcome = self._call_slots.get(action)
        slot = by_outcome.get(outcome) if by_outcome is not None else None
        if slot is None:
            slot = self._call_slot(action, outcome)
        message_key, counts, ack_key = slot
        values = self.ocpp_messages._values
        values[message_key] += 1.0
        histogram = self.ocpp_ack_seconds
        # The first bucket whose bound is >= seconds; past the last bound, the +Inf one.
        counts[bisect_left(histogram.buckets, seconds)] += 1
        histogram._sums[ack_key] += seconds

    def _call_slot(self, action: str, outcome: str) -> tuple[LabelValues, list[int], LabelValues]:
        """Make the series of an (action, outcome) pair and remember where they are."""
        self.ocpp_messages.touch("in", action, outcome)
        self.ocpp_ack_seconds.touch(action)
        message_key = self.ocpp_messages._key(("in", action, outcome))
        ack_key = self.ocpp_ack_seconds._key((action,))
        slot = (message_key, self.ocpp_ack_seconds._counts[ack_key], ack_key)
        self._call_slots.setdefault(action, {})[outcome] = slot
        return slot

    def committed(self, seconds: float) -> None:
        self.commit_seconds.observe(seconds)

    def pushed(self, partner: str, seconds: float, *, ok: bool) -> None:
        """One push to ``partner`` took ``seconds``; ``ok=False`` counts a failure."""
        self.push_seconds.observe(seconds, partner)
        if not ok:
            self.push_failures.inc(partner)

    def cdr_created(self, partner: str) -> None:
        self.cdrs_created.inc(partner)

    def partner_known(self, partner: str) -> None:
        """Give a partner's series a 0 before its first push, so alerts can see them."""
        self.push_failures.touch(partner)
        self.cdrs_created.touch(partner)
        self.push_seconds.touch(partner)

    # --- exposition ----------------------------------------------------------------

    def collect(self, collector: Collector) -> None:
        """Add families computed at each scrape (gauges of current state)."""
        self._collectors.append(collector)

    def render(self, extra: Iterable[_Family] = ()) -> str:
        """The exposition text: ``extra`` families (read by the caller), collected, recorded."""
        families: list[_Family] = list(extra)
        for collector in self._collectors:
            families.extend(collector())
        families.extend(self._recorded)
        return "".join(line + "\n" for family in families for line in family.lines())


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _escape_help(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n")
