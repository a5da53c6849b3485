"""The 2.2.1 -> 2.1.1 translation: the spec's 2.1.1 examples are golden files.

Each golden test builds the 2.2.1 twin of a 2.1.1 spec example (what our catalog would
hold for the same site or charge) and checks that the translation gives the example
back, field for field. The other tests pin each documented lossy choice.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, strategies as st
from pydantic import BaseModel

from ocpi_bridge.models.cdrs import Cdr
from ocpi_bridge.models.locations import (
    Connector,
    Evse,
    Location,
    ParkingType,
    PowerType,
)
from ocpi_bridge.models.sessions import Session
from ocpi_bridge.models.tariffs import Tariff, TariffType
from ocpi_bridge.models.v211 import (
    V211Cdr,
    V211Location,
    V211LocationType,
    V211PowerType,
    V211Session,
    V211Tariff,
)
from ocpi_bridge.translate import v211
from ocpi_bridge.translate.delivery import SealedSite, wire
from tests.builders import ROOT, a_settings

SPEC_211 = Path("/work/shared/spec/ocpi-2.1.1")
if not SPEC_211.is_dir():  # pragma: no cover - a checkout with the spec vendored
    SPEC_211 = ROOT / "spec" / "ocpi-2.1.1"
_JSON_BLOCK = re.compile(r"```json\n(.*?)```", re.DOTALL)
T0 = datetime(2015, 6, 29, 22, 39, 9, tzinfo=UTC)


def example(name: str) -> dict[str, Any]:
    """The n-th ``json`` block of a 2.1.1 Markdown file, ``<file>#<n>``."""
    file, _, n = name.partition("#")
    block = _JSON_BLOCK.findall((SPEC_211 / file).read_text(encoding="utf-8"))[int(n)]
    data = json.loads(block)
    assert isinstance(data, dict)
    return data


def same(a: Any, b: Any) -> bool:
    """JSON equality where numbers compare by value (``2.00`` equals ``2``)."""

    def norm(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: norm(v) for k, v in value.items()}
        if isinstance(value, list):
            return [norm(v) for v in value]
        if isinstance(value, int | float) and not isinstance(value, bool):
            return Decimal(str(value))
        return value

    return bool(norm(a) == norm(b))


def round_trips(model: BaseModel) -> dict[str, Any]:
    """The wire form, checked to parse back into the same 2.1.1 object."""
    doc = wire(model)
    assert type(model).model_validate(json.loads(json.dumps(doc))) == model
    return doc


# --- 2.2.1 twins of the 2.1.1 examples ---------------------------------------------------


def connector_221(**over: Any) -> dict[str, Any]:
    return {
        "id": "1",
        "standard": "IEC_62196_T2",
        "format": "SOCKET",
        "power_type": "AC_1_PHASE",
        "max_voltage": 230,
        "max_amperage": 64,
        "tariff_ids": ["11"],
        "last_updated": "2015-06-29T23:09:10Z",
        **over,
    }


def evse_221(**over: Any) -> dict[str, Any]:
    return {
        "uid": "3256",
        "evse_id": "BE-BEC-E041503003",
        "status": "AVAILABLE",
        "connectors": [connector_221()],
        "last_updated": "2015-06-29T23:09:10Z",
        **over,
    }


def gent_221(**over: Any) -> dict[str, Any]:
    """The Location of the 2.1.1 Session and CDR examples, as 2.2.1 holds it."""
    return {
        "country_code": "BE",
        "party_id": "BEC",
        "id": "LOC1",
        "publish": True,
        "name": "Gent Zuid",
        "address": "F.Rooseveltlaan 3A",
        "city": "Gent",
        "postal_code": "9000",
        "country": "BE",
        "coordinates": {"latitude": "3.729944", "longitude": "51.047599"},
        "parking_type": "ON_STREET",
        "evses": [evse_221()],
        "time_zone": "Europe/Brussels",
        "last_updated": "2015-06-29T23:09:10Z",
        **over,
    }


def token() -> dict[str, Any]:
    return {
        "country_code": "DE",
        "party_id": "8AC",
        "uid": "012345678",
        "type": "RFID",
        "contract_id": "DE8ACC12E46L89",
    }


