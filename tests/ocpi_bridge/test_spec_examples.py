"""The OCPI spec's own JSON examples are golden files for the wire models.

2.2.1 ships its examples as ``examples/*.json``; 2.1.1 has them inline in its Markdown
as fenced ``json`` blocks, which are extracted here and named ``<file>.md#<n>`` (the
n-th ``json`` block of that file, from 0).

Every example parses with the model mapped to it and re-serialises, with
``model_dump(mode="json", exclude_none=True)``, to the same JSON. The comparison
normalises what the spec leaves free: numbers compare by value (``2.00`` equals ``2``)
and timestamps compare as instants (``...09.2Z`` equals ``...09.200Z``). Everything
else (keys, strings, booleans, list order, presence of fields) must match exactly.

Examples that are themselves wrong per the spec are listed in ``SPEC_EXAMPLE_ERRATA``
/ ``V211_SPEC_EXAMPLE_ERRATA`` with the reason, and must *fail* validation, so the lists
cannot go stale.
"""

import json
import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from ocpi_bridge.models.cdrs import Cdr
from ocpi_bridge.models.common import DisplayText, Envelope, parse_datetime
from ocpi_bridge.models.credentials import Credentials
from ocpi_bridge.models.locations import (
    ConnectorPatch,
    EnergyMix,
    Evse,
    EvsePatch,
    Hours,
    Location,
    LocationPatch,
)
from ocpi_bridge.models.sessions import Session, SessionPatch
from ocpi_bridge.models.tariffs import Tariff
from ocpi_bridge.models.tokens import Token, TokenPatch
from ocpi_bridge.models.v211 import (
    V211Cdr,
    V211ConnectorPatch,
    V211Credentials,
    V211EnergyMix,
    V211Evse,
    V211EvsePatch,
    V211Hours,
    V211Location,
    V211LocationPatch,
    V211Session,
    V211SessionPatch,
    V211Tariff,
    V211TariffPatch,
    V211Token,
    V211TokenPatch,
    V211Version,
    V211VersionDetails,
)
from ocpi_bridge.models.versions import Version, VersionDetails

SPEC = Path(__file__).resolve().parents[2].parent / "shared" / "spec"
EXAMPLES_221 = SPEC / "ocpi-2.2.1" / "examples"
SPEC_211 = SPEC / "ocpi-2.1.1"

if not EXAMPLES_221.is_dir() or not SPEC_211.is_dir():
    pytest.skip(
        f"OCPI spec text not found at {SPEC} (it lives in shared/, beside the repository)",
        allow_module_level=True,
    )


@dataclass(frozen=True)
class Target:
    """What an example is: a type for ``TypeAdapter``, and the key it sits under, if any."""

    type_: Any
    key: str | None = None


EXAMPLE_MODELS: dict[str, Target] = {
    "cdr_example.json": Target(Cdr),
    "credentials_example.json": Target(Credentials),
    "credentials_example2.json": Target(Credentials),
    "credentials_example3.json": Target(Credentials),
    "credentials_example4.json": Target(Credentials),
    "location_energymix_example_complete.json": Target(EnergyMix, "energy_mix"),
    "location_energymix_example_energy_provider.json": Target(EnergyMix, "energy_mix"),
    "location_energymix_example_simple.json": Target(EnergyMix, "energy_mix"),
    "location_example.json": Target(Location),
    "location_example_parking_garage_opening_hours.json": Target(Location),
    "location_example_uc2_destination_charger.json": Target(Location),
    "location_example_uc3_destination_charger_not_published.json": Target(Location),
    "location_example_uc4_limited_visibility.json": Target(Location),
    "location_example_uc5_home_charge_point.json": Target(Location),
    "location_hours_247_open_exception_closing.json": Target(Hours),
    "location_hours_opening_hours_with_exceptional_closing.json": Target(Hours),
    "location_hours_opening_hours_with_exceptional_opening.json": Target(Hours),
    "location_patch_example_location.json": Target(LocationPatch),
    "location_patch_example_remove_evse.json": Target(EvsePatch),
    "location_patch_example_status.json": Target(EvsePatch),
    "location_patch_example_tariff.json": Target(ConnectorPatch),
    "location_put_example_add_evse.json": Target(Evse),
    "location_regularhours_example.json": Target(Hours, "opening_times"),
    "session_example_1_simple_start.json": Target(Session),
    "session_example_2_short_finished.json": Target(Session),
    "session_patch_example_charging_period.json": Target(SessionPatch),
    "session_patch_example_total_cost.json": Target(SessionPatch),
    "tariff_10_025kwh_parking_start.json": Target(Tariff),
    "tariff_11_not_possible_alt_text.json": Target(Tariff),
    "tariff_12_025kwh_min_price.json": Target(Tariff),
    "tariff_13_simple_3hour_5parking.json": Target(Tariff),
    "tariff_14_step_size.json": Target(Tariff),
    "tariff_15_reservation_5_euro_per_hour.json": Target(Tariff),
    "tariff_16_reservation_2_euro_fee_5_euro_per_hour.json": Target(Tariff),
    "tariff_17_reservation_with_expire_fee.json": Target(Tariff),
    "tariff_18_reservation_with_expire_time.json": Target(Tariff),
    "tariff_1_simple_2hour.json": Target(Tariff),
    "tariff_2_alt_text.json": Target(Tariff),
    "tariff_3_alt_url.json": Target(Tariff),
    "tariff_4_complex.json": Target(Tariff),
    "tariff_5_free_of_charge.json": Target(Tariff),
    "tariff_6_025kwh_start_max_price.json": Target(Tariff),
    "tariff_8_simple_025kwh.json": Target(Tariff),
    "tariff_9_025kwh_start.json": Target(Tariff),
    "tariff_put_example.json": Target(Tariff),
    "tariffrestriction_example_max_duration.json": Target(Tariff),
    "tariffrestriction_example_max_power.json": Target(Tariff),
    "token_example_1_app_user.json": Target(Token),
    "token_example_2_full_rfid.json": Target(Token),
    "token_patch_example.json": Target(TokenPatch),
    "token_put_example.json": Target(Token),
    "transport_and_format_get_token_example.json": Target(Envelope[Token]),
    "transport_and_format_get_token_list_example.json": Target(Envelope[list[Token]]),
    "transport_and_format_version_details_example.json": Target(Envelope[VersionDetails]),
    "transport_and_format_version_info_example.json": Target(Envelope[list[Version]]),
    "type_displaytext_example.json": Target(DisplayText),
    "version_details_example.json": Target(VersionDetails),
    "version_details_example2.json": Target(VersionDetails),
    "versions_info_example.json": Target(list[Version]),
}

