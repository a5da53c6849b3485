"""Behaviour of the OCPI wire models: base types, spec constraints and serialisation."""

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, TypeVar

import pytest
from hypothesis import given, strategies as st
from pydantic import BaseModel, TypeAdapter, ValidationError

from ocpi_bridge.models import sessions, tokens
from ocpi_bridge.models.cdrs import Cdr
from ocpi_bridge.models.charging_profiles import ChargingProfile, ChargingProfilePeriod
from ocpi_bridge.models.commands import StartSession
from ocpi_bridge.models.common import (
    DateTime,
    Envelope,
    Number,
    Price,
    ci_equal,
    format_datetime,
    parse_datetime,
)
from ocpi_bridge.models.credentials import Credentials
from ocpi_bridge.models.hub_client_info import ClientInfo, ConnectionStatus
from ocpi_bridge.models.locations import (
    Connector,
    ConnectorType,
    EnergySource,
    Evse,
    EvsePatch,
    GeoLocation,
    Hours,
    Location,
    PublishTokenType,
    RegularHours,
    Status,
)
from ocpi_bridge.models.sessions import SessionPatch
from ocpi_bridge.models.tariffs import Tariff, TariffRestrictions
from ocpi_bridge.models.tokens import Token, TokenPatch
from ocpi_bridge.models.v211 import (
    V211Connector,
    V211Credentials,
    V211Endpoint,
    V211GeoLocation,
    V211Hours,
    V211Session,
)
from ocpi_bridge.models.versions import ModuleID, Version, VersionDetails, VersionNumber

STAMP = "2015-06-29T20:39:09Z"
AT = datetime(2015, 6, 29, 20, 39, 9, tzinfo=UTC)

DATETIMES = TypeAdapter(DateTime)
NUMBERS = TypeAdapter(Number)


# --- builders (plain dicts, as they arrive on the wire) -------------------------------


def a_connector(**overrides: Any) -> dict[str, Any]:
    return {
        "id": "1",
        "standard": "IEC_62196_T2",
        "format": "SOCKET",
        "power_type": "AC_3_PHASE",
        "max_voltage": 230,
        "max_amperage": 16,
        "last_updated": STAMP,
    } | overrides


def an_evse(**overrides: Any) -> dict[str, Any]:
    return {
        "uid": "3256",
        "status": "AVAILABLE",
        "connectors": [a_connector()],
        "last_updated": STAMP,
    } | overrides


def a_location(**overrides: Any) -> dict[str, Any]:
    return {
        "country_code": "BE",
        "party_id": "BEC",
        "id": "LOC1",
        "publish": True,
        "address": "F.Rooseveltlaan 3A",
        "city": "Gent",
        "country": "BEL",
        "coordinates": {"latitude": "51.047599", "longitude": "3.729944"},
        "time_zone": "Europe/Brussels",
        "last_updated": STAMP,
    } | overrides


def a_token(**overrides: Any) -> dict[str, Any]:
    return {
        "country_code": "DE",
        "party_id": "TNM",
        "uid": "012345678",
        "type": "RFID",
        "contract_id": "DE8ACC12E46L89",
        "issuer": "TheNewMotion",
        "valid": True,
        "whitelist": "ALLOWED",
        "last_updated": STAMP,
    } | overrides


def a_cdr(**overrides: Any) -> dict[str, Any]:
    return {
        "country_code": "BE",
        "party_id": "BEC",
        "id": "12345",
        "start_date_time": "2015-06-29T21:39:09Z",
        "end_date_time": "2015-06-29T23:37:32Z",
        "cdr_token": {
            "country_code": "DE",
            "party_id": "TNM",
            "uid": "012345678",
            "type": "RFID",
            "contract_id": "DE8ACC12E46L89",
        },
        "auth_method": "WHITELIST",
        "cdr_location": {
            "id": "LOC1",
            "address": "F.Rooseveltlaan 3A",
            "city": "Gent",
            "country": "BEL",
            "coordinates": {"latitude": "51.047599", "longitude": "3.729944"},
            "evse_uid": "3256",
            "evse_id": "BE*BEC*E041503003",
            "connector_id": "1",
            "connector_standard": "IEC_62196_T2",
            "connector_format": "SOCKET",
            "connector_power_type": "AC_1_PHASE",
        },
        "currency": "EUR",
        "charging_periods": [
            {
                "start_date_time": "2015-06-29T21:39:09Z",
                "dimensions": [{"type": "TIME", "volume": 1.973}],
            }
        ],
        "total_cost": {"excl_vat": 4.00, "incl_vat": 4.40},
        "total_energy": 15.342,
        "total_time": 1.973,
        "last_updated": "2015-06-29T22:01:13Z",
    } | overrides


