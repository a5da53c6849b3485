"""Frozen settings loaded from ``config.toml``; a bad file stops start-up with its key path.

The file describes one site: who the operator is (its OCPI identity), where the
listeners bind, where the database lives, which chargers exist, how their EVSEs and
connectors appear as OCPI Locations, and which Tariffs apply. Everything is validated
at load time so that a typo never becomes a silent misconfiguration at 2 a.m.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import re
import tomllib
from collections.abc import Iterable
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from gateway.domain.connectors import ConnectorStandard
from gateway.domain.ids import ChargerId, EvseUid, LocationId
from gateway.domain.topology import ConnectorRef, EvseBinding, Topology

CONFIG_ENV = "GATEWAY_CONFIG"
DATA_DIR_ENV = "GATEWAY_DATA_DIR"

#: OCPP-J identity characters (OCPP 2.0.1 identifierString, which 1.6 chargers also
#: use in practice); ``:`` and ``/`` are excluded because they break Basic auth and URLs.
CHARGER_ID_PATTERN = r"^[A-Za-z0-9*\-_=+|@.]{1,48}$"
CHARGER_ID_RE = re.compile(CHARGER_ID_PATTERN)

CiString = Annotated[str, StringConstraints(pattern=r"^[\x21-\x7e]+$")]
CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
PartyId = Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{3}$")]
ChargerIdStr = Annotated[str, StringConstraints(pattern=CHARGER_ID_PATTERN)]
Coordinate = Annotated[str, StringConstraints(pattern=r"^-?[0-9]{1,3}\.[0-9]{5,7}$")]
Ident36 = Annotated[str, StringConstraints(pattern=r"^[\x21-\x7e]{1,36}$")]
ClockTime = Annotated[str, StringConstraints(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]
IsoDate = Annotated[str, StringConstraints(pattern=r"^\d{4}-\d{2}-\d{2}$")]
_EVSE_ID = r"^[A-Z]{2}\*?[A-Z0-9]{3}\*?E[A-Z0-9*]{1,30}$"
EvseIdStr = Annotated[str, StringConstraints(pattern=_EVSE_ID)]
Capability = Literal[
    "CHARGING_PROFILE_CAPABLE",
    "CHARGING_PREFERENCES_CAPABLE",
    "CHIP_CARD_SUPPORT",
    "CONTACTLESS_CARD_SUPPORT",
    "CREDIT_CARD_PAYABLE",
    "DEBIT_CARD_PAYABLE",
    "PED_TERMINAL",
    "REMOTE_START_STOP_CAPABLE",
    "RESERVABLE",
    "RFID_READER",
    "START_SESSION_CONNECTOR_REQUIRED",
    "TOKEN_GROUP_CAPABLE",
    "UNLOCK_CAPABLE",
]
Facility = Literal[
    "HOTEL",
    "RESTAURANT",
    "CAFE",
    "MALL",
    "SUPERMARKET",
    "SPORT",
    "RECREATION_AREA",
    "NATURE",
    "MUSEUM",
    "BIKE_SHARING",
    "BUS_STOP",
    "TAXI_STAND",
    "TRAM_STOP",
    "METRO_STATION",
    "TRAIN_STATION",
    "AIRPORT",
    "PARKING_LOT",
    "CARPOOL_PARKING",
    "FUEL_STATION",
    "WIFI",
]
TariffType = Literal[
    "AD_HOC_PAYMENT", "PROFILE_CHEAPEST", "PROFILE_FASTEST", "PROFILE_GREEN", "REGULAR"
]


class ConfigError(Exception):
    """A configuration file that cannot be used; the message names file, key and reason."""

    def __init__(self, path: Path, problems: Iterable[tuple[str, str]]) -> None:
        self.path = path
        self.problems = list(problems)
        lines = [f"{path}: {key}: {reason}" for key, reason in self.problems]
        super().__init__("\n".join(lines))


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=False)


# --- operator and listeners -------------------------------------------------------


class OperatorSettings(_Frozen):
    """The CPO's OCPI identity; ``country_code``/``party_id`` are on every object."""

    country_code: CountryCode
    party_id: PartyId
    name: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    website: Annotated[str, StringConstraints(pattern=r"^https?://\S+$")] | None = None


