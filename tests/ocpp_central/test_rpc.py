import json
from typing import Any

import pytest
from hypothesis import given, strategies as st

from ocpp_central.translate.rpc import (
    Call,
    CallError,
    CallResult,
    CallResultError,
    ErrorCode,
    Malformed,
    MessageType,
    OcppVersion,
    Send,
    decode,
    encode_call,
    encode_error,
    encode_result,
    encode_result_error,
    error_code_name,
    parse_error_code,
)

V16, V201, V21 = OcppVersion.V16, OcppVersion.V201, OcppVersion.V21
LONG_ID = "x" * 37

V16_NAMES = {
    "NotImplemented",
    "NotSupported",
    "InternalError",
    "ProtocolError",
    "SecurityError",
    "FormationViolation",
    "PropertyConstraintViolation",
    "OccurenceConstraintViolation",
    "TypeConstraintViolation",
    "GenericError",
}
V2_NAMES = {
    "FormatViolation",
    "GenericError",
    "InternalError",
    "MessageTypeNotSupported",
    "NotImplemented",
    "NotSupported",
    "OccurrenceConstraintViolation",
    "PropertyConstraintViolation",
    "ProtocolError",
    "RpcFrameworkError",
    "SecurityError",
    "TypeConstraintViolation",
}
NAMES = {V16: V16_NAMES, V201: V2_NAMES, V21: V2_NAMES}


def assert_well_formed(result: object, version: OcppVersion) -> None:
    """Whatever decode returned, any reply is a CALLERROR the peer can parse."""
    assert isinstance(result, Call | CallResult | CallError | CallResultError | Send | Malformed)
    if not isinstance(result, Malformed) or result.reply is None:
        return
    result.reply.encode("utf-8")  # sendable as a websocket text frame
    reply = json.loads(result.reply)
    assert type(reply) is list
    assert len(reply) == 5
    assert reply[0] == 4 or (reply[0] == 5 and version is V21)
    assert type(reply[1]) is str
    assert reply[2] in NAMES[version]
    assert type(reply[3]) is str
    assert len(reply[3]) <= 255
    assert reply[4] == {}


# --- error code spelling ---------------------------------------------------------------

SPELLING = [
    (ErrorCode.FORMAT_VIOLATION, "FormationViolation", "FormatViolation"),
    (ErrorCode.GENERIC_ERROR, "GenericError", "GenericError"),
    (ErrorCode.INTERNAL_ERROR, "InternalError", "InternalError"),
    (ErrorCode.MESSAGE_TYPE_NOT_SUPPORTED, "GenericError", "MessageTypeNotSupported"),
    (ErrorCode.NOT_IMPLEMENTED, "NotImplemented", "NotImplemented"),
    (ErrorCode.NOT_SUPPORTED, "NotSupported", "NotSupported"),
    (
        ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION,
        "OccurenceConstraintViolation",
        "OccurrenceConstraintViolation",
    ),
    (
        ErrorCode.PROPERTY_CONSTRAINT_VIOLATION,
        "PropertyConstraintViolation",
        "PropertyConstraintViolation",
    ),
    (ErrorCode.PROTOCOL_ERROR, "ProtocolError", "ProtocolError"),
    (ErrorCode.RPC_FRAMEWORK_ERROR, "FormationViolation", "RpcFrameworkError"),
    (ErrorCode.SECURITY_ERROR, "SecurityError", "SecurityError"),
    (ErrorCode.TYPE_CONSTRAINT_VIOLATION, "TypeConstraintViolation", "TypeConstraintViolation"),
]


def test_spelling_table_covers_every_code():
    """The pinned spelling table below lists every neutral error code exactly once."""
    assert sorted(row[0] for row in SPELLING) == sorted(ErrorCode)


