"""Pure: OCPP-J websocket text <-> RPC frames, with the version-correct CALLERROR for bad frames.

Sources (see RELIABILITY.md §2.2): OCPP-J 1.6 §4 and its errata sheet (OCPPJ16, OCPPJ16-ERR),
OCPP 2.0.1 Part 4 §4 (OCPP201-P4, Table 8 for the error codes) and OCPP 2.1 Part 4, which adds
CALLRESULTERROR (MessageTypeId 5) and SEND (6).

How a frame that cannot be used is answered (`Malformed.reply`):

* The messageId cannot be read: 2.0.1/2.1 answer CALLERROR ``"-1"`` RpcFrameworkError
  (OCPP201-P4 §4.2.3), whatever the frame type, as ``"-1"`` cannot be taken for the answer
  to anything. 1.6 has no such rule and no id to answer to, so the frame is ignored.
* An unknown or non-integer MessageTypeId (5 and 6 included, before 2.1): 2.0.1/2.1 answer
  MessageTypeNotSupported or RpcFrameworkError; 1.6 ignores it ("SHALL be ignored",
  OCPPJ16-ERR).
* A broken CALL whose messageId can be read is answered with a CALLERROR carrying that id, on
  every version. For 1.6 this includes text that is not valid JSON, when a tolerant scan of
  its start (``[2,"<id>"``) recovers the id: the errata says a failure to process a message
  SHALL be reported as a CALLERROR, and a charger left without an answer waits for its
  timeout and then re-sends the same broken frame while its single in-flight CALL slot stays
  blocked (OCPPJ16 §4.1.1, RELIABILITY.md §2.3 and quirk 9 in §2.7).
* A broken CALLRESULT or CALLERROR is never answered with a CALLERROR: a CALLERROR is a reply
  to a CALL, and its id (which the charger took from our CALL) could match one of the
  charger's own pending CALLs and be taken as the answer to it. On 2.1 a broken CALLRESULT is
  answered with the CALLRESULTERROR made for exactly this case. A broken SEND is not
  answered: SEND never gets a reply.

Error codes chosen on 2.0.1/2.1 (Table 8 wording): text that is not JSON, and a payload that
is not an object (including ``null``: the frame syntax is ``{<payload>}`` and payloads
"should be {} rather than null"), are FormatViolation ("syntactically incorrect"); a frame
of the wrong shape (arity, messageId or action of the wrong type) is RpcFrameworkError ("not
a valid RPC Request"). On 1.6 both are FormationViolation ("syntactically incorrect or not
conform the PDU structure").
"""

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from typing import Any, Final

MAX_MESSAGE_ID_LENGTH: Final = 36
MAX_DESCRIPTION_LENGTH: Final = 255
UNREADABLE_MESSAGE_ID: Final = "-1"


class OcppVersion(StrEnum):
    """An OCPP-J version, spelled as its websocket subprotocol."""

    V16 = "ocpp1.6"
    V201 = "ocpp2.0.1"
    V21 = "ocpp2.1"


class MessageType(IntEnum):
    """The MessageTypeId, the first element of every frame."""

    CALL = 2
    CALLRESULT = 3
    CALLERROR = 4
    CALLRESULTERROR = 5  # 2.1 only
    SEND = 6  # 2.1 only


# Plain ints for the hot path: reading an enum member costs more than the comparison.
_CALL: Final = 2
_CALLRESULT: Final = 3
_CALLERROR: Final = 4
_CALLRESULTERROR: Final = 5
_SEND: Final = 6

_KNOWN_TYPES: Final[Mapping[OcppVersion, frozenset[int]]] = {
    OcppVersion.V16: frozenset({_CALL, _CALLRESULT, _CALLERROR}),
    OcppVersion.V201: frozenset({_CALL, _CALLRESULT, _CALLERROR}),
    OcppVersion.V21: frozenset({_CALL, _CALLRESULT, _CALLERROR, _CALLRESULTERROR, _SEND}),
}


class ErrorCode(StrEnum):
    """The RPC error codes, version-neutral; the values are the 2.0.1/2.1 spellings.

    Use `error_code_name` to put one on the wire and `parse_error_code` to read one.
    """

    FORMAT_VIOLATION = "FormatViolation"
    GENERIC_ERROR = "GenericError"
    INTERNAL_ERROR = "InternalError"
    MESSAGE_TYPE_NOT_SUPPORTED = "MessageTypeNotSupported"
    NOT_IMPLEMENTED = "NotImplemented"
    NOT_SUPPORTED = "NotSupported"
    OCCURRENCE_CONSTRAINT_VIOLATION = "OccurrenceConstraintViolation"
    PROPERTY_CONSTRAINT_VIOLATION = "PropertyConstraintViolation"
    PROTOCOL_ERROR = "ProtocolError"
    RPC_FRAMEWORK_ERROR = "RpcFrameworkError"
    SECURITY_ERROR = "SecurityError"
    TYPE_CONSTRAINT_VIOLATION = "TypeConstraintViolation"