def session_221(**over: Any) -> dict[str, Any]:
    return {
        "country_code": "BE",
        "party_id": "BEC",
        "id": "101",
        "start_date_time": "2015-06-29T22:39:09Z",
        "kwh": 0,
        "cdr_token": token(),
        "auth_method": "WHITELIST",
        "location_id": "LOC1",
        "evse_uid": "3256",
        "connector_id": "1",
        "currency": "EUR",
        "total_cost": {"excl_vat": 2.50, "incl_vat": 3.03},
        "status": "PENDING",
        "last_updated": "2015-06-29T22:39:09Z",
        **over,
    }


def cdr_221(**over: Any) -> dict[str, Any]:
    return {
        "country_code": "BE",
        "party_id": "BEC",
        "id": "12345",
        "start_date_time": "2015-06-29T21:39:09Z",
        "end_date_time": "2015-06-29T23:37:32Z",
        "session_id": "12345",
        "cdr_token": token(),
        "auth_method": "WHITELIST",
        "cdr_location": {
            "id": "LOC1",
            "address": "F.Rooseveltlaan 3A",
            "city": "Gent",
            "country": "BE",
            "coordinates": {"latitude": "3.729944", "longitude": "51.047599"},
            "evse_uid": "3256",
            "evse_id": "BE-BEC-E041503003",
            "connector_id": "1",
            "connector_standard": "IEC_62196_T2",
            "connector_format": "SOCKET",
            "connector_power_type": "AC_1_PHASE",
        },
        "currency": "EUR",
        "tariffs": [
            {
                "country_code": "BE",
                "party_id": "BEC",
                "id": "12",
                "currency": "EUR",
                "type": "REGULAR",
                "elements": [
                    {
                        "price_components": [
                            {"type": "TIME", "price": 2, "vat": 21, "step_size": 300}
                        ]
                    }
                ],
                "last_updated": "2015-02-02T14:15:01Z",
            }
        ],
        "charging_periods": [
            {
                "start_date_time": "2015-06-29T21:39:09Z",
                "dimensions": [{"type": "TIME", "volume": 1.973}],
                "tariff_id": "12",
            }
        ],
        "signed_data": {
            "encoding_method": "OCMF",
            "signed_values": [{"nature": "Start", "plain_data": "p", "signed_data": "s"}],
        },
        "total_cost": {"excl_vat": 4.00, "incl_vat": 4.84},
        "total_time_cost": {"excl_vat": 4.00},
        "total_energy": 15.342,
        "total_time": 1.973,
        "last_updated": "2015-06-29T22:01:13Z",
        **over,
    }


# --- golden: the spec's 2.1.1 examples ---------------------------------------------------


def test_the_location_example_comes_out_of_its_221_twin():
    """mod_locations' LOC1 example: type, voltage/amperage and one tariff_id per connector."""
    expected = example("mod_locations.md#5")
    connectors = [
        connector_221(
            id=c["id"],
            power_type="AC_3_PHASE",
            max_voltage=220,
            max_amperage=16,
            format=c["format"],
            tariff_ids=[c["tariff_id"]],
            last_updated=c["last_updated"],
            max_electric_power=11000,
        )
        for c in expected["evses"][0]["connectors"]
    ]
    twin = gent_221(
        coordinates={"latitude": "51.0475990", "longitude": "3.729944"},  # 7 and 6 decimals
        country="BEL",
        state="Oost-Vlaanderen",
        operator={"name": "BeCharged"},
        last_updated="2015-06-29T20:39:09Z",
        evses=[
            {
                **evse_221(
                    evse_id="BE-BEC-E041503001",
                    status_schedule=[],
                    capabilities=["RESERVABLE", "CONTACTLESS_CARD_SUPPORT"],
                    physical_reference="1",
                    floor_level="-1",
                    last_updated="2015-06-28T08:12:01Z",
                ),
                "connectors": connectors,
            },
            evse_221(
                uid="3257",
                evse_id="BE-BEC-E041503002",
                status="RESERVED",
                capabilities=["RESERVABLE"],
                connectors=[
                    connector_221(
                        power_type="AC_3_PHASE",
                        max_voltage=220,
                        max_amperage=16,
                        tariff_ids=["12", "13"],
                        last_updated="2015-06-29T20:39:09Z",
                    )
                ],
                physical_reference="2",
                floor_level="-2",
                last_updated="2015-06-29T20:39:09Z",
            ),
        ],
    )

    out = round_trips(v211.to_v211_location(Location.model_validate(twin)))

    assert same(out, {**expected, "time_zone": "Europe/Brussels"})