class OcppSettings(_Frozen):
    """The charger-facing websocket listener."""

    host: str = "0.0.0.0"  # noqa: S104 - chargers are on the site network
    port: Annotated[int, Field(ge=0, le=65535)] = 9000
    path: Annotated[str, StringConstraints(pattern=r"^(/[A-Za-z0-9._-]+)+$")] = "/ocpp"
    heartbeat_interval_s: Annotated[int, Field(ge=10, le=86400)] = 300
    offline_grace_s: Annotated[int, Field(ge=0, le=86400)] = 90
    ping_interval_s: Annotated[float, Field(gt=0)] | None = 30.0
    ping_timeout_s: Annotated[float, Field(gt=0)] | None = 30.0
    max_frame_bytes: Annotated[int, Field(ge=1024, le=16 * 2**20)] = 256 * 1024
    call_timeout_s: Annotated[float, Field(gt=0, le=600)] = 30.0
    accept_unknown_chargers: bool = False
    trusted_network: bool = False
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    tls_ca_file: Path | None = None
    tls_min_version: Literal["1.2", "1.3"] = "1.2"

    @property
    def tls(self) -> bool:
        """True when the listener serves ``wss://`` (profiles 2 and 3) rather than ``ws://``."""
        return self.tls_cert_file is not None


class HttpSettings(_Frozen):
    """The HTTP listener: OCPI under ``/ocpi/``, health and the operator UI."""

    host: str = "0.0.0.0"  # noqa: S104 - partners reach the gateway through the site router
    port: Annotated[int, Field(ge=0, le=65535)] = 8000
    public_url: Annotated[str, StringConstraints(pattern=r"^https?://[^\s/]+(/\S*)?$")] = (
        "http://localhost:8000"
    )


class StorageSettings(_Frozen):
    """Where state lives; an empty ``database_url`` means SQLite under ``data_dir``."""

    data_dir: Path = Path("data")
    database_url: str = ""
    busy_timeout_ms: Annotated[int, Field(ge=0, le=600_000)] = 5000


class StaticPartner(_Frozen):
    """A partner whose token was exchanged out of band (no credentials handshake)."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    country_code: CountryCode
    party_id: PartyId
    token: Annotated[str, StringConstraints(pattern=r"^[\x21-\x7e]{1,64}$")]


ModuleIdStr = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]{0,63}$")]


class OcpiSettings(_Frozen):
    """OCPI platform behaviour."""

    max_page_limit: Annotated[int, Field(ge=1, le=10_000)] = 100
    token_a_ttl_h: Annotated[float, Field(gt=0)] = 24.0
    static_partners: tuple[StaticPartner, ...] = ()
    #: Seconds each call to a partner may take (connect, each read, the whole answer).
    partner_timeout_s: Annotated[float, Field(gt=0, le=300)] = 10.0
    #: Partner URLs resolving to private, loopback or link-local addresses are refused
    #: unless this is true (a lab, or partners reached over a VPN).
    allow_private_partner_addresses: bool = False
    #: Modules a partner must offer, besides ``credentials``, for a registration to succeed.
    required_partner_modules: tuple[ModuleIdStr, ...] = ()
    #: Key for token hashes and for tokens partners gave us; default ``<data_dir>/ocpi.key``.
    secret_key_file: Path | None = None
    #: Seconds a real-time token authorisation may take: a driver waits at the plug.
    realtime_authorization_timeout_s: Annotated[float, Field(gt=0, le=30)] = 3.0
    #: Minutes between pulls of each partner's tokens (its Tokens sender); 0: only the
    #: first pull after registration.
    token_pull_interval_min: Annotated[int, Field(ge=0, le=7 * 24 * 60)] = 360
    #: Pushes to a partner that failed are retried after this, doubling up to the maximum.
    push_retry_initial_s: Annotated[float, Field(gt=0, le=3600)] = 1.0
    push_retry_max_s: Annotated[float, Field(gt=0, le=86400)] = 300.0
    #: How often undelivered objects are looked at even when nothing new happened.
    push_sweep_s: Annotated[float, Field(gt=0, le=3600)] = 30.0
    #: Objects taken per round for one partner, and calls to one partner at the same time.
    push_batch: Annotated[int, Field(ge=1, le=10_000)] = 200
    push_concurrency: Annotated[int, Field(ge=1, le=64)] = 8


class SiteToken(_Frozen):
    """A token of the site's own staff or fleet: always accepted, billed to no partner."""

    uid: Annotated[str, StringConstraints(pattern=r"^[\x21-\x7e]{1,36}$")]
    kind: Literal["rfid", "app", "key_code", "local", "contract", "mac_address"] = "rfid"
    note: Annotated[str, StringConstraints(max_length=100)] | None = None