# 1.6 keeps two typos on purpose ("Do not fix, this is a message level change", OCPPJ16-ERR
# §5.1/5.2) and lacks the two 2.0.1 framework codes. RpcFrameworkError ("not a valid RPC
# Request") becomes FormationViolation, whose 1.6 text covers a frame that does "not conform
# the PDU structure". MessageTypeNotSupported has no 1.6 counterpart (1.6 ignores unknown
# types), so GenericError, "any other error not covered by the previous ones".
_V16_NAMES: Final[Mapping[ErrorCode, str]] = {
    ErrorCode.FORMAT_VIOLATION: "FormationViolation",
    ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION: "OccurenceConstraintViolation",
    ErrorCode.RPC_FRAMEWORK_ERROR: "FormationViolation",
    ErrorCode.MESSAGE_TYPE_NOT_SUPPORTED: "GenericError",
}

_BY_NAME: Final[Mapping[str, ErrorCode]] = {
    **{code.value: code for code in ErrorCode},
    "FormationViolation": ErrorCode.FORMAT_VIOLATION,
    "OccurenceConstraintViolation": ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION,
}


def error_code_name(code: ErrorCode, version: OcppVersion) -> str:
    """The errorCode string to send for `code` on a connection speaking `version`."""
    if version is OcppVersion.V16:
        return _V16_NAMES.get(code, code.value)
    return code.value


def parse_error_code(name: str) -> ErrorCode | None:
    """Read a received errorCode, accepting both the 1.6 and the 2.0.1 spellings.

    Peers mix them up in both directions (RELIABILITY.md §2.2, R-OCPP-ERR-1), so the
    spelling is not checked against the connection's version. None for an unknown code.
    """
    return _BY_NAME.get(name)


@dataclass(frozen=True, slots=True, kw_only=True)
class Call:
    """CALL ``[2, messageId, action, payload]``: a request that expects one reply."""

    message_id: str
    action: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class CallResult:
    """CALLRESULT ``[3, messageId, payload]``: the successful reply to a CALL."""

    message_id: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class CallError:
    """CALLERROR ``[4, messageId, errorCode, errorDescription, errorDetails]``.

    `code` is the errorCode exactly as received; `error_code` reads it.
    """

    message_id: str
    code: str
    description: str
    details: dict[str, Any]

    @property
    def error_code(self) -> ErrorCode | None:
        return parse_error_code(self.code)


@dataclass(frozen=True, slots=True, kw_only=True)
class CallResultError:
    """2.1 CALLRESULTERROR ``[5, messageId, errorCode, errorDescription, errorDetails]``.

    The peer could not process our CALLRESULT with this id. It is never answered.
    """

    message_id: str
    code: str
    description: str
    details: dict[str, Any]

    @property
    def error_code(self) -> ErrorCode | None:
        return parse_error_code(self.code)


@dataclass(frozen=True, slots=True, kw_only=True)
class Send:
    """2.1 SEND ``[6, messageId, action, payload]``: a request that gets no reply at all."""

    message_id: str
    action: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class Malformed:
    """A frame that cannot be used.

    Send `reply` back verbatim (a serialized CALLERROR or CALLRESULTERROR), or send nothing
    when it is None, as the spec says for that case. `reason` is for the log. `message_id`
    is the id that could be read, if any, so that a pending CALL can be failed at once when
    its reply arrives broken.
    """

    reply: str | None
    reason: str
    message_id: str | None = None


Frame = Call | CallResult | CallError | CallResultError | Send

_FRAME_NAMES: Final[Mapping[int, str]] = {int(kind): kind.name for kind in MessageType}
_ARITY: Final[Mapping[int, int]] = {
    _CALL: 4,
    _CALLRESULT: 3,
    _CALLERROR: 5,
    _CALLRESULTERROR: 5,
    _SEND: 4,
}


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):  # e.g. 1e400: valid JSON grammar, but no finite value exists
        raise ValueError(f"number {text[:20]} is out of range")
    return value


