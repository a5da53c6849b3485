import copy
from typing import Any

import pytest

from ocpp_central.translate.rpc import ErrorCode, OcppVersion, error_code_name
from ocpp_central.validation import (
    Validators,
    Violation,
    _inline_definitions,
    apply_v16_errata,
)

V16, V201, V21 = OcppVersion.V16, OcppVersion.V201, OcppVersion.V21
TYPE = ErrorCode.TYPE_CONSTRAINT_VIOLATION
OCCURRENCE = ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION
PROPERTY = ErrorCode.PROPERTY_CONSTRAINT_VIOLATION

NOW = "2024-05-01T10:00:00Z"


def sampled_values_16(**extra: Any) -> list[dict[str, Any]]:
    return [
        {
            "value": "12345.6",
            "context": "Sample.Periodic",
            "measurand": "Energy.Active.Import.Register",
            "unit": "Wh",
        },
        {"value": "7200", "context": "Sample.Periodic", "measurand": "Power.Active.Import"},
        {"value": "31.2", "measurand": "Current.Import", "unit": "A", "phase": "L1"},
        {"value": "230.1", "measurand": "Voltage", "unit": "V", "phase": "L1-N", **extra},
    ]


def meter_values_16(**extra: Any) -> dict[str, Any]:
    return {
        "connectorId": 1,
        "transactionId": 42,
        "meterValue": [{"timestamp": NOW, "sampledValue": sampled_values_16(**extra)}],
    }


def meter_values_201() -> dict[str, Any]:
    return {
        "evseId": 1,
        "meterValue": [
            {
                "timestamp": NOW,
                "sampledValue": [
                    {
                        "value": 12345.6,
                        "context": "Sample.Periodic",
                        "measurand": "Energy.Active.Import.Register",
                        "unitOfMeasure": {"unit": "Wh"},
                    },
                    {"value": 7200, "measurand": "Power.Active.Import"},
                    {"value": 31.2, "measurand": "Current.Import", "phase": "L1"},
                    {"value": 230.1, "measurand": "Voltage", "phase": "L1-N"},
                ],
            }
        ],
    }


def stop_transaction_16(**changes: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {"transactionId": 42, "meterStop": 1000, "timestamp": NOW}
    payload.update(changes)
    return payload


# --- catalogue -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "action", "known"),
    [
        (V16, "MeterValues", True),
        (V16, "StopTransaction", True),
        (V16, "SignCertificate", True),  # security whitepaper extension
        (V16, "MeterValuesResponse", False),
        (V16, "TransactionEvent", False),
        (V201, "TransactionEvent", True),
        (V201, "TransactionEventRequest", False),
        (V201, "StopTransaction", False),
        (V21, "NotifyPeriodicEventStream", True),  # a SEND, without "Request" in its name
        (V21, "BatterySwap", True),
        (V16, "../v201/schemas/Authorize", False),
        (V201, "", False),
    ],
)
def test_known_actions_are_those_with_a_request_schema(version, action, known):
    """knows() reflects the version's schema listing, never a path built from the name."""
    assert Validators(version).knows(action) is known


@pytest.mark.parametrize("method", ["check_request", "check_response"])
def test_an_unknown_action_is_not_implemented(method):
    """No schema means NotImplemented: "Requested Action is not known by receiver"."""
    violation = getattr(Validators(V16), method)("../../etc/passwd", {})

    assert violation is not None
    assert violation.code is ErrorCode.NOT_IMPLEMENTED


def test_a_send_has_no_response_to_check():
    """A 2.1 SEND is never answered, so there is no response schema for it."""
    violation = Validators(V21).check_response("NotifyPeriodicEventStream", {})

    assert violation is not None
    assert violation.code is ErrorCode.NOT_IMPLEMENTED


# --- valid payloads --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "action", "payload"),
    [
        (V16, "MeterValues", meter_values_16()),
        (
            V16,
            "StatusNotification",
            {"connectorId": 1, "errorCode": "NoError", "status": "Charging", "timestamp": NOW},
        ),
        (V16, "BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}),
        (V16, "StopTransaction", stop_transaction_16(reason="EVDisconnected")),
        (
            V16,
            "SignCertificate",  # its schema has a $id and definitions
            {"csr": "-----BEGIN CERTIFICATE REQUEST-----"},
        ),
        (V201, "MeterValues", meter_values_201()),
        (
            V201,
            "StatusNotification",
            {"timestamp": NOW, "connectorStatus": "Occupied", "evseId": 1, "connectorId": 1},
        ),
        (V21, "Heartbeat", {}),
        (V21, "MeterValues", meter_values_201()),
    ],
)
def test_typical_requests_pass(version, action, payload):
    """Well-formed requests from chargers have no violation."""
    assert Validators(version).check_request(action, payload) is None


