"""Pure: a transaction -> the OCPI Session partners follow and the CDR they bill from.

The Session and the CDR are built from the same inputs: the transaction (with its meter
samples), the Location/EVSE/Connector configuration and the tariff as they were at the
start, and the token's identity (who issued it, how it was authorised). Costs come from
the tariff engine applied to the cleaned register series, so what a partner sees while
charging and what it is billed agree.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from decimal import Decimal

from gateway.config import (
    ConnectorSettings,
    EvseSettings,
    LocationSettings,
    OperatorSettings,
    evse_max_power,
)
from gateway.core.energy import EnergyResult, session_energy
from gateway.domain.meter import ReadingContext, SignedReading
from gateway.domain.topology import ConnectorRef
from gateway.domain.transactions import Transaction, TxFlag
from ocpi_bridge.models.cdrs import (
    AuthMethod,
    Cdr,
    CdrDimension,
    CdrDimensionType,
    CdrLocation,
    CdrToken,
    ChargingPeriod,
    SignedData,
    SignedValue,
)
from ocpi_bridge.models.common import Price
from ocpi_bridge.models.locations import ConnectorFormat, ConnectorType, GeoLocation, PowerType
from ocpi_bridge.models.sessions import Session, SessionStatus
from ocpi_bridge.models.tariffs import Tariff
from ocpi_bridge.models.tokens import TokenType
from ocpi_bridge.translate import tariff_engine as engine
from ocpi_bridge.translate.tariffs import to_plan

_KWH = Decimal(1000)
_MAX_ID = 36


@dataclass(frozen=True, slots=True, kw_only=True)
class TokenIdentity:
    """Who a session belongs to: the token and the partner (eMSP) that issued it."""

    country_code: str
    party_id: str
    uid: str
    type: TokenType
    contract_id: str
    auth_method: AuthMethod = AuthMethod.WHITELIST
    authorization_reference: str | None = None

    def to_cdr_token(self) -> CdrToken:
        return CdrToken(
            country_code=self.country_code,
            party_id=self.party_id,
            uid=self.uid,
            type=self.type,
            contract_id=self.contract_id,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Site:
    """Where a transaction happened, as configured when it started."""

    operator: OperatorSettings
    location: LocationSettings
    evse: EvseSettings
    time_zone: tzinfo


def session_id(tx: Transaction) -> str:
    """A stable Session (and CDR) id for a transaction: readable when it fits in 36 chars.

    Derived from (charger, transaction id), which the store keeps unique, so no replay can
    mint a second Session or CDR for the same charge (R-OCPI-CDR-1).
    """
    readable = f"{tx.charger_id}-{tx.tx_id}"
    if len(readable) <= _MAX_ID and readable.isascii():
        return readable
    digest = hashlib.sha256(f"{tx.charger_id}\0{tx.tx_id}".encode()).hexdigest()
    return f"S{digest[: _MAX_ID - 1]}"


def connector_of(tx: Transaction, evse: EvseSettings) -> ConnectorSettings:
    """The configured connector the charger named; its EVSE's first when it named none."""
    ref: ConnectorRef | None = tx.connector
    if ref is not None:
        for conn in evse.connectors:
            if conn.ocpp_connector_id == ref.connector:
                return conn
    return evse.connectors[0]


def energy_of(tx: Transaction, *, max_power_w: Decimal | None = None) -> EnergyResult:
    """The billable energy so far (running) or final (ended).

    ``max_power_w`` is the EVSE's ceiling, as the core used it at the stop: a register
    jump it rejected must not come back through the series the CDR is priced on.
    """
    return session_energy(
        tx.meter_start_wh,
        tx.meter_stop_wh,
        tx.samples,
        started_at=tx.started_at,
        stopped_at=tx.stopped_at,
        max_power_w=max_power_w,
    )


