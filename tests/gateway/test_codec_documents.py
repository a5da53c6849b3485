"""Stored meter sample documents keep their exact text, and read back as they were."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import given, strategies as st

from gateway.domain.meter import (
    Measurand,
    MeterLocation,
    MeterSample,
    Reading,
    ReadingContext,
    SignedReading,
)
from gateway.storage import codec

times = st.datetimes(
    min_value=datetime(2000, 1, 1),
    max_value=datetime(2100, 1, 1),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=2))]),
)


@st.composite
def samples(draw: st.DrawFn) -> MeterSample:
    at = draw(times)
    reading = st.builds(
        Reading,
        measurand=st.sampled_from(Measurand),
        value=st.decimals(allow_nan=False, allow_infinity=False, places=3),
        unit=st.sampled_from(["Wh", "W", "A", "V", "kvarh"]),
        # Most readings share the sample's time (the same object), some do not.
        at=st.one_of(st.just(at), times),
        context=st.sampled_from(ReadingContext),
        location=st.sampled_from(MeterLocation),
        phase=st.sampled_from([None, "L1", "L2-N"]),
        from_phases=st.booleans(),
        other_measurand=st.sampled_from([None, "Vendor.Thing"]),
    )
    signed = st.builds(SignedReading, data=st.text(min_size=1, max_size=8), at=times)
    return MeterSample(
        at=at,
        readings=tuple(draw(st.lists(reading, max_size=5))),
        signed=tuple(draw(st.lists(signed, max_size=2))),
        clock_suspect=draw(st.booleans()),
    )


def reference_document(s: MeterSample) -> dict[str, Any]:
    """The sample document as the store has always written it (format 1)."""
    return {
        "at": s.at.isoformat(),
        "clock_suspect": s.clock_suspect,
        "readings": [
            {
                "measurand": r.measurand.value,
                "value": str(r.value),
                "unit": r.unit,
                "at": r.at.isoformat(),
                "context": r.context.value,
                "location": r.location.value,
                "phase": r.phase,
                "from_phases": r.from_phases,
                "other_measurand": r.other_measurand,
            }
            for r in s.readings
        ],
        "signed": [
            {
                "data": g.data,
                "at": g.at.isoformat(),
                "measurand": g.measurand.value,
                "context": g.context.value,
                "location": g.location.value,
                "phase": g.phase,
                "signing_method": g.signing_method,
                "encoding_method": g.encoding_method,
                "public_key": g.public_key,
            }
            for g in s.signed
        ],
    }


@given(samples())
def test_a_sample_is_stored_as_the_same_text_as_before(sample: MeterSample) -> None:
    """Byte for byte the document earlier releases wrote, so old and new rows read alike."""
    expected = json.dumps(reference_document(sample), separators=(",", ":"), sort_keys=True)
    assert codec.dumps(codec.sample_out(sample)) == expected


@given(samples())
def test_a_stored_sample_reads_back_equal(sample: MeterSample) -> None:
    """What is written is what is read."""
    assert codec.sample_in(json.loads(codec.dumps(codec.sample_out(sample)))) == sample


free_text = st.text(max_size=12)  # quotes, backslashes, control and non-ASCII characters


@st.composite
def odd_samples(draw: st.DrawFn) -> MeterSample:
    """Samples whose free-text fields hold anything a charger might send."""
    at = draw(times)
    reading = st.builds(
        Reading,
        measurand=st.sampled_from(Measurand),
        value=st.decimals(allow_nan=False, allow_infinity=False),
        unit=free_text,
        at=st.one_of(st.just(at), times),
        context=st.sampled_from(ReadingContext),
        location=st.sampled_from(MeterLocation),
        phase=st.one_of(st.none(), free_text),
        from_phases=st.booleans(),
        other_measurand=st.one_of(st.none(), free_text),
    )
    signed = st.builds(
        SignedReading,
        data=free_text,
        at=times,
        measurand=st.sampled_from(Measurand),
        context=st.sampled_from(ReadingContext),
        location=st.sampled_from(MeterLocation),
        phase=st.one_of(st.none(), free_text),
        signing_method=st.one_of(st.none(), free_text),
        encoding_method=st.one_of(st.none(), free_text),
        public_key=st.one_of(st.none(), free_text),
    )
    return MeterSample(
        at=at,
        readings=tuple(draw(st.lists(reading, max_size=5))),
        signed=tuple(draw(st.lists(signed, max_size=2))),
        clock_suspect=draw(st.booleans()),
    )


@given(st.one_of(samples(), odd_samples()))
def test_a_sample_written_out_directly_is_the_same_text(sample: MeterSample) -> None:
    """The commit path's hand-written sample document is byte for byte the encoder's."""
    expected = json.dumps(reference_document(sample), separators=(",", ":"), sort_keys=True)
    assert codec.sample_text(sample) == expected


@given(st.lists(times, max_size=6))
def test_a_remembered_time_is_written_as_formatting_it_would(values: list[datetime]) -> None:
    """Twice over, in UTC or another offset: each time's own text, never an equal instant's."""
    for value in [*values, *values, *(v.astimezone(UTC) for v in values)]:
        assert codec.iso_text(value) == value.isoformat()
        assert codec.utc_text(value) == value.astimezone(UTC).isoformat(" ", "microseconds")[:26]