@pytest.mark.parametrize(
    ("name", "twin"),
    [
        ("mod_sessions.md#1", {}),
        (
            "mod_sessions.md#2",
            {
                "end_date_time": "2015-06-29T23:50:16Z",
                "kwh": 41,
                "status": "COMPLETED",
                "total_cost": {"excl_vat": 8.50, "incl_vat": 10.29},
                "last_updated": "2015-06-29T23:09:10Z",
                "charging_periods": [
                    {
                        "start_date_time": "2015-06-29T22:39:09Z",
                        "dimensions": [
                            {"type": "ENERGY", "volume": 120},
                            {"type": "MAX_CURRENT", "volume": 30},
                            {"type": "STATE_OF_CHARGE", "volume": 40},
                        ],
                        "tariff_id": "11",
                    },
                    {
                        "start_date_time": "2015-06-29T22:40:54Z",
                        "dimensions": [
                            {"type": "ENERGY", "volume": 41000},
                            {"type": "MIN_CURRENT", "volume": 34},
                        ],
                    },
                    {
                        "start_date_time": "2015-06-29T23:07:09Z",
                        "dimensions": [{"type": "PARKING_TIME", "volume": 0.718}],
                    },
                ],
            },
        ),
    ],
    ids=["starting", "finished"],
)
def test_the_session_examples_come_out_of_their_221_twins(name: str, twin: dict[str, Any]):
    """mod_sessions' examples: auth_id, the whole location, total_cost excl. VAT."""
    expected = example(name)
    stamp = expected["location"]["last_updated"]
    location = gent_221(
        last_updated=stamp,
        evses=[
            evse_221(connectors=[connector_221(last_updated=stamp)], last_updated=stamp),
            evse_221(uid="OTHER"),
        ],
    )

    out = round_trips(
        v211.to_v211_session(
            Session.model_validate(session_221(**twin)),
            location=Location.model_validate(location),
        )
    )

    expected["location"]["time_zone"] = "Europe/Brussels"
    assert same(out, expected)


def test_the_cdr_example_comes_out_of_its_221_twin():
    """mod_cdrs' example (its string price made a number): costs excl. VAT, no extras."""
    expected = example("mod_cdrs.md#0")
    expected["tariffs"][0]["elements"][0]["price_components"][0]["price"] = 2.00
    expected["location"]["time_zone"] = "Europe/Brussels"
    stamp = "2015-06-29T21:39:01Z"
    location = gent_221(
        last_updated=stamp,
        evses=[evse_221(connectors=[connector_221(last_updated=stamp)], last_updated=stamp)],
    )

    out = round_trips(
        v211.to_v211_cdr(Cdr.model_validate(cdr_221()), location=Location.model_validate(location))
    )

    assert same(out, expected)


@pytest.mark.parametrize("name", [f"mod_tariffs.md#{n}" for n in range(2, 7)])
def test_the_tariff_examples_come_out_of_their_221_twins(name: str):
    """mod_tariffs' examples: no owner, type, min/max price, validity or VAT in 2.1.1."""
    expected = example(name)
    twin = {
        **expected,
        "country_code": "BE",
        "party_id": "BEC",
        "type": "REGULAR",
        "min_price": {"excl_vat": 0.5},
        "max_price": {"excl_vat": 50},
        "start_date_time": "2015-01-01T00:00:00Z",
        "elements": [
            {
                **element,
                "price_components": [{**pc, "vat": 21} for pc in element["price_components"]],
            }
            for element in expected["elements"]
        ],
    }

    out = round_trips(v211.to_v211_tariff(Tariff.model_validate(twin)))

    assert same(out, expected)