def a_tariff(**overrides: Any) -> dict[str, Any]:
    return {
        "country_code": "DE",
        "party_id": "ALL",
        "id": "12",
        "currency": "EUR",
        "elements": [{"price_components": [{"type": "TIME", "price": 2.00, "step_size": 300}]}],
        "last_updated": STAMP,
    } | overrides


def a_credentials_role(**overrides: Any) -> dict[str, Any]:
    return {
        "role": "CPO",
        "party_id": "EXA",
        "country_code": "NL",
        "business_details": {"name": "Example Operator"},
    } | overrides


def error_locations(excinfo: pytest.ExceptionInfo[ValidationError]) -> set[tuple[int | str, ...]]:
    return {tuple(error["loc"]) for error in excinfo.value.errors()}


M = TypeVar("M", bound=BaseModel)


def parse(model: type[M], data: dict[str, Any]) -> M:
    """Validate as it happens on the wire: from JSON text."""
    return model.model_validate_json(json.dumps(data))


# --- DateTime ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2015-06-29T20:39:09Z", datetime(2015, 6, 29, 20, 39, 9, tzinfo=UTC)),
        ("2015-06-29T20:39:09", datetime(2015, 6, 29, 20, 39, 9, tzinfo=UTC)),
        ("2016-12-29T17:45:09.2Z", datetime(2016, 12, 29, 17, 45, 9, 200000, tzinfo=UTC)),
        ("2016-12-29T17:45:09.2", datetime(2016, 12, 29, 17, 45, 9, 200000, tzinfo=UTC)),
        ("2018-01-01T01:08:01.123Z", datetime(2018, 1, 1, 1, 8, 1, 123000, tzinfo=UTC)),
        ("2018-01-01T01:08:01.123", datetime(2018, 1, 1, 1, 8, 1, 123000, tzinfo=UTC)),
        ("2015-06-29t20:39:09z", datetime(2015, 6, 29, 20, 39, 9, tzinfo=UTC)),
    ],
)
def test_datetime_accepts_the_spec_forms_as_utc(text, expected):
    """Every timestamp form the spec lists parses to that instant, tz-aware in UTC."""
    parsed = DATETIMES.validate_json(json.dumps(text))

    assert parsed == expected
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2015-06-29T22:39:09+02:00", datetime(2015, 6, 29, 20, 39, 9, tzinfo=UTC)),
        ("2015-06-29T15:09:09-05:30", datetime(2015, 6, 29, 20, 39, 9, tzinfo=UTC)),
        ("2015-06-30T00:39:09+04:00", datetime(2015, 6, 29, 20, 39, 9, tzinfo=UTC)),
    ],
)
def test_datetime_with_an_offset_is_converted_to_utc(text, expected):
    """A timestamp with a numeric offset is accepted and converted to UTC."""
    parsed = parse_datetime(text)

    assert parsed == expected
    assert parsed.tzinfo is UTC
    assert format_datetime(parsed) == "2015-06-29T20:39:09Z"


@pytest.mark.parametrize(
    "text",
    [
        "2015-06-29T20:39:09.12345Z",  # 26 characters: longer than string(25)
        "2015-06-29T20:39:09.123+01:00",
        "2015-06-29 20:39:09Z",
        "2015-06-29",
        "20150629T203909Z",
        "2015-13-01T00:00:00Z",
        "2015-02-30T00:00:00Z",
        "2015-06-29T24:00:00Z",
        "2015-06-29T20:39:60Z",
        "2015-06-29T20:39:09+24:00",
        "2015-06-29T20:39:09+01:60",
        "9999-12-31T23:59:59-01:00",
        "\uff12\uff1015-06-29T20:39:09Z",  # fullwidth digits
        "",
    ],
)
def test_datetime_rejects_what_is_not_an_ocpi_datetime(text):
    """Other formats, impossible dates and strings over 25 characters are rejected."""
    with pytest.raises(ValidationError):
        DATETIMES.validate_json(json.dumps(text))
    with pytest.raises(ValueError, match="DateTime"):
        parse_datetime(text)