class AuthorizationSettings(_Frozen):
    """Who may charge besides roaming partners' drivers."""

    free_vend: bool = False  # accept every token (private sites); nothing is billed to partners
    site_tokens: tuple[SiteToken, ...] = ()
    #: The most tokens sent to a charger's local authorisation list; 0 sends none.
    local_list_max_entries: Annotated[int, Field(ge=0, le=100_000)] = 1000


class OperatorUiSettings(_Frozen):
    """The operator's web pages under ``/`` on the HTTP port, behind one login.

    Without ``password_hash`` the pages only say how to set one up and show no data.
    """

    username: Annotated[str, StringConstraints(pattern=r"^[\x21-\x7e]{1,64}$")] = "operator"
    password_hash: str | None = None
    session_hours: Annotated[float, Field(gt=0, le=24 * 30)] = 12.0
    #: After three failed logins from one address, each further attempt waits this long,
    #: doubling up to 30 s, whether or not it succeeds.
    login_delay_s: Annotated[float, Field(ge=0, le=30)] = 1.0
    #: How long the pages wait for a charger to answer a command button.
    command_timeout_s: Annotated[float, Field(gt=0, le=120)] = 15.0

    @model_validator(mode="after")
    def _hash_format(self) -> Self:
        if self.password_hash is not None and not self.password_hash.startswith("scrypt$"):
            raise ValueError("password_hash must come from `gateway ui hash-password`")
        return self


IpNetworkStr = Annotated[str, StringConstraints(pattern=r"^[0-9A-Fa-f.:]+(/[0-9]{1,3})?$")]


class MonitoringSettings(_Frozen):
    """What ``/metrics`` and ``/healthz`` report, and to whom."""

    #: ``/healthz`` answers 503 once the oldest undelivered change to a partner is older.
    backlog_max_age_s: Annotated[int, Field(ge=1)] = 900
    #: Addresses allowed to read ``/metrics`` (loopback and the private ranges by default):
    #: the HTTP port also faces roaming partners, who have no business reading it.
    metrics_allow: tuple[IpNetworkStr, ...] = (
        "127.0.0.0/8",
        "::1/128",
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "fc00::/7",
    )

    @model_validator(mode="after")
    def _networks(self) -> Self:
        for net in self.metrics_allow:
            try:
                ipaddress.ip_network(net, strict=False)
            except ValueError as exc:
                raise ValueError(f"metrics_allow: {exc}") from None
        return self


