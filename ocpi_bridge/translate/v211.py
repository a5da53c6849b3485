"""Pure: the site's OCPI 2.2.1 objects -> their OCPI 2.1.1 form, for 2.1.1 partners.

Everything a 2.1.1 partner gets is first built as 2.2.1 (``ocpi_bridge.catalog``), then
converted here and validated by the 2.1.1 models (``ocpi_bridge.models.v211``), so a
2.1.1 partner sees the same site, prices and charges as a 2.2.1 one. Where 2.1.1 cannot
say what 2.2.1 says, the choice made is:

Locations
    - No ``country_code``/``party_id``/``publish``/``state``: the URL carries the party.
    - ``parking_type`` -> ``type``: the four shared values map to themselves;
      ``ALONG_MOTORWAY`` and ``ON_DRIVEWAY`` become ``OTHER``; none given is ``UNKNOWN``.
    - ``address`` is cut to the 45 characters 2.1.1 allows; a missing ``postal_code``
      (required in 2.1.1) is sent empty.
    - Coordinates are rounded to the exactly six decimals 2.1.1 demands (about 0.1 m).
    - EVSE statuses are the same nine values in both versions and pass unchanged.
    - Facilities, capabilities and connector standards that 2.1.1 lacks are left out
      (e.g. ``BIKE_SHARING``, ``CONTACTLESS_CARD_SUPPORT``, ``NEMA_5_20``); a connector
      whose standard 2.1.1 lacks is left out of its EVSE, and an EVSE left without
      connectors out of its Location (2.1.1 needs at least one connector per EVSE).
    - ``AC_2_PHASE`` and ``AC_2_PHASE_SPLIT`` become ``AC_1_PHASE``: the smaller claim,
      so a driver never expects more power than the connector delivers.
    - ``max_voltage``/``max_amperage`` become ``voltage``/``amperage``;
      ``max_electric_power`` is dropped.
    - 2.1.1 has one ``tariff_id`` per connector: the one a driver with a token pays, i.e.
      the first listed tariff whose type is regular (or untyped), else the first listed
      (the rule the seal uses, ``translate.delivery.choose_tariff``).

Tariffs
    - No owner party, ``type``, ``min_price``/``max_price`` or validity dates; price
      components lose ``vat`` (2.1.1 prices exclude VAT, as 2.2.1 ``price`` does).
    - Restrictions lose ``min_current``/``max_current``; elements restricted to
      reservations are left out (2.1.1 prices no reservations). A tariff with nothing
      left cannot be said in 2.1.1 (:class:`NotExpressibleError`): it is not published,
      and left out of a CDR's ``tariffs``.
    - The CDR's ``total_cost`` stays authoritative: it was computed with everything above.

Sessions and CDRs
    - ``auth_id`` is the token's ``contract_id``: 2.2.1 renamed the 2.1.1 Token
      ``auth_id`` (the eMA/contract id) to ``contract_id``; the RFID ``uid`` is not it.
    - ``auth_method`` ``COMMAND`` becomes ``AUTH_REQUEST``: the eMSP authorised it.
    - Status ``RESERVATION`` becomes ``PENDING`` (2.1.1: not started yet).
    - ``location`` is the whole 2.1.1 Location with only the session's EVSE and connector,
      as sealed at the start (the caller passes the 2.2.1 Location of the seal).
    - ``total_cost`` is the 2.2.1 ``excl_vat`` (2.1.1: "total cost (excluding VAT)");
      the other cost breakdowns, ``signed_data``, ``session_id``,
      ``authorization_reference`` and ``invoice_reference_id`` are dropped.
    - Charging periods lose ``tariff_id`` and the dimensions 2.1.1 lacks (``CURRENT``,
      ``POWER``, ``MAX_POWER``, ``STATE_OF_CHARGE``, ...); a period left without any is
      left out.
    - 2.1.1 has no credit CDRs: a credit CDR goes as a CDR with negative costs whose
      ``remark`` names the CDR it credits.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import TypeVar

from ocpi_bridge.models.cdrs import AuthMethod, Cdr, ChargingPeriod
from ocpi_bridge.models.locations import (
    AdditionalGeoLocation,
    Connector,
    EnergyMix,
    Evse,
    GeoLocation,
    Location,
    ParkingType,
    PowerType,
)
from ocpi_bridge.models.sessions import Session, SessionStatus
from ocpi_bridge.models.tariffs import Tariff, TariffRestrictions, TariffType
from ocpi_bridge.models.v211 import (
    V211AdditionalGeoLocation,
    V211AuthMethod,
    V211Capability,
    V211Cdr,
    V211CdrDimension,
    V211CdrDimensionType,
    V211ChargingPeriod,
    V211Connector,
    V211ConnectorType,
    V211EnergyMix,
    V211EnvironmentalImpact,
    V211Evse,
    V211Facility,
    V211GeoLocation,
    V211Hours,
    V211Location,
    V211LocationType,
    V211PowerType,
    V211PriceComponent,
    V211Session,
    V211SessionStatus,
    V211Tariff,
    V211TariffElement,
    V211TariffRestrictions,
)
from ocpi_bridge.translate.delivery import SealedSite
from ocpi_bridge.translate.locations import to_ocpi_location

E = TypeVar("E", bound=StrEnum)

ADDRESS_MAX = 45
_SIX_DECIMALS = Decimal("0.000001")

LOCATION_TYPE: Mapping[ParkingType, V211LocationType] = {
    ParkingType.ON_STREET: V211LocationType.ON_STREET,
    ParkingType.PARKING_GARAGE: V211LocationType.PARKING_GARAGE,
    ParkingType.UNDERGROUND_GARAGE: V211LocationType.UNDERGROUND_GARAGE,
    ParkingType.PARKING_LOT: V211LocationType.PARKING_LOT,
    ParkingType.ALONG_MOTORWAY: V211LocationType.OTHER,
    ParkingType.ON_DRIVEWAY: V211LocationType.OTHER,
}

POWER_TYPE: Mapping[PowerType, V211PowerType] = {
    PowerType.AC_1_PHASE: V211PowerType.AC_1_PHASE,
    PowerType.AC_2_PHASE: V211PowerType.AC_1_PHASE,
    PowerType.AC_2_PHASE_SPLIT: V211PowerType.AC_1_PHASE,
    PowerType.AC_3_PHASE: V211PowerType.AC_3_PHASE,
    PowerType.DC: V211PowerType.DC,
}

SESSION_STATUS: Mapping[SessionStatus, V211SessionStatus] = {
    SessionStatus.ACTIVE: V211SessionStatus.ACTIVE,
    SessionStatus.COMPLETED: V211SessionStatus.COMPLETED,
    SessionStatus.INVALID: V211SessionStatus.INVALID,
    SessionStatus.PENDING: V211SessionStatus.PENDING,
    SessionStatus.RESERVATION: V211SessionStatus.PENDING,
}

AUTH_METHOD: Mapping[AuthMethod, V211AuthMethod] = {
    AuthMethod.AUTH_REQUEST: V211AuthMethod.AUTH_REQUEST,
    AuthMethod.COMMAND: V211AuthMethod.AUTH_REQUEST,
    AuthMethod.WHITELIST: V211AuthMethod.WHITELIST,
}

_REGULAR = (None, TariffType.REGULAR)
_DIMENSIONS = frozenset(t.value for t in V211CdrDimensionType)


class NotExpressibleError(ValueError):
    """A 2.2.1 object that has no valid 2.1.1 form (see the module docstring)."""


# --- helpers -----------------------------------------------------------------------------


def _known(values: Iterable[str] | None, enum: type[E]) -> list[E] | None:
    """The values 2.1.1 has, in order; ``None`` when none is left."""
    allowed = {member.value for member in enum}
    kept = [enum(v) for v in values or () if v in allowed]
    return kept or None


def six_decimals(value: str) -> str:
    """A 2.2.1 coordinate (5 to 7 decimals) with the exactly six 2.1.1 demands."""
    return str(Decimal(value).quantize(_SIX_DECIMALS))


def _geo(point: GeoLocation) -> V211GeoLocation:
    return V211GeoLocation(
        latitude=six_decimals(point.latitude), longitude=six_decimals(point.longitude)
    )


def _related(point: AdditionalGeoLocation) -> V211AdditionalGeoLocation:
    return V211AdditionalGeoLocation(
        latitude=six_decimals(point.latitude),
        longitude=six_decimals(point.longitude),
        name=point.name,
    )


def _energy_mix(mix: EnergyMix | None) -> V211EnergyMix | None:
    if mix is None:
        return None
    return V211EnergyMix(
        is_green_energy=mix.is_green_energy,
        energy_sources=mix.energy_sources,
        environ_impact=None
        if mix.environ_impact is None
        else [
            V211EnvironmentalImpact(source=i.category, amount=i.amount) for i in mix.environ_impact
        ],
        supplier_name=mix.supplier_name,
        energy_product_name=mix.energy_product_name,
    )


def tariff_of(
    tariff_ids: Sequence[str] | None, tariff_types: Mapping[str, TariffType | None]
) -> str | None:
    """The one tariff a 2.1.1 connector names: the first regular one, else the first.

    ``tariff_types`` gives the type of each known tariff (``None``: untyped, regular).
    """
    ids = list(tariff_ids or ())
    regular = [t for t in ids if t in tariff_types and tariff_types[t] in _REGULAR]
    return next(iter(regular or ids), None)


# --- Locations ---------------------------------------------------------------------------


def to_v211_connector(
    connector: Connector, *, tariff_types: Mapping[str, TariffType | None] | None = None
) -> V211Connector:
    """One Connector; :class:`NotExpressibleError` when 2.1.1 lacks its standard."""
    if connector.standard.value not in {t.value for t in V211ConnectorType}:
        raise NotExpressibleError(f"connector standard {connector.standard} is not in 2.1.1")
    return V211Connector(
        id=connector.id,
        standard=V211ConnectorType(connector.standard.value),
        format=connector.format,
        power_type=POWER_TYPE[connector.power_type],
        voltage=connector.max_voltage,
        amperage=connector.max_amperage,
        tariff_id=tariff_of(connector.tariff_ids, tariff_types or {}),
        terms_and_conditions=connector.terms_and_conditions,
        last_updated=connector.last_updated,
    )


def to_v211_evse(
    evse: Evse, *, tariff_types: Mapping[str, TariffType | None] | None = None
) -> V211Evse:
    """One EVSE; :class:`NotExpressibleError` when none of its connectors is in 2.1.1."""
    connectors = []
    for connector in evse.connectors:
        try:
            connectors.append(to_v211_connector(connector, tariff_types=tariff_types))
        except NotExpressibleError:
            continue
    if not connectors:
        raise NotExpressibleError(f"EVSE {evse.uid} has no connector 2.1.1 can describe")
    return V211Evse(
        uid=evse.uid,
        evse_id=evse.evse_id,
        status=evse.status,
        status_schedule=evse.status_schedule,
        capabilities=_known(evse.capabilities, V211Capability),
        connectors=connectors,
        floor_level=evse.floor_level,
        coordinates=None if evse.coordinates is None else _geo(evse.coordinates),
        physical_reference=evse.physical_reference,
        directions=evse.directions,
        parking_restrictions=evse.parking_restrictions,
        images=evse.images,
        last_updated=evse.last_updated,
    )


def to_v211_location(
    location: Location, *, tariff_types: Mapping[str, TariffType | None] | None = None
) -> V211Location:
    """One Location with the EVSEs 2.1.1 can describe.

    ``tariff_types`` (by tariff id) pick each connector's one ``tariff_id``
    (:func:`tariff_of`).
    """
    evses = []
    for evse in location.evses or ():
        try:
            evses.append(to_v211_evse(evse, tariff_types=tariff_types))
        except NotExpressibleError:
            continue
    hours = location.opening_times
    return V211Location(
        id=location.id,
        type=V211LocationType.UNKNOWN
        if location.parking_type is None
        else LOCATION_TYPE[location.parking_type],
        name=location.name,
        address=location.address[:ADDRESS_MAX],
        city=location.city,
        postal_code=location.postal_code or "",
        country=location.country,
        coordinates=_geo(location.coordinates),
        related_locations=None
        if location.related_locations is None
        else [_related(p) for p in location.related_locations],
        evses=evses or None,
        directions=location.directions,
        operator=location.operator,
        suboperator=location.suboperator,
        owner=location.owner,
        facilities=_known(location.facilities, V211Facility),
        time_zone=location.time_zone,
        opening_times=None
        if hours is None
        else V211Hours(
            regular_hours=hours.regular_hours,
            twentyfourseven=hours.twentyfourseven,
            exceptional_openings=hours.exceptional_openings,
            exceptional_closings=hours.exceptional_closings,
        ),
        charging_when_closed=location.charging_when_closed,
        images=location.images,
        energy_mix=_energy_mix(location.energy_mix),
        last_updated=location.last_updated,
    )


def sealed_location(site: SealedSite, *, at: datetime) -> Location:
    """The 2.2.1 Location a Session or CDR took place at, as sealed at its start.

    Only the sealed EVSE and connector, every ``last_updated`` at ``at`` (the start) and
    the EVSE ``UNKNOWN`` (unless its lifecycle says otherwise): a sealed record carries
    no live status, the Locations module does. The connector names the sealed tariff.
    Built from the seal alone, so the same charge always shows the same Location.
    """
    loc = site.location.model_copy(update={"evses": (site.evse,)})
    location = to_ocpi_location(
        loc, operator=site.operator, statuses={}, configured_at={f"location:{loc.id}": at}
    )
    evses = []
    for evse in location.evses or ():
        connectors = [c for c in evse.connectors if c.id == site.connector_id]
        if site.tariff is not None:
            connectors = [c.model_copy(update={"tariff_ids": [site.tariff.id]}) for c in connectors]
        evses.append(evse.model_copy(update={"connectors": connectors}))
    return location.model_copy(update={"evses": evses})


def _only(location: Location, evse_uid: str, connector_id: str) -> Location:
    """``location`` with only the given EVSE and connector (2.1.1 Session/CDR ``location``)."""
    evses = []
    for evse in location.evses or ():
        if evse.uid.upper() != evse_uid.upper():
            continue
        connectors = [c for c in evse.connectors if c.id.upper() == connector_id.upper()]
        if connectors:
            evses.append(evse.model_copy(update={"connectors": connectors}))
    return location.model_copy(update={"evses": evses or None})


# --- Tariffs -----------------------------------------------------------------------------


def _restrictions(r: TariffRestrictions | None) -> V211TariffRestrictions | None:
    if r is None:
        return None
    kept = r.model_dump(exclude={"min_current", "max_current", "reservation"}, exclude_none=True)
    return V211TariffRestrictions.model_validate(kept) if kept else None


def to_v211_tariff(tariff: Tariff) -> V211Tariff:
    """One Tariff; :class:`NotExpressibleError` when only reservation pricing is left."""
    elements = [
        V211TariffElement(
            price_components=[
                V211PriceComponent(type=p.type, price=p.price, step_size=p.step_size)
                for p in element.price_components
            ],
            restrictions=_restrictions(element.restrictions),
        )
        for element in tariff.elements
        if element.restrictions is None or element.restrictions.reservation is None
    ]
    if not elements:
        raise NotExpressibleError(f"tariff {tariff.id} prices only reservations")
    return V211Tariff(
        id=tariff.id,
        currency=tariff.currency,
        tariff_alt_text=tariff.tariff_alt_text,
        tariff_alt_url=tariff.tariff_alt_url,
        elements=elements,
        energy_mix=_energy_mix(tariff.energy_mix),
        last_updated=tariff.last_updated,
    )


# --- Sessions and CDRs -------------------------------------------------------------------


def _periods(periods: Sequence[ChargingPeriod] | None) -> list[V211ChargingPeriod]:
    out = []
    for period in periods or ():
        dimensions = [
            V211CdrDimension(type=V211CdrDimensionType(d.type.value), volume=d.volume)
            for d in period.dimensions
            if d.type.value in _DIMENSIONS
        ]
        if dimensions:
            out.append(
                V211ChargingPeriod(start_date_time=period.start_date_time, dimensions=dimensions)
            )
    return out


def _nested(
    location: Location, evse_uid: str, connector_id: str, tariffs: Sequence[Tariff]
) -> V211Location:
    return to_v211_location(
        _only(location, evse_uid, connector_id), tariff_types={t.id: t.type for t in tariffs}
    )


def to_v211_session(session: Session, *, location: Location) -> V211Session:
    """One Session; ``location`` is where it took place (:func:`sealed_location`)."""
    return V211Session(
        id=session.id,
        start_datetime=session.start_date_time,
        end_datetime=session.end_date_time,
        kwh=session.kwh,
        auth_id=session.cdr_token.contract_id,
        auth_method=AUTH_METHOD[session.auth_method],
        location=_nested(location, session.evse_uid, session.connector_id, ()),
        meter_id=session.meter_id,
        currency=session.currency,
        charging_periods=_periods(session.charging_periods) or None,
        total_cost=None if session.total_cost is None else session.total_cost.excl_vat,
        status=SESSION_STATUS[session.status],
        last_updated=session.last_updated,
    )


def _expressible_tariffs(tariffs: Sequence[Tariff]) -> list[V211Tariff]:
    out = []
    for tariff in tariffs:
        try:
            out.append(to_v211_tariff(tariff))
        except NotExpressibleError:
            continue  # the CDR's total_cost already says what it cost
    return out


def to_v211_cdr(cdr: Cdr, *, location: Location) -> V211Cdr:
    """One CDR; ``location`` is where its charge took place (:func:`sealed_location`)."""
    if len(cdr.id) > 36:
        raise NotExpressibleError(f"CDR id {cdr.id!r} is longer than 2.1.1 allows")
    periods = _periods(cdr.charging_periods)
    if not periods:
        raise NotExpressibleError(f"CDR {cdr.id} has no charging period 2.1.1 can describe")
    remark = cdr.remark
    if cdr.credit and remark is None:
        remark = f"Credit of CDR {cdr.credit_reference_id}"
    where = cdr.cdr_location
    return V211Cdr(
        id=cdr.id,
        start_date_time=cdr.start_date_time,
        stop_date_time=cdr.end_date_time,
        auth_id=cdr.cdr_token.contract_id,
        auth_method=AUTH_METHOD[cdr.auth_method],
        location=_nested(location, where.evse_uid, where.connector_id, cdr.tariffs or ()),
        meter_id=cdr.meter_id,
        currency=cdr.currency,
        tariffs=_expressible_tariffs(cdr.tariffs or ()) or None,
        charging_periods=periods,
        total_cost=cdr.total_cost.excl_vat,
        total_energy=cdr.total_energy,
        total_time=cdr.total_time,
        total_parking_time=cdr.total_parking_time,
        remark=remark,
        last_updated=cdr.last_updated,
    )