def test_responses_are_checked_against_the_response_schema():
    """check_response uses <Action>Response, for 1.6 and 2.x alike."""
    assert Validators(V16).check_response("RemoteStartTransaction", {"status": "Accepted"}) is None
    assert Validators(V201).check_response("Reset", {"status": "Scheduled"}) is None
    violation = Validators(V16).check_response("RemoteStartTransaction", {"status": "Maybe"})
    assert violation is not None
    assert violation.code is PROPERTY


# --- code mapping ----------------------------------------------------------------------

MAPPING = [
    # type: "somestring": 12, and the reverse.
    pytest.param(
        V16,
        "StatusNotification",
        {"connectorId": "1", "errorCode": "NoError", "status": "Available"},
        TYPE,
        id="v16-type",
    ),
    pytest.param(
        V201,
        "Heartbeat",
        [],
        TYPE,
        id="v201-type-root",
    ),
    # maxLength: the length is part of OCPP's data type (CiString20Type).
    pytest.param(V16, "Authorize", {"idTag": "x" * 21}, TYPE, id="v16-maxLength"),
    pytest.param(
        V201,
        "Authorize",
        {"idToken": {"idToken": "x" * 37, "type": "ISO14443"}},
        TYPE,
        id="v201-maxLength",
    ),
    # format: dateTime is a data type.
    pytest.param(
        V16, "StopTransaction", stop_transaction_16(timestamp="yesterday"), TYPE, id="v16-format"
    ),
    # required, minItems, maxItems: cardinality is occurrence.
    pytest.param(V16, "Authorize", {}, OCCURRENCE, id="v16-required"),
    pytest.param(V201, "Authorize", {}, OCCURRENCE, id="v201-required"),
    pytest.param(
        V16, "MeterValues", {"connectorId": 1, "meterValue": []}, OCCURRENCE, id="v16-minItems"
    ),
    pytest.param(
        V201,
        "Authorize",
        {
            "idToken": {"idToken": "x", "type": "ISO14443"},
            "iso15118CertificateHashData": [
                {
                    "hashAlgorithm": "SHA256",
                    "issuerNameHash": "a",
                    "issuerKeyHash": "b",
                    "serialNumber": "c",
                    "responderURL": "d",
                }
            ]
            * 5,
        },
        OCCURRENCE,
        id="v201-maxItems",
    ),
    # enum, minimum, multipleOf: the right type, a value the field does not allow.
    pytest.param(
        V16,
        "StatusNotification",
        {"connectorId": 1, "errorCode": "NoError", "status": "Sleeping"},
        PROPERTY,
        id="v16-enum",
    ),
    pytest.param(
        V201,
        "StatusNotification",
        {"timestamp": NOW, "connectorStatus": "Sleeping", "evseId": 1, "connectorId": 1},
        PROPERTY,
        id="v201-enum",
    ),
    pytest.param(
        V201,
        "NotifyEVChargingNeeds",
        {
            "evseId": 1,
            "chargingNeeds": {
                "requestedEnergyTransfer": "DC",
                "dcChargingParameters": {
                    "evMaxCurrent": 100,
                    "evMaxVoltage": 400,
                    "stateOfCharge": 101,
                },
            },
        },
        PROPERTY,
        id="v201-maximum",
    ),
    pytest.param(
        V16,
        "GetCompositeSchedule",  # a response, checked below through check_response
        {
            "status": "Accepted",
            "chargingSchedule": {
                "chargingRateUnit": "A",
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 4.11}],
            },
        },
        PROPERTY,
        id="v16-multipleOf",
    ),
]


@pytest.mark.parametrize(("version", "action", "payload", "code"), MAPPING)
def test_schema_failures_map_to_the_ocpp_j_error_codes(version, action, payload, code):
    """type/length/format -> Type, required/items -> Occurrence, values -> Property."""
    validators = Validators(version)
    if action == "GetCompositeSchedule":
        violation = validators.check_response(action, payload)
    else:
        violation = validators.check_request(action, payload)

    assert violation is not None
    assert violation.code is code
    assert violation.description.startswith("payload")