@pytest.mark.parametrize(("code", "v16", "v2"), SPELLING, ids=[row[0].name for row in SPELLING])
def test_error_code_spelling_follows_the_version(code, v16, v2):
    """1.6 gets its own typos and substitutes; 2.0.1 and 2.1 get the Part 4 Table 8 names."""
    assert error_code_name(code, V16) == v16
    assert error_code_name(code, V201) == v2
    assert error_code_name(code, V21) == v2


@pytest.mark.parametrize("version", list(OcppVersion))
def test_only_names_of_the_version_are_ever_sent(version):
    """Every code maps to a name that exists in the negotiated version's table."""
    assert {error_code_name(code, version) for code in ErrorCode} <= NAMES[version]


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("FormationViolation", ErrorCode.FORMAT_VIOLATION),
        ("FormatViolation", ErrorCode.FORMAT_VIOLATION),
        ("OccurenceConstraintViolation", ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION),
        ("OccurrenceConstraintViolation", ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION),
        ("RpcFrameworkError", ErrorCode.RPC_FRAMEWORK_ERROR),
        ("MessageTypeNotSupported", ErrorCode.MESSAGE_TYPE_NOT_SUPPORTED),
        ("NotImplemented", ErrorCode.NOT_IMPLEMENTED),
        ("GenericError", ErrorCode.GENERIC_ERROR),
    ],
)
def test_received_error_codes_are_read_in_either_spelling(name, code):
    """Both the 1.6 typos and the 2.0.1 spellings are understood on receive."""
    assert parse_error_code(name) is code


@pytest.mark.parametrize("name", ["", "formatviolation", "Formation Violation", "NoError"])
def test_unknown_error_codes_are_not_guessed(name):
    """A code outside both tables reads as None rather than a near match."""
    assert parse_error_code(name) is None


# --- framing errors: the exact reply for every case in RELIABILITY.md §2.2 --------------

NOT_JSON = "Message is not valid JSON"
NOT_UTF8 = "Message is not valid UTF-8"

