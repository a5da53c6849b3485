"""Adapter: OCPP payloads checked against the JSON schemas shipped in the `ocpp` package.

Sits between `translate.rpc.decode` and the per-action translators: a CALL whose payload
fails its schema is answered with the `Violation`'s code instead of being translated.
Schemas are read from the installed package and compiled with fastjsonschema on first use
of each action, then shared process-wide (compiling costs milliseconds, checking
microseconds). Call `Validators.warm` at start-up to take that cost off the first messages.

Error codes (OCPP-J 1.6 §4.2.3 and OCPP 2.0.1 Part 4 Table 8, same wording in both):

* TypeConstraintViolation, "at least one of the fields violates data type constraints (e.g.
  "somestring": 12)": ``type``, ``format`` (dateTime is a data type), and ``maxLength``,
  ``minLength``, ``pattern`` (OCPP's data types carry their length: ``CiString20Type``).
* OccurrenceConstraintViolation, "at least one of the fields violates occurrence
  constraints": ``required``, ``minItems``, ``maxItems``. The message tables give each
  field a cardinality (``1..1``, ``0..*``); a missing required field breaks it. The `ocpp`
  package answers ProtocolError here, but 1.6's "Payload for Action is incomplete" and
  2.0.1's "not conform the PDU structure" are the vaguer fits.
* PropertyConstraintViolation, "syntactically correct but at least one field contains an
  invalid value": ``enum``, ``minimum``, ``maximum``, ``multipleOf`` and anything else that
  judges the value of a well-typed field.
* A property the schema does not define (strict mode only, see below): FormationViolation on
  1.6 ("not conform the PDU structure for Action"), ProtocolError on 2.0.1/2.1, where that
  phrase moved.

Leniency (the default, for payloads chargers send us): the 1.6 errata tightened
``additionalProperties: false`` and chargers send extra fields anyway (RELIABILITY.md §2.2),
so unknown properties are ignored (left in the dict, never read by the translators) rather
than refused; and a dateTime without a zone designator is accepted, because refusing a
StopTransaction for it makes the charger retry and finally discard the transaction
(RELIABILITY.md §2.4); translators are to read it as UTC and flag it. ``strict=True``
checks the published schemas (errata applied) and requires the zone, which suits tests of
our own outbound payloads.

1.6 schema errata applied in both modes (OCPPJ16-ERR, RELIABILITY.md §2.2): ``Celsius`` and
the schema typo ``Celcius`` are both units, so is ``Hertz``, and StopTransaction ``reason``
is optional.
"""

import copy
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any, Final

import fastjsonschema

from ocpp_central.translate.rpc import MAX_DESCRIPTION_LENGTH, ErrorCode, OcppVersion

_SCHEMA_DIRS: Final[Mapping[OcppVersion, str]] = {
    OcppVersion.V16: "v16",
    OcppVersion.V201: "v201",
    OcppVersion.V21: "v21",
}

_TYPE_RULES: Final = frozenset({"type", "format", "maxLength", "minLength", "pattern"})
_OCCURRENCE_RULES: Final = frozenset({"required", "minItems", "maxItems"})
_STRUCTURE_RULES: Final = frozenset({"additionalProperties", "additionalItems"})

# dateTime as OCPP means it (RFC 3339). Our own pattern, in both modes, because the one
# fastjsonschema ships uses ``\d`` and so takes other scripts' digits ("٢٠٢٤-05-01T…").
# Whether the day exists in that month is left to the translator, which parses the value.
_DATE_TIME_PREFIX: Final = (
    r"^[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])[Tt]"
    r"(?:[01][0-9]|2[0-3]):[0-5][0-9]:(?:[0-5][0-9]|60)(?:\.[0-9]+)?"
)
_ZONE: Final = r"(?:[Zz]|[+-](?:[01][0-9]|2[0-3]):?[0-5][0-9])"
_DATE_TIME: Final = _DATE_TIME_PREFIX + _ZONE + r"\Z"
_DATE_TIME_ANY_ZONE: Final = _DATE_TIME_PREFIX + _ZONE + r"?\Z"