SPEC_EXAMPLE_ERRATA: dict[str, str] = {
    "location_put_example_add_evse.json": (
        "mod_locations, Connector object: its connector lacks the required power_type, "
        "max_voltage, max_amperage and last_updated; EVSE object has no 'floor' field "
        "(it is floor_level, string(4)) and physical_reference is string(16), not a number"
    ),
    "tariff_put_example.json": (
        "mod_tariffs, Tariff object: last_updated has cardinality 1 but is missing "
        "(the PUT body is a whole Tariff object)"
    ),
}

V211_EXAMPLE_MODELS: dict[str, Target] = {
    "credentials.md#0": Target(V211Credentials),
    "mod_cdrs.md#0": Target(V211Cdr),
    "mod_locations.md#0": Target(V211EvsePatch),
    "mod_locations.md#1": Target(V211LocationPatch),
    "mod_locations.md#2": Target(V211ConnectorPatch),
    "mod_locations.md#3": Target(V211Evse),
    "mod_locations.md#4": Target(V211EvsePatch),
    "mod_locations.md#5": Target(V211Location),
    "mod_locations.md#6": Target(V211EnergyMix, "energy_mix"),
    "mod_locations.md#7": Target(V211EnergyMix, "energy_mix"),
    "mod_locations.md#8": Target(V211EnergyMix, "energy_mix"),
    "mod_locations.md#9": Target(V211Hours, "opening_times"),
    "mod_sessions.md#0": Target(V211SessionPatch),
    "mod_sessions.md#1": Target(V211Session),
    "mod_sessions.md#2": Target(V211Session),
    "mod_tariffs.md#0": Target(V211Tariff),
    "mod_tariffs.md#1": Target(V211TariffPatch),
    "mod_tariffs.md#2": Target(V211Tariff),
    "mod_tariffs.md#3": Target(V211Tariff),
    "mod_tariffs.md#4": Target(V211Tariff),
    "mod_tariffs.md#5": Target(V211Tariff),
    "mod_tariffs.md#6": Target(V211Tariff),
    "mod_tokens.md#0": Target(V211Token),
    "mod_tokens.md#1": Target(V211TokenPatch),
    "mod_tokens.md#2": Target(V211Token),
    "transport_and_format.md#0": Target(Envelope[list[V211Version]]),
    "transport_and_format.md#1": Target(Envelope[V211VersionDetails]),
    "transport_and_format.md#2": Target(Envelope[V211Token]),
    "transport_and_format.md#3": Target(Envelope[list[V211Token]]),
    "transport_and_format.md#4": Target(Envelope[None]),
    "version_information_endpoint.md#0": Target(list[V211Version]),
    "version_information_endpoint.md#1": Target(V211VersionDetails),
}

V211_SPEC_EXAMPLE_ERRATA: dict[str, str] = {
    "mod_cdrs.md#0": (
        "types.md 1.4 number: numbers are JSON numbers, but the tariff's price is the "
        'string "2.00"'
    ),
    "mod_locations.md#3": (
        "mod_locations 3.2/3.3: the connector lacks the required power_type, voltage, "
        "amperage and last_updated, the EVSE lacks last_updated, and physical_reference "
        "and floor_level are numbers where string(16)/string(4) is required"
    ),
    "mod_tariffs.md#0": (
        "mod_tariffs 3.1 Tariff object: last_updated has cardinality 1 but is missing "
        "(the PUT body is a whole Tariff object)"
    ),
}

