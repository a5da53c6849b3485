"""The operator pages in a real browser: log in, watch the board change, see a session's plot.

Screenshots are kept under ``tests/artifacts/`` (git-ignored) for a person to look at.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from gateway.app import Gateway
from gateway.passwords import hash_password
from tests.browser.cdp import Page, chromium, find_chromium
from tests.builders import T0, FakeClock
from tests.integration.conftest import PARTNER_TOKEN, Running, site_settings
from tests.integration.delivery import Timeline, boot_16, charge_16, give_cards
from tests.sim.charger import sim_charger

pytestmark = pytest.mark.integration

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
USERNAME = "operator"
PASSWORD = "site-password-for-tests"
CHROMIUM = find_chromium()

needs_chromium = pytest.mark.skipif(
    CHROMIUM is None,
    reason="Chromium is not installed (Debian package `chromium`; `make test` installs it "
    "when it can reach the package mirror)",
)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def site(tmp_path: Path, clock: FakeClock) -> AsyncIterator[Running]:
    settings = site_settings(
        tmp_path, operator_ui={"username": USERNAME, "password_hash": hash_password(PASSWORD)}
    )
    gateway = Gateway(settings, clock=clock)
    await gateway.start()
    try:
        yield Running(gateway, clock)
    finally:
        await gateway.stop()


@pytest.fixture
async def page() -> AsyncIterator[Page]:
    assert CHROMIUM is not None
    async with chromium(CHROMIUM) as tab:
        await tab.viewport(1280, 900)
        yield tab


def js(value: Any) -> str:
    return json.dumps(value)


async def log_in(page: Page, base: str, password: str = PASSWORD) -> None:
    await page.goto(base + "/")
    await page.wait_for("location.pathname === '/login'")
    await page.evaluate(
        f"document.querySelector('input[name=username]').value = {js(USERNAME)};"
        f"document.querySelector('input[name=password]').value = {js(password)};"
        "document.querySelector('form.login').submit(); true"
    )


def evse_status(uid: str) -> str:
    return (
        f"(document.querySelector('[data-evse={js(uid)}]') || {{}}).dataset"
        f" && document.querySelector('[data-evse={js(uid)}]').dataset.status"
    )


def status(connector: int, value: str) -> dict[str, Any]:
    return {"connectorId": connector, "errorCode": "NoError", "status": value}


@needs_chromium
async def test_login_live_board_and_session_plot(site: Running, page: Page, clock: FakeClock):
    """Log in; the board follows a simulated charger by itself; a session shows its plot."""
    base = site.http_url
    await log_in(page, base, password="wrong-password-here")
    await page.wait_for("document.body.innerText.includes('Login failed')")
    await page.screenshot(ARTIFACTS / "login-failed.png")

    await log_in(page, base)
    await page.wait_for("location.pathname === '/' && !!document.getElementById('board')")
    assert await page.evaluate(evse_status("AC-0001-1")) == "UNKNOWN"

    clock.now = datetime(2026, 11, 22, 10, 25, tzinfo=UTC)
    async with sim_charger(site.ws_url("AC-0001")) as cp:
        await cp.call(
            "BootNotification",
            {
                "chargePointVendor": "Example",
                "chargePointModel": "Wallbox AC22",
                "firmwareVersion": "1.4.2",
            },
        )
        await cp.call("StatusNotification", status(1, "Available"))
        await cp.call("StatusNotification", status(2, "Available"))
        # No reload: the page refreshes the board by itself.
        await page.wait_for(evse_status("AC-0001-1") + " === 'AVAILABLE'")
        await cp.call("StatusNotification", status(1, "Charging"))
        started = await cp.call(
            "StartTransaction",
            {
                "connectorId": 1,
                "idTag": "04A1B2C3D4",
                "meterStart": 1000,
                "timestamp": "2026-11-22T10:00:00Z",
            },
        )
        tx_id = started[2]["transactionId"]
        for minute, wh, w in (
            (5, 1900, 10800),
            (10, 2800, 11000),
            (15, 3650, 10200),
            (20, 4600, 11100),
        ):
            await cp.call(
                "MeterValues",
                {
                    "connectorId": 1,
                    "transactionId": tx_id,
                    "meterValue": [
                        {
                            "timestamp": f"2026-11-22T10:{minute:02d}:00Z",
                            "sampledValue": [
                                {
                                    "value": str(wh),
                                    "measurand": "Energy.Active.Import.Register",
                                    "unit": "Wh",
                                },
                                {"value": str(w), "measurand": "Power.Active.Import", "unit": "W"},
                            ],
                        }
                    ],
                },
            )
        await page.wait_for(evse_status("AC-0001-1") + " === 'CHARGING'")
        await page.wait_for("document.querySelector('.session') !== null")
        assert await page.evaluate(evse_status("AC-0001-2")) == "AVAILABLE"
        await page.screenshot(ARTIFACTS / "board.png")

        await page.viewport(390, 844, mobile=True)
        await page.goto(base + "/")
        await page.wait_for("!!document.getElementById('board')")
        await page.screenshot(ARTIFACTS / "board-phone.png")
        await page.viewport(1280, 900)

        await page.evaluate("document.querySelector('.session a').click(); true")
        await page.wait_for("location.pathname.startsWith('/sessions/AC-0001/')")
        points = await page.wait_for(
            "(document.querySelector('svg.plot polyline.power') || {}).getAttribute"
            " && document.querySelector('svg.plot polyline.power').getAttribute('points')"
        )
        assert len(points.split()) == 4
        assert await page.evaluate("!!document.querySelector('svg.plot polyline.energy')")
        await page.screenshot(ARTIFACTS / "session-plot.png")

        await page.goto(base + "/chargers/AC-0001")
        await page.wait_for("document.body.innerText.includes('Wallbox AC22')")
        await page.screenshot(ARTIFACTS / "charger.png")

    await page.goto(base + "/")
    await page.wait_for("document.body.innerText.includes('offline')")


@needs_chromium
async def test_a_session_that_expires_sends_the_board_back_to_login(site: Running, page: Page):
    """When the session is gone the refreshing board goes to the login page, showing nothing."""
    base = site.http_url
    await log_in(page, base)
    await page.wait_for("!!document.getElementById('board')")
    await page.send("Network.enable")
    await page.send("Network.clearBrowserCookies")
    await page.wait_for("location.pathname === '/login'")
    assert not await page.evaluate("!!document.getElementById('board')")


@needs_chromium
async def test_the_cdr_page_shows_a_partner_charge_on_desk_and_phone(
    site: Running, page: Page, clock: FakeClock
):
    """A charge with the partner's card: its CDR with cost and partner, readable on a phone."""
    await give_cards(site.http_url, PARTNER_TOKEN, ("04A1B2C3",))
    async with sim_charger(site.ws_url("AC-0001")) as cp:
        await boot_16(cp)
        await charge_16(cp, Timeline(T0, clock), id_tag="04A1B2C3")
        await charge_16(cp, Timeline(T0.replace(hour=12), clock), id_tag="SITE-TAG-0001")

    await log_in(page, site.http_url)
    await page.wait_for("location.pathname === '/'")
    await page.goto(site.http_url + "/cdrs")
    await page.wait_for("document.body.innerText.includes('EUR 1.5 / 1.815')")
    assert await page.evaluate("document.body.innerText.includes('eMSP')")
    await page.screenshot(ARTIFACTS / "cdrs.png")
    await page.viewport(390, 844, mobile=True)
    await page.goto(site.http_url + "/cdrs")
    await page.wait_for("document.body.innerText.includes('site token: no partner to bill')")
    await page.screenshot(ARTIFACTS / "cdrs-phone.png")
