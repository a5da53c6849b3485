"""Decoding CALLs: the fast path for well-formed CALLs agrees with the full frame rules."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, strategies as st

from ocpp_central.translate import rpc
from ocpp_central.translate.rpc import OcppVersion

SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
KINDS = st.sampled_from([2, 2.0, True, 3, 4, 6, "2"]) | st.integers(-1, 7)
IDS = st.text(max_size=40) | SCALARS
PAYLOADS = st.dictionaries(st.text(max_size=5), SCALARS, max_size=3) | SCALARS


def well_formed(message: list[Any]) -> bool:
    """A CALL by OCPP-J's rules (OCPPJ16 §4.2.1, OCPP201-P4 §4.2.1)."""
    return (
        len(message) == 4
        and type(message[0]) is int
        and message[0] == 2
        and type(message[1]) is str
        and len(message[1]) <= rpc.MAX_MESSAGE_ID_LENGTH
        and type(message[2]) is str
        and type(message[3]) is dict
    )


@given(
    message=st.lists(SCALARS, max_size=5)
    | st.tuples(KINDS, IDS, IDS, PAYLOADS).map(list)
    | st.tuples(KINDS, IDS, IDS).map(list),
    version=st.sampled_from(list(OcppVersion)),
)
def test_exactly_the_well_formed_calls_decode_as_calls(message: list[Any], version: OcppVersion):
    """Whatever the frame, it is a Call precisely when it is a well-formed CALL."""
    frame = rpc.decode(json.dumps(message), version)
    assert (type(frame) is rpc.Call) is well_formed(message)
    if type(frame) is rpc.Call:
        assert frame == rpc.Call(message_id=message[1], action=message[2], payload=message[3])


def test_a_fast_call_is_an_ordinary_call():
    """Equal, hashable alike and printed alike: nobody can tell how it was made."""
    fast = rpc._well_formed_call("m1", "Heartbeat", {})
    slow = rpc.Call(message_id="m1", action="Heartbeat", payload={})
    assert fast == slow
    assert repr(fast) == repr(slow)