_DECODER: Final = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_finite_float)
# The scanner `_DECODER.decode` runs (typeshed does not declare the attribute).
_SCAN_ONCE: Final = _DECODER.scan_once  # type: ignore[attr-defined]
_ENCODER: Final = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)
_ASCII_ENCODER: Final = json.JSONEncoder(separators=(",", ":"), allow_nan=False)

# Any escape in the surrogate range; only then is the parsed message searched for an unpaired
# one (an escaped backslash before "ud800" also matches, which costs a search, nothing more).
_SURROGATE_ESCAPE: Final = re.compile(r"\\u[dD][89a-fA-F]")
# The start of a CALL in text that is not JSON: ``[2,"<id>"``. JSON whitespace only, ASCII
# digits only (``\d`` would take Arabic-Indic digits), and a leading BOM is skipped.
_FRAME_START: Final = re.compile(
    r'[\ufeff \t\n\r]*\[[ \t\n\r]*([0-9]{1,9})[ \t\n\r]*,[ \t\n\r]*"((?:[^"\\\x00-\x1f]|\\.)*)"'
)


def decode(raw: str | bytes, version: OcppVersion) -> Frame | Malformed:
    """Parse one websocket message received on a connection speaking `version`.

    Never raises: anything that is not a well-formed frame comes back as `Malformed`. The
    input must be strict JSON in UTF-8: ``NaN``/``Infinity``, numbers out of float range
    and escapes of unpaired UTF-16 surrogates (which no store can save) are refused.
    Payloads are not checked against the action's schema here (see ocpp_central.validation).
    """
    if isinstance(raw, str):
        text = raw
        if not text.isascii() and not _is_utf8_encodable(text):
            return _unparsable(version, text, "Message is not valid UTF-8", None)
    else:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            return _unparsable(
                version, raw.decode("utf-8", "replace"), "Message is not valid UTF-8", str(exc)
            )
    try:
        message = _loads(text)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
        return _unparsable(version, text, "Message is not valid JSON", str(exc))
    frame = _frame(message, version)
    if (
        not isinstance(frame, Malformed)
        and _SURROGATE_ESCAPE.search(text) is not None
        and _has_unpaired_surrogate(message)
    ):
        return _refuse(
            version,
            message[0],
            frame.message_id,
            ErrorCode.FORMAT_VIOLATION,
            "Message contains an unpaired UTF-16 surrogate escape",
        )
    return frame


def _loads(text: str) -> Any:
    """``_DECODER.decode(text)``, with its errors, for a frame as chargers send it.

    ``JSONDecoder.decode`` wraps the scanner in two Python calls and two whitespace
    matches; a frame with nothing around its JSON value needs none of them. Anything else
    (whitespace around it, a second value, no value) goes through ``decode`` for its
    verdict and error message.
    """
    try:
        message, end = _SCAN_ONCE(text, 0)
    except StopIteration:
        return _DECODER.decode(text)
    if end != len(text):
        return _DECODER.decode(text)
    return message


_new = object.__new__
_set = object.__setattr__


def _well_formed_call(message_id: str, action: str, payload: dict[str, Any]) -> Call:
    """``Call(...)`` for the hot path: the frozen dataclass's ``__init__`` costs twice this."""
    call: Call = _new(Call)
    _set(call, "message_id", message_id)
    _set(call, "action", action)
    _set(call, "payload", payload)
    return call