def test_datetime_of_26_characters_is_rejected_naming_the_field():
    """A 26-character timestamp is refused, and the error names the field it was in."""
    with pytest.raises(ValidationError) as excinfo:
        parse(Token, a_token(last_updated="2015-06-29T20:39:09.12345Z"))

    assert error_locations(excinfo) == {("last_updated",)}


@pytest.mark.parametrize("value", [1435610349, 1435610349.5, None, True])
def test_datetime_rejects_non_strings_on_the_wire(value):
    """Unix timestamps and other JSON values are not OCPI DateTimes."""
    with pytest.raises(ValidationError):
        DATETIMES.validate_json(json.dumps(value))


def test_datetime_accepts_aware_python_datetimes_and_converts_them_to_utc():
    """Python code may pass any tz-aware datetime; it is stored in UTC."""
    cest = timezone(timedelta(hours=2))

    token = Token.model_validate(
        a_token(last_updated=datetime(2015, 6, 29, 22, 39, 9, tzinfo=cest))
    )

    assert token.last_updated == AT
    assert token.last_updated.tzinfo is UTC


def test_datetime_rejects_naive_python_datetimes():
    """A naive datetime is a bug (DESIGN: tz-aware UTC only), not silently UTC."""
    with pytest.raises(ValidationError, match="naive"):
        Token.model_validate(a_token(last_updated=datetime(2015, 6, 29, 20, 39, 9)))
    with pytest.raises(ValueError, match="naive"):
        format_datetime(datetime(2015, 6, 29, 20, 39, 9))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (datetime(2015, 6, 29, 20, 39, 9, tzinfo=UTC), "2015-06-29T20:39:09Z"),
        (datetime(2016, 12, 29, 17, 45, 9, 200000, tzinfo=UTC), "2016-12-29T17:45:09.200Z"),
        (datetime(2018, 1, 1, 1, 8, 1, 123456, tzinfo=UTC), "2018-01-01T01:08:01.123Z"),
        (datetime(2018, 1, 1, 1, 8, 1, 999, tzinfo=UTC), "2018-01-01T01:08:01Z"),
        (datetime(2015, 6, 29, 22, 39, 9, tzinfo=timezone(timedelta(hours=2))), STAMP),
        (datetime(5, 1, 2, 3, 4, 5, tzinfo=UTC), "0005-01-02T03:04:05Z"),
    ],
)
def test_datetime_is_emitted_in_utc_with_z_and_at_most_milliseconds(value, expected):
    """Timestamps leave as UTC with ``Z`` (never +00:00), truncated to milliseconds."""
    assert format_datetime(value) == expected
    assert DATETIMES.dump_python(value, mode="json") == expected


def test_model_json_carries_z_timestamps_and_python_mode_keeps_datetimes():
    """JSON output has ``Z`` strings; Python output keeps the datetime objects."""
    token = parse(Token, a_token(last_updated="2015-06-29T22:39:09+02:00"))

    assert token.model_dump(mode="json")["last_updated"] == STAMP
    assert json.loads(token.model_dump_json())["last_updated"] == STAMP
    assert token.model_dump()["last_updated"] == AT