# (input, version, exact reply or None, message_id the caller learns)
FRAMING_ERRORS: list[tuple[str | bytes, OcppVersion, str | None, str | None]] = [
    # Text that is not JSON, id recoverable: answered on every version.
    (
        '[2,"19223201","StopTransaction",{"transactionId":,"meterStop":5}]',
        V16,
        '[4,"19223201","FormationViolation","Message is not valid JSON",{}]',
        "19223201",
    ),
    (
        '[2,"19223201","TransactionEvent",{"seqNo":,}]',
        V201,
        '[4,"19223201","FormatViolation","Message is not valid JSON",{}]',
        "19223201",
    ),
    # Not JSON and no id in sight: "-1" on 2.x, ignored on 1.6.
    ("hello", V16, None, None),
    ("hello", V201, '[4,"-1","RpcFrameworkError","Message is not valid JSON",{}]', None),
    ("", V201, '[4,"-1","RpcFrameworkError","Message is not valid JSON",{}]', None),
    # Non-standard constants are not JSON.
    (
        '[2,"a","MeterValues",{"v":NaN}]',
        V16,
        '[4,"a","FormationViolation","Message is not valid JSON",{}]',
        "a",
    ),
    (
        '[2,"a","MeterValues",{"v":Infinity}]',
        V201,
        '[4,"a","FormatViolation","Message is not valid JSON",{}]',
        "a",
    ),
    (
        '[2,"a","MeterValues",{"v":-Infinity}]',
        V201,
        '[4,"a","FormatViolation","Message is not valid JSON",{}]',
        "a",
    ),
    (
        '[2,"a","MeterValues",{"v":1e400}]',
        V16,
        '[4,"a","FormationViolation","Message is not valid JSON",{}]',
        "a",
    ),
    # Invalid UTF-8.
    (
        b'[2,"a","Authorize",{"idTag":"\xff\xfe"}]',
        V16,
        '[4,"a","FormationViolation","Message is not valid UTF-8",{}]',
        "a",
    ),
    (
        b'[2,"a","Authorize",{"idTag":"\xc3"}]',
        V201,
        '[4,"a","FormatViolation","Message is not valid UTF-8",{}]',
        "a",
    ),
    (b"\xff", V201, '[4,"-1","RpcFrameworkError","Message is not valid UTF-8",{}]', None),
    (b"\xff", V16, None, None),
    # Valid JSON that is not an array, or an empty one.
    ('{"a":1}', V16, None, None),
    ('{"a":1}', V201, '[4,"-1","RpcFrameworkError","Message is not a JSON array",{}]', None),
    ("[]", V16, None, None),
    ("[]", V201, '[4,"-1","RpcFrameworkError","Message is not a JSON array",{}]', None),
    ('"[2]"', V21, '[4,"-1","RpcFrameworkError","Message is not a JSON array",{}]', None),
    # Unknown MessageTypeId: ignored on 1.6 (errata), MessageTypeNotSupported on 2.x.
    ('[7,"a","Heartbeat",{}]', V16, None, "a"),
    (
        '[7,"a","Heartbeat",{}]',
        V201,
        '[4,"a","MessageTypeNotSupported","MessageTypeId 7 is not supported",{}]',
        "a",
    ),
    ("[7]", V201, '[4,"-1","RpcFrameworkError","MessageTypeId 7 is not supported",{}]', None),
    (
        '[5,"a","FormatViolation","",{}]',
        V201,
        '[4,"a","MessageTypeNotSupported","MessageTypeId 5 is not supported",{}]',
        "a",
    ),
    (
        '[6,"a","NotifyPeriodicEventStream",{}]',
        V201,
        '[4,"a","MessageTypeNotSupported","MessageTypeId 6 is not supported",{}]',
        "a",
    ),
    ('[5,"a","FormatViolation","",{}]', V16, None, "a"),
    # MessageTypeId that is not an integer.
    ('["2","a","Heartbeat",{}]', V16, None, "a"),
    (
        '["2","a","Heartbeat",{}]',
        V201,
        '[4,"a","RpcFrameworkError","MessageTypeId is not an integer",{}]',
        "a",
    ),
    (
        '[2.0,"a","Heartbeat",{}]',
        V201,
        '[4,"a","RpcFrameworkError","MessageTypeId is not an integer",{}]',
        "a",
    ),
    (
        '[true,"a","Heartbeat",{}]',
        V201,
        '[4,"a","RpcFrameworkError","MessageTypeId is not an integer",{}]',
        "a",
    ),
    (
        "[null]",
        V201,
        '[4,"-1","RpcFrameworkError","MessageTypeId is not an integer",{}]',
        None,
    ),
    # messageId that is not a string, or missing.
    ('[2,19223201,"Heartbeat",{}]', V16, None, None),
    (
        '[2,19223201,"Heartbeat",{}]',
        V201,
        '[4,"-1","RpcFrameworkError","MessageId is not a string",{}]',
        None,
    ),
    ("[2]", V201, '[4,"-1","RpcFrameworkError","MessageId is not a string",{}]', None),
    ("[2]", V16, None, None),
    # messageId longer than 36 characters: refused, but echoed so the peer can match it.
    (
        f'[2,"{LONG_ID}","Heartbeat",{{}}]',
        V16,
        f'[4,"{LONG_ID}","FormationViolation","MessageId is longer than 36 characters",{{}}]',
        LONG_ID,
    ),
    (
        f'[2,"{LONG_ID}","Heartbeat",{{}}]',
        V201,
        f'[4,"{LONG_ID}","RpcFrameworkError","MessageId is longer than 36 characters",{{}}]',
        LONG_ID,
    ),
    # Wrong arity.
    (
        '[2,"a","Heartbeat"]',
        V16,
        '[4,"a","FormationViolation","CALL must have 4 elements, not 3",{}]',
        "a",
    ),
    (
        '[2,"a","Heartbeat",{},{}]',
        V201,
        '[4,"a","RpcFrameworkError","CALL must have 4 elements, not 5",{}]',
        "a",
    ),
    # Action that is not a string.
    (
        '[2,"a",42,{}]',
        V16,
        '[4,"a","FormationViolation","CALL action is not a string",{}]',
        "a",
    ),
    (
        '[2,"a",null,{}]',
        V201,
        '[4,"a","RpcFrameworkError","CALL action is not a string",{}]',
        "a",
    ),
    # Payload that is not an object; null included (payloads should be {}).
    (
        '[2,"a","Heartbeat",null]',
        V16,
        '[4,"a","FormationViolation","CALL payload is not a JSON object",{}]',
        "a",
    ),
    (
        '[2,"a","Heartbeat",null]',
        V201,
        '[4,"a","FormatViolation","CALL payload is not a JSON object",{}]',
        "a",
    ),
    (
        '[2,"a","Heartbeat",[]]',
        V21,
        '[4,"a","FormatViolation","CALL payload is not a JSON object",{}]',
        "a",
    ),
    # Unpaired surrogate escapes: valid JSON grammar, but no Unicode text.
    (
        '[2,"a","Authorize",{"idTag":"\\ud800"}]',
        V16,
        '[4,"a","FormationViolation","Message contains an unpaired UTF-16 surrogate escape",{}]',
        "a",
    ),
    (
        '[2,"a","Authorize",{"idTag":"x\\udc00"}]',
        V201,
        '[4,"a","FormatViolation","Message contains an unpaired UTF-16 surrogate escape",{}]',
        "a",
    ),
    # Broken replies are never answered with a CALLERROR (1.6, 2.0.1).
    ('[3,"a",null]', V16, None, "a"),
    ('[3,"a"]', V201, None, "a"),
    ('[3,"a",{"status":NaN}]', V201, None, "a"),
    ('[4,"a","GenericError","oops",[]]', V16, None, "a"),
    ('[4,"a","GenericError"]', V201, None, "a"),
    ('[4,"a",5,"oops",{}]', V201, None, "a"),
    ('[4,"a","GenericError",null,{}]', V201, None, "a"),
    # 2.1 answers a broken CALLRESULT with CALLRESULTERROR, nothing else.
    (
        '[3,"a",null]',
        V21,
        '[5,"a","FormatViolation","CALLRESULT payload is not a JSON object",{}]',
        "a",
    ),
    (
        '[3,"a",{},{}]',
        V21,
        '[5,"a","RpcFrameworkError","CALLRESULT must have 3 elements, not 4",{}]',
        "a",
    ),
    (
        '[3,"a",{"status":}]',
        V21,
        '[5,"a","FormatViolation","Message is not valid JSON",{}]',
        "a",
    ),
    ('[4,"a","GenericError","",7]', V21, None, "a"),
    ('[5,"a","GenericError","",7]', V21, None, "a"),
    ('[6,"a","NotifyPeriodicEventStream",null]', V21, None, "a"),
    ('[6,"a",1,{}]', V21, None, "a"),
    ('[6,"a","NotifyPeriodicEventStream"]', V21, None, "a"),
    ("[6]", V21, '[4,"-1","RpcFrameworkError","MessageId is not a string",{}]', None),
]