# --- each lossy choice -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("parking", "kind"),
    [
        (None, V211LocationType.UNKNOWN),
        (ParkingType.ON_STREET, V211LocationType.ON_STREET),
        (ParkingType.PARKING_GARAGE, V211LocationType.PARKING_GARAGE),
        (ParkingType.UNDERGROUND_GARAGE, V211LocationType.UNDERGROUND_GARAGE),
        (ParkingType.PARKING_LOT, V211LocationType.PARKING_LOT),
        (ParkingType.ALONG_MOTORWAY, V211LocationType.OTHER),
        (ParkingType.ON_DRIVEWAY, V211LocationType.OTHER),
    ],
)
def test_parking_type_becomes_the_211_location_type(
    parking: ParkingType | None, kind: V211LocationType
):
    """2.2.1 parking types without a 2.1.1 twin are OTHER; none given is UNKNOWN."""
    location = Location.model_validate(gent_221(parking_type=parking))

    assert v211.to_v211_location(location).type is kind


@pytest.mark.parametrize(
    ("power", "expected"),
    [
        (PowerType.AC_1_PHASE, V211PowerType.AC_1_PHASE),
        (PowerType.AC_2_PHASE, V211PowerType.AC_1_PHASE),
        (PowerType.AC_2_PHASE_SPLIT, V211PowerType.AC_1_PHASE),
        (PowerType.AC_3_PHASE, V211PowerType.AC_3_PHASE),
        (PowerType.DC, V211PowerType.DC),
    ],
)
def test_two_phase_power_is_sent_as_single_phase(power: PowerType, expected: V211PowerType):
    """2.1.1 has no two-phase values: the smaller claim, single phase, is sent."""
    connector = Connector.model_validate(connector_221(power_type=power))

    assert v211.to_v211_connector(connector).power_type is expected


def test_the_address_is_cut_to_45_characters_and_a_missing_postal_code_is_empty():
    """2.1.1 allows 45 address characters and requires a postal code."""
    location = Location.model_validate(gent_221(address="A" * 60, postal_code=None))

    out = v211.to_v211_location(location)

    assert out.address == "A" * 45
    assert out.postal_code == ""
    assert V211Location.model_validate(wire(out)) == out


def test_what_211_lacks_is_left_out_of_a_location():
    """Facilities, capabilities, connectors and EVSEs 2.1.1 cannot say are left out."""
    location = Location.model_validate(
        gent_221(
            facilities=["BIKE_SHARING", "CAFE", "METRO_STATION"],
            evses=[
                evse_221(
                    capabilities=["CHIP_CARD_SUPPORT"],
                    connectors=[connector_221(id="9", standard="NEMA_5_20"), connector_221()],
                ),
                evse_221(uid="GB", connectors=[connector_221(standard="GBT_DC")]),
            ],
        )
    )

    out = v211.to_v211_location(location)

    assert out.facilities == ["CAFE"]
    assert [e.uid for e in out.evses or ()] == ["3256"]
    (evse,) = out.evses or []
    assert evse.capabilities is None
    assert [c.id for c in evse.connectors] == ["1"]


def test_a_location_with_no_evse_211_can_describe_has_no_evses():
    """A Location whose only EVSE has a 2.2.1-only plug is published without EVSEs."""
    location = Location.model_validate(
        gent_221(evses=[evse_221(connectors=[connector_221(standard="CHAOJI")])])
    )

    assert v211.to_v211_location(location).evses is None
    with pytest.raises(v211.NotExpressibleError):
        v211.to_v211_evse(location.evses[0])  # type: ignore[index]


def test_the_optional_parts_of_a_location_are_carried_over():
    """Opening times, energy mix (impact ``category`` -> ``source``), related points and
    EVSE coordinates survive, the coordinates with six decimals.
    """
    location = Location.model_validate(
        gent_221(
            related_locations=[
                {
                    "latitude": "51.04759",
                    "longitude": "3.7299441",
                    "name": {"language": "en", "text": "Gate"},
                }
            ],
            evses=[evse_221(coordinates={"latitude": "-5.0475999", "longitude": "-3.72994"})],
            opening_times={
                "twentyfourseven": False,
                "regular_hours": [{"weekday": 1, "period_begin": "08:00", "period_end": "20:00"}],
            },
            energy_mix={
                "is_green_energy": True,
                "energy_sources": [{"source": "SOLAR", "percentage": 100}],
                "environ_impact": [{"category": "CARBON_DIOXIDE", "amount": 0}],
                "supplier_name": "Sun",
            },
            charging_when_closed=False,
        )
    )

    out = wire(v211.to_v211_location(location))

    assert out["related_locations"] == [
        {
            "latitude": "51.047590",
            "longitude": "3.729944",
            "name": {"language": "en", "text": "Gate"},
        }
    ]
    assert out["evses"][0]["coordinates"] == {"latitude": "-5.047600", "longitude": "-3.729940"}
    assert out["opening_times"]["twentyfourseven"] is False
    assert out["opening_times"]["regular_hours"][0]["weekday"] == 1
    assert out["energy_mix"]["environ_impact"] == [{"source": "CARBON_DIOXIDE", "amount": 0}]
    assert out["charging_when_closed"] is False
    assert V211Location.model_validate(out).id == "LOC1"


