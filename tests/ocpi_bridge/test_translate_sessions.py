"""Transaction -> OCPI Session and CDR, priced by the tariff engine (pure)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from gateway.config import load_settings
from gateway.domain.ids import ChargerId, EvseUid
from gateway.domain.meter import Measurand, MeterSample, Reading, ReadingContext, SignedReading
from gateway.domain.topology import ConnectorRef
from gateway.domain.transactions import AuthToken, Transaction, TransactionStatus, TxFlag
from ocpi_bridge.models.cdrs import AuthMethod
from ocpi_bridge.models.sessions import SessionStatus
from ocpi_bridge.models.tokens import TokenType
from ocpi_bridge.translate.sessions import (
    Site,
    TokenIdentity,
    billable,
    connector_of,
    session_id,
    to_ocpi_cdr,
    to_ocpi_session,
    to_signed_data,
)
from ocpi_bridge.translate.tariffs import to_ocpi_tariff
from tests.builders import SHIPPED_CONFIG, T0

SETTINGS = load_settings(SHIPPED_CONFIG)
LOC = SETTINGS.locations[0]
AC_EVSE, DC_EVSE = LOC.evses[0], LOC.evses[2]
SITE = Site(
    operator=SETTINGS.operator, location=LOC, evse=AC_EVSE, time_zone=ZoneInfo("Europe/Amsterdam")
)
AC_TARIFF = to_ocpi_tariff(SETTINGS.tariffs[0], operator=SETTINGS.operator, last_updated=T0)
DC_TARIFF = to_ocpi_tariff(SETTINGS.tariffs[1], operator=SETTINGS.operator, last_updated=T0)
TOKEN = TokenIdentity(
    country_code="DE",
    party_id="EMS",
    uid="04A1B2C3",
    type=TokenType.RFID,
    contract_id="DE-EMS-C12345678-X",
)


def at(minutes: int):
    return T0 + timedelta(minutes=minutes)


def register(wh: int, minutes: int, context=ReadingContext.SAMPLE_PERIODIC) -> MeterSample:
    return MeterSample(
        at=at(minutes),
        readings=(
            Reading(
                measurand=Measurand.ENERGY_ACTIVE_IMPORT_REGISTER,
                value=Decimal(wh),
                unit="Wh",
                at=at(minutes),
                context=context,
            ),
        ),
    )


def a_transaction(**changes) -> Transaction:
    tx = Transaction(
        charger_id=ChargerId("AC-0001"),
        tx_id="17",
        evse_uid=EvseUid(AC_EVSE.uid),
        connector=ConnectorRef(evse=None, connector=1),
        token=AuthToken(value="04A1B2C3"),
        started_at=at(0),
        received_at=at(0),
        meter_start_wh=Decimal(1000),
        samples=(register(4000, 30), register(6000, 60)),
    )
    return replace(tx, **changes)


def ended() -> Transaction:
    return a_transaction(
        status=TransactionStatus.COMPLETED,
        meter_stop_wh=Decimal(6000),
        stopped_at=at(120),
        energy_wh=Decimal(5000),
    )


def test_a_running_session_shows_energy_and_cost_so_far():
    """ACTIVE, kWh from the register series, cost from the tariff: 4 kWh x 0.30 = 1.20."""
    tx = a_transaction(samples=(register(4000, 30), register(5000, 40)))
    session = to_ocpi_session(
        tx, site=SITE, tariff=AC_TARIFF, token=TOKEN, now=at(40), last_updated=at(40)
    )

    assert session.status is SessionStatus.ACTIVE
    assert session.kwh == Decimal(4)
    assert session.end_date_time is None
    assert session.total_cost is not None
    assert (session.total_cost.excl_vat, session.total_cost.incl_vat) == (
        Decimal("1.2"),
        Decimal("1.452"),
    )
    assert (session.location_id, session.evse_uid, session.connector_id) == (
        "LOC-001",
        "AC-0001-1",
        "1",
    )
    assert session.cdr_token.contract_id == "DE-EMS-C12345678-X"
    dumped = session.model_dump(mode="json", exclude_none=True)
    assert dumped["last_updated"] == "2026-11-22T10:40:00Z"


def test_the_cdr_prices_energy_and_the_blocking_fee_by_hand():
    """5 kWh x 0.30 = 1.50 (+21% = 1.815); parked 11:00-12:00 after the first hour:
    1 h x 2.00 = 2.00 (+21% = 2.42); total 3.50 / 4.235."""
    cdr = to_ocpi_cdr(ended(), site=SITE, tariff=AC_TARIFF, token=TOKEN, issued_at=at(121))

    assert cdr.id == cdr.session_id == "AC-0001-17"
    assert cdr.total_energy == Decimal(5)
    assert cdr.total_time == Decimal(2)
    assert cdr.total_parking_time == Decimal(1)
    assert cdr.total_energy_cost is not None
    assert cdr.total_parking_cost is not None
    assert (cdr.total_energy_cost.excl_vat, cdr.total_energy_cost.incl_vat) == (
        Decimal("1.5"),
        Decimal("1.815"),
    )
    assert (cdr.total_parking_cost.excl_vat, cdr.total_parking_cost.incl_vat) == (
        Decimal(2),
        Decimal("2.42"),
    )
    assert (cdr.total_cost.excl_vat, cdr.total_cost.incl_vat) == (Decimal("3.5"), Decimal("4.235"))
    assert [p.start_date_time for p in cdr.charging_periods] == [at(0), at(60)]
    assert cdr.cdr_location.evse_id == "NL*CEG*E0001*1"
    assert cdr.tariffs == [AC_TARIFF]
    assert cdr.last_updated == at(121)


def test_a_completed_session_matches_its_cdr():
    """What the partner saw last in the Session is what the CDR bills."""
    tx = ended()
    session = to_ocpi_session(
        tx, site=SITE, tariff=AC_TARIFF, token=TOKEN, now=at(200), last_updated=at(120)
    )
    cdr = to_ocpi_cdr(tx, site=SITE, tariff=AC_TARIFF, token=TOKEN, issued_at=at(121))

    assert session.status is SessionStatus.COMPLETED
    assert session.end_date_time == at(120)
    assert session.kwh == cdr.total_energy
    assert session.total_cost == cdr.total_cost


def test_the_dc_tariff_charges_its_flat_fee_once():
    """0.50 flat + 5 kWh x 0.55 = 3.25 excl. VAT."""
    site = replace(SITE, evse=DC_EVSE)
    tx = replace(
        ended(), charger_id=ChargerId("DC-0001"), connector=ConnectorRef(evse=1, connector=2)
    )
    cdr = to_ocpi_cdr(tx, site=site, tariff=DC_TARIFF, token=TOKEN, issued_at=at(121))

    assert cdr.total_fixed_cost is not None
    assert cdr.total_fixed_cost.excl_vat == Decimal("0.5")
    assert cdr.total_cost.excl_vat == Decimal("3.25")
    assert cdr.cdr_location.connector_id == "2"
    assert cdr.cdr_location.connector_standard.value == "CHADEMO"


def test_a_session_without_a_tariff_has_no_cost():
    """No tariff: energy only, and the currency defaults to EUR."""
    session = to_ocpi_session(
        a_transaction(), site=SITE, tariff=None, token=TOKEN, now=at(60), last_updated=at(60)
    )
    assert session.total_cost is None
    assert session.charging_periods is None
    assert session.currency == "EUR"


def test_a_cdr_needs_an_ended_transaction():
    """Building a CDR of a running transaction is a programming error."""
    with pytest.raises(ValueError, match="ended"):
        to_ocpi_cdr(a_transaction(), site=SITE, tariff=AC_TARIFF, token=TOKEN, issued_at=at(1))


def test_a_zero_energy_charge_still_has_a_charging_period():
    """A plug-in that drew nothing: one period, 0 kWh, cost 0 (CDRs need >= 1 period)."""
    tx = replace(
        ended(), samples=(), meter_stop_wh=Decimal(1000), energy_wh=Decimal(0), stopped_at=at(0)
    )
    cdr = to_ocpi_cdr(tx, site=SITE, tariff=AC_TARIFF, token=TOKEN, issued_at=at(1))

    assert len(cdr.charging_periods) == 1
    assert cdr.total_cost.excl_vat == 0


def test_session_ids_are_stable_and_fit_36_characters():
    """Readable when short enough; a digest for long charger ids; the same tx, the same id."""
    assert session_id(a_transaction()) == "AC-0001-17"
    long_tx = a_transaction(charger_id=ChargerId("X" * 40), tx_id="a" * 36)
    assert len(session_id(long_tx)) == 36
    assert session_id(long_tx) == session_id(long_tx)
    assert session_id(long_tx) != session_id(replace(long_tx, tx_id="b" * 36))


def test_the_connector_is_the_one_the_charger_named():
    """1.6 connectorId picks the OCPI connector; none named picks the EVSE's first."""
    tx = replace(a_transaction(), connector=ConnectorRef(evse=1, connector=2))
    assert connector_of(tx, DC_EVSE).id == "2"
    assert connector_of(replace(tx, connector=None), DC_EVSE).id == "1"
    assert connector_of(replace(tx, connector=ConnectorRef(evse=1, connector=9)), DC_EVSE).id == "1"