@pytest.mark.parametrize(("raw", "version", "reply", "message_id"), FRAMING_ERRORS)
def test_framing_errors_get_the_exact_reply_the_version_requires(raw, version, reply, message_id):
    """Each bad frame is answered exactly as the version's OCPP-J text says, or ignored."""
    result = decode(raw, version)

    assert isinstance(result, Malformed)
    assert result.reply == reply
    assert result.message_id == message_id
    assert result.reason.startswith(json.loads(reply)[3] if reply else "")
    assert_well_formed(result, version)


def test_the_log_reason_carries_the_parser_detail_but_the_reply_does_not():
    """The reason says where the JSON broke; the reply keeps a stable description."""
    result = decode('[2,"a","Heartbeat",{"x":}]', V16)

    assert isinstance(result, Malformed)
    assert result.reason.startswith("Message is not valid JSON: Expecting value")
    assert result.reply == '[4,"a","FormationViolation","Message is not valid JSON",{}]'


@pytest.mark.parametrize(
    ("raw", "version", "reply"),
    [
        # A leading BOM makes the text invalid JSON, yet the id is still recovered.
        (
            '\ufeff[2,"a","Heartbeat",{}]',
            V16,
            '[4,"a","FormationViolation","Message is not valid JSON",{}]',
        ),
        # Escapes inside the recovered id are decoded and re-encoded.
        (
            ' [ 2 ,\t"a\\"b" , "Heartbeat",{]',
            V201,
            '[4,"a\\"b","FormatViolation","Message is not valid JSON",{}]',
        ),
        # Unknown type on 2.x: answered with the recovered id; on 1.6 ignored.
        ('[9,"a",{]', V201, '[4,"a","FormatViolation","Message is not valid JSON",{}]'),
        ('[9,"a",{]', V16, None),
        # A reply frame is not answered, on 1.6 or 2.0.1.
        ('[3,"a",{]', V16, None),
        ('[4,"a",{]', V201, None),
        # Ids the scan cannot echo faithfully count as unreadable.
        (
            '[2,"a\\x","Heartbeat",{]',
            V201,
            '[4,"-1","RpcFrameworkError","Message is not valid JSON",{}]',
        ),
        ('[2,"a\\x","Heartbeat",{]', V16, None),
        (
            f'[2,"{LONG_ID}","Heartbeat",{{]',
            V201,
            '[4,"-1","RpcFrameworkError","Message is not valid JSON",{}]',
        ),
        (
            b'[2,"a\xff","Heartbeat",{]',
            V201,
            '[4,"-1","RpcFrameworkError","Message is not valid UTF-8",{}]',
        ),
        # Non-ASCII digits are not a MessageTypeId.
        ('[\u0662,"a",{]', V201, '[4,"-1","RpcFrameworkError","Message is not valid JSON",{}]'),
    ],
)
def test_a_tolerant_scan_recovers_the_id_of_text_that_is_not_json(raw, version, reply):
    """Only the start ``[<type>,"<id>"`` is scanned; the rules for ignoring still apply."""
    result = decode(raw, version)

    assert isinstance(result, Malformed)
    assert result.reply == reply