def test_an_energy_mix_without_impacts_stays_without():
    """An energy mix with no environmental impact has none in 2.1.1 either."""
    tariff = Tariff.model_validate({**tariff_221(), "energy_mix": {"is_green_energy": False}})

    assert wire(v211.to_v211_tariff(tariff))["energy_mix"] == {"is_green_energy": False}


@given(
    degrees=st.integers(min_value=-89, max_value=89),
    decimals=st.text(alphabet="0123456789", min_size=5, max_size=7),
)
def test_every_221_coordinate_becomes_six_decimals_within_half_a_micro_degree(
    degrees: int, decimals: str
):
    """Coordinates keep their value to 0.0000005 degrees, in the 2.1.1 six-decimal form."""
    value = f"{degrees}.{decimals}"

    out = v211.six_decimals(value)

    assert re.fullmatch(r"-?[0-9]{1,2}\.[0-9]{6}", out)
    assert abs(Decimal(out) - Decimal(value)) <= Decimal("0.0000005")


@pytest.mark.parametrize(
    ("ids", "expected"),
    [
        (["PROMO", "REG", "PLAIN"], "REG"),
        (["PROMO", "PLAIN"], "PLAIN"),
        (["PROMO"], "PROMO"),
        (["UNKNOWN", "REG"], "REG"),
        ([], None),
        (None, None),
    ],
)
def test_a_connector_names_the_tariff_a_driver_with_a_token_pays(
    ids: list[str] | None, expected: str | None
):
    """The first regular (or untyped) tariff listed, else the first listed, else none."""
    types = {
        "PROMO": TariffType.AD_HOC_PAYMENT,
        "REG": TariffType.REGULAR,
        "PLAIN": None,
    }

    assert v211.tariff_of(ids, types) == expected


# --- tariffs -----------------------------------------------------------------------------


def tariff_221(**over: Any) -> dict[str, Any]:
    return {
        "country_code": "NL",
        "party_id": "CEG",
        "id": "T1",
        "currency": "EUR",
        "elements": [
            {"price_components": [{"type": "ENERGY", "price": 0.3, "vat": 21, "step_size": 1}]}
        ],
        "last_updated": "2026-01-01T00:00:00Z",
        **over,
    }


def test_tariff_restrictions_lose_current_and_reservation_elements_are_left_out():
    """2.1.1 has no current restrictions and prices no reservations."""
    tariff = Tariff.model_validate(
        tariff_221(
            elements=[
                {
                    "price_components": [{"type": "TIME", "price": 1, "step_size": 60}],
                    "restrictions": {"reservation": "RESERVATION"},
                },
                {
                    "price_components": [{"type": "ENERGY", "price": 0.4, "step_size": 1}],
                    "restrictions": {"min_current": 32, "max_current": 64},
                },
                {
                    "price_components": [{"type": "ENERGY", "price": 0.3, "step_size": 1}],
                    "restrictions": {"min_current": 0, "day_of_week": ["MONDAY"]},
                },
            ]
        )
    )

    out = wire(v211.to_v211_tariff(tariff))

    assert out["elements"] == [
        {"price_components": [{"type": "ENERGY", "price": 0.4, "step_size": 1}]},
        {
            "price_components": [{"type": "ENERGY", "price": 0.3, "step_size": 1}],
            "restrictions": {"day_of_week": ["MONDAY"]},
        },
    ]
    assert V211Tariff.model_validate(out).id == "T1"