@given(
    moment=st.datetimes(
        min_value=datetime(2, 1, 1),
        max_value=datetime(9998, 12, 31),
        timezones=st.builds(
            timezone, st.timedeltas(min_value=timedelta(hours=-23), max_value=timedelta(hours=23))
        ),
    )
)
def test_datetime_round_trips_to_the_millisecond(moment):
    """Formatting then parsing gives back the same instant, truncated to milliseconds."""
    text = format_datetime(moment)
    expected = moment.astimezone(UTC)
    expected = expected.replace(microsecond=expected.microsecond // 1000 * 1000)

    assert parse_datetime(text) == expected
    assert text.endswith("Z")
    assert len(text) <= 24


# --- strings -------------------------------------------------------------------------


@pytest.mark.parametrize("uid", ["Gent-é", "tab\there", "line\nbreak", "日本"])
def test_cistring_rejects_anything_but_printable_ascii(uid):
    """CiString allows only printable ASCII; the error names the field."""
    with pytest.raises(ValidationError) as excinfo:
        parse(Token, a_token(uid=uid))

    assert error_locations(excinfo) == {("uid",)}


def test_cistring_keeps_case_and_compares_case_insensitively():
    """A CiString is stored as received; ``ci_equal`` ignores ASCII case."""
    token = parse(Token, a_token(country_code="de", party_id="Tnm"))

    assert (token.country_code, token.party_id) == ("de", "Tnm")
    assert ci_equal(token.party_id, "TNM")
    assert not ci_equal(token.party_id, "TNX")


@pytest.mark.parametrize(
    ("field", "limit"), [("id", 36), ("country_code", 2), ("party_id", 3), ("name", 255)]
)
def test_strings_longer_than_the_spec_allows_are_rejected(field, limit):
    """Each string field is limited to the length the spec gives it."""
    assert getattr(parse(Location, a_location(**{field: "A" * limit})), field) == "A" * limit
    with pytest.raises(ValidationError) as excinfo:
        parse(Location, a_location(**{field: "A" * (limit + 1)}))

    assert error_locations(excinfo) == {(field,)}


def test_string_allows_utf8_text_but_no_control_characters():
    """``string`` fields take printable UTF-8 and refuse line breaks and tabs."""
    assert parse(Location, a_location(city="Köln")).model_dump()["city"] == "Köln"
    for bad in ["Köln\n", "a\tb", "\x00", "\x85"]:
        with pytest.raises(ValidationError) as excinfo:
            parse(Location, a_location(city=bad))
        assert error_locations(excinfo) == {("city",)}


def test_credentials_token_must_be_printable_non_whitespace_ascii():
    """The credentials token is limited to U+0021..U+007E."""
    good = {
        "token": "ebf3b399-779f-4497",
        "url": "https://x/versions",
        "roles": [a_credentials_role()],
    }
    assert parse(Credentials, good).token == "ebf3b399-779f-4497"
    for bad in ["has space", "", "é", "x" * 65]:
        with pytest.raises(ValidationError) as excinfo:
            parse(Credentials, good | {"token": bad})
        assert error_locations(excinfo) == {("token",)}


# --- coordinates ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("latitude", "longitude"),
    [("51.04759", "3.72994"), ("-51.047599", "-126.104965"), ("0.0000000", "179.1234567")],
)
def test_coordinates_with_five_to_seven_decimals_are_accepted(latitude, longitude):
    """Latitude/longitude strings follow the spec regex (5 to 7 decimals)."""
    location = GeoLocation(latitude=latitude, longitude=longitude)

    assert (location.latitude, location.longitude) == (latitude, longitude)


@pytest.mark.parametrize(
    "latitude",
    ["51.0475", "51.04759912", "151.047599", "51,047599", "51", "+51.047599", " 51.04759"],
)
def test_latitude_outside_the_spec_pattern_is_rejected(latitude):
    """A latitude not matching ``-?[0-9]{1,2}\\.[0-9]{5,7}`` is rejected by name."""
    with pytest.raises(ValidationError) as excinfo:
        parse(Location, a_location(coordinates={"latitude": latitude, "longitude": "3.729944"}))

    assert error_locations(excinfo) == {("coordinates", "latitude")}


def test_coordinates_also_respect_the_string_lengths():
    """The regex admits "-51.0475991", but latitude is string(10) and longitude string(11)."""
    with pytest.raises(ValidationError):
        GeoLocation(latitude="-51.0475991", longitude="3.729944")
    with pytest.raises(ValidationError):
        GeoLocation(latitude="51.047599", longitude="-126.1049651")


@pytest.mark.parametrize("longitude", ["1234.123456", "3.7299", "3.72994412"])
def test_longitude_outside_the_spec_pattern_is_rejected(longitude):
    """A longitude not matching ``-?[0-9]{1,3}\\.[0-9]{5,7}`` is rejected by name."""
    with pytest.raises(ValidationError) as excinfo:
        GeoLocation(latitude="51.047599", longitude=longitude)

    assert error_locations(excinfo) == {("longitude",)}