def test_a_lone_surrogate_character_in_text_input_is_not_utf8():
    """A str that could not have come from UTF-8 is refused, and the reply escapes the id."""
    result = decode('[2,"a\ud800","Heartbeat",{}]', V16)

    assert isinstance(result, Malformed)
    assert result.reply == '[4,"a\\ud800","FormationViolation","Message is not valid UTF-8",{}]'
    assert_well_formed(result, V16)


def test_an_unpaired_surrogate_in_the_message_id_is_refused_and_the_reply_stays_sendable():
    """The id is echoed as a JSON escape, so the reply is still valid UTF-8."""
    result = decode('[2,"a\\udfff","Heartbeat",{}]', V201)

    assert isinstance(result, Malformed)
    assert result.reply == (
        '[4,"a\\udfff","FormatViolation","Message contains an unpaired UTF-16 surrogate escape",{}]'
    )
    assert_well_formed(result, V201)


@pytest.mark.parametrize(
    "text",
    [
        '[2,"a","DataTransfer",{"data":"\\ud83d\\ude00"}]',  # a proper pair
        '[2,"a","DataTransfer",{"data":"\\\\ud800"}]',  # an escaped backslash, then text
        '[2,"a","DataTransfer",{"data":["\\\\ud800",1,{"k":"é"}],"n":null}]',
    ],
)
def test_text_that_only_looks_like_a_surrogate_escape_is_accepted(text):
    """Proper surrogate pairs and escaped backslashes are ordinary text."""
    result = decode(text, V201)

    assert isinstance(result, Call)
    assert result.payload == json.loads(text)[3]


