"""Pure: meter readings in the gateway's own units, and what was wrong with them.

Both protocol sides translate charger meter data into these types (`Reading`,
`MeterSample`, `SignedReading`); the core bills from them (`gateway.core.energy`). Every
value is in a canonical unit (`Unit`): Wh, W, A, V, Hz, degrees Celsius, percent. Anything
a translator rejected or found suspicious is a `MeterProblem`; anything the energy
computation refused to bill is an `EnergyFlag`. Both are kept for review, never dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum


class Quantity(StrEnum):
    """The physical quantity a measurand measures; it decides the canonical unit."""

    ACTIVE_ENERGY = "active_energy"
    REACTIVE_ENERGY = "reactive_energy"
    APPARENT_ENERGY = "apparent_energy"
    ACTIVE_POWER = "active_power"
    REACTIVE_POWER = "reactive_power"
    CURRENT = "current"
    VOLTAGE = "voltage"
    FREQUENCY = "frequency"
    TEMPERATURE = "temperature"
    PERCENTAGE = "percentage"
    RATIO = "ratio"
    ROTATION = "rotation"
    UNKNOWN = "unknown"

    @property
    def unit(self) -> Unit:
        """The unit every value of this quantity is stored in."""
        return _CANONICAL_UNIT[self]


class Unit(StrEnum):
    """Canonical units. `NONE` is for dimensionless values and for unknown measurands."""

    WH = "Wh"
    VARH = "varh"
    VAH = "VAh"
    W = "W"
    VAR = "var"
    A = "A"
    V = "V"
    HZ = "Hz"
    CELSIUS = "Celsius"
    PERCENT = "%"
    RPM = "rpm"
    NONE = ""


_CANONICAL_UNIT: dict[Quantity, Unit] = {
    Quantity.ACTIVE_ENERGY: Unit.WH,
    Quantity.REACTIVE_ENERGY: Unit.VARH,
    Quantity.APPARENT_ENERGY: Unit.VAH,
    Quantity.ACTIVE_POWER: Unit.W,
    Quantity.REACTIVE_POWER: Unit.VAR,
    Quantity.CURRENT: Unit.A,
    Quantity.VOLTAGE: Unit.V,
    Quantity.FREQUENCY: Unit.HZ,
    Quantity.TEMPERATURE: Unit.CELSIUS,
    Quantity.PERCENTAGE: Unit.PERCENT,
    Quantity.RATIO: Unit.NONE,
    Quantity.ROTATION: Unit.RPM,
    Quantity.UNKNOWN: Unit.NONE,
}


class Measurand(StrEnum):
    """What a reading measures. `OTHER` keeps a measurand the gateway does not know.

    "Register" measurands are running totals of a meter (they only grow); "interval"
    measurands are the amount over the last sampling interval.
    """

    ENERGY_ACTIVE_IMPORT_REGISTER = "energy_active_import_register"
    ENERGY_ACTIVE_EXPORT_REGISTER = "energy_active_export_register"
    ENERGY_REACTIVE_IMPORT_REGISTER = "energy_reactive_import_register"
    ENERGY_REACTIVE_EXPORT_REGISTER = "energy_reactive_export_register"
    ENERGY_ACTIVE_IMPORT_INTERVAL = "energy_active_import_interval"
    ENERGY_ACTIVE_EXPORT_INTERVAL = "energy_active_export_interval"
    ENERGY_REACTIVE_IMPORT_INTERVAL = "energy_reactive_import_interval"
    ENERGY_REACTIVE_EXPORT_INTERVAL = "energy_reactive_export_interval"
    ENERGY_ACTIVE_NET = "energy_active_net"
    ENERGY_REACTIVE_NET = "energy_reactive_net"
    ENERGY_APPARENT_NET = "energy_apparent_net"
    ENERGY_APPARENT_IMPORT = "energy_apparent_import"
    ENERGY_APPARENT_EXPORT = "energy_apparent_export"
    POWER_ACTIVE_IMPORT = "power_active_import"
    POWER_ACTIVE_EXPORT = "power_active_export"
    POWER_REACTIVE_IMPORT = "power_reactive_import"
    POWER_REACTIVE_EXPORT = "power_reactive_export"
    POWER_OFFERED = "power_offered"
    POWER_FACTOR = "power_factor"
    CURRENT_IMPORT = "current_import"
    CURRENT_EXPORT = "current_export"
    CURRENT_OFFERED = "current_offered"
    VOLTAGE = "voltage"
    FREQUENCY = "frequency"
    TEMPERATURE = "temperature"
    SOC = "soc"
    RPM = "rpm"
    OTHER = "other"

    @property
    def quantity(self) -> Quantity:
        return _QUANTITY[self]

    @property
    def is_register(self) -> bool:
        """True for running totals, which can never be negative."""
        return self.endswith("_register")


_QUANTITY: dict[Measurand, Quantity] = {
    Measurand.ENERGY_ACTIVE_IMPORT_REGISTER: Quantity.ACTIVE_ENERGY,
    Measurand.ENERGY_ACTIVE_EXPORT_REGISTER: Quantity.ACTIVE_ENERGY,
    Measurand.ENERGY_REACTIVE_IMPORT_REGISTER: Quantity.REACTIVE_ENERGY,
    Measurand.ENERGY_REACTIVE_EXPORT_REGISTER: Quantity.REACTIVE_ENERGY,
    Measurand.ENERGY_ACTIVE_IMPORT_INTERVAL: Quantity.ACTIVE_ENERGY,
    Measurand.ENERGY_ACTIVE_EXPORT_INTERVAL: Quantity.ACTIVE_ENERGY,
    Measurand.ENERGY_REACTIVE_IMPORT_INTERVAL: Quantity.REACTIVE_ENERGY,
    Measurand.ENERGY_REACTIVE_EXPORT_INTERVAL: Quantity.REACTIVE_ENERGY,
    Measurand.ENERGY_ACTIVE_NET: Quantity.ACTIVE_ENERGY,
    Measurand.ENERGY_REACTIVE_NET: Quantity.REACTIVE_ENERGY,
    Measurand.ENERGY_APPARENT_NET: Quantity.APPARENT_ENERGY,
    Measurand.ENERGY_APPARENT_IMPORT: Quantity.APPARENT_ENERGY,
    Measurand.ENERGY_APPARENT_EXPORT: Quantity.APPARENT_ENERGY,
    Measurand.POWER_ACTIVE_IMPORT: Quantity.ACTIVE_POWER,
    Measurand.POWER_ACTIVE_EXPORT: Quantity.ACTIVE_POWER,
    Measurand.POWER_REACTIVE_IMPORT: Quantity.REACTIVE_POWER,
    Measurand.POWER_REACTIVE_EXPORT: Quantity.REACTIVE_POWER,
    Measurand.POWER_OFFERED: Quantity.ACTIVE_POWER,
    Measurand.POWER_FACTOR: Quantity.RATIO,
    Measurand.CURRENT_IMPORT: Quantity.CURRENT,
    Measurand.CURRENT_EXPORT: Quantity.CURRENT,
    Measurand.CURRENT_OFFERED: Quantity.CURRENT,
    Measurand.VOLTAGE: Quantity.VOLTAGE,
    Measurand.FREQUENCY: Quantity.FREQUENCY,
    Measurand.TEMPERATURE: Quantity.TEMPERATURE,
    Measurand.SOC: Quantity.PERCENTAGE,
    Measurand.RPM: Quantity.ROTATION,
    Measurand.OTHER: Quantity.UNKNOWN,
}


class ReadingContext(StrEnum):
    """Why the charger took the reading."""

    TRANSACTION_BEGIN = "transaction_begin"
    TRANSACTION_END = "transaction_end"
    SAMPLE_PERIODIC = "sample_periodic"
    SAMPLE_CLOCK = "sample_clock"
    TRIGGER = "trigger"
    INTERRUPTION_BEGIN = "interruption_begin"
    INTERRUPTION_END = "interruption_end"
    OTHER = "other"


class MeterLocation(StrEnum):
    """Where the value was measured; `OTHER` keeps a location the gateway does not know."""

    OUTLET = "outlet"
    INLET = "inlet"
    CABLE = "cable"
    EV = "ev"
    BODY = "body"
    OTHER = "other"


@dataclass(frozen=True, slots=True, kw_only=True)
class Reading:
    """One measured value, converted to the canonical unit of its measurand.

    ``phase`` is the wire phase label ("L1", "L2-N", ...) or ``None`` for a total.
    ``from_phases`` marks a total the gateway computed from per-phase readings of the same
    sample (the per-phase readings are kept as well). ``other_measurand`` is the
    measurand's name as sent when `measurand` is `Measurand.OTHER`; such a value keeps the
    unit it was sent in (``unit`` holds that unit's name).
    """

    measurand: Measurand
    value: Decimal
    unit: str
    at: datetime
    context: ReadingContext = ReadingContext.SAMPLE_PERIODIC
    location: MeterLocation = MeterLocation.OUTLET
    phase: str | None = None
    from_phases: bool = False
    other_measurand: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SignedReading:
    """A signed meter value, kept verbatim for the charge detail record.

    ``data`` is exactly what the charger sent (hex, Base64 or an OCMF string); the gateway
    never parses it, so the signature stays verifiable. The method and key fields are
    ``None`` when the charger did not send them.
    """

    data: str
    at: datetime
    measurand: Measurand = Measurand.ENERGY_ACTIVE_IMPORT_REGISTER
    context: ReadingContext = ReadingContext.SAMPLE_PERIODIC
    location: MeterLocation = MeterLocation.OUTLET
    phase: str | None = None
    signing_method: str | None = None
    encoding_method: str | None = None
    public_key: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class MeterSample:
    """Everything a charger measured at one point in time.

    ``clock_suspect`` is true when the charger's timestamp was unusable and ``at`` is the
    time the gateway received the sample instead; elapsed-time checks skip such samples.
    """

    at: datetime
    readings: tuple[Reading, ...] = ()
    signed: tuple[SignedReading, ...] = ()
    clock_suspect: bool = False


class MeterProblemCode(StrEnum):
    """Why a piece of meter data was rejected or looks suspicious."""

    MALFORMED = "malformed"  # not the shape the protocol defines; dropped
    BAD_NUMBER = "bad_number"  # value is not a plain finite decimal; dropped
    PADDED_NUMBER = "padded_number"  # decimal surrounded by spaces; kept
    UNKNOWN_UNIT = "unknown_unit"  # unit the gateway cannot convert; dropped
    WRONG_UNIT = "wrong_unit"  # unit of another quantity, e.g. Wh on power; dropped
    BAD_MULTIPLIER = "bad_multiplier"  # power-of-ten multiplier unusable; dropped
    NEGATIVE_REGISTER = "negative_register"  # a running total below zero; dropped
    UNKNOWN_MEASURAND = "unknown_measurand"  # kept as Measurand.OTHER
    UNKNOWN_CONTEXT = "unknown_context"  # kept as ReadingContext.OTHER
    UNKNOWN_LOCATION = "unknown_location"  # kept as MeterLocation.OTHER
    UNKNOWN_PHASE = "unknown_phase"  # kept with the phase label as sent
    UNKNOWN_FORMAT = "unknown_format"  # value format unknown; read as a plain number
    BAD_SIGNED_VALUE = "bad_signed_value"  # signed part unusable; dropped
    CONFLICTING_PHASES = "conflicting_phases"  # a phase reported twice; no total computed
    BAD_TIMESTAMP = "bad_timestamp"  # unparsable; receive time used
    TIMESTAMP_WITHOUT_OFFSET = "timestamp_without_offset"  # read as UTC
    TIMESTAMP_TOO_OLD = "timestamp_too_old"  # before 2010 (clock never set); receive time used
    TIMESTAMP_IN_FUTURE = "timestamp_in_future"  # ahead of the receive time; receive time used


@dataclass(frozen=True, slots=True, kw_only=True)
class MeterProblem:
    """One rejected or suspicious piece of meter data, kept for review.

    ``raw`` is the offending wire item as compact JSON text; ``path`` says where it was
    in the message (e.g. ``meterValue[2].sampledValue[0]``); ``dropped`` tells whether the
    item was left out of the samples.
    """

    code: MeterProblemCode
    text: str
    raw: str
    path: str
    dropped: bool


class EnergyFlagCode(StrEnum):
    """Why session energy differs from a plain stop-minus-start, or deserves a look."""

    SCALE_APPLIED = "scale_applied"  # a per-charger register scale override was used
    NO_METER_DATA = "no_meter_data"  # no register samples; start/stop registers only
    NO_START_REGISTER = "no_start_register"  # first sample used as the baseline
    SESSION_RELATIVE_SAMPLES = "session_relative_samples"  # samples count from 0
    PLACEHOLDER_BASELINE = "placeholder_baseline"  # start register replaced by a real one
    OUTLIER_EXCLUDED = "outlier_excluded"  # a reading the register came back from
    REGISTER_RESET = "register_reset"  # register fell and stayed low; stitched
    REGISTER_JUMP = "register_jump"  # register leapt and stayed high; jump not billed
    STOP_BELOW_START = "stop_below_start"  # stop register lower than start register
    STOP_REGISTER_IGNORED = "stop_register_ignored"  # stop below the readings before it
    REGISTERS_DISAGREE = "registers_disagree"  # billed energy differs from stop - start
    IMPLAUSIBLE_ENERGY = "implausible_energy"  # more than the EVSE can deliver in the time
    ENERGY_POWER_MISMATCH = "energy_power_mismatch"  # register vs measured power (unit mix-up?)


@dataclass(frozen=True, slots=True, kw_only=True)
class EnergyFlag:
    """One finding of the session energy computation, kept with the session for review.

    ``at`` and ``register_wh`` locate the reading the finding is about, when there is one.
    """

    code: EnergyFlagCode
    text: str
    at: datetime | None = None
    register_wh: Decimal | None = None