_UNIT_ERRATA: Final = ("Celsius", "Celcius", "Hertz")

Validator = Callable[[Any], Any]

#: What a `Validator` raises for a payload that breaks its schema.
InvalidPayload = fastjsonschema.JsonSchemaValueException

#: Where meter data sits in each transaction message. One bad sampled value must not cost
#: the whole message (RELIABILITY.md §2.7 #8): the meter translator drops it and records
#: why, so `Validators.check_call` leaves these lists to it.
METER_LISTS: Final[Mapping[str, str]] = {
    "MeterValues": "meterValue",
    "StopTransaction": "transactionData",
    "TransactionEvent": "meterValue",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Violation:
    """Why a payload does not match its schema, and the RPC error code to answer with.

    `path` locates the offending value inside the payload (property names and list
    indexes), e.g. ``("meterValue", 0, "sampledValue", 2, "unit")``.
    """

    code: ErrorCode
    description: str
    path: tuple[str | int, ...] = ()


@dataclass(frozen=True, slots=True)
class _Catalogue:
    requests: Mapping[str, str]  # action -> schema file stem
    responses: Mapping[str, str]


_CATALOGUES: dict[OcppVersion, _Catalogue] = {}
_COMPILED: dict[tuple[OcppVersion, str, bool, str | None], Validator] = {}


class Validators:
    """The request and response schema checks for one OCPP version.

    Cheap to create: compiled schemas are cached for the whole process, so one instance
    per connection or one shared instance behave the same.
    """

    def __init__(self, version: OcppVersion, *, strict: bool = False) -> None:
        self._version = version
        self._strict = strict
        self._catalogue = _catalogue(version)
        self._requests = self._catalogue.requests
        self._request_checks: dict[str, Validator] = {}
        self._call_checks: dict[str, Validator] = {}  # meter lists unchecked (`check_call`)

    def knows(self, action: str) -> bool:
        """Whether `action` is a message of this version (it has a request schema)."""
        return action in self._requests

    def check_request(self, action: str, payload: dict[str, Any]) -> Violation | None:
        """Check the payload of a CALL (or 2.1 SEND); None when it is valid."""
        return self._check_cached(self._request_checks, action, payload, None)

    def check_call(self, action: str, payload: dict[str, Any]) -> Violation | None:
        """Check a CALL received from a charger: `check_request`, meter lists aside.

        Nothing inside a meter list (`METER_LISTS`) can reject the CALL, so its value is
        not looked at; the list is still required where the schema requires it, and the
        rest of the message is checked as `check_request` would.
        """
        unchecked = METER_LISTS.get(action)
        if unchecked is None or unchecked not in payload:
            return self.check_request(action, payload)
        return self._check_cached(self._call_checks, action, payload, unchecked)

    def call_check(self, action: str) -> Validator | None:
        """The compiled check behind `check_call` for a known `action`; None for an unknown one.

        It raises `InvalidPayload` exactly when `check_call` finds a violation (without a
        meter list the two schemas differ only in a property that is absent), so a caller
        that holds it checks the usual CALL in one call, and asks `check_call` for the
        `Violation` only when it raised.
        """
        unchecked = METER_LISTS.get(action)
        checks = self._request_checks if unchecked is None else self._call_checks
        return self._compiled(checks, action, unchecked)

    def _compiled(
        self, checks: dict[str, Validator], action: str, unchecked: str | None
    ) -> Validator | None:
        """`action`'s validator in ``checks``, compiled on first use; None for an unknown one."""
        check = checks.get(action)
        if check is None:
            stem = self._requests.get(action)
            if stem is None:
                return None
            check = checks[action] = self._validator(stem, unchecked)
        return check

    def _check_cached(
        self,
        checks: dict[str, Validator],
        action: str,
        payload: dict[str, Any],
        unchecked: str | None,
    ) -> Violation | None:
        check = self._compiled(checks, action, unchecked)
        if check is None:
            return self._check(None, action, payload)
        try:
            check(payload)
        except fastjsonschema.JsonSchemaValueException as exc:
            return self._violation(exc)
        return None

    def check_response(self, action: str, payload: dict[str, Any]) -> Violation | None:
        """Check the payload of a CALLRESULT answering a CALL of `action`; None when valid."""
        return self._check(self._catalogue.responses.get(action), action, payload)

    def warm(self, actions: Iterable[str] | None = None) -> None:
        """Compile the schemas of `actions` (default: all) now rather than on first use."""
        wanted = self._catalogue.requests.keys() if actions is None else actions
        for action in wanted:
            for stem in (
                self._catalogue.requests.get(action),
                self._catalogue.responses.get(action),
            ):
                if stem is not None:
                    self._validator(stem)
            request, unchecked = self._catalogue.requests.get(action), METER_LISTS.get(action)
            if request is not None and unchecked is not None:
                self._validator(request, unchecked)

    def _check(self, stem: str | None, action: str, payload: dict[str, Any]) -> Violation | None:
        if stem is None:
            # NotImplemented: "Requested Action is not known by receiver" (1.6 and 2.0.1).
            return Violation(
                code=ErrorCode.NOT_IMPLEMENTED,
                description=f"No schema for action {action[:100]!r} in {self._version}",
            )
        try:
            self._validator(stem)(payload)
        except fastjsonschema.JsonSchemaValueException as exc:
            return self._violation(exc)
        return None

    def _validator(self, stem: str, unchecked: str | None = None) -> Validator:
        key = (self._version, stem, self._strict, unchecked)
        validator = _COMPILED.get(key)
        if validator is None:
            validator = _compile(self._version, stem, strict=self._strict, unchecked=unchecked)
            _COMPILED[key] = validator
        return validator

    def _violation(self, exc: fastjsonschema.JsonSchemaValueException) -> Violation:
        rule = exc.rule or ""
        if rule in _TYPE_RULES:
            code = ErrorCode.TYPE_CONSTRAINT_VIOLATION
        elif rule in _OCCURRENCE_RULES:
            code = ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION
        elif rule in _STRUCTURE_RULES:
            code = (
                ErrorCode.FORMAT_VIOLATION
                if self._version is OcppVersion.V16
                else ErrorCode.PROTOCOL_ERROR
            )
        else:
            code = ErrorCode.PROPERTY_CONSTRAINT_VIOLATION
        # fastjsonschema names the checked value "data"; the peer knows it as the payload.
        description = "payload" + exc.message.removeprefix("data")
        path = tuple(int(part) if part.isdigit() else part for part in exc.path[1:])
        return Violation(code=code, description=description[:MAX_DESCRIPTION_LENGTH], path=path)


def _catalogue(version: OcppVersion) -> _Catalogue:
    catalogue = _CATALOGUES.get(version)
    if catalogue is None:
        catalogue = _list_schemas(version)
        _CATALOGUES[version] = catalogue
    return catalogue


def _list_schemas(version: OcppVersion) -> _Catalogue:
    # Actions come off the wire: they are only ever looked up in this listing, never used
    # to build a file path, so "../x" cannot reach outside the schema folder.
    folder = resources.files("ocpp").joinpath(_SCHEMA_DIRS[version], "schemas")
    requests: dict[str, str] = {}
    responses: dict[str, str] = {}
    for stem in (
        e.name.removesuffix(".json") for e in folder.iterdir() if e.name.endswith(".json")
    ):
        if stem.endswith("Response"):
            responses[stem.removesuffix("Response")] = stem
        elif version is not OcppVersion.V16 and stem.endswith("Request"):
            requests[stem.removesuffix("Request")] = stem
        else:  # 1.6 requests, and 2.1 SEND messages (NotifyPeriodicEventStream)
            requests[stem] = stem
    return _Catalogue(requests=requests, responses=responses)


def _load_schema(version: OcppVersion, stem: str) -> dict[str, Any]:
    """The schema file `stem`.json of `version` as published; `stem` comes from the listing."""
    folder = resources.files("ocpp").joinpath(_SCHEMA_DIRS[version], "schemas")
    # utf-8-sig: some releases of the OCPP 2.x schemas start with a byte order mark.
    schema: dict[str, Any] = json.loads(
        folder.joinpath(f"{stem}.json").read_text(encoding="utf-8-sig")
    )
    return schema


def apply_v16_errata(stem: str, schema: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a 1.6 schema with the OCPP-J 1.6 errata applied.

    Every UnitOfMeasure enum gets ``Celsius``, ``Celcius`` and ``Hertz``; StopTransaction's
    ``reason`` is no longer required. Idempotent, so schemas already fixed upstream are safe.
    """
    patched = copy.deepcopy(dict(schema))
    _add_units(patched)
    if stem == "StopTransaction" and "reason" in patched.get("required", ()):
        patched["required"] = [name for name in patched["required"] if name != "reason"]
    return patched


def _add_units(node: Any) -> None:
    if isinstance(node, dict):
        unit = node.get("properties", {}).get("unit")
        if isinstance(unit, dict) and "Wh" in unit.get("enum", ()):
            unit["enum"] = [*unit["enum"], *(u for u in _UNIT_ERRATA if u not in unit["enum"])]
        for child in node.values():
            _add_units(child)
    elif isinstance(node, list):
        for child in node:
            _add_units(child)


def _open_objects(node: Any) -> Any:
    """A copy of a schema in which no object refuses properties it does not define."""
    if isinstance(node, dict):
        return {
            key: _open_objects(value)
            for key, value in node.items()
            if not (key == "additionalProperties" and value is False)
        }
    if isinstance(node, list):
        return [_open_objects(child) for child in node]
    return node


def _inline_definitions(schema: dict[str, Any]) -> dict[str, Any]:
    """A copy of a schema with each local ``#/definitions/`` reference replaced by its target.

    The same checks, about twice as fast on the 2.x schemas: fastjsonschema turns every
    reference into a function call that formats the error path of the value eagerly. A
    reference inside its own definition is left as it is, so recursion cannot loop.
    """
    definitions = schema.get("definitions", {})
    prefix = "#/definitions/"

    def expand(node: Any, expanding: frozenset[str]) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith(prefix):
                name = ref.removeprefix(prefix)
                if name in definitions and name not in expanding:
                    # Keywords beside $ref are ignored in drafts 4 to 7, so drop them too.
                    return expand(definitions[name], expanding | {name})
            return {
                key: value if key == "definitions" else expand(value, expanding)
                for key, value in node.items()
            }
        if isinstance(node, list):
            return [expand(child, expanding) for child in node]
        return node

    inlined: dict[str, Any] = expand(schema, frozenset())
    return inlined


def _compile(
    version: OcppVersion, stem: str, *, strict: bool, unchecked: str | None = None
) -> Validator:
    """``unchecked``: a top-level property whose value is taken as it is (still required)."""
    schema = _inline_definitions(_load_schema(version, stem))
    if version is OcppVersion.V16:
        schema = apply_v16_errata(stem, schema)
    if unchecked is not None:
        schema = {**schema, "properties": {**schema.get("properties", {}), unchecked: {}}}
    formats = {"date-time": _DATE_TIME}
    if not strict:
        schema = _open_objects(schema)
        formats["date-time"] = _DATE_TIME_ANY_ZONE
    # use_default=False: validation must not write schema defaults into the payload.
    validator: Validator = fastjsonschema.compile(schema, formats=formats, use_default=False)
    return validator