def usage_of(
    tx: Transaction,
    *,
    end: datetime,
    time_zone: tzinfo,
    max_power_w: Decimal | None = None,
) -> engine.SessionUsage:
    """The engine's timeline: cumulative energy from the cleaned register series.

    The series starts at 0 Wh at the start; an interval counts as charging when energy
    grows during it, as parking when it does not (the EV stopped drawing power).
    """
    result = energy_of(tx, max_power_w=max_power_w)
    start = tx.started_at
    points: list[tuple[datetime, Decimal]] = [(start, Decimal(0))]
    for point in result.series:
        if point.at is None or point.at <= points[-1][0] or point.at > end:
            continue
        points.append((point.at, max(point.energy_wh, points[-1][1])))
    final = tx.energy_wh if tx.ended else result.energy_wh
    if end > points[-1][0]:
        points.append((end, max(final, points[-1][1])))
    samples = tuple(
        engine.UsageSample(
            at=at,
            energy_wh=energy,
            charging=i + 1 < len(points) and points[i + 1][1] > energy,
        )
        for i, (at, energy) in enumerate(points)
    )
    return engine.SessionUsage(start=start, end=end, time_zone=time_zone, samples=samples)


def _price(money: engine.Money) -> Price:
    return Price(excl_vat=money.excl_vat, incl_vat=money.incl_vat)


#: OCPI 2.2.1 has no FLAT dimension (2.1.1 had); the flat fee shows in total_fixed_cost.
_DIMENSIONS = frozenset(t.value for t in CdrDimensionType)


def _periods(costed: engine.CostedSession) -> list[ChargingPeriod]:
    periods = []
    for p in costed.charging_periods:
        dimensions = [
            CdrDimension(type=CdrDimensionType(d.type.value), volume=d.volume)
            for d in p.dimensions
            if d.type.value in _DIMENSIONS
        ]
        if dimensions:
            periods.append(
                ChargingPeriod(
                    start_date_time=p.start, dimensions=dimensions, tariff_id=p.tariff_id
                )
            )
    return periods


def cost_of(
    tx: Transaction,
    tariff: Tariff | None,
    *,
    end: datetime,
    time_zone: tzinfo,
    max_power_w: Decimal | None = None,
) -> engine.CostedSession | None:
    if tariff is None:
        return None
    usage = usage_of(tx, end=end, time_zone=time_zone, max_power_w=max_power_w)
    return engine.cost_session(to_plan(tariff), usage)


def session_status(tx: Transaction) -> SessionStatus:
    """ACTIVE while charging, COMPLETED once ended; INVALID when its start was refused.

    A transaction whose token the charger was told was not Accepted stays INVALID to the
    end (mod_sessions: "declared invalid and will not be billed"), even if the charger
    charged anyway.
    """
    if TxFlag.AUTH_REJECTED in tx.flags:
        return SessionStatus.INVALID
    return SessionStatus.COMPLETED if tx.ended else SessionStatus.ACTIVE


def billable(tx: Transaction) -> bool:
    """Whether a CDR is made at the end: not for a session declared INVALID."""
    return session_status(tx) is not SessionStatus.INVALID


def to_ocpi_session(
    tx: Transaction,
    *,
    site: Site,
    tariff: Tariff | None,
    token: TokenIdentity,
    now: datetime,
    last_updated: datetime,
    sealed_id: str | None = None,
) -> Session:
    """The Session as it stands (see ``session_status``); an INVALID one carries no cost.

    ``sealed_id`` is the Session id sealed with the transaction (a partner's START_SESSION or
    reservation may have given it before the transaction existed); the one derived from
    the transaction otherwise.
    """
    status = session_status(tx)
    end = tx.stopped_at if tx.ended and tx.stopped_at is not None else max(now, tx.started_at)
    ceiling = evse_max_power(site.evse)
    costed = (
        None
        if status is SessionStatus.INVALID
        else cost_of(tx, tariff, end=end, time_zone=site.time_zone, max_power_w=ceiling)
    )
    energy_wh = tx.energy_wh if tx.ended else energy_of(tx, max_power_w=ceiling).energy_wh
    connector = connector_of(tx, site.evse)
    return Session(
        country_code=site.operator.country_code,
        party_id=site.operator.party_id,
        id=sealed_id or session_id(tx),
        start_date_time=tx.started_at,
        end_date_time=tx.stopped_at if tx.ended else None,
        kwh=energy_wh / _KWH,
        cdr_token=token.to_cdr_token(),
        auth_method=token.auth_method,
        authorization_reference=token.authorization_reference,
        location_id=site.location.id,
        evse_uid=site.evse.uid,
        connector_id=connector.id,
        currency=tariff.currency if tariff is not None else "EUR",
        charging_periods=None if costed is None else (_periods(costed) or None),
        total_cost=None if costed is None else _price(costed.total_cost),
        status=status,
        last_updated=last_updated,
    )