def test_a_tariff_of_reservations_only_cannot_be_said_in_211():
    """Nothing would be left of it: NotExpressibleError."""
    tariff = Tariff.model_validate(
        tariff_221(
            elements=[
                {
                    "price_components": [{"type": "TIME", "price": 1, "step_size": 60}],
                    "restrictions": {"reservation": "RESERVATION_EXPIRES"},
                }
            ]
        )
    )

    with pytest.raises(v211.NotExpressibleError):
        v211.to_v211_tariff(tariff)


# --- sessions and CDRs -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("ACTIVE", "ACTIVE"),
        ("COMPLETED", "COMPLETED"),
        ("INVALID", "INVALID"),
        ("PENDING", "PENDING"),
        ("RESERVATION", "PENDING"),
    ],
)
def test_a_reservation_session_is_pending_in_211(status: str, expected: str):
    """2.1.1 has no RESERVATION status: not started yet is PENDING."""
    session = Session.model_validate(session_221(status=status))

    out = v211.to_v211_session(session, location=Location.model_validate(gent_221()))

    assert out.status.value == expected


@pytest.mark.parametrize(
    ("method", "expected"),
    [("WHITELIST", "WHITELIST"), ("AUTH_REQUEST", "AUTH_REQUEST"), ("COMMAND", "AUTH_REQUEST")],
)
def test_a_session_started_by_command_was_authorised_by_the_emsp(method: str, expected: str):
    """2.1.1 has no COMMAND auth method; the eMSP asked for the start: AUTH_REQUEST."""
    session = Session.model_validate(session_221(auth_method=method))

    out = v211.to_v211_session(session, location=Location.model_validate(gent_221()))

    assert out.auth_method.value == expected
    assert out.auth_id == "DE8ACC12E46L89"


def test_a_session_without_price_or_evse_still_translates():
    """No total_cost stays absent; a session on no EVSE (#NA) has a Location without EVSEs."""
    session = Session.model_validate(
        session_221(total_cost=None, evse_uid="#NA", connector_id="#NA", status="RESERVATION")
    )

    out = v211.to_v211_session(session, location=Location.model_validate(gent_221()))

    assert out.total_cost is None
    assert out.location.evses is None
    assert V211Session.model_validate(wire(out)) == out
    elsewhere = Session.model_validate(session_221(connector_id="9"))
    location = Location.model_validate(gent_221())
    assert v211.to_v211_session(elsewhere, location=location).location.evses is None


def test_a_credit_cdr_names_the_cdr_it_credits_in_its_remark():
    """2.1.1 has no credit CDRs: negative costs, and a remark saying what is credited."""
    credit = Cdr.model_validate(
        cdr_221(
            id="12345-C",
            credit=True,
            credit_reference_id="12345",
            total_cost={"excl_vat": -4, "incl_vat": -4.84},
        )
    )
    location = Location.model_validate(gent_221())

    out = v211.to_v211_cdr(credit, location=location)

    assert out.total_cost == Decimal(-4)
    assert out.remark == "Credit of CDR 12345"
    told = credit.model_copy(update={"remark": "meter fault"})
    assert v211.to_v211_cdr(told, location=location).remark == "meter fault"


def test_a_cdr_without_tariffs_has_none_in_211():
    """A free charge (no tariff list) stays without tariffs."""
    cdr = Cdr.model_validate(cdr_221(tariffs=None))

    out = v211.to_v211_cdr(cdr, location=Location.model_validate(gent_221()))

    assert out.tariffs is None
    assert V211Cdr.model_validate(wire(out)) == out


def test_a_cdr_211_cannot_describe_is_refused():
    """A credit id longer than 36 characters, or no period left, is NotExpressibleError."""
    location = Location.model_validate(gent_221())
    long_id = Cdr.model_validate(cdr_221(id="X" * 37, credit=True, credit_reference_id="X" * 35))
    no_period = Cdr.model_validate(
        cdr_221(
            charging_periods=[
                {
                    "start_date_time": "2015-06-29T21:39:09Z",
                    "dimensions": [{"type": "RESERVATION_TIME", "volume": 1}],
                }
            ]
        )
    )

    with pytest.raises(v211.NotExpressibleError):
        v211.to_v211_cdr(long_id, location=location)
    with pytest.raises(v211.NotExpressibleError):
        v211.to_v211_cdr(no_period, location=location)


