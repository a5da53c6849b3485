"""Operator pages over real HTTP: login, what each page shows, commands, bad input."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.app import Gateway
from gateway.passwords import hash_password
from gateway.ports import PartnerDelivery
from tests.builders import FakeClock
from tests.integration.conftest import Running, site_settings
from tests.sim.charger import sim_charger, wait_until

pytestmark = pytest.mark.integration

USERNAME = "site-operator"
PASSWORD = "correct horse battery staple"
PASSWORD_HASH = hash_password(PASSWORD)
ID_TAG = "SECRET-TAG-0451"

UI = {
    "username": USERNAME,
    "password_hash": PASSWORD_HASH,
    "login_delay_s": 0.3,
    "command_timeout_s": 0.5,
}
PAGES = (
    "/",
    "/board/live",
    "/chargers",
    "/chargers/AC-0001",
    "/sessions",
    "/cdrs",
    "/cdrs.csv",
    "/cdrs/unbilled.csv",
    "/partners",
)


class StaleDelivery:
    """A pusher that owes the eMSP two changes since long ago."""

    def __init__(self, since: datetime) -> None:
        self.since = since
        self.retried: list[str] = []

    def delivery(self) -> Mapping[str, PartnerDelivery]:
        return {
            "eMSP": PartnerDelivery(
                partner="eMSP",
                backlog=2,
                oldest_pending_at=self.since,
                last_success_at=self.since - timedelta(minutes=5),
                last_error="HTTP 503 from the partner",
            )
        }

    async def retry_now(self, partner: str) -> str:
        self.retried.append(partner)
        return "retrying now."


async def _start(tmp_path: Path, clock: FakeClock, **overrides: Any) -> Gateway:
    ui = {**UI, **overrides.pop("operator_ui", {})}
    gateway = Gateway(site_settings(tmp_path, operator_ui=ui, **overrides), clock=clock)
    return gateway


@pytest.fixture
async def site(tmp_path: Path, clock: FakeClock) -> AsyncIterator[Running]:
    gateway = await _start(tmp_path, clock)
    await gateway.start()
    try:
        yield Running(gateway, clock)
    finally:
        await gateway.stop()


@pytest.fixture
async def browser(site: Running) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client that keeps cookies, as a browser would, and does not follow redirects."""
    async with httpx.AsyncClient(base_url=site.http_url, timeout=10) as client:
        yield client


async def login(
    client: httpx.AsyncClient,
    username: str = USERNAME,
    password: str = PASSWORD,
    next_path: str = "/",
) -> httpx.Response:
    return await client.post(
        "/login", data={"username": username, "password": password, "next": next_path}
    )


async def boot(cp: Any, **payload: str) -> None:
    await cp.call(
        "BootNotification",
        {"chargePointVendor": "Example", "chargePointModel": "Wallbox AC22", **payload},
    )


def status(connector: int, value: str) -> dict[str, Any]:
    return {"connectorId": connector, "errorCode": "NoError", "status": value}


