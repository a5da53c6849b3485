"""Charger energy quirks end to end: the CDR a partner gets bills the right energy, flagged.

A 1.6 charger charges over a real websocket into the running gateway; its meter values
carry one quirk of RELIABILITY.md §2.7 each. The CDR (GET /cdrs, as the partner that
issued the token) bills the energy that was really delivered, at the sealed tariff
(0.30/kWh excl. VAT), and the transaction carries a flag for the operator.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.app import Gateway
from gateway.domain.ids import ChargerId
from tests.builders import T0, FakeClock
from tests.integration.conftest import PARTNER_TOKEN, auth, site_settings
from tests.integration.delivery import Timeline, boot_16, charge_16, give_cards, sampled
from tests.sim.charger import sim_charger

pytestmark = pytest.mark.integration


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[Gateway]:
    gateway = Gateway(site_settings(tmp_path), clock=FakeClock())
    await gateway.start()
    try:
        # The configured partner DE/EMS pushes its card: its charges are that partner's.
        await give_cards(f"http://127.0.0.1:{gateway.http_port}", PARTNER_TOKEN, ("04A1B2C3",))
        yield gateway
    finally:
        await gateway.stop()


def kwh(unit: str | None, *values: str) -> list[tuple[float, list[Any]]]:
    return [(10 * (i + 1), sampled(v, unit=unit)) for i, v in enumerate(values)]


QUIRKS: dict[str, tuple[int, list[tuple[float, list[Any]]], int, str]] = {
    # Wallbox Pulsar (#4): the register falls to 0 and counts on: energy is stitched.
    "register_reset": (10_000, kwh("Wh", "11000", "12000", "500", "2000"), 3_000, "4.5"),
    # OpenEVSE (#3): MeterValues in kWh labelled Wh; the Wh start/stop registers bill.
    "kwh_labelled_wh": (10_000, kwh("Wh", "10.5", "11.0", "11.5"), 12_000, "2"),
    # Grizzl-E (#2): lifetime Start/Stop registers, session-relative MeterValues.
    "lifetime_vs_session": (4_076_221, kwh("kWh", "0.5", "1.2", "1.9"), 4_078_221, "2"),
    # #4/#5: a reading that goes backwards and comes back is an outlier, not billed.
    "backwards": (10_000, kwh("Wh", "11000", "9000", "13000"), 14_000, "4"),
    # A jump far beyond what the EVSE can deliver is not billed.
    "jump": (10_000, kwh("Wh", "11000", "911000", "11500"), 12_000, "2"),
    # #7: sampled values without measurand or unit are the Wh energy register.
    "no_units": (
        10_000,
        [(10 * (i + 1), [{"value": v}]) for i, v in enumerate(("11000", "12000", "13000"))],
        14_000,
        "4",
    ),
    # Iocharger (#1): a placeholder 0 start register, then the lifetime register.
    "placeholder_zero_start": (0, kwh("Wh", "4076300", "4076400"), 4_076_500, "0.2"),
}
FLAGGED = {
    "register_reset": "register_reset",
    "kwh_labelled_wh": "energy_power_mismatch",
    "lifetime_vs_session": "session_relative_samples",
    "backwards": "outlier_excluded",
    "jump": "outlier_excluded",
    "placeholder_zero_start": "placeholder_baseline",
}


@pytest.mark.parametrize("quirk", sorted(QUIRKS))
async def test_the_cdr_bills_the_energy_really_delivered(gateway: Gateway, quirk: str):
    """Resets, kWh labelled Wh, lifetime vs session registers, outliers, jumps, bare
    values and placeholder baselines: the CDR's energy and cost stay right."""
    meter_start, registers, meter_stop, expected = QUIRKS[quirk]
    url = f"ws://127.0.0.1:{gateway.ocpp.port}/ocpp/AC-0001"
    async with sim_charger(url) as cp:
        await boot_16(cp)
        tx_id = await charge_16(
            cp,
            Timeline(T0, gateway.clock),
            meter_start=meter_start,
            registers=registers,
            meter_stop=meter_stop,
            stop_at=45,
        )

    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{gateway.http_port}", headers=auth(), timeout=5
    ) as client:
        (cdr,) = (await client.get("/ocpi/2.2.1/cdrs")).json()["data"]
    assert cdr["id"] == f"AC-0001-{tx_id}"
    assert Decimal(str(cdr["total_energy"])) == Decimal(expected)
    assert Decimal(str(cdr["total_cost"]["excl_vat"])) == Decimal(expected) * Decimal("0.30")
    tx = gateway.store.find_transaction(ChargerId("AC-0001"), tx_id=str(tx_id))
    assert tx is not None
    if quirk in FLAGGED:
        assert FLAGGED[quirk] in {f.code.value for f in tx.energy_flags}