def test_nesting_deeper_than_the_parser_allows_is_refused_not_raised():
    """A pathologically deep payload is an invalid message, never an exception."""
    depth = 100_000
    result = decode('[2,"a","DataTransfer",{"d":' + "[" * depth + "]" * depth + "}]", V201)

    assert isinstance(result, Malformed)
    assert result.reply == '[4,"a","FormatViolation","Message is not valid JSON",{}]'


def test_integers_too_long_to_convert_are_refused_not_raised():
    """Python's int-digit limit surfaces as invalid JSON."""
    result = decode('[2,"a","DataTransfer",{"n":' + "9" * 5000 + "}]", V16)

    assert isinstance(result, Malformed)
    assert result.reply == '[4,"a","FormationViolation","Message is not valid JSON",{}]'


# --- well-formed frames ----------------------------------------------------------------


@pytest.mark.parametrize("version", list(OcppVersion))
def test_a_call_decodes_from_text_or_bytes(version):
    """A CALL reads the same whether the websocket gave text or bytes."""
    text = '[2,"19223201","StatusNotification",{"connectorId":1,"status":"Available"}]'
    expected = Call(
        message_id="19223201",
        action="StatusNotification",
        payload={"connectorId": 1, "status": "Available"},
    )

    assert decode(text, version) == expected
    assert decode(text.encode(), version) == expected


def test_non_ascii_text_is_accepted():
    """Valid UTF-8 beyond ASCII is ordinary content."""
    result = decode('[2,"ä","DataTransfer",{"vendorId":"Größe €"}]', V16)

    assert result == Call(message_id="ä", action="DataTransfer", payload={"vendorId": "Größe €"})


def test_an_empty_message_id_and_an_exactly_36_character_id_are_accepted():
    """The limit is "at most 36"; emptiness is not forbidden."""
    assert decode('[3,"",{}]', V16) == CallResult(message_id="", payload={})
    assert decode(f'[3,"{"y" * 36}",{{}}]', V16) == CallResult(message_id="y" * 36, payload={})


def test_a_callerror_keeps_the_code_as_received_and_reads_it_in_either_spelling():
    """The raw code is kept for the log; `error_code` maps both spellings."""
    result = decode('[4,"a","OccurenceConstraintViolation","missing",{"f":"idTag"}]', V201)

    assert result == CallError(
        message_id="a",
        code="OccurenceConstraintViolation",
        description="missing",
        details={"f": "idTag"},
    )
    assert isinstance(result, CallError)
    assert result.error_code is ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION


def test_a_callerror_with_null_details_is_accepted_with_empty_details():
    """Null errorDetails are a harmless encoder artefact, not a reason to time out our CALL."""
    result = decode('[4,"a","Vendor","",null]', V16)

    assert result == CallError(message_id="a", code="Vendor", description="", details={})
    assert isinstance(result, CallError)
    assert result.error_code is None


def test_v21_decodes_callresulterror_and_send():
    """2.1 adds MessageTypeId 5 (CALLRESULTERROR) and 6 (SEND)."""
    error = decode('[5,"a","FormatViolation","bad result",{}]', V21)
    send = decode('[6,"b","NotifyPeriodicEventStream",{"id":1}]', V21)

    assert error == CallResultError(
        message_id="a", code="FormatViolation", description="bad result", details={}
    )
    assert isinstance(error, CallResultError)
    assert error.error_code is ErrorCode.FORMAT_VIOLATION
    assert send == Send(message_id="b", action="NotifyPeriodicEventStream", payload={"id": 1})


def test_message_type_values_are_the_wire_numbers():
    """The MessageTypeId numbers are those of OCPP-J 1.6 and 2.1 Part 4."""
    assert [int(t) for t in MessageType] == [2, 3, 4, 5, 6]


# --- encoding --------------------------------------------------------------------------


