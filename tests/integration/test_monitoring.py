"""/metrics and logs of a running gateway: what monitoring sees, and what logs never show."""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from gateway import logs
from gateway.app import Gateway
from gateway.passwords import hash_password
from tests.builders import FakeClock
from tests.integration.conftest import PARTNER_TOKEN, Running, auth, site_settings
from tests.sim.charger import sim_charger

pytestmark = pytest.mark.integration

PASSWORD = "operator-password-0815"
ID_TAG = "TAG-SECRET-77A1"

#: One sample line of the Prometheus text format: name, optional labels, a number.
SAMPLE = re.compile(
    r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? '
    r"(-?[0-9.e+-]+|\+Inf|-Inf|NaN)$"
)


@pytest.fixture
async def site(tmp_path: Path, clock: FakeClock) -> AsyncIterator[Running]:
    settings = site_settings(
        tmp_path,
        operator_ui={"username": "operator", "password_hash": hash_password(PASSWORD)},
    )
    gateway = Gateway(settings, clock=clock)
    await gateway.start()
    try:
        yield Running(gateway, clock)
    finally:
        await gateway.stop()


def status(connector: int, value: str) -> dict[str, object]:
    return {"connectorId": connector, "errorCode": "NoError", "status": value}


async def scripted_session(site: Running) -> None:
    """Boot, authorize, a whole transaction, a command; an operator login; a partner call."""
    site.clock.now = datetime(2026, 11, 22, 10, 40, tzinfo=UTC)
    async with sim_charger(site.ws_url("AC-0001")) as cp:
        await cp.call(
            "BootNotification", {"chargePointVendor": "Example", "chargePointModel": "AC22"}
        )
        await cp.call("StatusNotification", status(1, "Charging"))
        await cp.call("Authorize", {"idTag": ID_TAG})
        started = await cp.call(
            "StartTransaction",
            {
                "connectorId": 1,
                "idTag": ID_TAG,
                "meterStart": 0,
                "timestamp": "2026-11-22T10:00:00Z",
            },
        )
        tx_id = started[2]["transactionId"]
        await cp.call(
            "MeterValues",
            {
                "connectorId": 1,
                "transactionId": tx_id,
                "meterValue": [
                    {
                        "timestamp": "2026-11-22T10:10:00Z",
                        "sampledValue": [
                            {
                                "value": "1500",
                                "measurand": "Energy.Active.Import.Register",
                                "unit": "Wh",
                            }
                        ],
                    }
                ],
            },
        )
        async with httpx.AsyncClient(base_url=site.http_url, timeout=10) as ui:
            await ui.post("/login", data={"username": "operator", "password": PASSWORD})
            await ui.post("/login", data={"username": "operator", "password": "wrong" + PASSWORD})
            await ui.post("/chargers/AC-0001/commands", data={"command": "reset_soft"})
        async with httpx.AsyncClient(
            base_url=site.http_url,
            timeout=10,
            headers={**auth(), "X-Request-ID": "req-1", "X-Correlation-ID": "corr-1"},
        ) as partner:
            await partner.get("/ocpi/2.2.1/locations")
        await cp.call(
            "StopTransaction",
            {
                "transactionId": tx_id,
                "idTag": ID_TAG,
                "meterStop": 3000,
                "timestamp": "2026-11-22T10:30:00Z",
            },
        )