def test_multiple_of_is_exact_for_decimal_fractions():
    """21.4 is a multiple of 0.1, binary floating point notwithstanding."""
    payload = {
        "status": "Accepted",
        "chargingSchedule": {
            "chargingRateUnit": "A",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 21.4}],
        },
    }

    assert Validators(V16).check_response("GetCompositeSchedule", payload) is None


@pytest.mark.parametrize(
    ("version", "wire_name"), [(V16, "FormationViolation"), (V201, "ProtocolError")]
)
def test_unknown_properties_in_strict_mode_break_the_pdu_structure(version, wire_name):
    """Strict mode refuses extra fields with the version's "not conform the PDU" code."""
    action = "Heartbeat"
    violation = Validators(version, strict=True).check_request(action, {"vendorFlag": True})

    assert violation is not None
    assert error_code_name(violation.code, version) == wire_name


def test_a_violation_points_at_the_offending_value():
    """The path names properties and list indexes, outermost first."""
    payload = meter_values_16()
    payload["meterValue"][0]["sampledValue"][2]["unit"] = "Kelvin"

    violation = Validators(V16).check_request("MeterValues", payload)

    assert violation == Violation(
        code=PROPERTY,
        description=violation.description if violation else "",
        path=("meterValue", 0, "sampledValue", 2, "unit"),
    )
    assert violation is not None
    assert violation.description.startswith("payload.meterValue[0].sampledValue[2].unit must be")


def test_descriptions_fit_an_error_description():
    """A long enum listing is cut to the 255 characters errorDescription allows."""
    payload = meter_values_16(measurand="Pressure")

    violation = Validators(V16).check_request("MeterValues", payload)

    assert violation is not None
    assert len(violation.description) == 255


# --- leniency --------------------------------------------------------------------------


@pytest.mark.parametrize("version", [V16, V201])
def test_extra_properties_from_chargers_are_ignored_not_refused(version):
    """By default unknown fields, at any depth, pass and stay untouched in the payload."""
    payload = meter_values_16(vendorExtra=1) if version is V16 else meter_values_201()
    payload["firmwareFlavour"] = "beta"
    payload["meterValue"][0]["sampleNote"] = {"free": "form"}
    before = copy.deepcopy(payload)

    assert Validators(version).check_request("MeterValues", payload) is None
    assert payload == before


def test_validation_never_writes_schema_defaults_into_the_payload():
    """The 2.0.1 schema defaults location to "Outlet"; checking must not add it."""
    payload = meter_values_201()
    before = copy.deepcopy(payload)

    assert Validators(V201).check_request("MeterValues", payload) is None
    assert payload == before
    assert "location" not in payload["meterValue"][0]["sampledValue"][0]


@pytest.mark.parametrize(
    ("timestamp", "lenient", "strict"),
    [
        ("2024-05-01T10:00:00Z", True, True),
        ("2024-05-01T10:00:00.123Z", True, True),
        ("2024-05-01T12:00:00+02:00", True, True),
        ("2024-05-01t10:00:00z", True, True),
        ("2024-05-01T10:00:00", True, False),  # no zone: accepted, read as UTC downstream
        ("2024-05-01T10:00:00.5", True, False),
        ("2024-05-01 10:00:00Z", False, False),
        ("2024-13-01T10:00:00Z", False, False),
        ("2024-05-01T10:00Z", False, False),
        ("٢٠٢٤-05-01T10:00:00Z", False, False),
        ("1714557600", False, False),
    ],
)
def test_datetimes_without_a_zone_are_accepted_only_when_lenient(timestamp, lenient, strict):
    """Refusing a StopTransaction for a missing "Z" would cost the transaction."""
    payload = stop_transaction_16(timestamp=timestamp)

    assert (Validators(V16).check_request("StopTransaction", payload) is None) is lenient
    assert (Validators(V16, strict=True).check_request("StopTransaction", payload) is None) is (
        strict
    )


# --- 1.6 errata ------------------------------------------------------------------------


@pytest.mark.parametrize("unit", ["Celsius", "Celcius", "Hertz"])
@pytest.mark.parametrize("strict", [False, True])
def test_errata_units_are_accepted_in_meter_values(unit, strict):
    """Celsius, the schema's typo Celcius, and Hertz are all valid 1.6 units."""
    payload = meter_values_16(unit=unit, measurand="Temperature")
    payload["meterValue"][0]["sampledValue"][3].pop("phase")

    assert Validators(V16, strict=strict).check_request("MeterValues", payload) is None


