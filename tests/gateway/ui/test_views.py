"""Operator page bodies built from data: escaping, masking, plots and CSV."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal
from types import MappingProxyType

import pytest
from hypothesis import given, strategies as st

from gateway.domain.billing import CdrPage, Unbilled, UnbilledPage
from gateway.domain.ids import ChargerId, EvseUid
from gateway.domain.meter import (
    EnergyFlag,
    EnergyFlagCode,
    Measurand,
    MeterSample,
    Reading,
)
from gateway.domain.state import BootInfo, ChargerState
from gateway.domain.status import EvseStatus
from gateway.domain.transactions import AuthToken, TokenKind, Transaction, TransactionStatus, TxFlag
from gateway.ports import LiveConnection, MessageRecord, PartnerDelivery
from gateway.ui import html, plot, views
from tests.builders import T0, a_settings

EVIL = '<script>alert("x")</script>'


def reading(measurand: Measurand, value: str, at, phase: str | None = None) -> Reading:
    return Reading(measurand=measurand, value=Decimal(value), unit="", at=at, phase=phase)


def sample(minutes: int, wh: str | None, w: str | None) -> MeterSample:
    at = T0 + timedelta(minutes=minutes)
    readings = []
    if wh is not None:
        readings.append(reading(Measurand.ENERGY_ACTIVE_IMPORT_REGISTER, wh, at))
    if w is not None:
        readings.append(reading(Measurand.POWER_ACTIVE_IMPORT, w, at))
    return MeterSample(at=at, readings=tuple(readings))


def a_tx(**overrides) -> Transaction:
    values = {
        "charger_id": ChargerId("AC-0001"),
        "tx_id": "7",
        "evse_uid": EvseUid("AC-0001-1"),
        "connector": None,
        "token": AuthToken(value="04A1B2C3D4", kind=TokenKind.RFID),
        "started_at": T0,
        "received_at": T0,
        "meter_start_wh": Decimal(1000),
        "samples": (sample(10, "2000", "6000"), sample(20, "3500", "9000")),
        "auth_source": "DE/EMS",
    }
    return Transaction(**{**values, **overrides})


def site(**overrides) -> views.SiteNow:
    values = {
        "settings": a_settings(),
        "statuses": {},
        "states": {},
        "live": {},
        "last_heard": {},
        "now": T0 + timedelta(minutes=30),
    }
    return views.SiteNow(**{**values, **overrides})


@pytest.mark.parametrize(
    ("value", "kind", "expected"),
    [("04A1B2C3D4", TokenKind.RFID, "rfid ••••C3D4"), ("1234", TokenKind.LOCAL, "local ••••")],
)
def test_tokens_are_shown_masked(value, kind, expected):
    """At most the last four characters of a token, and only of a long one."""
    assert views.masked(AuthToken(value=value, kind=kind)) == expected
    assert views.masked(None) == "no token"


@pytest.mark.parametrize(
    ("status", "text"),
    [(None, "UNKNOWN"), (EvseStatus.OUT_OF_ORDER, "OUTOFORDER"), (EvseStatus.CHARGING, "CHARGING")],
)
def test_statuses_read_as_ocpi_spells_them(status, text):
    """The board uses OCPI's words."""
    assert views.ocpi_status(status) == text


def test_live_energy_takes_the_highest_register_while_running():
    """A wrongly dated newest sample does not make the energy go backwards."""
    tx = a_tx(samples=(sample(20, "3500", None), sample(10, "2000", None)))
    assert views.live_energy_wh(tx) == Decimal(2500)
    assert views.live_power_w(tx) is None
    done = a_tx(status=TransactionStatus.COMPLETED, energy_wh=Decimal(4000))
    assert views.live_energy_wh(done) == Decimal(4000)
    assert views.live_energy_wh(a_tx(samples=())) == Decimal(0)


def test_power_sums_phases_when_no_total_is_sent():
    """L1+L2+L3 readings make the total; line-to-line labels are not summed."""
    at = T0
    s = MeterSample(
        at=at,
        readings=(
            reading(Measurand.POWER_ACTIVE_IMPORT, "3000", at, "L1"),
            reading(Measurand.POWER_ACTIVE_IMPORT, "3500", at, "L2"),
            reading(Measurand.POWER_ACTIVE_IMPORT, "9999", at, "L1-L2"),
        ),
    )
    assert plot.power_w(s) == Decimal(6500)
    assert plot.register_wh(s) is None


def test_the_plot_starts_at_the_session_start_at_zero():
    """With a start register the energy curve begins at 0 kWh at the start time."""
    points = plot.points(a_tx().samples, meter_start_wh=Decimal(1000), started_at=T0)
    assert [p.energy_wh for p in points] == [Decimal(0), Decimal(1000), Decimal(2500)]
    drawing = plot.svg(points)
    assert drawing.count("<polyline") == 2
    assert "10:20 UTC" in drawing


def test_a_session_without_meter_data_says_so():
    """No samples: a sentence instead of an empty drawing."""
    assert "No meter values" in plot.svg(plot.points((), meter_start_wh=None))


def test_energy_without_a_start_register_counts_from_the_first_reading():
    """A 2.0.1 session with no meterStart is plotted from its first register."""
    points = plot.points(a_tx().samples, meter_start_wh=None, started_at=T0)
    assert [p.energy_wh for p in points] == [Decimal(0), Decimal(1500)]
    only_power = plot.points((sample(5, None, "7000"),), meter_start_wh=None)
    assert plot.svg(only_power).count("<polyline") == 1