def test_v211_coordinates_need_exactly_six_decimals():
    """OCPI 2.1.1 coordinates have exactly six decimals."""
    assert V211GeoLocation(latitude="51.047599", longitude="-126.104965").latitude == "51.047599"
    with pytest.raises(ValidationError):
        V211GeoLocation(latitude="51.04759", longitude="3.729944")
    with pytest.raises(ValidationError):
        V211GeoLocation(latitude="51.047599", longitude="3.7299441")


# --- enums ---------------------------------------------------------------------------


def test_connector_with_an_unknown_standard_is_rejected_naming_standard():
    """An unknown ConnectorType is an error on ``standard``."""
    with pytest.raises(ValidationError) as excinfo:
        parse(Connector, a_connector(standard="IEC_62196_T9"))

    assert error_locations(excinfo) == {("standard",)}


def test_enum_values_keep_the_spec_spelling():
    """Enum values are the spec's strings, including the lower-case IEC 60309 ones."""
    connector = parse(Connector, a_connector(standard="IEC_60309_2_single_16"))

    assert connector.standard is ConnectorType.IEC_60309_2_SINGLE_16
    assert connector.model_dump(mode="json")["standard"] == "IEC_60309_2_single_16"


def test_v211_enums_refuse_values_that_only_exist_in_221():
    """A 2.2.1-only value cannot appear in a 2.1.1 object."""
    v211_connector = {
        "id": "1",
        "standard": "IEC_62196_T2",
        "format": "SOCKET",
        "power_type": "AC_2_PHASE",
        "voltage": 230,
        "amperage": 16,
        "last_updated": STAMP,
    }
    with pytest.raises(ValidationError) as excinfo:
        parse(V211Connector, v211_connector)

    assert error_locations(excinfo) == {("power_type",)}


# --- lists ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "data", "field"),
    [
        (Evse, an_evse(connectors=[]), "connectors"),
        (Tariff, a_tariff(elements=[]), "elements"),
        (Cdr, a_cdr(charging_periods=[]), "charging_periods"),
        (
            Credentials,
            {"token": "abc", "url": "https://x/versions", "roles": []},
            "roles",
        ),
        (
            VersionDetails,
            {"version": "2.2.1", "endpoints": []},
            "endpoints",
        ),
    ],
)
def test_lists_the_spec_marks_one_or_more_reject_empty(model, data, field):
    """Lists with cardinality ``+`` need at least one element."""
    with pytest.raises(ValidationError) as excinfo:
        parse(model, data)

    assert error_locations(excinfo) == {(field,)}


def test_absent_optional_fields_are_omitted_from_json():
    """With ``exclude_none`` only the fields that were given are emitted."""
    location = parse(Location, a_location())

    assert set(location.model_dump(mode="json", exclude_none=True)) == set(a_location())
    assert location.evses is None


# --- numbers -------------------------------------------------------------------------


def test_decimal_serialises_as_a_json_number():
    """``number`` fields are Decimals in Python and JSON numbers on the wire."""
    price = Price(excl_vat=Decimal("0.25"), incl_vat=Decimal("2.00"))

    assert price.model_dump(mode="json") == {"excl_vat": 0.25, "incl_vat": 2}
    assert price.model_dump_json() == '{"excl_vat":0.25,"incl_vat":2}'
    assert price.model_dump()["excl_vat"] == Decimal("0.25")


@pytest.mark.parametrize(
    ("json_number", "expected"),
    [
        ("0.1", Decimal("0.1")),
        ("0.0006", Decimal("0.0006")),
        ("372", Decimal(372)),
        ("-2.5", Decimal("-2.5")),
    ],
)
def test_json_numbers_become_exact_decimals(json_number, expected):
    """A JSON number is read into the Decimal it spells, with no binary noise."""
    parsed = NUMBERS.validate_json(json_number)

    assert parsed == expected
    assert str(parsed) == str(expected)


@pytest.mark.parametrize("value", ['"2.00"', "true", "null", "[1]", "NaN", "Infinity"])
def test_number_fields_take_only_finite_json_numbers(value):
    """Quoted numbers, booleans and non-finite values are rejected."""
    with pytest.raises(ValidationError):
        NUMBERS.validate_json(value)