@pytest.mark.parametrize("unit", ["Celsius", "Celcius", "Hertz"])
def test_errata_units_are_accepted_in_stop_transaction_data(unit):
    """The same units are valid in StopTransaction.transactionData."""
    payload = stop_transaction_16(
        transactionData=[{"timestamp": NOW, "sampledValue": [{"value": "20", "unit": unit}]}]
    )

    assert Validators(V16, strict=True).check_request("StopTransaction", payload) is None


def test_stop_transaction_reason_is_optional():
    """The errata makes StopTransaction.reason optional."""
    assert (
        Validators(V16, strict=True).check_request("StopTransaction", stop_transaction_16()) is None
    )


ORIGINAL_STOP_TRANSACTION: dict[str, Any] = {
    "type": "object",
    "properties": {
        "reason": {"type": "string", "enum": ["Local", "Remote"]},
        "transactionData": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "sampledValue": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "unit": {"type": "string", "enum": ["Wh", "kWh", "Celcius"]}
                            },
                        },
                    }
                },
            },
        },
    },
    "required": ["transactionId", "reason", "timestamp"],
}


def test_errata_patch_fixes_the_original_schema_text():
    """On the schema as first published: units added, reason no longer required."""
    patched = apply_v16_errata("StopTransaction", ORIGINAL_STOP_TRANSACTION)

    sampled = patched["properties"]["transactionData"]["items"]["properties"]["sampledValue"]
    assert sampled["items"]["properties"]["unit"]["enum"] == [
        "Wh",
        "kWh",
        "Celcius",
        "Celsius",
        "Hertz",
    ]
    assert patched["required"] == ["transactionId", "timestamp"]


def test_errata_patch_is_idempotent_and_leaves_its_input_alone():
    """Patching twice changes nothing more, and the caller's schema is not modified."""
    before = copy.deepcopy(ORIGINAL_STOP_TRANSACTION)

    once = apply_v16_errata("StopTransaction", ORIGINAL_STOP_TRANSACTION)

    assert apply_v16_errata("StopTransaction", once) == once
    assert before == ORIGINAL_STOP_TRANSACTION


def test_errata_patch_touches_only_unit_of_measure_enums_and_stop_transaction():
    """Other enums and other actions' required lists are left as they are."""
    schema = {
        "properties": {"unit": {"enum": ["A", "B"]}, "other": {"enum": ["Wh"]}},
        "required": ["reason"],
    }

    assert apply_v16_errata("Authorize", schema) == schema


# --- compilation -----------------------------------------------------------------------


@pytest.mark.parametrize("version", list(OcppVersion))
def test_every_published_schema_compiles(version):
    """All request and response schemas of each version (drafts 4 and 6, $ref) compile."""
    Validators(version).warm()


def test_warm_accepts_a_subset_and_ignores_unknown_actions():
    """warm() compiles the named actions and skips names without schemas."""
    Validators(V16, strict=True).warm(["Authorize", "NoSuchAction"])


def test_local_references_are_inlined_but_recursion_is_kept():
    """Inlining replaces #/definitions/ refs once per chain and leaves recursive ones."""
    schema = {
        "definitions": {
            "Node": {"type": "object", "properties": {"next": {"$ref": "#/definitions/Node"}}},
            "Leaf": {"type": "string"},
        },
        "type": "object",
        "properties": {
            "leaf": {"$ref": "#/definitions/Leaf", "description": "ignored beside $ref"},
            "node": {"$ref": "#/definitions/Node"},
            "remote": {"$ref": "other.json#/x"},
            "missing": {"$ref": "#/definitions/Missing"},
            "list": {"type": "array", "items": [{"$ref": "#/definitions/Leaf"}]},
        },
    }

    inlined = _inline_definitions(schema)

    properties = inlined["properties"]
    assert properties["leaf"] == {"type": "string"}
    assert properties["node"] == {
        "type": "object",
        "properties": {"next": {"$ref": "#/definitions/Node"}},
    }
    assert properties["remote"] == {"$ref": "other.json#/x"}
    assert properties["missing"] == {"$ref": "#/definitions/Missing"}
    assert properties["list"]["items"] == [{"type": "string"}]
    assert inlined["definitions"] == schema["definitions"]
