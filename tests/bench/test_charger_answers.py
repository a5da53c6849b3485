"""The benchmark's chargers answer the gateway's own CALLs as a real charger would."""

from __future__ import annotations

import random

import pytest

from bench.charger import SCRIPTS, parse_mix
from ocpp_central.translate.rpc import OcppVersion
from ocpp_central.validation import Validators

VERSIONS = {"1.6": OcppVersion.V16, "2.0.1": OcppVersion.V201}


@pytest.mark.parametrize("version", sorted(SCRIPTS))
@pytest.mark.parametrize("action", ["GetLocalListVersion", "SendLocalList"])
def test_the_answer_to_a_gateway_call_matches_its_schema(version: str, action: str) -> None:
    """What the charger answers passes the gateway's strict response check."""
    script = SCRIPTS[version]("BENCH-00001", parse_mix("meter=1"), random.Random(1))

    answer = script.answer(action)

    assert Validators(VERSIONS[version], strict=True).check_response(action, answer) is None