@given(st.decimals(min_value=Decimal("0.0001"), max_value=Decimal(10**6), places=4))
def test_axis_ceilings_are_round_and_never_below_the_data(value):
    """1, 2 or 5 times a power of ten, at least the largest value."""
    top = plot._nice_ceiling(value)
    assert top >= value
    assert top.normalize().as_tuple().digits[0] in (1, 2, 5)


def test_the_board_escapes_everything_it_did_not_write():
    """Charger ids, boot strings and configured names arrive escaped."""
    state = ChargerState(
        charger_id=ChargerId("AC-0001"),
        connected=True,
        offline=False,
        boot=BootInfo(vendor=EVIL, model=EVIL, firmware_version=EVIL, at=T0),
        transactions=MappingProxyType({"7": a_tx()}),
    )
    live = {
        ChargerId("AC-0001"): LiveConnection(
            charger_id=ChargerId("AC-0001"),
            protocol="ocpp1.6",
            connected_at=T0,
            last_message_at=T0,
        ),
        ChargerId(EVIL): LiveConnection(
            charger_id=ChargerId(EVIL),
            protocol="ocpp1.6",
            connected_at=T0,
            last_message_at=None,
            known=False,
        ),
    }
    now = site(states={ChargerId("AC-0001"): state}, live=live)
    pages = [
        views.board(now),
        views.chargers(now, {"AC-0001": 2}),
        views.charger(
            now,
            views.ChargerDetail(
                charger_id="AC-0001",
                messages=[
                    MessageRecord(at=T0, direction="in", message_id=EVIL, action=EVIL, outcome=EVIL)
                ],
                notes=[("meter:bad_number", EVIL)],
                parked=[("AC-0001", EVIL, EVIL, EVIL)],
                flagged=[
                    a_tx(
                        flags=frozenset({TxFlag.LATE_EVENT}),
                        energy_flags=(EnergyFlag(code=EnergyFlagCode.REGISTER_RESET, text=EVIL),),
                    )
                ],
            ),
        ),
        views.sessions([a_tx(tx_id=EVIL)], {}, now.now),
        views.session(a_tx(stop_reason=EVIL), now.now),
        views.cdrs(
            views.CdrListing(
                cdrs=CdrPage(total=0, items=()),
                unbilled=UnbilledPage(
                    total=1,
                    items=(
                        Unbilled(
                            row=1,
                            transaction=a_tx(auth_source=EVIL, status=TransactionStatus.COMPLETED),
                            seal=None,
                        ),
                    ),
                ),
                now=now.now,
            )
        ),
        views.partners(
            [
                views.PartnerRow(
                    name=EVIL,
                    state=EVIL,
                    roles=EVIL,
                    version=EVIL,
                    delivery=PartnerDelivery(
                        partner=EVIL, last_error=EVIL, backlog=1, oldest_pending_at=T0
                    ),
                )
            ],
            now.now,
        ),
    ]
    for page in pages:
        assert "<script>" not in page
    assert "meter reset" in pages[2]
    assert "event after the end" in pages[2]
    assert "1 sessions active" in pages[0]
    assert "commissioning" in pages[0]


def test_csv_cells_cannot_become_spreadsheet_formulas():
    """Charger-supplied text starting with = + - @ is prefixed so it stays text."""
    done = a_tx(
        status=TransactionStatus.COMPLETED,
        energy_wh=Decimal(5000),
        stopped_at=T0 + timedelta(hours=1),
        stop_reason="=HYPERLINK(1)",
        tx_id="-2",
        auth_source="@partner",
    )
    text = views.unbilled_csv_header() + views.unbilled_csv_rows(
        [Unbilled(row=1, transaction=done, seal=None)]
    )
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == list(views.UNBILLED_CSV_COLUMNS)
    assert rows[1][1] == "'-2"
    assert rows[1][5] == "5.000"
    assert rows[1][6] == "rfid ••••C3D4"
    assert rows[1][7] == "'@partner"
    assert rows[1][8] == "'=HYPERLINK(1)"


def test_partner_rows_cover_registered_static_and_invited_partners():
    """Static partners come from the config; their backlog from the delivery view."""
    rows = views.partner_rows(
        a_settings(
            ocpi={
                "static_partners": [
                    {"name": "Hub", "country_code": "DE", "party_id": "HUB", "token": "t0k3n-t0k3n"}
                ]
            }
        ),
        [],
        [],
        {"Hub": PartnerDelivery(partner="Hub", backlog=3, oldest_pending_at=T0)},
    )
    assert [(r.name, r.state, r.roles) for r in rows] == [("Hub", "static (config.toml)", "DE/HUB")]
    page = views.partners(rows, T0 + timedelta(minutes=2))
    assert "2 min ago" in page
    assert "Retry now" in page


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(5, "5 s"), (125, "2 min"), (3 * 3600 + 65, "3 h 01 min"), (2 * 86400 + 7200, "2 d 2 h")],
)
def test_durations_read_naturally(seconds, text):
    """Short spans in seconds, long ones in days and hours."""
    assert html.duration(timedelta(seconds=seconds)) == text