class LoggingSettings(_Frozen):
    """Log format and level; journald reads key=value lines well."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["keyvalue", "json"] = "keyvalue"


# --- chargers and topology --------------------------------------------------------


class OcppVersion(StrEnum):
    """OCPP versions a charger may be configured for."""

    V16 = "1.6"
    V201 = "2.0.1"
    V21 = "2.1"


class ChargerSettings(_Frozen):
    """One charger the CSMS accepts; ``id`` is its OCPP identity in the URL."""

    id: ChargerIdStr
    ocpp_version: OcppVersion
    security_profile: Annotated[int, Field(ge=0, le=3)] = 1
    password_hash: str | None = None
    boot: Literal["accept", "pending", "reject"] = "accept"
    vendor: str | None = None
    model: str | None = None

    @model_validator(mode="after")
    def _password_fits_profile(self) -> Self:
        if self.security_profile in (1, 2) and not self.password_hash:
            raise ValueError(
                f"security_profile {self.security_profile} needs password_hash "
                "(create one with `gateway chargers hash-password`)"
            )
        if self.password_hash is not None and not self.password_hash.startswith("scrypt$"):
            raise ValueError("password_hash must come from `gateway chargers hash-password`")
        return self


class ConnectorSettings(_Frozen):
    """An OCPI Connector and the OCPP connector it is."""

    id: Ident36
    ocpp_connector_id: Annotated[int, Field(ge=1)]
    standard: ConnectorStandard
    format: Literal["SOCKET", "CABLE"]
    power_type: Literal["AC_1_PHASE", "AC_2_PHASE", "AC_2_PHASE_SPLIT", "AC_3_PHASE", "DC"]
    max_voltage: Annotated[int, Field(gt=0)]
    max_amperage: Annotated[int, Field(gt=0)]
    max_electric_power: Annotated[int, Field(gt=0)] | None = None
    tariff_ids: tuple[Ident36, ...] = ()


class EvseSettings(_Frozen):
    """An OCPI EVSE mapped onto one charger.

    For OCPP 1.6 chargers each connector's ``ocpp_connector_id`` is the 1.6 connectorId
    (one EVSE per connector unless connectors that cannot charge together are grouped).
    For 2.0.1/2.1 chargers ``ocpp_evse_id`` is the charger's EVSE id and each
    ``ocpp_connector_id`` the connector id within it.
    """

    uid: Ident36
    evse_id: EvseIdStr | None = None
    charger: ChargerIdStr
    ocpp_evse_id: Annotated[int, Field(ge=1)] | None = None
    lifecycle: Literal["active", "planned", "removed"] = "active"
    capabilities: tuple[Capability, ...] = ()
    physical_reference: Annotated[str, StringConstraints(max_length=16)] | None = None
    floor_level: Annotated[str, StringConstraints(max_length=4)] | None = None
    connectors: Annotated[tuple[ConnectorSettings, ...], Field(min_length=1)]


class LocationSettings(_Frozen):
    """An OCPI Location: one site with its EVSEs."""

    id: Ident36
    name: Annotated[str, StringConstraints(max_length=255)] | None = None
    address: Annotated[str, StringConstraints(min_length=1, max_length=45)]
    city: Annotated[str, StringConstraints(min_length=1, max_length=45)]
    postal_code: Annotated[str, StringConstraints(max_length=10)] | None = None
    state: Annotated[str, StringConstraints(max_length=20)] | None = None
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
    latitude: Coordinate
    longitude: Coordinate
    time_zone: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    parking_type: (
        Literal[
            "ALONG_MOTORWAY",
            "PARKING_GARAGE",
            "PARKING_LOT",
            "ON_DRIVEWAY",
            "ON_STREET",
            "UNDERGROUND_GARAGE",
        ]
        | None
    ) = None
    publish: bool = True
    facilities: tuple[Facility, ...] = ()
    evses: tuple[EvseSettings, ...] = ()


# --- tariffs ----------------------------------------------------------------------


class PriceComponentSettings(_Frozen):
    """OCPI PriceComponent: ``price`` excludes VAT, ``vat`` is a percentage."""

    type: Literal["ENERGY", "FLAT", "PARKING_TIME", "TIME"]
    price: Annotated[Decimal, Field(ge=0)]
    vat: Annotated[Decimal, Field(ge=0, le=100)] | None = None
    step_size: Annotated[int, Field(ge=1)] = 1


class RestrictionSettings(_Frozen):
    """OCPI TariffRestrictions, as in mod_tariffs."""

    start_time: ClockTime | None = None
    end_time: ClockTime | None = None
    start_date: IsoDate | None = None
    end_date: IsoDate | None = None
    min_kwh: Annotated[Decimal, Field(ge=0)] | None = None
    max_kwh: Annotated[Decimal, Field(ge=0)] | None = None
    min_current: Annotated[Decimal, Field(ge=0)] | None = None
    max_current: Annotated[Decimal, Field(ge=0)] | None = None
    min_power: Annotated[Decimal, Field(ge=0)] | None = None
    max_power: Annotated[Decimal, Field(ge=0)] | None = None
    min_duration: Annotated[int, Field(ge=0)] | None = None
    max_duration: Annotated[int, Field(ge=0)] | None = None
    day_of_week: tuple[
        Literal["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"], ...
    ] = ()
    reservation: Literal["RESERVATION", "RESERVATION_EXPIRES"] | None = None


class TariffElementSettings(_Frozen):
    """OCPI TariffElement."""

    price_components: Annotated[tuple[PriceComponentSettings, ...], Field(min_length=1)]
    restrictions: RestrictionSettings | None = None


class PriceSettings(_Frozen):
    """OCPI Price (min/max price bounds)."""

    excl_vat: Annotated[Decimal, Field(ge=0)]
    incl_vat: Annotated[Decimal, Field(ge=0)] | None = None


class TariffSettings(_Frozen):
    """An OCPI Tariff served to partners and used to price CDRs."""

    id: Ident36
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
    type: TariffType | None = None
    description: Annotated[str, StringConstraints(max_length=512)] | None = None
    min_price: PriceSettings | None = None
    max_price: PriceSettings | None = None
    elements: Annotated[tuple[TariffElementSettings, ...], Field(min_length=1)]


# --- the whole file ---------------------------------------------------------------


class Settings(_Frozen):
    """Everything ``config.toml`` says, validated."""

    operator: OperatorSettings
    ocpp: OcppSettings = OcppSettings()
    http: HttpSettings = HttpSettings()
    storage: StorageSettings = StorageSettings()
    ocpi: OcpiSettings = OcpiSettings()
    logging: LoggingSettings = LoggingSettings()
    operator_ui: OperatorUiSettings = OperatorUiSettings()
    monitoring: MonitoringSettings = MonitoringSettings()
    authorization: AuthorizationSettings = AuthorizationSettings()
    chargers: tuple[ChargerSettings, ...] = ()
    locations: tuple[LocationSettings, ...] = ()
    tariffs: tuple[TariffSettings, ...] = ()

    @model_validator(mode="after")
    def _cross_references(self) -> Self:
        problems = list(_cross_reference_problems(self))
        if problems:
            raise _CrossReferenceError(problems)
        return self

    def charger(self, charger_id: str) -> ChargerSettings | None:
        return next((c for c in self.chargers if c.id == charger_id), None)

    def topology(self) -> Topology:
        """The EVSE bindings the core needs, derived from ``locations``."""
        versions = {c.id: c.ocpp_version for c in self.chargers}
        return Topology(
            tuple(
                EvseBinding(
                    uid=EvseUid(evse.uid),
                    location_id=LocationId(loc.id),
                    charger_id=ChargerId(evse.charger),
                    connectors=tuple(
                        ConnectorRef(
                            evse=None
                            if versions.get(evse.charger) is OcppVersion.V16
                            else evse.ocpp_evse_id,
                            connector=c.ocpp_connector_id,
                        )
                        for c in evse.connectors
                    ),
                    lifecycle=evse.lifecycle,
                    max_power_w=evse_max_power(evse),
                )
                for loc in self.locations
                for evse in loc.evses
            )
        )

    def fingerprints(self) -> dict[str, str]:
        """A digest of each published object's configuration, keyed ``kind:id``."""
        out: dict[str, str] = {}
        for loc in self.locations:
            own = loc.model_dump_json(exclude={"evses"}) + self.operator.model_dump_json()
            out[f"location:{loc.id}"] = hashlib.sha256(own.encode()).hexdigest()
            for evse in loc.evses:
                out[f"evse:{evse.uid}"] = hashlib.sha256(
                    evse.model_dump_json().encode()
                ).hexdigest()
        for tariff in self.tariffs:
            out[f"tariff:{tariff.id}"] = hashlib.sha256(
                tariff.model_dump_json().encode()
            ).hexdigest()
        return out

    def secret_key_path(self) -> Path:
        """Where the OCPI token key lives (see ``ocpi.secret_key_file``)."""
        return self.ocpi.secret_key_file or self.storage.data_dir / "ocpi.key"

    def ui_key_path(self) -> Path:
        """The key that signs operator UI session cookies (created on first start)."""
        return self.storage.data_dir / "ui.key"

    def database_url(self) -> str:
        if self.storage.database_url:
            return self.storage.database_url
        return f"sqlite:///{self.storage.data_dir / 'gateway.db'}"