@pytest.mark.parametrize("value", ['"220"', "220.5", "true"])
def test_int_fields_take_only_json_integers(value):
    """``int`` fields reject strings, fractions and booleans."""
    with pytest.raises(ValidationError) as excinfo:
        Connector.model_validate_json(json.dumps(a_connector()).replace("230", value))

    assert error_locations(excinfo) == {("max_voltage",)}


def test_boolean_fields_take_only_json_booleans():
    """``boolean`` fields reject ``"true"`` and ``1``."""
    for value in ["true", 1]:
        with pytest.raises(ValidationError) as excinfo:
            parse(Token, a_token(valid=value))
        assert error_locations(excinfo) == {("valid",)}


def test_charging_profile_limits_have_at_most_one_decimal():
    """Charging rates accept "at most one digit fraction (e.g. 8.1)"."""
    period = ChargingProfilePeriod.model_validate_json('{"start_period": 0, "limit": 8.1}')
    assert period.limit == Decimal("8.1")
    with pytest.raises(ValidationError) as excinfo:
        ChargingProfilePeriod.model_validate_json('{"start_period": 0, "limit": 8.15}')
    assert error_locations(excinfo) == {("limit",)}
    with pytest.raises(ValidationError):
        ChargingProfile.model_validate_json(
            '{"charging_rate_unit": "A", "min_charging_rate": 6.25}'
        )


def test_energy_source_percentage_is_between_0_and_100():
    """An energy source share is a percentage."""
    share = EnergySource.model_validate_json('{"source": "SOLAR", "percentage": 100}')
    assert share.percentage == 100
    with pytest.raises(ValidationError):
        EnergySource.model_validate_json('{"source": "SOLAR", "percentage": 100.1}')


# --- PATCH bodies --------------------------------------------------------------------


def test_token_patch_requires_last_updated():
    """A Token PATCH without ``last_updated`` is rejected (mod_tokens PATCH)."""
    with pytest.raises(ValidationError) as excinfo:
        parse(TokenPatch, {"valid": False})

    assert error_locations(excinfo) == {("last_updated",)}


def test_token_patch_carries_only_the_fields_given():
    """A Token PATCH keeps just the changed fields when serialised."""
    patch = parse(TokenPatch, {"valid": False, "last_updated": STAMP})

    assert patch.model_dump(mode="json", exclude_none=True) == {
        "valid": False,
        "last_updated": STAMP,
    }


def test_push_patches_serialise_to_just_the_changed_fields():
    """EVSE and Session patches we push carry only what changed, plus ``last_updated``."""
    evse = EvsePatch(status=Status.CHARGING, last_updated=AT)
    session = SessionPatch(kwh=Decimal("15.00"), last_updated=AT)

    assert evse.model_dump(mode="json", exclude_none=True) == {
        "status": "CHARGING",
        "last_updated": STAMP,
    }
    assert session.model_dump(mode="json", exclude_none=True) == {"kwh": 15, "last_updated": STAMP}


# --- model behaviour -----------------------------------------------------------------


def test_models_are_frozen():
    """Wire objects cannot be changed after construction."""
    token = parse(Token, a_token())

    with pytest.raises(ValidationError):
        token.valid = False  # type: ignore[misc]


def test_unknown_fields_are_rejected_by_name():
    """A field the spec does not define is an error naming that field."""
    with pytest.raises(ValidationError) as excinfo:
        parse(Token, a_token(colour="blue"))

    assert error_locations(excinfo) == {("colour",)}


def test_models_round_trip_through_json():
    """What a model emits parses back to an equal model."""
    location = parse(Location, a_location(evses=[an_evse()]))

    assert Location.model_validate_json(location.model_dump_json(exclude_none=True)) == location


def test_profile_type_is_shared_by_tokens_and_sessions():
    """``ProfileType`` is one enum, importable from Sessions as the spec places it."""
    assert sessions.ProfileType is tokens.ProfileType


# --- cross-field rules ---------------------------------------------------------------