async def test_metrics_describe_the_site_in_prometheus_text(site: Running):
    """Connections, messages by action and outcome, latencies, EVSEs, sessions, partners."""
    async with sim_charger(site.ws_url("AC-0001")) as cp:
        await cp.call(
            "BootNotification", {"chargePointVendor": "Example", "chargePointModel": "AC22"}
        )
        await cp.call("StatusNotification", status(1, "Available"))
        await cp.call("Heartbeat", {})
        await cp.call("NoSuchAction", {})
        await cp.call(
            "StartTransaction",
            {
                "connectorId": 2,
                "idTag": ID_TAG,
                "meterStart": 0,
                "timestamp": "2026-11-22T10:00:00Z",
            },
        )
        async with httpx.AsyncClient(base_url=site.http_url) as client:
            reply = await client.get("/metrics")
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = reply.text
    for line in text.splitlines():
        assert line.startswith("# ") or SAMPLE.match(line), line
    expected = [
        "gateway_chargers_connected 1",
        'gateway_charger_connected{charger="AC-0001"} 1',
        'gateway_charger_connected{charger="DC-0001"} 0',
        'gateway_ocpp_messages_total{direction="in",action="Heartbeat",outcome="ok"} 1',
        'gateway_ocpp_messages_total{direction="in",action="unknown",outcome="NotImplemented"} 1',
        'gateway_ocpp_ack_seconds_count{action="StatusNotification"} 1',
        'gateway_ocpp_ack_seconds_bucket{action="Heartbeat",le="+Inf"} 1',
        'gateway_evses{status="AVAILABLE"} 1',
        'gateway_evses{status="UNKNOWN"} 2',
        'gateway_evses{status="OUTOFORDER"} 0',
        "gateway_sessions_active 1",
        "gateway_transactions_completed_total 0",
        'gateway_partner_backlog{partner="eMSP"} 0',
        'gateway_partner_backlog_oldest_seconds{partner="eMSP"} 0',
        'gateway_partner_push_failures_total{partner="eMSP"} 0',
        'gateway_cdrs_created_total{partner="eMSP"} 0',
        "# TYPE gateway_db_commit_seconds histogram",
    ]
    for line in expected:
        assert line in text.splitlines(), line
    commits = re.search(r"^gateway_db_commit_seconds_count (\d+)$", text, re.MULTILINE)
    assert commits is not None
    assert int(commits.group(1)) >= 3
    assert ID_TAG not in text


async def test_metrics_are_refused_to_addresses_outside_the_allow_list(tmp_path, clock):
    """The HTTP port faces partners: /metrics answers only the configured networks."""
    gateway = Gateway(
        site_settings(tmp_path, monitoring={"metrics_allow": ["10.0.0.0/8"]}), clock=clock
    )
    await gateway.start()
    try:
        async with httpx.AsyncClient(base_url=Running(gateway, clock).http_url) as client:
            assert (await client.get("/metrics")).status_code == 403
    finally:
        await gateway.stop()


async def test_health_degrades_when_the_store_fails(site: Running, monkeypatch):
    """A store that cannot answer makes /healthz 503 with the reason."""

    def broken() -> None:
        raise OSError("disk gone")

    monkeypatch.setattr(site.gateway.store, "ping", broken)
    async with httpx.AsyncClient(base_url=site.http_url) as client:
        reply = await client.get("/healthz")
    assert reply.status_code == 503
    assert reply.json()["checks"]["store"] == "failing: OSError"


async def test_debug_logs_name_every_message_and_call_but_never_a_secret(site: Running, caplog):
    """One line per OCPP message and OCPI call with their ids; no token, idTag or password."""
    caplog.set_level(logging.DEBUG)
    before = {name: logging.getLogger(name).level for name in logs.LIBRARY_LEVELS}
    try:
        for name, level in logs.LIBRARY_LEVELS.items():  # as `gateway serve` sets them
            logging.getLogger(name).setLevel(level)
        await scripted_session(site)
    finally:
        for name, level in before.items():
            logging.getLogger(name).setLevel(level)
    secrets = [ID_TAG, PASSWORD, PARTNER_TOKEN, base64.b64encode(PARTNER_TOKEN.encode()).decode()]
    for fmt in ("keyvalue", "json"):
        formatter = logs.formatter(fmt)
        text = "\n".join(formatter.format(r) for r in caplog.records)
        for secret in secrets:
            assert secret not in text, (fmt, secret)
    kv = logs.formatter("keyvalue")
    lines = [kv.format(r) for r in caplog.records]
    assert any(
        'msg="ocpp in"' in line
        and "charger=AC-0001" in line
        and "action=StartTransaction" in line
        and "message_id=m4" in line
        for line in lines
    )
    assert any('msg="ocpp answered"' in line and "action=Authorize" in line for line in lines)
    assert any('msg="ocpp out"' in line and "action=Reset" in line for line in lines)
    assert any(
        "/ocpi/2.2.1/locations" in line
        and "request_id=req-1" in line
        and "correlation_id=corr-1" in line
        and "partner=eMSP" in line
        for line in lines
    )
    assert any("operator login failed" in line for line in lines)
