"""The operator's CDR page over real HTTP: a partner's charge shows its cost and partner.

A 1.6 simulated charger charges into the running gateway with a card the configured
partner DE/EMS ("eMSP") pushed; the stored CDR appears on the CDR page and in the CSV
with its cost breakdown. A charge with a site token stays listed as not billed.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from gateway.app import Gateway
from tests.builders import T0, FakeClock
from tests.integration import test_ocpi_platform as platform
from tests.integration.conftest import PARTNER_TOKEN, Running, site_settings
from tests.integration.delivery import (
    Timeline,
    boot_16,
    charge_16,
    converge,
    eventually,
    give_cards,
)
from tests.integration.test_ocpi_delivery import delivery_settings
from tests.integration.test_operator_ui import UI, login
from tests.sim.charger import sim_charger

pytestmark = pytest.mark.integration

CARD = "04A1B2C3"
SITE_TAG = "SITE-TAG-77881234"


@pytest.fixture
async def site(tmp_path: Path, clock: FakeClock) -> AsyncIterator[Running]:
    gateway = Gateway(site_settings(tmp_path, operator_ui=UI), clock=clock)
    await gateway.start()
    try:
        running = Running(gateway, clock)
        # The configured partner DE/EMS pushes its card: charges with it are billed to it.
        await give_cards(running.http_url, PARTNER_TOKEN, (CARD,))
        yield running
    finally:
        await gateway.stop()


async def test_a_partner_charge_shows_its_cost_and_partner_and_downloads_as_csv(site: Running):
    """The CDR page shows the CDR's total, breakdown, partner and that it awaits a pull;
    the CSV row carries the same figures as exact decimals and the token masked."""
    async with sim_charger(site.ws_url("AC-0001")) as cp:
        await boot_16(cp)
        tx_id = await charge_16(cp, Timeline(T0, site.clock), id_tag=CARD)
        site_tx = await charge_16(cp, Timeline(T0.replace(hour=12), site.clock), id_tag=SITE_TAG)
    cdr_id = f"AC-0001-{tx_id}"

    async with httpx.AsyncClient(base_url=site.http_url, timeout=10) as browser:
        assert (await browser.get("/cdrs")).status_code == 303  # behind the login
        await login(browser)
        page = (await browser.get("/cdrs")).text
        download = await browser.get("/cdrs.csv")
        unbilled = await browser.get("/cdrs/unbilled.csv")

    assert "1 CDR, newest first." in page
    assert cdr_id in page
    assert "EUR 1.5 / 1.815" in page  # total excl. / incl. VAT
    assert "energy 1.5 / 1.815" in page
    assert "eMSP" in page
    assert "DE/EMS" in page
    assert "for the partner to fetch" in page  # a static partner pulls, nothing is pushed
    assert "rfid ••••B2C3" in page
    assert CARD not in page
    assert f"AC-0001 / {site_tx}" in page  # the site-token charge: listed, not billed
    assert "site token: no partner to bill" in page

    assert download.headers["content-type"].startswith("text/csv")
    assert "attachment" in download.headers["content-disposition"]
    header, row = csv.reader(io.StringIO(download.text))
    cells = dict(zip(header, row, strict=True))
    assert cells["cdr_id"] == cdr_id
    assert cells["partner"] == "eMSP"
    assert (cells["country_code"], cells["party_id"]) == ("DE", "EMS")
    assert cells["delivery"] == "pull"
    assert (cells["charger_id"], cells["transaction_id"]) == ("AC-0001", str(tx_id))
    assert Decimal(cells["energy_kwh"]) == 5
    assert (cells["total_cost_excl_vat"], cells["total_cost_incl_vat"]) == ("1.5", "1.815")
    assert (cells["energy_cost_excl_vat"], cells["energy_cost_incl_vat"]) == ("1.5", "1.815")
    assert cells["currency"] == "EUR"
    assert cells["token"] == "rfid ••••B2C3"
    assert CARD not in download.text

    (_, lone) = csv.reader(io.StringIO(unbilled.text))
    assert lone[:2] == ["AC-0001", str(site_tx)]
    assert lone[-1] == "site token: no partner to bill"
    assert SITE_TAG not in unbilled.text


# --- a registered partner that receives pushes ------------------------------------------

emsp_process = platform.emsp_process
emsp = platform.emsp


async def test_a_pushed_cdr_shows_when_the_partner_acknowledged_it(tmp_path: Path, emsp):
    """The eMSP registered and received the CDR by POST: the page and the CSV say
    acknowledged, by which partner and when."""
    clock = FakeClock()
    settings = delivery_settings(tmp_path, platform.free_port())
    settings = settings.model_copy(
        update={"operator_ui": settings.operator_ui.model_copy(update=UI)}
    )
    gateway = Gateway(settings, clock=clock)
    await gateway.start()
    try:
        cpo = platform.Cpo(gateway, clock)
        token = await platform.registered(cpo, emsp)
        await give_cards(cpo.http_url, token)
        async with sim_charger(cpo.ws_url("AC-0001")) as cp:
            await boot_16(cp)
            tx_id = await charge_16(cp, Timeline(T0, clock))
        await converge(emsp.url, cpo.http_url, token, until=lambda h: len(h["cdrs"]) == 1)

        async with httpx.AsyncClient(base_url=cpo.http_url, timeout=10) as browser:
            await login(browser)

            async def acknowledged() -> bool:
                return "acknowledged</span> by emsp" in (await browser.get("/cdrs")).text

            await eventually(acknowledged)
            download = (await browser.get("/cdrs.csv")).text
    finally:
        await gateway.stop()

    header, row = csv.reader(io.StringIO(download))
    cells = dict(zip(header, row, strict=True))
    assert cells["cdr_id"] == f"AC-0001-{tx_id}"
    assert (cells["partner"], cells["delivery"]) == ("emsp", "acknowledged")
    assert cells["acknowledged_at"] != ""
    assert cells["total_cost_incl_vat"] == "1.815"