@pytest.mark.parametrize(
    "hours",
    [
        {"twentyfourseven": False},
        {"twentyfourseven": False, "regular_hours": []},
        {
            "twentyfourseven": True,
            "regular_hours": [{"weekday": 1, "period_begin": "08:00", "period_end": "20:00"}],
        },
    ],
)
def test_hours_need_regular_hours_exactly_when_not_open_all_the_time(hours):
    """``regular_hours`` is required without 24/7 and absent with it."""
    with pytest.raises(ValidationError):
        parse(Hours, hours)


@pytest.mark.parametrize(
    "hours",
    [
        {},
        {"twentyfourseven": False},
        {
            "twentyfourseven": True,
            "regular_hours": [{"weekday": 1, "period_begin": "08:00", "period_end": "20:00"}],
        },
    ],
)
def test_v211_hours_are_either_all_the_time_or_regular(hours):
    """2.1.1 Hours: 24/7, or at least one regular period, never both and never neither."""
    with pytest.raises(ValidationError):
        parse(V211Hours, hours)


def test_v211_hours_accept_either_choice():
    """Either choice of 2.1.1 Hours parses; ``twentyfourseven`` may be omitted."""
    regular = [{"weekday": 1, "period_begin": "08:00", "period_end": "20:00"}]

    assert parse(V211Hours, {"twentyfourseven": True}).twentyfourseven is True
    assert parse(V211Hours, {"regular_hours": regular}).twentyfourseven is None


@pytest.mark.parametrize(
    "regular",
    [
        {"weekday": 0, "period_begin": "08:00", "period_end": "20:00"},
        {"weekday": 8, "period_begin": "08:00", "period_end": "20:00"},
        {"weekday": 1, "period_begin": "24:00", "period_end": "20:00"},
        {"weekday": 1, "period_begin": "8:00", "period_end": "20:00"},
        {"weekday": 1, "period_begin": "20:00", "period_end": "08:00"},
        {"weekday": 1, "period_begin": "08:00", "period_end": "08:00"},
    ],
)
def test_regular_hours_follow_the_spec_format(regular):
    """Weekday is 1..7, times are zero-padded HH:MM and the end is after the begin."""
    with pytest.raises(ValidationError):
        parse(RegularHours, regular)


@pytest.mark.parametrize(
    "publish_token",
    [{}, {"uid": "123"}, {"visual_number": "12345-67"}, {"type": "RFID", "issuer": "ANWB"}],
)
def test_publish_token_must_identify_a_token(publish_token):
    """PublishTokenType needs uid (with type), visual_number (with issuer) or group_id."""
    with pytest.raises(ValidationError):
        parse(PublishTokenType, publish_token)


def test_publish_allowed_to_only_on_unpublished_locations():
    """``publish_allowed_to`` may only be used when ``publish`` is false."""
    allowed = [{"group_id": "ABC"}]

    assert parse(Location, a_location(publish=False, publish_allowed_to=allowed)).publish is False
    with pytest.raises(ValidationError, match="publish_allowed_to"):
        parse(Location, a_location(publish=True, publish_allowed_to=allowed))


def test_start_session_needs_an_evse_when_a_connector_is_named():
    """StartSession: ``evse_uid`` is required when ``connector_id`` is set."""
    body = {"response_url": "https://emsp/cmd/1", "token": a_token(), "location_id": "LOC1"}

    assert parse(StartSession, body | {"evse_uid": "3256", "connector_id": "1"}).evse_uid == "3256"
    with pytest.raises(ValidationError, match="evse_uid"):
        parse(StartSession, body | {"connector_id": "1"})


def test_cdr_ids_are_36_characters_except_for_credit_cdrs():
    """Only a credit CDR may use the 39-character id, and it must reference the original."""
    with pytest.raises(ValidationError, match="36"):
        parse(Cdr, a_cdr(id="X" * 37))
    with pytest.raises(ValidationError, match="credit_reference_id"):
        parse(Cdr, a_cdr(id="X" * 39, credit=True))

    credit = parse(Cdr, a_cdr(id="X" * 39, credit=True, credit_reference_id="X" * 36))

    assert credit.model_dump()["credit"] is True