def test_frames_encode_compactly_and_keep_unicode():
    """No spaces after separators, and non-ASCII stays as UTF-8 text rather than escapes."""
    assert encode_call("1", "Reset", {"type": "Soft"}) == '[2,"1","Reset",{"type":"Soft"}]'
    assert encode_result("1", {"idTagInfo": {"status": "Accepted"}}) == (
        '[3,"1",{"idTagInfo":{"status":"Accepted"}}]'
    )
    assert encode_result("ü", {"text": "Grüße"}) == '[3,"ü",{"text":"Grüße"}]'


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        (V16, '[4,"1","OccurenceConstraintViolation","missing idTag",{"field":"idTag"}]'),
        (V201, '[4,"1","OccurrenceConstraintViolation","missing idTag",{"field":"idTag"}]'),
        (V21, '[4,"1","OccurrenceConstraintViolation","missing idTag",{"field":"idTag"}]'),
    ],
)
def test_callerror_uses_the_spelling_of_the_version(version, expected):
    """encode_error spells the code for the negotiated version."""
    code = ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION
    text = encode_error(version, "1", code, "missing idTag", {"field": "idTag"})

    assert text == expected


def test_error_descriptions_are_cut_to_255_characters():
    """errorDescription is at most 255 characters (OCPP 2.0.1 Part 4)."""
    reply = json.loads(encode_error(V201, "1", ErrorCode.INTERNAL_ERROR, "é" * 1000))
    result_error = json.loads(encode_result_error("1", ErrorCode.INTERNAL_ERROR, "z" * 300))

    assert reply[3] == "é" * 255
    assert result_error[3] == "z" * 255


@pytest.mark.parametrize("details", [{"when": object()}, {"ratio": float("nan")}])
def test_error_details_that_cannot_be_serialized_are_dropped_not_raised(details):
    """An error path must still produce its reply."""
    assert encode_error(V16, "1", ErrorCode.INTERNAL_ERROR, "boom", details) == (
        '[4,"1","InternalError","boom",{}]'
    )


def test_callresulterror_encodes_with_the_v21_spelling():
    """CALLRESULTERROR exists only in 2.1, so it always uses the 2.1 names."""
    assert encode_result_error("1", ErrorCode.FORMAT_VIOLATION, "bad") == (
        '[5,"1","FormatViolation","bad",{}]'
    )


def test_outbound_payloads_never_carry_nan():
    """NaN is not JSON; encoding it is a programming error and raises."""
    with pytest.raises(ValueError, match="not JSON compliant"):
        encode_call("1", "SetChargingProfile", {"limit": float("nan")})


# --- properties ------------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
payloads = st.dictionaries(st.text(max_size=12), json_values, max_size=5)
message_ids = st.text(max_size=36)
versions = st.sampled_from(list(OcppVersion))


@given(raw=st.binary(), version=versions)
def test_decode_never_raises_on_bytes(raw, version):
    """Any bytes give a frame or a Malformed whose reply is a valid CALLERROR."""
    assert_well_formed(decode(raw, version), version)


@given(raw=st.text(), version=versions)
def test_decode_never_raises_on_text(raw, version):
    """Any text gives a frame or a Malformed whose reply is a valid CALLERROR."""
    assert_well_formed(decode(raw, version), version)


surrogates = st.characters(categories=["Cs"])


@given(
    message_id=st.text(alphabet=surrogates | st.sampled_from("a\\"), max_size=5),
    text=st.text(alphabet=surrogates | st.sampled_from('[]{}",:2a\\'), max_size=30),
)
def test_decode_never_raises_on_text_with_surrogates(message_id, text):
    """Even text no UTF-8 peer could send is handled, and replies stay sendable."""
    for raw in (text, f'[2,"{message_id}","X",{{}}]', f'[2,"{message_id}",{text}'):
        for version in OcppVersion:
            assert_well_formed(decode(raw, version), version)