def evse_max_power(evse: EvseSettings) -> Decimal:
    """The EVSE's power ceiling: the configured one, else voltage x current (x3 for 3-phase)."""
    best = Decimal(0)
    for c in evse.connectors:
        if c.max_electric_power is not None:
            power = Decimal(c.max_electric_power)
        else:
            phases = 3 if c.power_type == "AC_3_PHASE" else 1
            power = Decimal(c.max_voltage * c.max_amperage * phases)
        best = max(best, power)
    return best


class _CrossReferenceError(ValueError):
    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{k}: {r}" for k, r in problems))


def _duplicates(values: Iterable[str]) -> set[str]:
    seen: set[str] = set()
    dup: set[str] = set()
    for v in values:
        (dup if v in seen else seen).add(v)
    return dup


def _cross_reference_problems(s: Settings) -> Iterable[tuple[str, str]]:
    """Checks that span several tables: ids unique, references resolvable, no double mapping."""
    duplicate_chargers = _duplicates(c.id for c in s.chargers)
    duplicate_tariffs = _duplicates(t.id for t in s.tariffs)
    duplicate_locations = _duplicates(x.id.upper() for x in s.locations)
    duplicate_uids = _duplicates(e.uid.upper() for loc in s.locations for e in loc.evses)
    for i, charger_id in enumerate(c.id for c in s.chargers):
        if charger_id in duplicate_chargers:
            yield f"chargers[{i}].id", f"duplicate charger id {charger_id!r}"
    tariff_ids = {t.id for t in s.tariffs}
    for i, tariff in enumerate(s.tariffs):
        if tariff.id in duplicate_tariffs:
            yield f"tariffs[{i}].id", f"duplicate tariff id {tariff.id!r}"
    for li, loc in enumerate(s.locations):
        if loc.id.upper() in duplicate_locations:
            yield f"locations[{li}].id", f"duplicate location id {loc.id!r}"
    mapped: dict[tuple[str, int | None, int], str] = {}
    chargers = {c.id: c for c in s.chargers}
    for li, loc in enumerate(s.locations):
        for ei, evse in enumerate(loc.evses):
            key = f"locations[{li}].evses[{ei}]"
            if evse.uid.upper() in duplicate_uids:
                yield f"{key}.uid", f"duplicate EVSE uid {evse.uid!r}"
            charger = chargers.get(evse.charger)
            if charger is None:
                yield f"{key}.charger", f"unknown charger {evse.charger!r} (not in [[chargers]])"
                continue
            is_v16 = charger.ocpp_version is OcppVersion.V16
            if is_v16 and evse.ocpp_evse_id is not None:
                yield f"{key}.ocpp_evse_id", "OCPP 1.6 chargers have no EVSE ids; map connectors"
            if not is_v16 and evse.ocpp_evse_id is None:
                yield f"{key}.ocpp_evse_id", f"required for an OCPP {charger.ocpp_version} charger"
            duplicate_connectors = _duplicates(c.id for c in evse.connectors)
            for ci, conn in enumerate(evse.connectors):
                ckey = f"{key}.connectors[{ci}]"
                if conn.id in duplicate_connectors:
                    yield f"{ckey}.id", f"duplicate connector id {conn.id!r} in EVSE {evse.uid!r}"
                ocpp_evse = None if is_v16 else evse.ocpp_evse_id
                target = (evse.charger, ocpp_evse, conn.ocpp_connector_id)
                if evse.lifecycle != "removed":
                    other = mapped.setdefault(target, f"{key}")
                    if other != key:
                        yield (
                            f"{ckey}.ocpp_connector_id",
                            f"charger {evse.charger!r} connector {conn.ocpp_connector_id} "
                            f"is already mapped by {other}",
                        )
                for tid in conn.tariff_ids:
                    if tid not in tariff_ids:
                        yield f"{ckey}.tariff_ids", f"unknown tariff id {tid!r}"
    for key, problem in _listener_problems(s):
        yield key, problem