def _frame(message: Any, version: OcppVersion) -> Frame | Malformed:
    # Nearly every frame is a well-formed CALL: recognised in one test, the checks below
    # being what it passes (a CALL is known to every version).
    if (
        type(message) is list
        and len(message) == 4
        and type(message[0]) is int
        and message[0] == _CALL
        and type(message[1]) is str
        and len(message[1]) <= MAX_MESSAGE_ID_LENGTH
        and type(message[2]) is str
        and type(message[3]) is dict
    ):
        return _well_formed_call(message[1], message[2], message[3])
    if type(message) is not list or not message:
        return _refuse(
            version, None, None, ErrorCode.RPC_FRAMEWORK_ERROR, "Message is not a JSON array"
        )
    kind = message[0]
    message_id = message[1] if len(message) > 1 and type(message[1]) is str else None
    if type(kind) is not int:  # also refuses true/false and 2.0
        return _refuse(
            version,
            None,
            message_id,
            ErrorCode.RPC_FRAMEWORK_ERROR,
            "MessageTypeId is not an integer",
        )
    if kind not in _KNOWN_TYPES[version]:
        return _refuse(
            version,
            None,
            message_id,
            ErrorCode.MESSAGE_TYPE_NOT_SUPPORTED,
            f"MessageTypeId {kind} is not supported",
        )
    if message_id is None:
        return _refuse(
            version, kind, None, ErrorCode.RPC_FRAMEWORK_ERROR, "MessageId is not a string"
        )
    if len(message_id) > MAX_MESSAGE_ID_LENGTH:
        # Still echoed: the id is readable and lets the peer match the error to its request.
        return _refuse(
            version,
            kind,
            message_id,
            ErrorCode.RPC_FRAMEWORK_ERROR,
            f"MessageId is longer than {MAX_MESSAGE_ID_LENGTH} characters",
        )
    if len(message) != _ARITY[kind]:
        return _refuse(
            version,
            kind,
            message_id,
            ErrorCode.RPC_FRAMEWORK_ERROR,
            f"{_FRAME_NAMES[kind]} must have {_ARITY[kind]} elements, not {len(message)}",
        )
    if kind in (_CALL, _SEND):
        return _call(version, kind, message_id, message[2], message[3])
    if kind == _CALLRESULT:
        payload = message[2]
        if type(payload) is not dict:
            return _refuse(
                version,
                kind,
                message_id,
                ErrorCode.FORMAT_VIOLATION,
                "CALLRESULT payload is not a JSON object",
            )
        return CallResult(message_id=message_id, payload=payload)
    return _error(version, kind, message_id, message[2], message[3], message[4])


def _call(
    version: OcppVersion, kind: int, message_id: str, action: Any, payload: Any
) -> Call | Send | Malformed:
    if type(action) is not str:
        return _refuse(
            version,
            kind,
            message_id,
            ErrorCode.RPC_FRAMEWORK_ERROR,
            f"{_FRAME_NAMES[kind]} action is not a string",
        )
    if type(payload) is not dict:
        return _refuse(
            version,
            kind,
            message_id,
            ErrorCode.FORMAT_VIOLATION,
            f"{_FRAME_NAMES[kind]} payload is not a JSON object",
        )
    # A well-formed CALL is taken by the fast path in ``_frame``: SENDs are what come here.
    kind_of: type[Call] | type[Send] = Send if kind == _SEND else Call
    return kind_of(message_id=message_id, action=action, payload=payload)


def _error(
    version: OcppVersion, kind: int, message_id: str, code: Any, description: Any, details: Any
) -> CallError | CallResultError | Malformed:
    name = _FRAME_NAMES[kind]
    if type(code) is not str or type(description) is not str:
        return _refuse(
            version,
            kind,
            message_id,
            ErrorCode.RPC_FRAMEWORK_ERROR,
            f"{name} errorCode and errorDescription must be strings",
        )
    # Lenient on purpose: ``null`` details are a common encoder artefact, and refusing the
    # frame would only turn the peer's error into a timeout of our pending CALL.
    if details is None:
        details = {}
    if type(details) is not dict:
        return _refuse(
            version,
            kind,
            message_id,
            ErrorCode.FORMAT_VIOLATION,
            f"{name} errorDetails is not a JSON object",
        )
    if kind == _CALLRESULTERROR:
        return CallResultError(
            message_id=message_id, code=code, description=description, details=details
        )
    return CallError(message_id=message_id, code=code, description=description, details=details)


def _unparsable(version: OcppVersion, text: str, description: str, cause: str | None) -> Malformed:
    """Refuse text that is not JSON, answering a CALL whose id a tolerant scan recovers."""
    kind: int | None = None
    message_id: str | None = None
    start = _FRAME_START.match(text)
    if start is not None:
        kind = int(start.group(1))
        try:
            message_id = json.loads(f'"{start.group(2)}"')
        except ValueError:  # a broken escape inside the id itself
            message_id = None
        if message_id is not None and (
            "\ufffd" in message_id or len(message_id) > MAX_MESSAGE_ID_LENGTH
        ):
            message_id = None  # an id we cannot echo faithfully
    if kind is not None and kind not in _KNOWN_TYPES[version]:
        kind = None
    return _refuse(version, kind, message_id, ErrorCode.FORMAT_VIOLATION, description, cause)