frame_elements = st.one_of(
    st.integers(min_value=-1, max_value=8),
    st.text(max_size=40),
    st.just("x" * 37),
    st.none(),
    st.booleans(),
    st.floats(),
    payloads,
    st.lists(json_values, max_size=3),
)


@given(elements=st.lists(frame_elements, max_size=6), version=versions)
def test_decode_never_raises_on_structured_near_miss_frames(elements, version):
    """Arrays of the right kinds of things in the wrong places never raise."""
    assert_well_formed(decode(json.dumps(elements), version), version)


@st.composite
def mutated_frames(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from([2, 3, 4, 5, 6]))
    frame: list[Any] = [kind, draw(message_ids)]
    if kind in (2, 6):
        frame += [draw(st.text(max_size=20)), draw(payloads)]
    elif kind == 3:
        frame.append(draw(payloads))
    else:
        frame += [draw(st.text(max_size=10)), draw(st.text(max_size=10)), draw(payloads)]
    text = json.dumps(frame, ensure_ascii=draw(st.booleans()))
    cut = draw(st.integers(min_value=0, max_value=len(text)))
    action = draw(st.sampled_from(["truncate", "insert", "delete", "keep"]))
    if action == "truncate":
        return text[:cut]
    if action == "insert":
        return text[:cut] + draw(st.sampled_from(list(',:"[]{}\\nN -0e\x00'))) + text[cut:]
    if action == "delete":
        return text[:cut] + text[cut + 1 :]
    return text


@given(text=mutated_frames(), version=versions)
def test_decode_never_raises_on_mutated_valid_frames(text, version):
    """Truncated, spliced or damaged real frames never raise and get well-formed replies."""
    assert_well_formed(decode(text, version), version)
    assert_well_formed(decode(text.encode("utf-8", "surrogatepass"), version), version)


@given(message_id=message_ids, action=st.text(max_size=30), payload=payloads, version=versions)
def test_a_call_survives_encode_then_decode(message_id, action, payload, version):
    """decode(encode_call(...)) gives back the same CALL."""
    decoded = decode(encode_call(message_id, action, payload), version)

    assert decoded == Call(message_id=message_id, action=action, payload=payload)


@given(message_id=message_ids, payload=payloads, version=versions)
def test_a_callresult_survives_encode_then_decode(message_id, payload, version):
    """decode(encode_result(...)) gives back the same CALLRESULT."""
    decoded = decode(encode_result(message_id, payload), version)

    assert decoded == CallResult(message_id=message_id, payload=payload)


@given(
    message_id=message_ids,
    code=st.sampled_from(list(ErrorCode)),
    description=st.text(max_size=300),
    details=payloads,
    version=versions,
)
def test_a_callerror_survives_encode_then_decode(message_id, code, description, details, version):
    """decode(encode_error(...)) gives back the code, the cut description and the details."""
    decoded = decode(encode_error(version, message_id, code, description, details), version)

    assert isinstance(decoded, CallError)
    assert decoded.message_id == message_id
    assert decoded.code == error_code_name(code, version)
    assert decoded.description == description[:255]
    assert decoded.details == details
    assert decoded.error_code is parse_error_code(error_code_name(code, version))


@given(message_id=message_ids, code=st.sampled_from(list(ErrorCode)), details=payloads)
def test_a_callresulterror_survives_encode_then_decode(message_id, code, details):
    """decode(encode_result_error(...)) on 2.1 gives back the same CALLRESULTERROR."""
    decoded = decode(encode_result_error(message_id, code, "why", details), V21)

    assert decoded == CallResultError(
        message_id=message_id, code=code.value, description="why", details=details
    )


@given(st.text(max_size=40))
def test_an_empty_result_is_framed_as_any_other_result(message_id: str) -> None:
    """The short path for ``{}`` answers writes what the general encoder writes, lone
    surrogates in the echoed id included."""
    general = encode_result(message_id, {"k": 1})
    assert encode_result(message_id, {}) == general[: -len('{"k":1}]')] + "{}]"
