"""A real gateway on loopback ports, a real SQLite file, real websocket and HTTP clients."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.app import Gateway
from tests.builders import FakeClock, a_settings

PARTNER_TOKEN = "emsp-token-0123456789"


def auth(token: str = PARTNER_TOKEN) -> dict[str, str]:
    return {"Authorization": "Token " + base64.b64encode(token.encode()).decode()}


def site_settings(tmp_path: Path, **overrides: Any):
    ocpi = {
        "static_partners": [
            {"name": "eMSP", "country_code": "DE", "party_id": "EMS", "token": PARTNER_TOKEN}
        ],
        **overrides.pop("ocpi", {}),
    }
    storage = {"data_dir": str(tmp_path / "data"), **overrides.pop("storage", {})}
    return a_settings(ocpi=ocpi, storage=storage, **overrides)


class Running:
    """A started gateway and the URLs to reach it."""

    def __init__(self, gateway: Gateway, clock: FakeClock) -> None:
        self.gateway = gateway
        self.clock = clock

    def ws_url(self, charger_id: str) -> str:
        return f"ws://127.0.0.1:{self.gateway.ocpp.port}/ocpp/{charger_id}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.gateway.http_port}"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def running(tmp_path: Path, clock: FakeClock) -> AsyncIterator[Running]:
    gateway = Gateway(site_settings(tmp_path), clock=clock)
    await gateway.start()
    try:
        yield Running(gateway, clock)
    finally:
        await gateway.stop()


@pytest.fixture
async def http(running: Running) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=running.http_url, headers=auth(), timeout=5) as client:
        yield client
