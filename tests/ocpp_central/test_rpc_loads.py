"""Tests: the frame decoder's direct scan reads and refuses text exactly as ``decode`` does."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, strategies as st

from ocpp_central.translate.rpc import _DECODER, _loads

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
_WHITESPACE = st.text(alphabet=" \t\n\r", max_size=3)


def _verdict(read: Any, text: str) -> tuple[str, object]:
    try:
        return "ok", read(text)
    except (ValueError, RecursionError) as exc:
        return type(exc).__name__, str(exc)


@given(_JSON, _WHITESPACE, _WHITESPACE)
def test_any_json_value_with_any_surrounding_whitespace_reads_as_decode_reads_it(
    value: object, before: str, after: str
) -> None:
    """A JSON value, padded or not, gives the same value as ``JSONDecoder.decode``."""
    text = before + json.dumps(value) + after
    assert _verdict(_loads, text) == _verdict(_DECODER.decode, text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        "\ufeff[2]",
        "[2,1] [3]",
        "[2,1]x",
        "[2,",
        '[2,"a","Heartbeat",{}]]',
        "[NaN]",
        "[1e999]",
        '"\\ud800"',
        "x",
        "[2,1]\n",
    ],
)
def test_text_that_is_not_one_bare_json_value_gets_decode_s_verdict(text: str) -> None:
    """Empty text, trailing data, a BOM, NaN or an overflowing number: the same refusal."""
    assert _verdict(_loads, text) == _verdict(_DECODER.decode, text)
