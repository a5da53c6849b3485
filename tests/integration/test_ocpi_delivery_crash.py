"""The gateway process killed mid-transaction (SIGKILL) loses nothing and mints no second CDR.

``python -m gateway serve`` runs as a real process with a SQLite file; the test eMSP (a
process too) registers with it through the credentials handshake. The charger's
StopTransaction reaches the gateway just as it is killed; after the restart the charger
replays it (as a 1.6 charger does with an unanswered transaction message), and the eMSP
ends up with exactly one CDR, under the id derived from the transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO

import httpx
import pytest

from gateway import cli
from tests.integration import test_ocpi_platform as platform
from tests.integration.delivery import (
    Timeline,
    boot_16,
    converge,
    eventually,
    give_cards,
    held,
    ok,
    sampled,
    write_config,
)
from tests.sim.charger import sim_charger

pytestmark = pytest.mark.integration

emsp_process = platform.emsp_process
emsp = platform.emsp
Emsp = platform.Emsp


class Process:
    """``python -m gateway serve`` with its log in a file."""

    def __init__(self, config: Path, http_port: int, log: IO[bytes]) -> None:
        self.config = config
        self.url = f"http://127.0.0.1:{http_port}"
        self.proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "gateway", "serve", "--config", str(config)],
            stdout=log,
            stderr=log,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert self.proc.poll() is None, "the gateway exited during start-up"
            assert time.monotonic() < deadline, "the gateway did not start"
            time.sleep(0.05)

    def kill(self) -> None:
        self.proc.kill()  # SIGKILL: no shutdown code runs
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def log(tmp_path: Path) -> Iterator[IO[bytes]]:
    with (tmp_path / "gateway.log").open("ab") as file:
        yield file


@pytest.fixture
def processes(log: IO[bytes]) -> Iterator[list[Process]]:
    started: list[Process] = []
    yield started
    for p in started:
        p.stop()


def invite(config: Path) -> dict[str, str]:
    """``gateway partners invite emsp --json`` on the running gateway's database."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert cli.main(["partners", "invite", "emsp", "--json", "--config", str(config)]) == 0
    found = json.loads(out.getvalue())
    assert isinstance(found, dict)
    return found


async def test_sigkill_between_stop_and_answer_then_replay_gives_one_cdr_delivered_once(
    tmp_path: Path, emsp: Emsp, processes: list[Process], log: IO[bytes]
):
    """SIGKILL while the StopTransaction is in flight; restart; the charger replays it:
    exactly one CDR exists, the eMSP holds exactly that one, and its Session is COMPLETED."""
    ocpp_port, http_port = platform.free_port(), platform.free_port()
    config = write_config(tmp_path, ocpp_port, http_port)
    processes.append(Process(config, http_port, log))
    asked = await asyncio.to_thread(invite, config)
    registration = await emsp.register(asked["versions_url"], asked["token"])
    assert registration["status"] == 200, registration
    token = registration["body"]["data"]["token"]
    await give_cards(processes[0].url, token)
    ws_url = f"ws://127.0.0.1:{ocpp_port}/ocpp/AC-0001"

    clock = Timeline(datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=40))
    async with sim_charger(ws_url) as cp:
        await boot_16(cp)
        start = {"connectorId": 1, "idTag": "04A1B2C3", "meterStart": 1000}
        tx_id = (await ok(cp, "StartTransaction", {**start, "timestamp": clock.at(0)}))[
            "transactionId"
        ]
        meter = {"timestamp": clock.at(10), "sampledValue": sampled("3500")}
        await ok(
            cp, "MeterValues", {"connectorId": 1, "transactionId": tx_id, "meterValue": [meter]}
        )

        async def session_arrived() -> bool:
            return len((await held(emsp.url))["sessions"]) == 1

        await eventually(session_arrived)
        stop = {"transactionId": tx_id, "meterStop": 6000, "timestamp": clock.at(30)}
        await cp.ws.send(json.dumps([2, "stop-1", "StopTransaction", stop]))
        processes[0].kill()

    processes.append(Process(config, http_port, log))
    async with sim_charger(ws_url) as cp:
        await boot_16(cp)
        assert await ok(cp, "StopTransaction", stop) == {}  # the replay is acknowledged
        holding, ours = await converge(
            emsp.url, processes[1].url, token, until=lambda h: len(h["cdrs"]) == 1
        )
        assert await ok(cp, "StopTransaction", stop) == {}  # and so is another one

    cdr_id = f"AC-0001-{tx_id}"
    await asyncio.sleep(0.6)  # a sweep later: nothing else arrives
    holding = await held(emsp.url)
    assert list(holding["cdrs"]) == [cdr_id] == list(ours["cdrs"])
    assert set(holding["cdr_posts"]) == {cdr_id}  # never under another id
    assert holding["cdrs"][cdr_id]["total_energy"] == 5
    (session,) = holding["sessions"].values()
    assert session["status"] == "COMPLETED"
    assert session["kwh"] == 5