def _listener_problems(s: Settings) -> Iterable[tuple[str, str]]:
    """One listener, one kind of channel: plain ws for profiles 0-1, TLS for profiles 2-3.

    The security whitepaper allows one profile at a time per port (A00.FR.001/002/006): a
    charger configured for a plain profile can never reach a TLS listener, and the
    reverse, so such a configuration is refused at start rather than at the first connect.
    """
    cfg = s.ocpp
    if (cfg.tls_cert_file is None) != (cfg.tls_key_file is None):
        yield "ocpp.tls_key_file", "tls_cert_file and tls_key_file must be set together"
    if cfg.tls_ca_file is not None and not cfg.tls:
        yield "ocpp.tls_ca_file", "client certificates need TLS: set tls_cert_file and tls_key_file"
    weak = [(i, c) for i, c in enumerate(s.chargers) if c.security_profile <= 1]
    if weak and cfg.tls:
        i, charger = weak[0]
        yield (
            f"chargers[{i}].security_profile",
            f"charger {charger.id!r} uses security profile {charger.security_profile} (plain ws) "
            "but the OCPP listener serves TLS (ocpp.tls_cert_file is set); use profile 2 "
            "(TLS + the same password) or 3, or remove the TLS files",
        )
    elif weak and not cfg.trusted_network and not _is_loopback(cfg.host):
        _, charger = weak[0]
        yield (
            "ocpp.trusted_network",
            f"charger {charger.id!r} uses security profile {charger.security_profile} "
            f"(no TLS) on {cfg.host!r}; set trusted_network = true only if this "
            "network is a LAN or VPN you control",
        )
    if any(c.security_profile >= 2 for c in s.chargers) and not (
        cfg.tls_cert_file and cfg.tls_key_file
    ):
        yield "ocpp.tls_cert_file", "security profiles 2 and 3 need tls_cert_file and tls_key_file"
    if any(c.security_profile == 3 for c in s.chargers) and not cfg.tls_ca_file:
        yield "ocpp.tls_ca_file", "security profile 3 needs the CA that signs charger certificates"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _key_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.startswith(("function-", "constrained-")):
            continue
        else:
            out += f".{part}" if out else part
    return out