def meter(register_wh: int, power_w: int, when: str) -> dict[str, Any]:
    return {
        "timestamp": when,
        "sampledValue": [
            {"value": str(register_wh), "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
            {"value": str(power_w), "measurand": "Power.Active.Import", "unit": "W"},
        ],
    }


async def a_session(cp: Any, clock: FakeClock, *, stop: bool) -> str:
    """Start, two meter values, and optionally stop; returns the transaction id."""
    clock.now = datetime(2026, 11, 22, 10, 25, tzinfo=UTC)
    started = await cp.call(
        "StartTransaction",
        {
            "connectorId": 1,
            "idTag": ID_TAG,
            "meterStart": 1000,
            "timestamp": "2026-11-22T10:00:00Z",
        },
    )
    tx_id = started[2]["transactionId"]
    for minute, wh, w in ((10, 2800, 10800), (20, 4600, 11000)):
        await cp.call(
            "MeterValues",
            {
                "connectorId": 1,
                "transactionId": tx_id,
                "meterValue": [meter(wh, w, f"2026-11-22T10:{minute}:00Z")],
            },
        )
    if stop:
        await cp.call(
            "StopTransaction",
            {
                "transactionId": tx_id,
                "meterStop": 6000,
                "timestamp": "2026-11-22T10:30:00Z",
                "reason": "EVDisconnected",
            },
        )
    return str(tx_id)


# --- login -----------------------------------------------------------------------------


async def test_pages_without_a_session_redirect_to_login_and_show_no_data(browser):
    """Every page answers a visitor without a session cookie with a redirect and no data."""
    for path in PAGES:
        reply = await browser.get(path)
        assert reply.status_code == 303, path
        assert reply.headers["location"].startswith("/login")
        assert "AC-0001" not in reply.text
    deep = await browser.get("/chargers/AC-0001")
    assert deep.headers["location"] == "/login?next=/chargers/AC-0001"
    posted = await browser.post("/chargers/AC-0001/commands", data={"command": "reset_hard"})
    assert posted.status_code == 303


async def test_a_forged_or_tampered_cookie_is_no_session(browser):
    """A cookie not signed by the gateway's key opens nothing."""
    await login(browser)
    good = browser.cookies["gw_session"]
    body, signature = good.split(".")
    for forged in ("x.y", body + "." + signature[::-1], body[:-2] + "AA." + signature, ""):
        browser.cookies.clear()
        browser.cookies.set("gw_session", forged)
        assert (await browser.get("/")).status_code == 303


async def test_login_opens_the_board_and_logout_closes_it(browser):
    """A right login sets an HttpOnly, SameSite=Strict cookie; logging out ends the session."""
    reply = await login(browser, next_path="/chargers")
    assert reply.status_code == 303
    assert reply.headers["location"] == "/chargers"
    cookie = reply.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=strict" in cookie
    board = await browser.get("/")
    assert board.status_code == 200
    assert 'data-evse="AC-0001-1"' in board.text
    assert "default-src 'none'" in board.headers["content-security-policy"]
    kept = browser.cookies["gw_session"]
    assert (await browser.post("/logout")).status_code == 303
    # Even replaying the old cookie: the session was revoked.
    browser.cookies.set("gw_session", kept)
    assert (await browser.get("/")).status_code == 303


async def test_login_redirects_only_to_paths_on_this_site(browser):
    """``next`` cannot send the operator to another site after logging in."""
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        reply = await login(browser, next_path=target)
        assert reply.headers["location"] == "/"


async def test_a_wrong_login_does_not_say_which_part_was_wrong(browser):
    """Wrong username and wrong password get the same answer, word for word."""
    wrong_name = await login(browser, username="admin")
    wrong_password = await login(browser, password="hunter2hunter2")
    assert wrong_name.status_code == wrong_password.status_code == 401
    assert wrong_name.text == wrong_password.text
    assert "wrong username or password" in wrong_name.text
    assert "gw_session" not in browser.cookies


async def test_repeated_failures_slow_further_attempts_until_one_succeeds(site, browser):
    """After three failures from one address each attempt waits, even a right one."""
    throttle = site.gateway.app.state.ui.throttle
    for _ in range(3):
        await login(browser, password="not-the-password")
    assert throttle.delay_s("127.0.0.1") == 0.3
    started = time.perf_counter()
    await login(browser, password="not-the-password")
    assert time.perf_counter() - started >= 0.3
    started = time.perf_counter()
    assert (await login(browser)).status_code == 303
    assert time.perf_counter() - started >= 0.6  # doubled
    assert throttle.delay_s("127.0.0.1") == 0  # the success reset the count


async def test_without_a_password_hash_the_pages_explain_the_set_up(tmp_path, clock):
    """No configured password: the login page says how to set one; nothing else opens."""
    gateway = Gateway(site_settings(tmp_path), clock=clock)
    await gateway.start()
    try:
        async with httpx.AsyncClient(base_url=Running(gateway, clock).http_url) as client:
            page = await client.get("/login")
            assert "gateway ui hash-password" in page.text
            assert (await client.get("/")).status_code == 303
            refused = await client.post("/login", data={"username": "operator", "password": ""})
            assert refused.status_code == 401
    finally:
        await gateway.stop()


async def test_forms_posted_from_another_site_are_refused(site, browser):
    """A command form posted with a foreign Origin is refused and never reaches the charger."""
    await login(browser)
    async with sim_charger(site.ws_url("AC-0001")) as cp:
        await boot(cp)
        reply = await browser.post(
            "/chargers/AC-0001/commands",
            data={"command": "reset_hard"},
            headers={"Origin": "https://evil.example"},
        )
        assert reply.status_code == 403
        await asyncio.sleep(0.1)
        # Only the gateway's own local-list housekeeping may have reached the charger.
        assert [name for name, _ in cp.received if name == "Reset"] == []


# --- the OCPI side is untouched --------------------------------------------------------


async def test_ocpi_paths_keep_their_envelopes_and_token_auth(browser):
    """Unknown /ocpi paths still get the OCPI 404 envelope; a UI session opens no OCPI route."""
    await login(browser)
    missing = await browser.get("/ocpi/2.2.1/nothing-here")
    assert missing.status_code == 404
    assert missing.json()["status_code"] == 2000
    locations = await browser.get("/ocpi/2.2.1/locations")
    assert locations.status_code == 401
    assert (await browser.get("/healthz")).status_code == 200


# --- the board and the chargers --------------------------------------------------------


async def test_the_board_shows_status_connection_and_the_running_session(site, browser):
    """EVSE status as published, the charger online, and who charges how fast."""
    await login(browser)
    async with sim_charger(site.ws_url("AC-0001")) as cp:
        await boot(cp)
        await cp.call("StatusNotification", status(1, "Charging"))
        await cp.call("StatusNotification", status(2, "Available"))
        await a_session(cp, site.clock, stop=False)
        fragment = (await browser.get("/board/live")).text
    assert 'data-evse="AC-0001-1" data-status="CHARGING"' in fragment
    assert 'data-evse="AC-0001-2" data-status="AVAILABLE"' in fragment
    assert 'data-evse="DC-0001-1" data-status="UNKNOWN"' in fragment
    assert '<span class="conn online">online</span> ocpp1.6' in fragment
    assert "11.0 kW" in fragment
    assert "3.600 kWh" in fragment
    assert "rfid ••••0451" in fragment
    assert ID_TAG not in fragment


async def test_charger_supplied_strings_are_escaped(site, browser):
    """HTML a charger puts in its boot strings is shown as text, never run."""
    await login(browser)
    async with sim_charger(site.ws_url("AC-0001")) as cp:
        await boot(
            cp,
            chargePointVendor="<i>V</i>&\"'",
            chargePointModel="<script>x</script>",
            firmwareVersion="<img src=x onerror=alert(1)>",
        )
        pages = [(await browser.get(p)).text for p in ("/chargers", "/chargers/AC-0001")]
    for page in pages:
        assert "<script>x</script>" not in page
        assert "<img src=x" not in page
        assert "<i>V</i>" not in page
        assert "&lt;script&gt;x&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in pages[1]


async def test_the_charger_page_lists_recent_messages_without_payloads(site, browser):
    """Recent OCPP messages show action, id and outcome; never a token from a payload."""
    await login(browser)
    async with sim_charger(site.ws_url("AC-0001")) as cp:
        await boot(cp)
        await cp.call("Authorize", {"idTag": ID_TAG})
        await cp.call("Heartbeat", {})
        await cp.call("NoSuchAction", {})
        page = (await browser.get("/chargers/AC-0001")).text
    assert "Authorize" in page
    assert "Heartbeat" in page
    assert "NotImplemented" in page
    assert "<code>m2</code>" in page
    assert ID_TAG not in page
    assert "Wallbox AC22" in page


async def test_an_unknown_transaction_is_flagged_on_the_charger_page(site, browser):
    """A stop for a transaction never started is listed among the charger's oddities."""
    await login(browser)
    async with sim_charger(site.ws_url("AC-0001")) as cp:
        await boot(cp)
        await cp.call(
            "StopTransaction",
            {"transactionId": 987654, "meterStop": 100, "timestamp": "2026-11-22T10:30:00Z"},
        )
    page = (await browser.get("/chargers/AC-0001")).text
    assert "987654" in page
    listing = (await browser.get("/chargers")).text
    assert '<span class="flag">' in listing


async def test_a_command_to_an_offline_charger_says_so(browser):
    """A button for a charger that is not connected gives a clear sentence, not an error."""
    await login(browser)
    reply = await browser.post("/chargers/DC-0001/commands", data={"command": "reset_soft"})
    assert reply.status_code == 200
    assert "was not sent: DC-0001 is not connected" in reply.text


@pytest.mark.parametrize(
    ("form", "answer", "action", "expected"),
    [
        ({"command": "reset_soft"}, {"status": "Accepted"}, "Reset", "Soft reset: accepted"),
        (
            {"command": "unlock", "connector": ":2"},
            {"status": "Unlocked"},
            "UnlockConnector",
            "Unlock connector: accepted",
        ),
        (
            {"command": "unavailable", "connector": ""},
            {"status": "Scheduled"},
            "ChangeAvailability",
            "after the running session",
        ),
        ({"command": "reset_hard"}, "silent", "Reset", "did not answer within 0 s"),
        ({"command": "reset_hard"}, "error:NotSupported", "Reset", "refused the message"),
    ],
)
async def test_command_buttons_reach_the_charger_and_report_its_answer(
    site, browser, form, answer, action, expected
):
    """Reset, unlock and availability go to the charger; its answer becomes a sentence."""
    await login(browser)
    async with sim_charger(site.ws_url("AC-0001")) as cp:
        await boot(cp)
        cp.answers[action] = answer
        reply = await browser.post("/chargers/AC-0001/commands", data=form)
        assert reply.status_code == 200
        assert expected in reply.text
        # The charger may also be sent its local authorisation list meanwhile.
        sent = [payload for name, payload in cp.received if name == action]
        assert sent
    if action == "UnlockConnector":
        assert sent[-1] == {"connectorId": 2}


async def test_unknown_commands_and_chargers_are_refused_politely(browser):
    """A made-up command or charger id gets a message or a 404 page, never a crash."""
    await login(browser)
    odd = await browser.post("/chargers/AC-0001/commands", data={"command": "self_destruct"})
    assert odd.status_code == 200
    assert "not known" in odd.text
    assert (await browser.get("/chargers/NOPE-1")).status_code == 404
    nope = await browser.post("/chargers/NOPE-1/commands", data={"command": "reset_soft"})
    assert nope.status_code == 404
    assert (await browser.get("/sessions/AC-0001/999")).status_code == 404


# --- sessions, CDRs, partners ----------------------------------------------------------


async def test_a_session_page_plots_power_and_energy(site, browser):
    """Each session has a page with an SVG of its power and energy."""
    await login(browser)
    async with sim_charger(site.ws_url("AC-0001")) as cp:
        await boot(cp)
        tx_id = await a_session(cp, site.clock, stop=False)
        listing = (await browser.get("/sessions")).text
        page = (await browser.get(f"/sessions/AC-0001/{tx_id}")).text
    assert f'href="/sessions/AC-0001/{tx_id}"' in listing
    assert "CHARGING" in listing
    assert '<svg class="plot"' in page
    assert 'class="line power"' in page
    assert 'class="line energy"' in page


async def test_unbilled_sessions_stay_listed_and_download_as_csv_without_tokens(site, browser):
    """A finished session no partner is billed for is listed on the CDR page with the
    reason, and in the unbilled CSV; the CDR CSV has its header and no row."""
    await login(browser)
    async with sim_charger(site.ws_url("AC-0001")) as cp:
        await boot(cp)
        tx_id = await a_session(cp, site.clock, stop=True)
    page = (await browser.get("/cdrs")).text
    assert "5.000 kWh" in page
    assert "Finished sessions not billed to a partner" in page
    assert "site token: no partner to bill" in page
    assert "No CDRs yet" in page
    cdrs = await browser.get("/cdrs.csv")
    assert cdrs.text.strip().startswith("cdr_id,session_id,credit_of,partner")
    assert len(cdrs.text.strip().split("\r\n")) == 1
    download = await browser.get("/cdrs/unbilled.csv")
    assert download.headers["content-type"].startswith("text/csv")
    assert "attachment" in download.headers["content-disposition"]
    header, row = download.text.strip().split("\r\n")
    assert header.startswith("charger_id,transaction_id,evse_uid,started_at")
    cells = row.split(",")
    assert cells[:3] == ["AC-0001", tx_id, "AC-0001-1"]
    assert cells[5] == "5.000"
    assert ID_TAG not in download.text


async def test_partners_page_shows_static_partners_and_empty_backlogs(browser):
    """A configured partner has no Receiver endpoints: dashes, and retry says it gets no pushes."""
    await login(browser)
    page = (await browser.get("/partners")).text
    assert "eMSP" in page
    assert "static (config.toml)" in page
    retry = await browser.post("/partners/eMSP/retry")
    assert "eMSP receives no pushes" in retry.text


async def test_a_stale_backlog_shows_on_the_page_and_degrades_health(tmp_path, clock):
    """An old backlog: /healthz answers 503 naming the partner; the page offers a retry."""
    gateway = await _start(tmp_path, clock, monitoring={"backlog_max_age_s": 60})
    delivery = StaleDelivery(since=clock() - timedelta(minutes=10))
    gateway.delivery = delivery
    await gateway.start()
    try:
        async with httpx.AsyncClient(base_url=Running(gateway, clock).http_url) as client:
            health = await client.get("/healthz")
            assert health.status_code == 503
            assert health.json()["checks"]["backlog"].startswith("eMSP: 2 waiting")
            await login(client)
            page = (await client.get("/partners")).text
            assert "HTTP 503 from the partner" in page
            assert "10 min ago" in page
            retry = await client.post("/partners/eMSP/retry")
            assert "eMSP: retrying now." in retry.text
            assert delivery.retried == ["eMSP"]
            metrics = (await client.get("/metrics")).text
            assert 'gateway_partner_backlog{partner="eMSP"} 2' in metrics
            assert 'gateway_partner_backlog_oldest_seconds{partner="eMSP"} 600' in metrics
    finally:
        await gateway.stop()


async def test_static_files_are_served_from_the_package(browser):
    """The stylesheet and script ship inside the package; other names are 404."""
    css = await browser.get("/static/ui.css")
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    assert (await browser.get("/static/ui.js")).status_code == 200
    assert (await browser.get("/static/../config.py")).status_code == 404
    assert (await browser.get("/static/nothing.js")).status_code == 404


async def test_the_board_follows_a_charger_going_offline(site, browser):
    """When the charger disconnects the board says offline, and since when."""
    await login(browser)
    async with sim_charger(site.ws_url("AC-0001")) as cp:
        await boot(cp)
    await wait_until(lambda: "AC-0001" not in site.gateway.ocpp.connections)
    fragment = (await browser.get("/board/live")).text
    assert '<span class="conn offline">offline</span> since' in fragment