_HTTP_LINE = re.compile(r"^\s*(GET|PUT|PATCH|POST|DELETE)\b")
_JSON_BLOCK = re.compile(r"```json\n(.*?)```", re.DOTALL)


def _v211_examples() -> dict[str, str]:
    """Every fenced ``json`` block in the 2.1.1 Markdown, keyed ``<file>#<n>``."""
    blocks: dict[str, str] = {}
    for md in sorted(SPEC_211.glob("*.md")):
        for n, block in enumerate(_JSON_BLOCK.findall(md.read_text(encoding="utf-8"))):
            blocks[f"{md.name}#{n}"] = block
    return blocks


def _load_v211_block(block: str) -> Any:
    # Blocks may start with the request line ("PATCH To URL: ...") and some are
    # fragments of an object ('"energy_mix": {...}'), which become whole in braces.
    text = "\n".join(line for line in block.splitlines() if not _HTTP_LINE.match(line))
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return json.loads("{" + text + "}")


def _normalise(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _normalise(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_normalise(item) for item in value]
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return Decimal(str(value))
    if isinstance(value, str):
        try:
            return parse_datetime(value)
        except ValueError:
            return value
    return value


def _payload(document: Any, target: Target) -> Any:
    return document if target.key is None else document[target.key]


def _assert_round_trips(document: Any, target: Target) -> None:
    payload = _payload(document, target)
    adapter: TypeAdapter[Any] = TypeAdapter(target.type_)
    parsed = adapter.validate_json(json.dumps(payload))
    dumped = adapter.dump_python(parsed, mode="json", exclude_none=True)

    assert _normalise(dumped) == _normalise(payload)
    # What we emit must itself be accepted again, byte for byte the same.
    assert adapter.dump_python(adapter.validate_json(json.dumps(dumped)), mode="json") == (
        adapter.dump_python(parsed, mode="json")
    )


def _assert_rejected(document: Any, target: Target) -> None:
    adapter: TypeAdapter[Any] = TypeAdapter(target.type_)
    with pytest.raises(ValidationError):
        adapter.validate_json(json.dumps(_payload(document, target)))


V211_BLOCKS = _v211_examples()


def test_every_221_example_file_has_a_model():
    """Each JSON file in the 2.2.1 examples folder is mapped to a model (none forgotten)."""
    files = {path.name for path in EXAMPLES_221.glob("*.json")}

    assert files == set(EXAMPLE_MODELS)
    assert set(SPEC_EXAMPLE_ERRATA) <= files


def test_every_211_inline_example_has_a_model():
    """Each fenced json block in the 2.1.1 Markdown is mapped to a model (none forgotten)."""
    assert set(V211_BLOCKS) == set(V211_EXAMPLE_MODELS)
    assert set(V211_SPEC_EXAMPLE_ERRATA) <= set(V211_BLOCKS)


@pytest.mark.parametrize(
    "name", sorted(set(EXAMPLE_MODELS) - set(SPEC_EXAMPLE_ERRATA)), ids=lambda name: name
)
def test_spec_221_example_parses_and_round_trips(name):
    """A correct 2.2.1 spec example parses and re-serialises to the same JSON."""
    document = json.loads((EXAMPLES_221 / name).read_text(encoding="utf-8"))

    _assert_round_trips(document, EXAMPLE_MODELS[name])


@pytest.mark.parametrize("name", sorted(SPEC_EXAMPLE_ERRATA), ids=lambda name: name)
def test_spec_221_erratum_is_rejected(name):
    """A 2.2.1 spec example that breaks the spec's own rules fails validation."""
    document = json.loads((EXAMPLES_221 / name).read_text(encoding="utf-8"))

    _assert_rejected(document, EXAMPLE_MODELS[name])


@pytest.mark.parametrize(
    "name", sorted(set(V211_EXAMPLE_MODELS) - set(V211_SPEC_EXAMPLE_ERRATA)), ids=lambda n: n
)
def test_spec_211_example_parses_and_round_trips(name):
    """A correct 2.1.1 inline spec example parses and re-serialises to the same JSON."""
    document = _load_v211_block(V211_BLOCKS[name])

    _assert_round_trips(document, V211_EXAMPLE_MODELS[name])


@pytest.mark.parametrize("name", sorted(V211_SPEC_EXAMPLE_ERRATA), ids=lambda name: name)
def test_spec_211_erratum_is_rejected(name):
    """A 2.1.1 inline spec example that breaks the spec's own rules fails validation."""
    document = _load_v211_block(V211_BLOCKS[name])

    _assert_rejected(document, V211_EXAMPLE_MODELS[name])