def _describe(err: dict[str, object]) -> str:
    kind = err.get("type")
    if kind == "extra_forbidden":
        return "unknown key (check its spelling)"
    if kind == "missing":
        return "required key is missing"
    msg = str(err.get("msg", "invalid value"))
    return msg.removeprefix("Value error, ")


def default_config_path() -> Path:
    return Path(os.environ.get(CONFIG_ENV, "config.toml"))


def load_settings(path: Path | None = None) -> Settings:
    """Read and validate ``path`` (default: ``$GATEWAY_CONFIG`` or ``./config.toml``).

    Relative paths in the file (data directory, TLS files) are resolved against the
    file's own directory, so the gateway behaves the same from any working directory.
    ``$GATEWAY_DATA_DIR`` overrides the data directory (systemd's ``StateDirectory``).
    """
    path = path or default_config_path()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(path, [("(file)", "file not found")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, [("(file)", f"cannot read: {exc}")]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, [("(syntax)", str(exc))]) from None
    try:
        settings = Settings.model_validate(raw)
    except ValidationError as exc:
        problems: list[tuple[str, str]] = []
        errors = exc.errors()
        locs = [tuple(e["loc"]) for e in errors]
        for err in errors:
            # A failed item also fails its list's length check; the item's reason is the news.
            here = tuple(err["loc"])
            if any(len(other) > len(here) and other[: len(here)] == here for other in locs):
                continue
            inner = (err.get("ctx") or {}).get("error")
            if isinstance(inner, _CrossReferenceError):
                problems.extend(inner.problems)
            else:
                problems.append((_key_path(tuple(err["loc"])) or "(top)", _describe(dict(err))))
        raise ConfigError(path, problems) from None
    settings = _resolve_paths(settings, path.parent)
    problems = list(_tls_file_problems(settings.ocpp))
    if problems:
        raise ConfigError(path, problems)
    return settings


def _tls_file_problems(cfg: OcppSettings) -> Iterable[tuple[str, str]]:
    """Configured TLS files must be readable files now, not at the first charger's connect.

    Their contents (PEM, matching key, a usable CA) are checked when the listener starts.
    """
    for name in ("tls_cert_file", "tls_key_file", "tls_ca_file"):
        file: Path | None = getattr(cfg, name)
        if file is None:
            continue
        try:
            with file.open("rb") as f:
                f.read(1)
        except FileNotFoundError:
            yield f"ocpp.{name}", f"file not found: {file}"
        except IsADirectoryError:
            yield f"ocpp.{name}", f"not a file: {file}"
        except OSError as exc:
            yield f"ocpp.{name}", f"cannot read {file}: {exc.strerror or exc}"


def _resolve_paths(s: Settings, base: Path) -> Settings:
    data_dir = Path(os.environ.get(DATA_DIR_ENV) or s.storage.data_dir)
    storage = s.storage.model_copy(update={"data_dir": _under(base, data_dir)})
    ocpp = s.ocpp.model_copy(
        update={
            name: _under(base, value)
            for name in ("tls_cert_file", "tls_key_file", "tls_ca_file")
            if (value := getattr(s.ocpp, name)) is not None
        }
    )
    ocpi = s.ocpi
    if ocpi.secret_key_file is not None:
        ocpi = ocpi.model_copy(update={"secret_key_file": _under(base, ocpi.secret_key_file)})
    return s.model_copy(update={"storage": storage, "ocpp": ocpp, "ocpi": ocpi})


def _under(base: Path, p: Path) -> Path:
    return p if p.is_absolute() else (base / p).resolve()