def _refuse(
    version: OcppVersion,
    kind: int | None,
    message_id: str | None,
    code: ErrorCode,
    description: str,
    cause: str | None = None,
) -> Malformed:
    """Decide whether and how to answer a bad frame; `kind` None means unknown or unsupported."""
    reason = description if cause is None else f"{description}: {cause}"
    if message_id is None:
        if version is OcppVersion.V16:
            return Malformed(reply=None, reason=reason)
        reply = encode_error(
            version, UNREADABLE_MESSAGE_ID, ErrorCode.RPC_FRAMEWORK_ERROR, description
        )
        return Malformed(reply=reply, reason=reason)
    if kind == _CALL or (kind is None and version is not OcppVersion.V16):
        reply = encode_error(version, message_id, code, description)
        return Malformed(reply=reply, reason=reason, message_id=message_id)
    if kind == _CALLRESULT and version is OcppVersion.V21:
        reply = encode_result_error(message_id, code, description)
        return Malformed(reply=reply, reason=reason, message_id=message_id)
    return Malformed(reply=None, reason=reason, message_id=message_id)


def _has_unpaired_surrogate(message: Any) -> bool:
    # Iterative: the decoder accepted this depth, a recursive walk might not.
    pending = [message]
    while pending:
        item = pending.pop()
        if type(item) is str:
            if not item.isascii() and not _is_utf8_encodable(item):
                return True
        elif type(item) is dict:
            pending.extend(item)
            pending.extend(item.values())
        elif type(item) is list:
            pending.extend(item)
    return False


def _is_utf8_encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# The C encoder `_ENCODER.encode` builds afresh for every frame, made once: frames are
# small, and building it cost as much as the encoding. Without the circular-reference
# check (markers None): frames hold JSON data, and a cycle still fails (RecursionError).
_ENCODE_ONE: Final = c_make_encoder(
    None, _ENCODER.default, encode_basestring, None, ":", ",", False, False, False
)


def _dumps(frame: list[Any] | str) -> str:
    text = "".join(_ENCODE_ONE(frame, 0)) if type(frame) is list else _ENCODER.encode(frame)
    if text.isascii() or _is_utf8_encodable(text):
        return text
    # An unpaired surrogate (say, echoed from a peer's messageId) cannot go out as UTF-8;
    # the \u escape keeps the reply valid JSON that the websocket layer can send.
    return _ASCII_ENCODER.encode(frame)


def encode_call(message_id: str, action: str, payload: Mapping[str, Any]) -> str:
    """Serialize a CALL. Payload values must be JSON types (convert Decimal first)."""
    return _dumps([_CALL, message_id, action, dict(payload)])


def encode_result(message_id: str, payload: Mapping[str, Any] | None) -> str:
    """Serialize a CALLRESULT; ``None`` is the empty payload.

    Payload values must be JSON types (convert Decimal first).
    """
    if not payload:
        # Most answers (MeterValues, StatusNotification) are empty: only the id needs encoding,
        # and an ASCII id cannot hold the unpaired surrogate `_dumps` is wary of.
        if message_id.isascii():
            return f"[{_CALLRESULT},{encode_basestring(message_id)},{{}}]"
        return f"[{_CALLRESULT},{_dumps(message_id)},{{}}]"
    # Handlers answer with a fresh dict: copying it again would change nothing.
    return _dumps([_CALLRESULT, message_id, payload if type(payload) is dict else dict(payload)])


def encode_error(
    version: OcppVersion,
    message_id: str,
    code: ErrorCode,
    description: str,
    details: Mapping[str, Any] | None = None,
) -> str:
    """Serialize a CALLERROR with the errorCode spelling of `version`.

    The description is cut to 255 characters (OCPP201-P4). Error paths must not fail, so
    details that cannot be serialized are replaced by ``{}`` rather than raising.
    """
    return _encode_failure(
        _CALLERROR,
        message_id,
        error_code_name(code, version),
        description,
        details,
    )


def encode_result_error(
    message_id: str,
    code: ErrorCode,
    description: str,
    details: Mapping[str, Any] | None = None,
) -> str:
    """Serialize a 2.1 CALLRESULTERROR: we could not process the peer's CALLRESULT.

    Same rules as `encode_error`; only an ``ocpp2.1`` connection may be sent one.
    """
    return _encode_failure(
        _CALLRESULTERROR,
        message_id,
        error_code_name(code, OcppVersion.V21),
        description,
        details,
    )


def _encode_failure(
    kind: int, message_id: str, name: str, description: str, details: Mapping[str, Any] | None
) -> str:
    text = description[:MAX_DESCRIPTION_LENGTH]
    try:
        return _dumps([kind, message_id, name, text, dict(details or {})])
    except (TypeError, ValueError, RecursionError):  # not JSON types, NaN, or a cycle
        return _dumps([kind, message_id, name, text, {}])