@given(
    kwh=st.decimals(min_value=0, max_value=500, places=3),
    excl=st.decimals(min_value=0, max_value=500, places=2),
    status=st.sampled_from(["ACTIVE", "COMPLETED", "INVALID", "PENDING", "RESERVATION"]),
    dims=st.lists(
        st.sampled_from(
            ["ENERGY", "TIME", "PARKING_TIME", "POWER", "CURRENT", "MAX_POWER", "STATE_OF_CHARGE"]
        ),
        min_size=1,
        max_size=4,
    ),
)
def test_every_session_translates_to_a_valid_211_session(
    kwh: Decimal, excl: Decimal, status: str, dims: list[str]
):
    """Whatever its numbers, status and dimensions, a Session has a valid 2.1.1 form
    with the same energy, the cost excl. VAT and only 2.1.1 dimensions.
    """
    session = Session.model_validate(
        session_221(
            kwh=kwh,
            status=status,
            total_cost={"excl_vat": excl},
            charging_periods=[
                {
                    "start_date_time": "2015-06-29T22:39:09Z",
                    "dimensions": [{"type": d, "volume": 1} for d in dims],
                }
            ],
        )
    )

    out = v211.to_v211_session(session, location=Location.model_validate(gent_221()))

    doc = round_trips(out)
    assert out.kwh == kwh
    assert out.total_cost == excl
    kept = [d for d in dims if d in ("ENERGY", "TIME", "PARKING_TIME")]
    assert [d["type"] for p in doc.get("charging_periods", []) for d in p["dimensions"]] == kept


# --- the sealed Location -------------------------------------------------------------------


def sealed(**over: Any) -> SealedSite:
    settings = a_settings()
    loc = settings.locations[0]
    tariff = Tariff.model_validate(tariff_221(id="AC-STANDARD"))
    fields: dict[str, Any] = {
        "operator": settings.operator,
        "location": loc.model_copy(update={"evses": ()}),
        "evse": loc.evses[0],
        "connector_id": loc.evses[0].connectors[0].id,
        "tariff": tariff,
        **over,
    }
    return SealedSite(**fields)


def test_the_sealed_location_holds_only_the_sealed_evse_connector_and_tariff():
    """Built from the seal alone: one EVSE, one connector naming the sealed tariff, UNKNOWN
    status and every timestamp at the start.
    """
    site = sealed(tariff=Tariff.model_validate(tariff_221(id="SEALED")))

    location = v211.sealed_location(site, at=T0)

    assert location.last_updated == T0
    (evse,) = location.evses or []
    assert (evse.uid, evse.status.value, evse.last_updated) == (site.evse.uid, "UNKNOWN", T0)
    (connector,) = evse.connectors
    assert (connector.id, connector.tariff_ids) == (site.connector_id, ["SEALED"])
    out = v211.to_v211_location(location)
    assert out.evses is not None
    assert out.evses[0].connectors[0].tariff_id == "SEALED"


def test_a_sealed_location_without_a_tariff_keeps_the_connector_tariffs():
    """No sealed tariff (a free charge): the connector's configured tariffs stay."""
    site = sealed(tariff=None)

    location = v211.sealed_location(site, at=T0)

    (evse,) = location.evses or []
    assert evse.connectors[0].tariff_ids == list(site.evse.connectors[0].tariff_ids) or None


def test_an_evse_translates_alone():
    """The EVSE endpoint's object: one EVSE with its connectors."""
    evse = Evse.model_validate(evse_221())

    out = wire(v211.to_v211_evse(evse))

    assert out["connectors"][0]["voltage"] == 230
    assert out["connectors"][0]["tariff_id"] == "11"


def test_a_cdr_keeps_only_the_tariffs_211_can_say():
    """A reservation-only tariff is left out of the CDR's list; the CDR still goes."""
    reservations = tariff_221(
        id="RES",
        elements=[
            {
                "price_components": [{"type": "TIME", "price": 1, "step_size": 60}],
                "restrictions": {"reservation": "RESERVATION"},
            }
        ],
    )
    only = Cdr.model_validate(cdr_221(tariffs=[reservations]))
    mixed = Cdr.model_validate(cdr_221(tariffs=[reservations, tariff_221()]))
    location = Location.model_validate(gent_221())

    assert v211.to_v211_cdr(only, location=location).tariffs is None
    assert [t.id for t in v211.to_v211_cdr(mixed, location=location).tariffs or []] == ["T1"]