def to_ocpi_cdr(
    tx: Transaction,
    *,
    site: Site,
    tariff: Tariff,
    token: TokenIdentity,
    issued_at: datetime,
    sealed_id: str | None = None,
) -> Cdr:
    """The CDR of an ended transaction, sealed with what applied at its start.

    Its id is derived from the transaction (R-OCPI-CDR-1); its ``session_id`` is the
    sealed Session id (``sealed_id``) when one was given before the transaction existed.
    """
    if not tx.ended or tx.stopped_at is None:
        raise ValueError("a CDR is only built for an ended transaction")
    costed = engine.cost_session(
        to_plan(tariff),
        usage_of(
            tx,
            end=tx.stopped_at,
            time_zone=site.time_zone,
            max_power_w=evse_max_power(site.evse),
        ),
    )
    connector = connector_of(tx, site.evse)
    loc = site.location
    periods = _periods(costed) or [
        ChargingPeriod(
            start_date_time=tx.started_at,
            dimensions=[CdrDimension(type=CdrDimensionType.ENERGY, volume=Decimal(0))],
            tariff_id=tariff.id,
        )
    ]
    return Cdr(
        country_code=site.operator.country_code,
        party_id=site.operator.party_id,
        id=session_id(tx),
        start_date_time=tx.started_at,
        end_date_time=tx.stopped_at,
        session_id=sealed_id or session_id(tx),
        cdr_token=token.to_cdr_token(),
        auth_method=token.auth_method,
        authorization_reference=token.authorization_reference,
        cdr_location=CdrLocation(
            id=loc.id,
            name=loc.name,
            address=loc.address,
            city=loc.city,
            postal_code=loc.postal_code,
            state=loc.state,
            country=loc.country,
            coordinates=GeoLocation(latitude=loc.latitude, longitude=loc.longitude),
            evse_uid=site.evse.uid,
            evse_id=site.evse.evse_id or site.evse.uid,
            connector_id=connector.id,
            connector_standard=ConnectorType(connector.standard.value),
            connector_format=ConnectorFormat(connector.format),
            connector_power_type=PowerType(connector.power_type),
        ),
        currency=tariff.currency,
        tariffs=[tariff],
        charging_periods=periods,
        signed_data=to_signed_data(tx),
        total_cost=_price(costed.total_cost),
        total_fixed_cost=_price(costed.total_fixed_cost),
        total_energy=costed.total_energy_kwh,
        total_energy_cost=_price(costed.total_energy_cost),
        total_time=costed.total_time_h,
        total_time_cost=_price(costed.total_time_cost),
        total_parking_time=costed.total_parking_time_h,
        total_parking_cost=_price(costed.total_parking_cost),
        total_reservation_cost=_price(costed.total_reservation_cost),
        last_updated=issued_at,
    )


_NATURE = {
    ReadingContext.TRANSACTION_BEGIN: "Start",
    ReadingContext.TRANSACTION_END: "End",
}


def to_signed_data(tx: Transaction) -> SignedData | None:
    """The charger's signed meter values, verbatim (Eichrecht: the partner verifies them)."""
    signed: Sequence[SignedReading] = [g for s in tx.samples for g in s.signed]
    if not signed:
        return None
    first = signed[0]
    return SignedData(
        encoding_method=(first.encoding_method or first.signing_method or "OCMF")[:36],
        public_key=first.public_key[:512] if first.public_key else None,
        signed_values=[
            SignedValue(
                nature=_NATURE.get(g.context, "Intermediate"),
                plain_data="",
                signed_data=g.data[:5000],
            )
            for g in signed
        ],
    )