def test_signed_meter_values_go_into_the_cdr_verbatim():
    """Eichrecht: the partner gets exactly what the charger signed."""
    signed = (
        SignedReading(
            data="OCMF|{...start}",
            at=at(0),
            context=ReadingContext.TRANSACTION_BEGIN,
            encoding_method="OCMF",
            public_key="PK",
        ),
        SignedReading(data="OCMF|{...end}", at=at(120), context=ReadingContext.TRANSACTION_END),
        SignedReading(data="OCMF|{...mid}", at=at(60)),
    )
    tx = replace(ended(), samples=(MeterSample(at=at(0), signed=signed),))
    data = to_signed_data(tx)

    assert data is not None
    assert data.encoding_method == "OCMF"
    assert data.public_key == "PK"
    assert [(v.nature, v.signed_data) for v in data.signed_values] == [
        ("Start", "OCMF|{...start}"),
        ("End", "OCMF|{...end}"),
        ("Intermediate", "OCMF|{...mid}"),
    ]
    assert to_signed_data(ended()) is None
    cdr = to_ocpi_cdr(tx, site=SITE, tariff=AC_TARIFF, token=TOKEN, issued_at=at(121))
    assert cdr.signed_data == data


def test_tariffs_from_the_configuration_are_valid_ocpi():
    """Config tariffs become OCPI Tariffs of the operator, with alt text from the description."""
    described = SETTINGS.tariffs[0].model_copy(update={"description": "0.30/kWh"})
    tariff = to_ocpi_tariff(described, operator=SETTINGS.operator, last_updated=T0)

    assert (tariff.country_code, tariff.party_id, tariff.id) == ("NL", "CEG", "AC-STANDARD")
    assert tariff.tariff_alt_text is not None
    assert tariff.tariff_alt_text[0].text == "0.30/kWh"
    assert tariff.elements[1].restrictions is not None
    assert tariff.elements[1].restrictions.min_duration == 3600
    assert AuthMethod.WHITELIST is TOKEN.auth_method