def test_credentials_roles_must_be_unique_per_role_party_and_country():
    """Two roles with the same role, party and country (in any case) are rejected."""
    roles = [a_credentials_role(), a_credentials_role(party_id="exa", country_code="nl")]
    with pytest.raises(ValidationError, match="unique"):
        parse(Credentials, {"token": "abc", "url": "https://x/versions", "roles": roles})

    roles = [a_credentials_role(), a_credentials_role(role="EMSP")]
    assert (
        len(parse(Credentials, {"token": "abc", "url": "https://x/v", "roles": roles}).roles) == 2
    )


@pytest.mark.parametrize("field", ["start_date", "end_date"])
def test_tariff_restriction_dates_are_iso_local_dates(field):
    """Restriction dates follow ``YYYY-MM-DD``."""
    assert getattr(parse(TariffRestrictions, {field: "2015-12-24"}), field) == "2015-12-24"
    with pytest.raises(ValidationError):
        parse(TariffRestrictions, {field: "24-12-2015"})


# --- versions and envelopes ----------------------------------------------------------


def test_versions_keep_unknown_version_numbers_and_custom_modules():
    """A partner listing a future version or a custom module still parses."""
    future = parse(Version, {"version": "3.0", "url": "https://x/3.0"})
    known = parse(Version, {"version": "2.2.1", "url": "https://x/2.2.1"})
    details = parse(
        VersionDetails,
        {
            "version": "2.2.1",
            "endpoints": [
                {"identifier": "nltnm-tokens", "role": "SENDER", "url": "https://x/t"},
                {"identifier": "locations", "role": "RECEIVER", "url": "https://x/l"},
            ],
        },
    )

    assert future.version == "3.0"
    assert known.version is VersionNumber.V2_2_1
    assert details.endpoints[0].identifier == "nltnm-tokens"
    assert details.endpoints[1].identifier is ModuleID.LOCATIONS


def test_v211_endpoints_have_no_role():
    """2.1.1 endpoints are identifier and URL only."""
    assert (
        parse(V211Endpoint, {"identifier": "locations", "url": "https://x/l"}).url == "https://x/l"
    )
    with pytest.raises(ValidationError):
        parse(V211Endpoint, {"identifier": "locations", "role": "SENDER", "url": "https://x/l"})


def test_v211_credentials_describe_one_party_at_top_level():
    """2.1.1 Credentials carry business_details, party_id and country_code themselves."""
    body = {
        "token": "abc",
        "url": "https://x/versions",
        "business_details": {"name": "Example Operator"},
        "party_id": "EXA",
        "country_code": "NL",
    }

    assert parse(V211Credentials, body).party_id == "EXA"
    with pytest.raises(ValidationError):
        parse(
            V211Credentials, {"token": "abc", "url": "https://x/v", "roles": [a_credentials_role()]}
        )


def test_v211_sessions_have_no_reservation_status():
    """``RESERVATION`` is a 2.2.1 session status only."""
    with pytest.raises(ValidationError) as excinfo:
        V211Session.model_validate({"status": "RESERVATION"})

    assert ("status",) in error_locations(excinfo)


def test_error_envelope_has_no_data_field():
    """An envelope without data serialises without a ``data`` key."""
    envelope = Envelope[None](status_code=2001, status_message="Missing field: type", timestamp=AT)

    assert envelope.model_dump(mode="json", exclude_none=True) == {
        "status_code": 2001,
        "status_message": "Missing field: type",
        "timestamp": STAMP,
    }


def test_envelope_validates_its_payload():
    """A parametrised envelope validates ``data`` with the given model, naming the path."""
    body = {"data": [a_token(), a_token(type="CARD")], "status_code": 1000, "timestamp": STAMP}

    with pytest.raises(ValidationError) as excinfo:
        Envelope[list[Token]].model_validate_json(json.dumps(body))

    assert error_locations(excinfo) == {("data", 1, "type")}


def test_client_info_describes_a_party_behind_a_hub():
    """A Hub's ClientInfo parses and re-serialises unchanged."""
    body = {
        "party_id": "TNM",
        "country_code": "NL",
        "role": "EMSP",
        "status": "CONNECTED",
        "last_updated": STAMP,
    }

    info = parse(ClientInfo, body)

    assert info.status is ConnectionStatus.CONNECTED
    assert info.model_dump(mode="json", exclude_none=True) == body