def test_samples_outside_the_session_window_are_not_priced():
    """A sample the charger dated before the start (clock skew) adds no period."""
    tx = replace(ended(), samples=(register(500, -10), *ended().samples))
    cdr = to_ocpi_cdr(tx, site=SITE, tariff=AC_TARIFF, token=TOKEN, issued_at=at(121))

    assert cdr.charging_periods[0].start_date_time == at(0)


def test_a_flat_only_period_is_not_a_2_2_1_dimension():
    """OCPI 2.2.1 has no FLAT dimension: a period priced only by FLAT still has a dimension."""
    site = replace(SITE, evse=DC_EVSE)
    tx = replace(
        ended(), samples=(), meter_stop_wh=Decimal(1000), energy_wh=Decimal(0), stopped_at=at(0)
    )
    cdr = to_ocpi_cdr(tx, site=site, tariff=DC_TARIFF, token=TOKEN, issued_at=at(1))

    assert all(d.type.value != "FLAT" for p in cdr.charging_periods for d in p.dimensions)
    assert cdr.total_cost.excl_vat == Decimal("0.5")


def test_a_running_session_after_its_last_sample_counts_parking():
    """Time after the last meter sample with no energy growth is parking so far."""
    tx = a_transaction()  # last sample at 11:00, 5 kWh
    session = to_ocpi_session(
        tx, site=SITE, tariff=AC_TARIFF, token=TOKEN, now=at(90), last_updated=at(60)
    )

    assert session.total_cost is not None
    # 5 kWh x 0.30 = 1.50; parked 11:00-11:30: 0.5 h x 2.00 = 1.00
    assert session.total_cost.excl_vat == Decimal("2.5")


def test_periods_priced_only_by_flat_are_left_out():
    """A charging period whose only dimension is FLAT has nothing to say in 2.2.1."""
    from ocpi_bridge.translate import tariff_engine as engine
    from ocpi_bridge.translate.sessions import _periods

    zero = engine.Money(excl_vat=Decimal(0), incl_vat=Decimal(0))
    costed = engine.CostedSession(
        currency="EUR",
        charging_periods=(
            engine.ChargingPeriodOut(
                start=at(0),
                dimensions=(
                    engine.CdrDimension(type=engine.CdrDimensionType.FLAT, volume=Decimal(1)),
                ),
                tariff_id="T",
            ),
        ),
        total_cost=zero,
        total_fixed_cost=zero,
        total_energy_cost=zero,
        total_time_cost=zero,
        total_parking_cost=zero,
        total_reservation_cost=zero,
        min_max_adjustment=zero,
        total_energy_kwh=Decimal(0),
        total_time_h=Decimal(0),
        total_parking_time_h=Decimal(0),
        total_reservation_time_h=Decimal(0),
    )
    assert _periods(costed) == []


def test_a_session_whose_start_was_refused_is_invalid_and_carries_no_cost():
    """A refused start stays INVALID, running or ended, and shows no price."""
    for tx in (a_transaction(), ended()):
        refused = replace(tx, flags=frozenset({TxFlag.AUTH_REJECTED}))
        session = to_ocpi_session(
            refused, site=SITE, tariff=AC_TARIFF, token=TOKEN, now=at(200), last_updated=at(200)
        )

        assert session.status is SessionStatus.INVALID
        assert session.total_cost is None
        assert session.charging_periods is None
        assert not billable(refused)
    assert billable(ended())


def test_a_sealed_session_id_names_the_session_and_the_cdr_session():
    """An id given before the transaction existed is the Session's; the CDR id stays derived."""
    session = to_ocpi_session(
        ended(),
        site=SITE,
        tariff=AC_TARIFF,
        token=TOKEN,
        now=at(200),
        last_updated=at(120),
        sealed_id="P-42",
    )
    cdr = to_ocpi_cdr(
        ended(), site=SITE, tariff=AC_TARIFF, token=TOKEN, issued_at=at(121), sealed_id="P-42"
    )

    assert session.id == cdr.session_id == "P-42"
    assert cdr.id == "AC-0001-17"
